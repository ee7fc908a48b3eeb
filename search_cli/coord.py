"""An AND-leaning coordination factor for free-text queries: score x (words matched / words in query) ** power.

Whoosh's own ``OrGroup.factory(scale)`` adds a bonus of ``(matched - 1) / (terms - scale) ** 2``, which is small
next to BM25 scores once a query has more than two or three terms, and it counts index terms (each word searched
in two fields counts twice) rather than the words the user typed. Here each typed word (with its title and text
terms and its synonyms) counts once, and the factor multiplies the score, so a document with every word always
outranks one with a single lucky word at equal BM25, while partial matches still come back.
"""

from __future__ import annotations

from whoosh.matching.wrappers import WrappingMatcher
from whoosh.query.wrappers import WrappingQuery


def _norm(text) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


class WordCoord(WrappingQuery):
    def __init__(self, child, word_of_term: dict[tuple[str, str], frozenset[int]], n_words: int, power: float):
        super().__init__(child)
        self.word_of_term = word_of_term
        self.n_words = n_words
        self.power = power

    def __repr__(self):
        return f"WordCoord({self.child!r}, n={self.n_words}, power={self.power})"

    def __str__(self):
        return f"coord({self.child}, {self.n_words}, {self.power})"

    def __eq__(self, other):
        return (
            isinstance(other, WordCoord)
            and self.child == other.child
            and self.n_words == other.n_words
            and self.power == other.power
        )

    def __hash__(self):
        return hash(("WordCoord", hash(self.child), self.n_words, self.power))

    def _rewrap(self, child):
        return WordCoord(child, self.word_of_term, self.n_words, self.power)

    def matcher(self, searcher, context=None):
        # The factor reads which terms match the current document, so the Or below must keep its sub-matchers
        # current (Whoosh otherwise preloads small indexes into an array matcher that cannot say).
        if context is not None:
            context = context.set(needs_current=True)
        m = self.child.matcher(searcher, context)
        if self.n_words <= 1 or self.power <= 0 or not m.is_active():
            return m
        return WordCoordMatcher(m, self.word_of_term, self.n_words, self.power)


class WordCoordMatcher(WrappingMatcher):
    def __init__(self, child, word_of_term, n_words, power, boost=1.0):
        super().__init__(child, boost=boost)
        self.word_of_term = word_of_term
        self.n_words = n_words
        self.power = power

    def copy(self):
        return WordCoordMatcher(self.child.copy(), self.word_of_term, self.n_words, self.power, self.boost)

    def _replacement(self, newchild):
        return WordCoordMatcher(newchild, self.word_of_term, self.n_words, self.power, self.boost)

    def _factor(self) -> float:
        seen: set[int] = set()
        wot = self.word_of_term
        for fieldname, text in self.child.matching_terms():
            words = wot.get((fieldname, _norm(text)))
            if words:
                seen |= words
        return (len(seen) / self.n_words) ** self.power if seen else 1.0

    def score(self):
        return self.child.score() * self.boost * self._factor()
