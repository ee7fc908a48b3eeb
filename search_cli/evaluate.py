"""The evaluator: every healthdex query is scored here, term at a time, over posting lists read through Whoosh's
reader.

Whoosh scores document at a time through a tree of matchers in Python, and its top-N search may skip documents
(block quality), so its top hits are not always the best ones and its counts are estimates.  Here each term's
postings are read once (from the segment's sidecar, ``indexer.sidecar``, or a block at a time through Whoosh's
reader) and scored with BM25 as ``whoosh.scoring.bm25`` defines it, with the index's statistics (average field
length, B and K1, and the idf of the ranking's weighting; a word over several fields as one BM25F score:
:class:`FieldsTerm`), into numpy arrays over the segment; the query tree combines them: sums for OR and AND, the
maximum for DisjunctionMax, set operations for NOT.  Wildcards, fuzzy terms and term ranges are expanded against
the lexicon (at most :data:`MAX_EXPANSIONS` words, scanned for at most :data:`EXPANSION_SECONDS`) and match with
a constant score, as Whoosh's do; date ranges and other leaves are matched by Whoosh's own matchers (listed by
``--explain``).

A document's score is the query's plus, where the query matches, the bonus clauses' (word pairs near each other,
synonym phrases).  A part whose score needs word positions (a phrase) first counts as its bag of words, an upper
bound; the top hits are then settled by checking positions for candidates in order of that bound until no
unchecked candidate can reach the k-th best.  So the top hits are the true best under the scoring
(``exhaustive=True`` scores every candidate one by one instead, for tests and bench/index.py), and match counts
are exact, except for a phrase with more than :data:`VERIFY_ALL_LIMIT` candidates, where the count is estimated
from a sample and marked so.
"""

from __future__ import annotations

import heapq
import logging
import math
import os
import time
from collections.abc import Callable, Iterable

import numpy as np
from whoosh import query as wq
from whoosh import scoring

from healthdex.errors import UserError
from indexer import sidecar, whoosh_internals

log = logging.getLogger(__name__)

# A phrase query with more candidates (documents having every word) than this counts its matches from a sample.
VERIFY_ALL_LIMIT = 500
ESTIMATE_SAMPLE = 200  # candidates checked, in runs of neighbours (they share posting blocks) spread over the list
ESTIMATE_RUNS = 10
# A wildcard, fuzzy term or term range may stand for at most this many words, found within this many seconds.
MAX_EXPANSIONS = int(os.environ.get("HEALTHDEX_MAX_EXPANSIONS", "1000"))
EXPANSION_SECONDS = float(os.environ.get("HEALTHDEX_EXPANSION_SECONDS", "5"))


class Segment:
    """One segment of an open index, with what depends only on its files: live documents, field lengths."""

    def __init__(self, searcher, offset: int) -> None:
        self.searcher, self.reader, self.offset = searcher, searcher.reader(), offset
        self.n = self.reader.doc_count_all()
        self.live = np.ones(self.n, dtype=bool)
        if self.reader.has_deletions():
            dead = [d for d in self.reader.deleted_docs_set if d < self.n]
            self.live[np.asarray(dead, dtype=np.intp)] = False
        self._lengths: dict[str, np.ndarray | None] = {}
        self._dates: dict[str, np.ndarray | None] = {}
        self.sidecar = sidecar.open_sidecar(self.reader)  # long lists as arrays (None: Whoosh's blocks only)

    def postings(self, fieldname: str, btext: bytes):
        """(ids, weights, encoded values or None) of a term in this segment, from the sidecar for a long list (its
        length checked against Whoosh's term info), else from Whoosh's blocks."""
        side = self.sidecar.lookup(fieldname, btext) if self.sidecar is not None else None
        if side is not None:
            ids, weights, first, positions = side
            if len(ids) == self.reader.doc_frequency(fieldname, btext):
                return ids, weights, _BlockValues(self.reader, fieldname, btext, first, positions)
            log.debug("evaluator: sidecar list of %s:%r disagrees with its segment", fieldname, btext)
        return whoosh_internals.read_postings(self.reader, fieldname, btext)

    def lengths(self, fieldname: str) -> np.ndarray | None:
        """The field's length byte per document (``whoosh.util.numeric.byte_to_length``), or None."""
        if fieldname not in self._lengths:
            raw = whoosh_internals.length_bytes(self.reader, fieldname)
            self._lengths[fieldname] = None if raw is None else np.frombuffer(raw, dtype=np.uint8)
        return self._lengths[fieldname]

    def dates(self, fieldname: str) -> np.ndarray | None:
        """Newest-first sort keys of a sortable date column (-1 for documents without the date), or None."""
        if fieldname not in self._dates:
            keys = None
            if self.reader.has_column(fieldname):
                raw = list(self.reader.column_reader(fieldname, translate=False))
                keys = np.array([-1 if v is None or v >= _NO_DATE else v for v in raw], dtype=np.float64)
            self._dates[fieldname] = keys
        return self._dates[fieldname]


