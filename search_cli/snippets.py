"""Highlighted snippets: the passages of a hit's text where the query's terms occur, terms wrapped in markers.

Whoosh's highlighter analyses the whole window with the field's analyzer, stemming every word (about 15 ms a hit
on an 800-word article, most of a cold search's snippet time).  Here a word is stemmed only when it could become a
query term: Porter stemming rewrites suffixes and keeps a word's first two letters (checked over the 74,884 distinct
words of the shared health pages), so words whose first letter starts no query term are skipped before lowercasing,
and words whose first two letters start no query term before stemming.  Passages are chosen like Whoosh's
``ContextFragmenter``: runs of matches that fit ``maxchars`` with ``surround`` characters of context, the passages
with the most distinct terms first, shown in text order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

WINDOW = 4000  # look for matches in the first this-many characters first; the whole text only if none there


def snippet(
    text: str,
    terms: Iterable[str],
    *,
    word_pattern: str | re.Pattern,
    stopwords: frozenset[str],
    stem: Callable[[str], str] | None,
    marks: tuple[str, str],
    maxchars: int = 150,
    surround: int = 50,
    top: int = 2,
    minsize: int = 2,
) -> str:
    """The best ``top`` passages of ``text`` with the words that analyse to one of ``terms`` marked, joined by
    " … "; "" when no word matches."""
    terms = set(terms)
    if not terms or not text:
        return ""
    windows = [text[:WINDOW], text] if len(text) > WINDOW else [text]
    pattern = word_pattern if isinstance(word_pattern, re.Pattern) else re.compile(word_pattern)
    for window in windows:
        found = _matches(window, terms, pattern, stopwords, stem, minsize)
        if found:
            return _render(window, found, marks, maxchars, surround, top)
    return ""


# word -> stem, per stemming function: the hits of one search (and of the next) repeat most of their words, and a
# dict lookup costs far less than the stemmer behind its LRU wrapper
_STEMMED: dict[Callable[[str], str], dict[str, str]] = {}
_STEMMED_MAX = 100_000


# A word pattern of the form \w+(?:[JOINERS]\w+)* (the index's, indexer.schema.WORD_PATTERN): its tokens start
# exactly at a word character that neither follows a word character nor a joiner that follows one.
_JOINED_WORDS = re.compile(r"\\w\+\(\?:\[([^\]]+)\]\\w\+\)\*")
_CANDIDATES: dict[tuple[str, frozenset[str]], re.Pattern | None] = {}


def _candidates(pattern: re.Pattern, heads: frozenset[str]) -> re.Pattern | None:
    """``pattern`` restricted to tokens starting with one of ``heads`` (any case), found by the regex engine
    instead of a Python loop over every word; None when the pattern's token starts cannot be written so."""
    key = (pattern.pattern, heads)
    if key not in _CANDIDATES:
        if len(_CANDIDATES) > 256:
            _CANDIDATES.clear()
        shape = _JOINED_WORDS.fullmatch(pattern.pattern)
        if shape is None or pattern.flags & re.IGNORECASE:
            _CANDIDATES[key] = None
        else:
            starts = "|".join(re.escape(h) for h in sorted(heads, key=lambda h: (-len(h), h)))
            _CANDIDATES[key] = re.compile(
                rf"(?<!\w)(?<!\w[{shape.group(1)}])(?=(?i:{starts})){pattern.pattern}", pattern.flags
            )
    return _CANDIDATES[key]


def _matches(text, terms, pattern, stopwords, stem, minsize) -> list[tuple[int, int, str]]:
    firsts = {t[0] for t in terms if t}
    # the two-letter test needs every term to have two letters (a one-letter stem comes from a one-letter word)
    heads = {t[:2] for t in terms} if all(len(t) >= 2 for t in terms) else None
    memo = _STEMMED.setdefault(stem, {}) if stem is not None else None
    if memo is not None and len(memo) > _STEMMED_MAX:
        memo.clear()
    wanted = _candidates(pattern, frozenset(heads or firsts))
    if wanted is not None:
        pattern = wanted
    out = []
    for m in pattern.finditer(text):
        word = m.group()
        if word[0].lower() not in firsts:
            continue
        low = word.lower()
        if len(low) < minsize or low in stopwords:
            continue
        if heads is not None and low[:2] not in heads:
            continue
        if memo is None:
            term = low
        else:
            term = memo.get(low)
            if term is None:
                term = memo[low] = stem(low)
        if term in terms:
            out.append((m.start(), m.end(), term))
    return out


def _render(text, found, marks, maxchars, surround, top) -> str:
    # group matches into passages that fit maxchars (with context on both sides)
    passages = []
    i = 0
    while i < len(found):
        j = i
        while j + 1 < len(found) and found[j + 1][1] - found[i][0] <= maxchars - 2 * surround:
            j += 1
        group = found[i : j + 1]
        score = len({t for _, _, t in group}) * 100 + len(group)
        passages.append((score, i, group))
        i = j + 1
    best = sorted(passages, key=lambda p: (-p[0], p[1]))[:top]
    best.sort(key=lambda p: p[1])
    start_mark, end_mark = marks
    pieces = []
    for _score, _i, group in best:
        lo = _snap_left(text, max(0, group[0][0] - surround))
        hi = _snap_right(text, min(len(text), group[-1][1] + surround))
        out, pos = [], lo
        for s, e, _t in group:
            out.append(text[pos:s])
            out.append(start_mark + text[s:e] + end_mark)
            pos = e
        out.append(text[pos:hi])
        pieces.append(" ".join("".join(out).split()))
    return " … ".join(pieces)


def _snap_left(text: str, pos: int) -> int:
    """Start a passage at a word boundary (not inside a word)."""
    if pos <= 0:
        return 0
    space = text.find(" ", pos, pos + 20)
    return space + 1 if space != -1 else pos


def _snap_right(text: str, pos: int) -> int:
    if pos >= len(text):
        return len(text)
    space = text.rfind(" ", max(0, pos - 20), pos)
    return space if space != -1 else pos
