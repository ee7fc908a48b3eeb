"""The query nodes a plain-words query is built from, without ``whoosh.query``: for the one-query command, which
ranks with :mod:`search_cli.evaluate` and never hands the query to Whoosh (``search_cli.direct``).

Each class has the constructor and the attributes of its ``whoosh.query`` namesake that healthdex uses
(``fieldname``, ``text``, ``words``, ``slop``, ``boost``, ``subqueries``, ``scale``, ``minmatch``, ``tiebreak``),
and ``leaves()`` / ``iter_all_terms()`` as Whoosh defines them; :func:`to_whoosh` gives the same tree in Whoosh's
classes (tests build both and compare).
"""

from __future__ import annotations

from collections.abc import Iterator


class Term:
    __slots__ = ("fieldname", "text", "boost")

    def __init__(self, fieldname: str, text: str, boost: float = 1.0) -> None:
        self.fieldname, self.text, self.boost = fieldname, text, boost

    def leaves(self) -> Iterator[Term]:
        yield self

    def iter_all_terms(self) -> Iterator[tuple[str, str]]:
        yield self.fieldname, self.text

    def __repr__(self) -> str:
        return f"Term({self.fieldname!r}, {self.text!r}, boost={self.boost})"


class Phrase:
    __slots__ = ("fieldname", "words", "slop", "boost")

    def __init__(self, fieldname: str, words: list[str], slop: int = 1, boost: float = 1.0) -> None:
        self.fieldname, self.words, self.slop, self.boost = fieldname, words, slop, boost

    def leaves(self) -> Iterator[Phrase]:
        yield self

    def iter_all_terms(self) -> Iterator[tuple[str, str]]:
        for word in self.words:
            yield self.fieldname, word

    def __repr__(self) -> str:
        return f"Phrase({self.fieldname!r}, {self.words!r}, slop={self.slop}, boost={self.boost})"


class _Compound:
    __slots__ = ("subqueries", "boost")

    def __init__(self, subqueries: list, boost: float = 1.0) -> None:
        self.subqueries, self.boost = subqueries, boost

    def leaves(self) -> Iterator:
        for q in self.subqueries:
            yield from q.leaves()

    def iter_all_terms(self) -> Iterator[tuple[str, str]]:
        for q in self.leaves():
            yield from q.iter_all_terms()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.subqueries!r}, boost={self.boost})"


class And(_Compound):
    __slots__ = ()


class Or(_Compound):
    __slots__ = ("minmatch", "scale")

    def __init__(self, subqueries: list, boost: float = 1.0, minmatch: int = 0, scale: float | None = None) -> None:
        super().__init__(subqueries, boost)
        self.minmatch, self.scale = minmatch, scale


class DisjunctionMax(_Compound):
    __slots__ = ("tiebreak",)

    def __init__(self, subqueries: list, boost: float = 1.0, tiebreak: float = 0.0) -> None:
        super().__init__(subqueries, boost)
        self.tiebreak = tiebreak


class _NullQuery:
    """Matches nothing (``whoosh.query.NullQuery``)."""

    __slots__ = ()

    def leaves(self) -> Iterator:
        return iter(())

    def iter_all_terms(self) -> Iterator:
        return iter(())

    def __repr__(self) -> str:
        return "NullQuery"


NullQuery = _NullQuery()


def to_whoosh(q):
    """The same query in ``whoosh.query``'s classes."""
    from whoosh import query as wq

    if q is NullQuery:
        return wq.NullQuery
    kind = type(q)
    if kind is Term:
        return wq.Term(q.fieldname, q.text, boost=q.boost)
    if kind is Phrase:
        return wq.Phrase(q.fieldname, list(q.words), slop=q.slop, boost=q.boost)
    subs = [to_whoosh(s) for s in q.subqueries]
    if kind is And:
        return wq.And(subs, boost=q.boost)
    if kind is Or:
        return wq.Or(subs, boost=q.boost, minmatch=q.minmatch, scale=q.scale)
    if kind is DisjunctionMax:
        return wq.DisjunctionMax(subs, boost=q.boost, tiebreak=q.tiebreak)
    raise TypeError(f"not a query node: {q!r}")