_NO_DATE = 2**63  # a sortable DATETIME column holds 2**64-1 for documents without the date


class BM25(scoring.BM25F):
    """Whoosh's BM25F weighting (per-field B, K1) with Lucene's idf, log(1 + (N - n + 0.5) / (n + 0.5)), raised to
    ``idf_power``.  (Whoosh's own, log(N / (n + 1)) + 1, is at least 1: the commonest words of a long question
    kept a third or more of a rare word's weight.)"""

    def __init__(self, B: float = 0.75, K1: float = 1.2, idf_power: float = 1.0, **field_b) -> None:
        super().__init__(B=B, K1=K1, **field_b)
        self.idf_power = idf_power

    def idf(self, searcher, fieldname, text) -> float:
        parent = searcher.get_parent()
        return self.idf_of(parent.doc_count_all(), parent.doc_frequency(fieldname, text))

    def idf_of(self, documents: int, having: int) -> float:
        return math.log(1 + (documents - having + 0.5) / (having + 0.5)) ** self.idf_power


class FieldsTerm(wq.Or):
    """One word searched in several fields and scored as one BM25F term (Robertson, Zaragoza and Taylor, "Simple
    BM25 extension to multiple weighted fields", 2004): its frequency in each field, times the field's weight (the
    boost of that field's ``Term``) and over the field's length norm, is summed before the K1 saturation, and the
    idf counts the documents having the word in any of the fields.  So a word in both the title and the text is
    not scored twice in full, and a word common in texts is common however few titles have it.  ``alone``: a match
    in the first field (the title) also adds this share of the word's BM25 score in that field alone.  (Whoosh's
    matchers would read this as the Or of its terms; the evaluator is what scores it.)"""

    def __init__(self, subqueries, boost: float = 1.0, alone: float = 0.0) -> None:
        super().__init__(subqueries, boost=boost)
        self.alone = alone

    def __eq__(self, other) -> bool:
        return super().__eq__(other) and self.alone == other.alone

    def __hash__(self) -> int:
        return hash((super().__hash__(), self.alone))

    def __str__(self) -> str:
        fields = ", ".join(f"{t.fieldname}:{t.text}" + (f"^{t.boost:g}" if t.boost != 1 else "") for t in self)
        alone = f" + {self.alone:g} {self.subqueries[0].fieldname} alone" if self.alone else ""
        return f"BM25F({fields}{alone})" + (f"^{self.boost:g}" if self.boost != 1 else "")


class _BlockValues:
    """A term's encoded values (word positions) by posting index, each Whoosh block read on first use."""

    def __init__(self, reader, fieldname: str, btext: bytes, first: np.ndarray, positions: np.ndarray) -> None:
        self.first, self.positions = first, positions
        self._read_block = whoosh_internals.block_reader(reader, fieldname, btext)
        self._blocks: dict[int, tuple] = {}

    def __getitem__(self, i: int):
        b = int(np.searchsorted(self.first, i, side="right")) - 1
        values = self._blocks.get(b)
        if values is None:
            values = self._blocks[b] = self._read_block(int(self.positions[b]))
        return values[i - int(self.first[b])]


def segments(searcher) -> list[Segment]:
    """The segments of a searcher (kept with it while it is current: what they read is read once)."""
    return [Segment(sub, offset) for sub, offset in searcher.leaf_searchers()]


class Ranked:
    """The outcome of :meth:`Evaluation.top`: hits as (score, global docnum), best first, and the match count."""

    __slots__ = ("hits", "total", "exact")

    def __init__(self, hits: list[tuple[float, int]], total: int, exact: bool) -> None:
        self.hits, self.total, self.exact = hits, total, exact


class Part:
    """A query node evaluated on one segment: ``bound`` (an upper bound of the score, 0 where it cannot match) and
    ``maybe`` (the documents it may match) as dense arrays, or sparse as sorted ``ids`` with ``scores``; and
    ``check`` (doc -> exact score or None) when positions must still be checked, else None (exact as it is)."""

    __slots__ = ("ids", "scores", "_bound", "_maybe", "check")

    def __init__(self, ids=None, scores=None, bound=None, maybe=None, check=None) -> None:
        self.ids, self.scores, self._bound, self._maybe, self.check = ids, scores, bound, maybe, check

    def bound(self, n: int) -> np.ndarray:
        if self._bound is None:
            self._bound = np.zeros(n)
            self._bound[self.ids] = self.scores
        return self._bound

    def maybe(self, n: int) -> np.ndarray:
        if self._maybe is None:
            self._maybe = np.zeros(n, dtype=bool)
            self._maybe[self.ids] = True
        return self._maybe

    def value(self, d: int) -> float | None:
        """The exact score at document ``d``, or None when it does not match."""
        if self.check is not None:
            return self.check(d)
        if self._maybe is not None:
            return float(self._bound[d]) if self._maybe[d] else None
        i = int(np.searchsorted(self.ids, d))
        return float(self.scores[i]) if i < len(self.ids) and self.ids[i] == d else None


_EMPTY_IDS = np.zeros(0, dtype=np.intp)


def _empty() -> Part:
    return Part(_EMPTY_IDS, np.zeros(0))


class Evaluation:
    """One query's evaluation over a searcher (and its :func:`segments`), scored with ``weighting`` (a
    ``whoosh.scoring.BM25F``).  Records what it did for ``--explain``: :attr:`terms`, :attr:`notes`."""

    def __init__(self, searcher, segs: list[Segment], weighting) -> None:
        self.searcher, self.segs, self.weighting = searcher, segs, weighting
        self.schema = searcher.schema
        self.terms: dict[tuple[str, str], dict] = {}  # (field, text) -> {"boost", "idf", "docs"}: scored terms
        self.notes: list[str] = []  # expansions and leaves matched by Whoosh's matchers
        self.words: set[tuple[str, str]] = set()  # (field, text) of every word matched: scored and expanded
        self._stats: dict[tuple[str, bytes], tuple] = {}
        self._expanded: dict[object, list[bytes]] = {}
        self._deadline: float | None = None
        self._postings: dict[tuple[int, str, bytes], tuple] = {}
        self._unions: dict[tuple, np.ndarray] = {}

    # --- terms ----------------------------------------------------------------------------------------------
    def _btext(self, fieldname: str, text) -> bytes | None:
        if fieldname not in self.schema:
            return None
        if isinstance(text, bytes):
            return text
        try:
            return self.schema[fieldname].to_bytes(text)
        except (ValueError, TypeError):
            return None

    def _read(self, seg: Segment, fieldname: str, btext: bytes):
        """(ids, weights, values) of a term in a segment (empty arrays when it is not there), once per query."""
        key = (seg.offset, fieldname, btext)
        got = self._postings.get(key)
        if got is None:
            present = (fieldname, btext) in seg.reader
            got = self._postings[key] = seg.postings(fieldname, btext) if present else (_EMPTY_IDS, np.zeros(0), None)
        return got

    def _statistics(self, fieldname: str, btext: bytes):
        """(idf, K1, length part per length byte: (1 - B) + B x length / average length) of the term, from the
        whole index and the weighting (its own ``idf``, not the searcher's cache of another weighting's); None for
        an unscored field (then a posting scores its weight, as Whoosh's ``WeightScorer``)."""
        key = (fieldname, btext)
        if key not in self._stats:
            field = self.schema[fieldname]
            if not field.scorable:
                self._stats[key] = None
            else:
                from whoosh.util.numeric import byte_to_length

                scorer = self.weighting.scorer(self.searcher, fieldname, btext)
                avgfl, b, k1 = scorer.avgfl, scorer.B, scorer.K1
                lengths = np.array([byte_to_length(i) for i in range(256)], dtype=np.float64)
                idf = self.weighting.idf(self.searcher, fieldname, btext)
                self._stats[key] = (idf, k1, (1 - b) + b * lengths / avgfl)
        return self._stats[key]

    def term_scores(self, seg: Segment, fieldname: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
        """(ids, unboosted scores) of a term's postings in a segment: ``whoosh.scoring.bm25`` per posting."""
        ids, weights, _values = self._read(seg, fieldname, btext)
        if not len(ids):
            return ids, weights
        stats = self._statistics(fieldname, btext)
        if stats is None:
            return ids, weights
        idf, k1, part = stats
        return ids, idf * ((weights * (k1 + 1)) / (weights + k1 * part[self._lengths(seg, fieldname)[ids]]))

    def _lengths(self, seg: Segment, fieldname: str) -> np.ndarray:
        lengths = seg.lengths(fieldname)
        if lengths is None:
            raise UserError(f"the index has no field lengths for {fieldname}: rebuild it with healthdex index")
        return lengths

    def _note_term(self, fieldname: str, btext: bytes, boost: float, idf: float | None = None) -> None:
        """Record a scored term for ``--explain`` and snippets (not the filters' and bonus clauses': weight 0)."""
        if not boost:
            return
        stats = self._statistics(fieldname, btext)
        if idf is not None and stats is not None:
            stats = (idf,)
        text = btext.decode("utf-8", "replace")
        self.words.add((fieldname, text))
        got = self.terms.setdefault((fieldname, text), {"boost": 0.0, "idf": None, "docs": 0})
        got["boost"] = max(got["boost"], boost)
        got["idf"] = None if stats is None else round(stats[0], 4)
        got["docs"] = self.searcher.doc_frequency(fieldname, btext)

    def expand(self, q) -> list[bytes]:
        """The words of the lexicon a wildcard, fuzzy term or term range stands for (UserError past the caps)."""
        got = self._expanded.get(q)
        if got is None:
            if self._deadline is None:  # one allowance for all of a query's expansions
                self._deadline = time.monotonic() + EXPANSION_SECONDS
            deadline = self._deadline
            got = []
            for i, (_field, text) in enumerate(q.expanded_terms(self.searcher.reader())):
                if len(got) >= MAX_EXPANSIONS:
                    raise UserError(
                        f"'{q}' matches more than {MAX_EXPANSIONS} words; make it more specific "
                        "(the limit is HEALTHDEX_MAX_EXPANSIONS)"
                    )
                if i % 256 == 0 and time.monotonic() > deadline:
                    raise UserError(
                        f"'{q}' took the query past {EXPANSION_SECONDS:g} s of looking up words; make it more specific "
                        "(the limit is HEALTHDEX_EXPANSION_SECONDS)"
                    )
                got.append(self._btext(q.fieldname, text))
            self._expanded[q] = got
            self.notes.append(f"{q}: {len(got)} word{'s' if len(got) != 1 else ''} of the index")
        return got

    # --- query tree -----------------------------------------------------------------------------------------
    def part(self, q, seg: Segment, weight: float = 1.0) -> Part:
        """``q`` evaluated on ``seg``; ``weight``: the product of the boosts above it (for :attr:`terms`)."""
        n = seg.n
        boost = getattr(q, "boost", 1.0)
        if isinstance(q, wq.Term):
            btext = self._btext(q.fieldname, q.text)
            if btext is None:
                return _empty()
            ids, scores = self.term_scores(seg, q.fieldname, btext)
            if len(ids):
                self._note_term(q.fieldname, btext, weight * boost)
            return Part(ids, scores * boost if boost != 1.0 else scores)
        if isinstance(q, wq.Phrase):
            return self._phrase(q, seg, weight)
        if isinstance(q, FieldsTerm):
            return self._fields_term(q, seg, weight * boost)
        if isinstance(q, (wq.Prefix, wq.Wildcard, wq.FuzzyTerm, wq.TermRange)):
            maybe = np.zeros(n, dtype=bool)
            for btext in self.expand(q):
                maybe[self._read(seg, q.fieldname, btext)[0]] = True
                self.words.add((q.fieldname, btext.decode("utf-8", "replace")))
            return Part(bound=maybe * float(boost), maybe=maybe)
        if isinstance(q, wq.Every):
            return self._every(q, seg)
        if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return _empty()
        weight *= boost
        if isinstance(q, wq.AndNot):
            pos, neg = self.part(q.a, seg, weight), self.part(q.b, seg, 0.0)
            return _restrict(pos, ~self.match_mask(neg, n), n)
        if isinstance(q, wq.Not):
            return Part(bound=np.zeros(n), maybe=~self.match_mask(self.part(q.query, seg, 0.0), n))
        if isinstance(q, wq.AndMaybe):
            return _and_maybe(self.part(q.a, seg, weight), self.part(q.b, seg, weight), n)
        if isinstance(q, wq.Require):
            req, scored = self.part(q.b, seg, 0.0), self.part(q.a, seg, weight)
            return _restrict(scored, self.match_mask(req, n), n)
        if isinstance(q, (wq.Or, wq.And, wq.DisjunctionMax)):
            subs = [self.part(s, seg, weight) for s in q.subqueries]
            if not subs:
                return _empty()
            if isinstance(q, wq.Or):
                combined = _or(subs, n)
            elif isinstance(q, wq.And):
                combined = _and(subs, n)
            else:
                combined = _max(subs, n, q.tiebreak)
            return _boosted(combined, boost, n) if boost != 1.0 else combined
        return self._whoosh_leaf(q, seg)

    def _fields_term(self, q: FieldsTerm, seg: Segment, weight: float) -> Part:
        """A :class:`FieldsTerm` on one segment: exact scores of the documents having the word in any field."""
        fields = []
        for t in q.subqueries:
            btext = self._btext(t.fieldname, t.text)
            if btext is None or (t.fieldname, btext) not in self.searcher.reader():
                continue
            if self._statistics(t.fieldname, btext) is not None:
                fields.append((t.fieldname, btext, t.boost))
        if not fields:
            return _empty()
        idf = self._union_idf(fields)
        ids = self._union(seg, tuple((f, btext) for f, btext, _w in fields))
        if not len(ids):
            return _empty()
        posted = [(f, btext, w, *self._read(seg, f, btext)[:2]) for f, btext, w in fields]
        k1 = self._statistics(fields[0][0], fields[0][1])[1]
        tf = np.zeros(len(ids))
        alone = np.zeros(len(ids))
        for f, btext, w, f_ids, f_weights in posted:
            if not len(f_ids):
                continue
            part = self._statistics(f, btext)[2][self._lengths(seg, f)[f_ids]]
            at = np.searchsorted(ids, f_ids)
            tf[at] += w * f_weights / part
            if q.alone and f == q.subqueries[0].fieldname:
                alone[at] = q.alone * ((f_weights * (k1 + 1)) / (f_weights + k1 * part))
            self._note_term(f, btext, weight * w, idf)
        scores = idf * ((tf * (k1 + 1)) / (tf + k1) + alone)
        return Part(ids, scores * q.boost if q.boost != 1.0 else scores)

    def _union(self, seg: Segment, key: tuple[tuple[str, bytes], ...]) -> np.ndarray:
        """The sorted documents of ``seg`` having any of the terms ``key`` ((field, text) pairs), once per query
        (marked in an array over the segment: a sort of the joined lists cost several times as much)."""
        got = self._unions.get((seg.offset, key))
        if got is None:
            lists = [ids for ids in (self._read(seg, f, btext)[0] for f, btext in key) if len(ids)]
            if len(lists) > 1:
                mask = np.zeros(seg.n, dtype=bool)
                for ids in lists:
                    mask[ids] = True
                got = np.flatnonzero(mask)
            else:
                got = lists[0] if lists else _EMPTY_IDS
            self._unions[(seg.offset, key)] = got
        return got

    def _union_idf(self, fields: list[tuple[str, bytes, float]]) -> float:
        """The weighting's idf for the documents having the word in any of ``fields`` (all segments)."""
        key = tuple((f, btext) for f, btext, _w in fields)
        if key not in self._stats:
            having = sum(len(self._union(s, key)) for s in self.segs)
            documents = self.searcher.doc_count_all()
            idf_of = getattr(self.weighting, "idf_of", None)  # (else Whoosh's WeightingModel.idf)
            self._stats[key] = idf_of(documents, having) if idf_of else math.log(documents / (having + 1)) + 1
        return self._stats[key]

    def _phrase(self, q, seg: Segment, weight: float) -> Part:
        """The words in order, each 1..``slop`` positions after the previous (Whoosh's ``Phrase``); scored as the
        sum of the words' scores.  Bounded by the bag of words; positions checked per document."""
        words = [self._btext(q.fieldname, w) for w in q.words]
        if not words or None in words:
            return _empty()
        if len(words) == 1:
            return self.part(_term(q.fieldname, words[0], q.boost), seg, weight)
        fmt = self.schema[q.fieldname].format
        if not fmt.supports("positions"):
            raise UserError(f"the field {q.fieldname} keeps no word positions: phrases cannot be searched in it")
        posts = [self._read(seg, q.fieldname, w) for w in words]
        ids = posts[0][0]
        for other, _weights, _values in posts[1:]:
            ids = _intersect(ids, other)  # the documents with every word
        if not len(ids):
            return _empty()
        total = np.zeros(len(ids))
        for w in words:
            word_ids, scores = self.term_scores(seg, q.fieldname, w)
            total += scores[np.searchsorted(word_ids, ids)]
            self._note_term(q.fieldname, w, weight * q.boost)
        total *= q.boost
        slop = q.slop

        def check(d: int) -> float | None:
            i = int(np.searchsorted(ids, d))
            if i == len(ids) or ids[i] != d:
                return None
            frontier = None
            for word_ids, _weights, values in posts:
                positions = np.asarray(fmt.decode_positions(values[int(np.searchsorted(word_ids, d))]))
                if frontier is not None:  # this word where the previous one is 1..slop positions before it
                    at = np.searchsorted(frontier, positions - slop)  # the first previous word at p - slop or later
                    ok = at < len(frontier)
                    ok[ok] = frontier[at[ok]] < positions[ok]
                    positions = positions[ok]
                if not len(positions):
                    return None
                frontier = positions
            return float(total[i])

        return Part(ids, total, check=check)

    def _every(self, q, seg: Segment) -> Part:
        if not q.fieldname:
            return Part(bound=seg.live * float(q.boost), maybe=seg.live.copy())
        lengths = seg.lengths(q.fieldname) if q.fieldname in self.schema else None
        if lengths is None:
            return self._whoosh_leaf(q, seg)
        maybe = lengths > 0
        return Part(bound=maybe * float(q.boost), maybe=maybe)

    def _whoosh_leaf(self, q, seg: Segment) -> Part:
        """A leaf the evaluator does not score itself (a date or number range, a span query): its documents from
        Whoosh's matcher, each scoring the leaf's boost."""
        note = f"{q}: matched by Whoosh's {type(q).__name__} matcher (constant score)"
        if note not in self.notes:
            self.notes.append(note)
            log.debug("evaluator: %s", note)
        maybe = np.zeros(seg.n, dtype=bool)
        docs = list(q.docs(seg.searcher))
        if docs:
            maybe[np.asarray(docs, dtype=np.intp)] = True
        return Part(bound=maybe * float(getattr(q, "boost", 1.0)), maybe=maybe)

    def match_mask(self, part: Part, n: int) -> np.ndarray:
        """The documents ``part`` really matches (positions checked)."""
        maybe = part.maybe(n)
        if part.check is None:
            return maybe
        out = np.zeros(n, dtype=bool)
        for d in np.flatnonzero(maybe).tolist():
            out[d] = part.check(d) is not None
        return out

    # --- ranking ----------------------------------------------------------------------------------------------
    def top(
        self,
        query,
        depth: int,
        *,
        filter=None,
        bonus: Iterable = (),
        sort: str | None = None,
        exclude: Iterable[int] = (),
        exhaustive: bool = False,
    ) -> Ranked:
        """The ``depth`` best documents for ``query`` (ties: lower docnum first), or with ``sort`` (a date field)
        the ``depth`` newest (documents without the date last, ties: higher docnum first), and the match count.

        ``filter``: a query every hit must match (not scored); ``bonus``: queries whose scores are added for
        documents the query matches; ``exclude``: global docnums left out; ``exhaustive``: score every candidate
        exactly."""
        bonus = list(bonus)
        excluded = set(exclude)
        found: list[tuple] = []
        total, exact = 0, True
        for seg in self.segs:
            n = seg.n
            base = self.part(query, seg)
            maybe = base.maybe(n) & seg.live
            if filter is not None:
                maybe &= self.match_mask(self.part(filter, seg, 0.0), n)
            for d in excluded:
                if seg.offset <= d < seg.offset + n:
                    maybe[d - seg.offset] = False
            extras = [self.part(b, seg, 0.0) for b in bonus]
            upper = base.bound(n).copy()
            for e in extras:
                upper += np.where(maybe, e.bound(n), 0.0)

            def score(d: int, base=base, extras=extras) -> float | None:
                s = base.value(d)
                if s is None:
                    return None
                return s + sum(v for e in extras if (v := e.value(d)) is not None)

            cands = np.flatnonzero(maybe)
            count, count_exact = _count(base, cands)
            total += count
            exact = exact and count_exact
            if sort:
                keys = seg.dates(sort) if sort in self.schema else None
                if keys is None:
                    raise UserError(f"the index cannot sort by {sort}")
                order = cands[np.lexsort((-cands, -keys[cands]))]
                hits = _first_matching(order, depth, base)
                found += [(-float(keys[d]), -(d + seg.offset), score(d), d + seg.offset) for d in hits]
                continue
            if base.check is None and not any(e.check for e in extras) and not exhaustive:
                values = upper[cands]
                if len(cands) > depth:
                    kth = np.partition(values, len(values) - depth)[len(values) - depth]
                    keep = values >= kth
                    cands, values = cands[keep], values[keep]
                found += [
                    (-s, d + seg.offset, s, d + seg.offset)
                    for s, d in zip(values.tolist(), cands.tolist(), strict=True)
                ]
            else:
                found += [
                    (-s, d + seg.offset, s, d + seg.offset) for s, d in _settle(cands, upper, score, depth, exhaustive)
                ]
        found.sort(key=lambda t: (t[0], t[1]))
        return Ranked([(s, d) for _k1, _k2, s, d in found[:depth]], total, exact)

    def matches(self, query, *, filter=None) -> list[int]:
        """Every document matching ``query`` (and ``filter``) as global docnums, positions checked."""
        out: list[int] = []
        for seg in self.segs:
            mask = self.match_mask(self.part(query, seg), seg.n) & seg.live
            if filter is not None:
                mask &= self.match_mask(self.part(filter, seg, 0.0), seg.n)
            out.extend((np.flatnonzero(mask) + seg.offset).tolist())
        return out

    def facet_counts(self, docs: list[int], fieldname: str) -> dict[str, int]:
        """{term: how many of ``docs`` (global docnums) have it} for an indexed field."""
        counts: dict[str, int] = {}
        wanted = np.asarray(sorted(docs), dtype=np.intp)
        for seg in self.segs:
            mask = np.zeros(seg.n, dtype=bool)
            local = wanted[(wanted >= seg.offset) & (wanted < seg.offset + seg.n)] - seg.offset
            if not len(local) or fieldname not in seg.reader.schema:
                continue
            mask[local] = True
            for btext, _info in seg.reader.iter_field(fieldname):
                hits = int(mask[self._read(seg, fieldname, btext)[0]].sum())
                if hits:
                    key = btext.decode("utf-8", "replace")
                    counts[key] = counts.get(key, 0) + hits
        return counts


def _term(fieldname: str, btext: bytes, boost: float):
    return wq.Term(fieldname, btext, boost=boost)


def _sparse(parts: list[Part], n: int) -> bool:
    """Whether to combine ``parts`` as sorted ids with scores rather than arrays over the segment: when each is
    kept so, exact, and they hold few postings against the segment's size (a long query's per-word clauses stay
    as small as their postings; common words are cheaper added into arrays than sorted)."""
    return all(p._bound is None and p.check is None for p in parts) and sum(len(p.ids) for p in parts) * 8 < n


def _intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The values two sorted arrays of distinct values share: the shorter looked up in the longer."""
    if len(a) > len(b):
        a, b = b, a
    at = np.searchsorted(b, a)
    return a[b[np.minimum(at, len(b) - 1)] == a] if len(b) else a[:0]


def _or(parts: list[Part], n: int) -> Part:
    if _sparse(parts, n):
        ids, inverse = np.unique(np.concatenate([p.ids for p in parts]), return_inverse=True)
        return Part(ids, np.bincount(inverse, weights=np.concatenate([p.scores for p in parts]), minlength=len(ids)))
    bound, maybe = np.zeros(n), np.zeros(n, dtype=bool)
    for p in parts:
        if p._bound is None:
            bound[p.ids] += p.scores
            maybe[p.ids] = True
        else:
            bound += p._bound
            maybe |= p._maybe
    checked = [p for p in parts if p.check is not None]
    if not checked:
        return Part(bound=bound, maybe=maybe)

    def check(d: int) -> float | None:
        found = [v for p in parts if (v := p.value(d)) is not None]
        return sum(found) if found else None

    return Part(bound=bound, maybe=maybe, check=check)


def _and(parts: list[Part], n: int) -> Part:
    if _sparse(parts, n):
        ids = parts[0].ids
        for p in parts[1:]:
            ids = _intersect(ids, p.ids)
        return Part(ids, np.sum([p.scores[np.searchsorted(p.ids, ids)] for p in parts], axis=0))
    maybe = np.logical_and.reduce([p.maybe(n) for p in parts])
    bound = np.where(maybe, np.sum([p.bound(n) for p in parts], axis=0), 0.0)
    if not any(p.check for p in parts):
        return Part(bound=bound, maybe=maybe)

    def check(d: int) -> float | None:
        values = [p.value(d) for p in parts]
        return None if None in values else sum(values)

    return Part(bound=bound, maybe=maybe, check=check)


def _max(parts: list[Part], n: int, tiebreak: float) -> Part:
    top, total, maybe = parts[0].bound(n).copy(), parts[0].bound(n).copy(), parts[0].maybe(n).copy()
    for p in parts[1:]:
        np.maximum(top, p.bound(n), out=top)
        total += p.bound(n)
        maybe |= p.maybe(n)
    bound = top + tiebreak * (total - top) if tiebreak else top
    if not any(p.check for p in parts):
        return Part(bound=bound, maybe=maybe)

    def check(d: int) -> float | None:
        found = [v for p in parts if (v := p.value(d)) is not None]
        if not found:
            return None
        return max(found) + tiebreak * (sum(found) - max(found))

    return Part(bound=bound, maybe=maybe, check=check)


def _boosted(part: Part, boost: float, n: int) -> Part:
    if part._bound is None and part.check is None:
        return Part(part.ids, part.scores * boost)
    inner = part.check
    return Part(
        bound=part.bound(n) * boost,
        maybe=part.maybe(n),
        check=None if inner is None else (lambda d: None if (v := inner(d)) is None else v * boost),
    )


def _restrict(part: Part, allowed: np.ndarray, n: int) -> Part:
    maybe = part.maybe(n) & allowed
    return Part(
        bound=np.where(maybe, part.bound(n), 0.0),
        maybe=maybe,
        check=None if part.check is None else (lambda d: part.check(d) if maybe[d] else None),
    )


def _and_maybe(required: Part, optional: Part, n: int) -> Part:
    maybe = required.maybe(n)
    bound = required.bound(n) + np.where(maybe, optional.bound(n), 0.0)
    if required.check is None and optional.check is None:
        return Part(bound=bound, maybe=maybe)

    def check(d: int) -> float | None:
        s = required.value(d)
        if s is None:
            return None
        extra = optional.value(d)
        return s + (extra or 0.0)

    return Part(bound=bound, maybe=maybe, check=check)


def _count(base: Part, cands: np.ndarray) -> tuple[int, bool]:
    """The number of ``cands`` ``base`` really matches, and whether that is exact (see VERIFY_ALL_LIMIT)."""
    if base.check is None:
        return len(cands), True
    if len(cands) <= VERIFY_ALL_LIMIT:
        return sum(1 for d in cands.tolist() if base.check(d) is not None), True
    run = ESTIMATE_SAMPLE // ESTIMATE_RUNS
    starts = np.linspace(0, len(cands) - run, ESTIMATE_RUNS).astype(np.intp)
    sample = cands[(starts[:, None] + np.arange(run)).ravel()]
    found = sum(1 for d in sample.tolist() if base.check(d) is not None)
    return round(len(cands) * found / len(sample)), False


def _first_matching(order: np.ndarray, depth: int, base: Part) -> list[int]:
    """The first ``depth`` documents of ``order`` that ``base`` really matches."""
    if base.check is None:
        return order[:depth].tolist()
    out = []
    for d in order.tolist():
        if len(out) >= depth:
            break
        if base.check(d) is not None:
            out.append(d)
    return out


def _settle(
    cands: np.ndarray, upper: np.ndarray, score: Callable[[int], float | None], depth: int, exhaustive: bool
) -> list[tuple[float, int]]:
    """The ``depth`` best (score, doc) among ``cands``: exact scores in order of their upper bounds, until the
    next bound is below the k-th best found (``exhaustive``: every candidate).  The candidates are ordered a
    slice at a time, the highest bounds first, so a common word's thousands of candidates are not all sorted."""
    heap: list[tuple[float, int]] = []  # (score, -doc): the worst of the best at heap[0]
    done: set[int] = set()
    bounds = upper[cands]
    take = len(cands) if exhaustive else min(len(cands), max(8 * depth, 512))
    while True:
        picked = cands if take >= len(cands) else cands[np.argpartition(-bounds, take - 1)[:take]]
        for d in picked[np.lexsort((picked, -upper[picked]))].tolist():
            if d in done:
                continue
            if not exhaustive and len(heap) >= depth and upper[d] < heap[0][0]:
                return [(s, -negd) for s, negd in heap]
            done.add(d)
            s = score(d)
            if s is None:
                continue
            item = (s, -d)
            if len(heap) < depth:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
        if take >= len(cands):
            return [(s, -negd) for s, negd in heap]
        take = min(len(cands), take * 8)
