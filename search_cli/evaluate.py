"""Term-at-a-time evaluation of ranked queries over whole posting lists: the fast path of ``healthdex search``.

Whoosh scores a query document by document: a tree of matchers calls ``next``/``skip_to``/``score`` per posting
in Python, and the whoosh3 codec has no skip list, so even skipping re-reads every block header.  A health query
expanded with synonyms is an OR of a dozen terms over three fields; at 100,000 articles that walk took 100-500 ms.

Here each term's postings are read once, a block at a time (one ``zlib.decompress`` + ``pickle.loads`` per 128
postings, ids rebuilt with ``itertools.accumulate``), scored with BM25F exactly as ``whoosh.scoring.BM25FScorer``
does (same statistics from the same searcher, same arithmetic, a 256-entry table for the length norm), and the
query tree is combined into a dense score list: sums for ``Or``/``And``, the maximum for ``DisjunctionMax``,
CoordMatcher's formula for a scaled ``Or``, positions decoded only for the documents a ``Phrase`` needs.  The top
hits are those of every match scored by Whoosh's matcher tree (same scores up to float rounding of the sum order,
ties by document number; tests/test_search_evaluate.py; Whoosh's own limited top-N search can skip documents), and
the match count is exact (estimated for a phrase with more than ``VERIFY_ALL_LIMIT`` candidates).  Anything else
(wildcards, fuzzy terms, ranges, NOT, coordination over nested ORs) raises :class:`Unsupported` and runs through
Whoosh.
"""

from __future__ import annotations

import gc
import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from itertools import accumulate, compress, repeat
from operator import ge

from search_cli import qnodes

# A phrase query over this many candidate documents (documents with every word) verifies positions only for the
# best candidates, in the order of their bag-of-words score, until the top hits are settled; the match count is
# then an estimate from the verified share.  Below it every candidate is checked and the count is exact.
VERIFY_ALL_LIMIT = 500
ESTIMATE_SAMPLE = 200  # candidates checked to estimate a phrase query's match count above that
# ... taken as this many runs of neighbouring candidates, spread over the segment: neighbours share posting blocks,
# so the sample decodes a few blocks per run instead of one per candidate
ESTIMATE_RUNS = 10
# Score tables per (term, weight) pay off only for long posting lists.
TABLE_MIN_POSTINGS = 2000


@contextmanager
def gc_paused() -> Iterator[None]:
    """Evaluation allocates a float or a tuple per posting and no reference cycles; the cyclic collector would run
    full collections over them mid-query (measured: 15-30% of a query's time at 100,000 documents)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# What each query class is to the evaluator: search_cli.qnodes' classes, and whoosh.query's namesakes registered on
# first sight of a class it does not know (so a query of qnodes never imports whoosh.query).
_ROLES: dict[type, str] = {}
_WHOOSH_REGISTERED: list[bool] = []


def role(q) -> str | None:
    """"or", "and", "max", "term", "phrase" or "null" for a query node of those kinds, else None."""
    got = _ROLES.get(type(q))
    if got is None and not _WHOOSH_REGISTERED:
        from whoosh import query as wq

        _register(wq)
        _WHOOSH_REGISTERED.append(True)
        got = _ROLES.get(type(q))
    return got


def _register(module) -> None:
    """The query classes of ``module`` (search_cli.qnodes, or whoosh.query) by their role."""
    _ROLES.update(
        {
            module.Or: "or",
            module.And: "and",
            module.DisjunctionMax: "max",
            module.Term: "term",
            module.Phrase: "phrase",
            type(module.NullQuery): "null",
        }
    )


_register(qnodes)


def leaf_queries(q) -> Iterator:
    """The term and phrase leaves of ``q``, through its ORs, ANDs and DisjunctionMaxes."""
    kind = role(q)
    if kind in ("term", "phrase"):
        yield q
    elif kind in ("or", "and", "max"):
        for c in q.subqueries:
            yield from leaf_queries(c)


_NOT_OPENED = object()

# Dense accumulation runs on numpy arrays when numpy is installed (ten times fewer interpreter steps per posting),
# else on lists.  A process that answers one query and exits (the ``healthdex search`` command) pays more for
# importing numpy (about 100 ms) than it saves, so the CLI turns it off with :func:`set_vectorized`.
_VECTORIZED = True


def set_vectorized(on: bool) -> None:
    """Use numpy for dense accumulation (when installed) or plain lists."""
    global _VECTORIZED
    _VECTORIZED = on


def _np():
    """numpy, or None when it is off or not installed."""
    if not _VECTORIZED:
        return None
    return _numpy_module()


@cache
def _numpy_module():
    try:
        import numpy
    except ImportError:
        return None
    return numpy


class Unsupported(Exception):
    """The query (or the index) has a shape this evaluator does not handle; use Whoosh's matchers."""


class TermPostings:
    """One term's postings in one segment: sorted local document numbers, weights and the blocks' encoded values
    (positions), decoded only for the documents asked for.  ``values`` holds each block's values tuple, or
    ``_UNREAD`` for a block still to be read from the ``.pst`` file (postings from an ``indexer.sidecar``)."""

    __slots__ = ("ids", "weights", "_starts", "_values", "_format", "_memo", "_source")

    def __init__(self, ids, weights, starts, values: list, fmt, memo: dict, source: tuple | None = None) -> None:
        self.ids = ids
        self.weights = weights
        self._starts = starts  # index of each block's first posting
        self._values = values  # each block's values tuple (or None)
        self._format = fmt
        self._memo = memo  # encoded value -> positions, shared by the segment's terms (values repeat a lot)
        self._source = source  # (postfile, sidecar Postings) for blocks read on demand

    def positions(self, docnum: int) -> list[int]:
        i = bisect_left(self.ids, docnum)
        if i == len(self.ids) or self.ids[i] != docnum:
            return []
        b = bisect_right(self._starts, i) - 1
        values = self._values[b]
        if values is _UNREAD:
            values = self._values[b] = self._read_block(b)
        if values is None:
            raise Unsupported("postings without positions")
        v = values[i - self._starts[b]]
        got = self._memo.get(v)
        if got is None:
            got = self._memo[v] = _decode_positions(v, self._format)
        return got

    def _read_block(self, b: int):
        from indexer.sidecar import MalformedPostings, decode_block

        postfile, side = self._source
        try:
            ids, _weights, values = decode_block(postfile, *side.block_extent(b))
        except MalformedPostings:
            raise Unsupported("unreadable postings block") from None
        if ids[0] != self.ids[self._starts[b]]:
            raise Unsupported("sidecar does not match the postings")
        return values


_UNREAD = object()


class Segment:
    """One leaf segment of a searcher, with this query's decoded postings and scores."""

    def __init__(self, subsearcher, offset: int, weighting) -> None:
        self.searcher = subsearcher
        self.offset = offset
        self.weighting = weighting
        self.reader = subsearcher.reader()
        self.schema = self.reader.schema
        self.doc_count_all = self.reader.doc_count_all()
        terms = getattr(self.reader, "_terms", None)
        if terms is None or not hasattr(terms, "term_info") or not hasattr(terms, "_postfile"):
            raise Unsupported("not a whoosh3 segment reader")
        self._terms = terms
        self.deleted = self.reader.deleted_docs_set if self.reader.has_deletions() else frozenset()
        # What depends only on the segment's files lives on its reader, so a searcher kept across queries
        # (search.py reuses one per open index) opens and reads it once: the sidecar, the field lengths, and the
        # length-norm tables (keyed by the statistics they were computed from).
        self._start_caches(self.reader.__dict__.setdefault("_healthdex_segment_cache", {}))

    def _start_caches(self, shared: dict) -> None:
        """This query's caches, and ``shared``: those of the segment's files (see ``__init__``)."""
        self._postings: dict[tuple[str, bytes], TermPostings | None] = {}
        self._scored: dict[tuple[str, bytes], tuple[list[int], list[float]] | None] = {}
        self._dicts: dict[tuple[str, bytes], dict[int, float]] = {}
        self._posmemo: dict[bytes, list[int]] = {}
        self._term_bytes: dict[tuple, bytes | None] = {}
        self._param_cache: dict[tuple[str, bytes], tuple] = {}  # idf and length norms: per generation
        self._live = None
        self._shared = shared
        self._raw_lengths: dict[str, bytes] = shared.setdefault("raw_lengths", {})
        self._np_lengths: dict[str, object] = shared.setdefault("np_lengths", {})
        self._norms: dict[tuple, tuple] = shared.setdefault("norms", {})

    # --- postings ------------------------------------------------------------------------------------------
    def term_bytes(self, fieldname: str, text) -> bytes | None:
        """The term as the index stores it, or None when the field or the term is not in this segment (memoized:
        re-ranking asks again for the query's terms, and each answer is a hash-table lookup in the terms file)."""
        key = (fieldname, text)
        got = self._term_bytes.get(key, _NOT_OPENED)
        if got is _NOT_OPENED:
            got = self._term_bytes[key] = self._lookup_term_bytes(fieldname, text)
        return got

    def _lookup_term_bytes(self, fieldname: str, text) -> bytes | None:
        if fieldname not in self.schema:
            return None
        try:
            btext = self.schema[fieldname].to_bytes(text)
        except ValueError:
            return None
        return btext if self._has_term(fieldname, btext) else None

    def _has_term(self, fieldname: str, btext: bytes) -> bool:
        return (fieldname, btext) in self.reader

    def has(self, fieldname: str, btext: bytes, d: int) -> bool:
        """Whether live document ``d`` has the term (a lookup, no score)."""
        ids = self.postings(fieldname, btext).ids
        i = bisect_left(ids, d)
        return i < len(ids) and ids[i] == d and d not in self.deleted

    def postings(self, fieldname: str, btext: bytes) -> TermPostings:
        key = (fieldname, btext)
        p = self._postings.get(key)
        if p is None:
            p = self._postings[key] = self._read(fieldname, btext)
        return p

    def _read(self, fieldname: str, btext: bytes) -> TermPostings:
        fmt = self.schema[fieldname].format
        info = self._terms.term_info(fieldname, btext)
        if info.is_inlined():
            ids, weights, values = info.inlined_postings()
            return TermPostings(list(ids), list(weights), [0], [tuple(values)], fmt, self._posmemo)
        offset, length = info.extent()
        if isinstance(length, tuple):  # whoosh-ng 5.4 W3TermInfo.from_bytes keeps struct.unpack's 1-tuple
            length = length[0]
        if not length:
            return TermPostings([], [], [], [], fmt, self._posmemo)
        side = self._side_postings(offset, length)
        if side is not None:
            weights = side.weights if side.weights is not None else [1.0] * len(side.ids)
            values = [_UNREAD] * len(side.block_starts)
            return TermPostings(
                side.ids, weights, side.block_starts, values, fmt, self._posmemo, (self._terms._postfile, side)
            )
        from indexer.sidecar import MalformedPostings, iter_blocks

        ids: list[int] = []
        weights: list = []
        starts: list[int] = []
        all_values: list = []
        try:
            for _at, block_ids, block_weights, values in iter_blocks(self._terms._postfile.get(offset, length)):
                starts.append(len(ids))
                all_values.append(values)
                ids.extend(block_ids)
                weights.extend(block_weights)
        except MalformedPostings:
            raise Unsupported("unknown postings block header") from None
        if len(ids) != len(weights):
            raise Unsupported("malformed postings block")
        return TermPostings(ids, weights, starts, all_values, fmt, self._posmemo)

    def _side_postings(self, offset: int, length: int):
        """The list's copy in the segment's ``indexer.sidecar`` file, or None."""
        side = self._shared.get("sidecar", _NOT_OPENED)
        if side is _NOT_OPENED:
            side = self._shared["sidecar"] = None
            try:
                from indexer.sidecar import open_sidecar

                reader = self.reader
                storage, segment = reader._storage, reader._segment
                pst = storage.file_length(segment.make_filename(".pst"))
                side = self._shared["sidecar"] = open_sidecar(storage, segment, self.doc_count_all, pst)
            except (AttributeError, OSError):
                pass
        return side.lookup(offset, length) if side is not None else None

    # --- scoring -------------------------------------------------------------------------------------------
    def scored(self, fieldname: str, btext: bytes) -> tuple[list[int], list[float]]:
        """(ids, unboosted BM25F scores) of the term's postings, deleted documents included."""
        key = (fieldname, btext)
        got = self._scored.get(key)
        if got is None:
            p = self.postings(fieldname, btext)
            got = self._scored[key] = (p.ids, self._bm25f(fieldname, btext, p) if p.ids else [])
        return got

    def score_at(self, fieldname: str, btext: bytes, d: int) -> float | None:
        """The term's unboosted score at live document ``d``, or None (a lookup, for a few documents)."""
        p = self.postings(fieldname, btext)
        ids = p.ids
        i = bisect_left(ids, d)
        if i == len(ids) or ids[i] != d or d in self.deleted:
            return None
        got = self._scored.get((fieldname, btext))
        if got is not None:
            return got[1][i]
        idf, k1p1, norm, raw = self._params(fieldname, btext)
        n = norm[raw[d]]
        if n is None:
            raise Unsupported("document without a length")
        w = p.weights[i]
        return idf * ((w * k1p1) / (w + n))

    def add_scores(self, fieldname: str, btext: bytes, acc, factor: float) -> None:
        """``acc[doc] += score * factor`` for each of the term's postings (deleted documents included); ``acc`` is
        a list or a numpy array."""
        if type(acc) is not list:
            return self._add_scores_np(fieldname, btext, acc, factor)
        got = self._scored.get((fieldname, btext))
        p = self.postings(fieldname, btext)
        if got is None and len(p.ids) < TABLE_MIN_POSTINGS:
            got = self.scored(fieldname, btext)
        if got is not None:
            ids, scores = got
            if factor == 1.0:
                for d, s in zip(ids, scores):  # noqa: B905 (same length by construction)
                    acc[d] += s
            else:
                for d, s in zip(ids, scores):  # noqa: B905
                    acc[d] += s * factor
            return
        # a long list: one score table per weight, the factor applied in it (the same two roundings as above)
        idf, k1p1, norm, raw = self._params(fieldname, btext)
        tables = {}
        for w in set(p.weights):
            row = _score_row(idf, k1p1, norm, w)
            tables[w] = row if factor == 1.0 else [s * factor if s is not None else None for s in row]
        try:
            for d, w in zip(p.ids, p.weights):  # noqa: B905
                acc[d] += tables[w][raw[d]]
        except (TypeError, IndexError):
            raise Unsupported("document without a length") from None

    def live_mask(self):
        """numpy 1.0 for live documents, 0.0 for deleted ones, or None without deletions."""
        if not self.deleted:
            return None
        if self._live is None:
            np = _numpy_module()
            self._live = np.ones(self.doc_count_all)
            self._live[np.fromiter((d for d in self.deleted if d < self.doc_count_all), dtype=np.intp)] = 0.0
        return self._live

    def docs_with_all(self, fieldname: str, words: list[bytes]):
        """Sorted numpy array of the live documents having every word (numpy only), or None."""
        np = _numpy_module()
        posts = sorted((self.postings(fieldname, w) for w in words), key=lambda p: len(p.ids))
        if not posts or not len(posts[0].ids):
            return None
        cand = np.asarray(posts[0].ids, dtype=np.intp)
        for p in posts[1:]:
            mask = np.zeros(self.doc_count_all, dtype=bool)
            mask[np.asarray(p.ids, dtype=np.intp)] = True
            cand = cand[mask[cand]]
            if not len(cand):
                return cand
        if self.deleted:
            live = np.ones(self.doc_count_all, dtype=bool)
            live[np.fromiter((d for d in self.deleted if d < self.doc_count_all), dtype=np.intp)] = False
            cand = cand[live[cand]]
        return cand

    def scores_for(self, fieldname: str, btext: bytes, docs: list[int]) -> list[float]:
        """The term's unboosted scores at ``docs`` (sorted, each in its postings): one pass over a list that is
        not much longer than ``docs``, else a lookup per document."""
        p = self.postings(fieldname, btext)
        got = self._scored.get((fieldname, btext))
        np = _np()
        # the whole list scored into a dense array, or a lookup per document: numpy scores a posting ~50x faster
        # than a lookup costs; in lists (an allocation of the segment's size, then a step per posting) the whole
        # list pays off only when it is not much longer than ``docs`` (callgrind, cold search at 100k articles)
        if got is None and len(docs) * (8 if np is not None else 4) >= len(p.ids):
            if np is not None:
                acc = np.zeros(self.doc_count_all)
                self.add_scores(fieldname, btext, acc, 1.0)
                return acc[np.asarray(docs, dtype=np.intp)].tolist()
            acc = [0.0] * self.doc_count_all
            self.add_scores(fieldname, btext, acc, 1.0)
            return [acc[d] for d in docs]
        ids = p.ids
        out = []
        i = 0
        if got is not None:
            scores = got[1]
            for d in docs:
                i = bisect_left(ids, d, i)
                out.append(scores[i])
            return out
        idf, k1p1, norm, raw = self._params(fieldname, btext)
        weights = p.weights
        try:
            for d in docs:
                i = bisect_left(ids, d, i)
                w = weights[i]
                out.append(idf * ((w * k1p1) / (w + norm[raw[d]])))
        except TypeError:
            raise Unsupported("document without a length") from None
        return out

    def _add_scores_np(self, fieldname: str, btext: bytes, acc, factor: float) -> None:
        """``add_scores`` on a numpy array: the same per-posting arithmetic (scores from the same Python-computed
        tables, one multiplication by ``factor``, one addition per term), so the sums are bit for bit the same."""
        np = _numpy_module()
        p = self.postings(fieldname, btext)
        if not len(p.ids):
            return
        ids = np.asarray(p.ids, dtype=np.intp)
        got = self._scored.get((fieldname, btext))
        if got is not None:
            scores = np.asarray(got[1], dtype=np.float64)
            acc[ids] += scores if factor == 1.0 else scores * factor
            return
        idf, k1p1, norm, _raw = self._params(fieldname, btext)
        lengths = self._lengths_np(fieldname)[ids]
        weights = np.asarray(p.weights)
        if weights.dtype.kind == "u":  # term frequencies as bytes: distinct values without sorting
            distinct = np.flatnonzero(np.bincount(weights)).astype(weights.dtype)
        else:
            distinct = np.unique(weights)
        norm_np = self._shared.get(id(norm))
        if norm_np is None:  # (the list lives in the same cache, so its id stays its own)
            norm_np = self._shared[id(norm)] = np.array([float("nan") if n is None else n for n in norm])
        # Python's float arithmetic element by element: w * (K1 + 1), w + norm, the division, then idf (NaN where a
        # length byte has no length), then the factor
        wf = distinct.astype(np.float64)[:, None]
        table = idf * ((wf * k1p1) / (wf + norm_np[None, :]))
        if factor != 1.0:
            table = table * factor
        if len(distinct) == 1:
            scores = table[0][lengths]
        else:
            scores = table[np.searchsorted(distinct, weights), lengths]
        if np.isnan(scores).any():
            raise Unsupported("document without a length")
        acc[ids] += scores

    def _lengths_np(self, fieldname: str):
        got = self._np_lengths.get(fieldname)
        if got is None:
            np = _numpy_module()
            got = self._np_lengths[fieldname] = np.frombuffer(self._lengths(fieldname), dtype=np.uint8)
        return got

    def term_scores(self, fieldname: str, btext: bytes) -> dict[int, float]:
        """{live document: unboosted BM25F score} for the term."""
        key = (fieldname, btext)
        got = self._dicts.get(key)
        if got is None:
            ids, scores = self.scored(fieldname, btext)
            got = dict(zip(ids, scores, strict=True))
            for d in self.deleted.intersection(got) if self.deleted else ():
                del got[d]
            self._dicts[key] = got
        return got

    def _params(self, fieldname: str, btext: bytes) -> tuple[float, float, list, bytes]:
        """BM25FScorer's idf and K1 + 1 for the term, its length part per length byte (None: no length) and the
        field's length bytes."""
        key = (fieldname, btext)
        got = self._param_cache.get(key)
        if got is None:
            from search_cli._whoosh_compat import load_alone

            byte_to_length = load_alone("whoosh.util.numeric").byte_to_length
            if not getattr(self.schema[fieldname], "scorable", False):
                raise Unsupported(f"unscored field {fieldname}")
            idf, avgfl, B, K1 = self._bm25_statistics(fieldname, btext)
            # whoosh.scoring.bm25: idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl))), the same
            # arithmetic with the length part looked up per length byte (a zero byte has no length: None)
            nkey = (fieldname, avgfl, B, K1)
            norm = self._norms.get(nkey)
            if norm is None:
                norm = self._norms[nkey] = [
                    K1 * ((1 - B) + B * byte_to_length(b) / avgfl) if b else None for b in range(256)
                ]
            got = self._param_cache[key] = (idf, K1 + 1, norm, self._lengths(fieldname))
        return got

    def _bm25_statistics(self, fieldname: str, btext: bytes) -> tuple[float, float, float, float]:
        """(idf, average field length, B, K1) of the searcher's ``BM25FScorer`` for the term."""
        from whoosh.scoring import BM25FScorer

        scorer = self.weighting.scorer(self.searcher, fieldname, btext)
        if type(scorer) is not BM25FScorer:
            raise Unsupported(f"{type(scorer).__name__} scoring")
        return scorer.idf, scorer.avgfl, scorer.B, scorer.K1

    def _bm25f(self, fieldname: str, btext: bytes, p: TermPostings) -> list[float]:
        idf, k1p1, norm, raw = self._params(fieldname, btext)
        ids, weights = p.ids, p.weights
        try:
            if len(ids) < TABLE_MIN_POSTINGS:
                return [idf * ((w * k1p1) / (w + norm[raw[d]])) for d, w in zip(ids, weights, strict=True)]
            tables = {w: _score_row(idf, k1p1, norm, w) for w in set(weights)}
            out = [tables[w][raw[d]] for d, w in zip(ids, weights, strict=True)]
        except (TypeError, IndexError):
            raise Unsupported("document without a length") from None
        if None in out:
            raise Unsupported("document without a length")
        return out

    def _lengths(self, fieldname: str) -> bytes:
        raw = self._raw_lengths.get(fieldname)
        if raw is None:
            try:
                from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

                col = self.reader._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
                raw = col._dbfile.get(col._basepos, col._count * col._fixedlen)
                fixed = col._fixedlen
            except Exception:
                raise Unsupported("no length column") from None
            if fixed != 1 or len(raw) != self.doc_count_all:
                raise Unsupported("unusual length column")
            self._raw_lengths[fieldname] = raw
        return raw

    # --- query tree -----------------------------------------------------------------------------------------
    def compile(self, q) -> Node:
        """The query resolved against this segment: terms as bytes, phrase words, coordination counts."""
        kind = role(q)
        if kind in ("or", "and", "max"):
            subs = q.subqueries
            if not subs:
                return _NOTHING
            if len(subs) == 1:  # Whoosh uses the child's matcher: no boost, no coordination
                return self.compile(subs[0])
            children = [self.compile(s) for s in subs]
            if kind == "or":
                if getattr(q, "minmatch", 0):
                    raise Unsupported("OR with minmatch")
                scale = getattr(q, "scale", None)
                termcount = sum(c.leaves for c in children) if scale else 0
                if termcount and not all(isinstance(c, TermNode | PhraseNode | _Nothing) for c in children):
                    # CoordMatcher counts the terms its matcher tree reports at a document, and Whoosh builds
                    # nested ORs as preloaded ArrayUnionMatchers that report none: only flat ones are the same
                    raise Unsupported("coordination over nested queries")
                return OrNode(children, q.boost, scale if termcount else None, termcount)
            if kind == "and":
                if any(c is _NOTHING for c in children):  # a word the segment lacks: Whoosh's NullMatcher
                    return _NOTHING
                return AndNode(children, q.boost)
            if getattr(q, "tiebreak", 0.0):
                raise Unsupported("DisjunctionMax tiebreak")
            return MaxNode(children, q.boost)
        if kind == "term":
            btext = self.term_bytes(q.fieldname, q.text)
            if btext is None:
                return _NOTHING
            return TermNode(self, q.fieldname, btext, q.boost)
        if kind == "phrase":
            if q.fieldname not in self.schema:
                return _NOTHING
            field = self.schema[q.fieldname]
            if not field.format or not field.format.supports("positions"):
                raise Unsupported("phrase on a field without positions")
            words = [self.term_bytes(q.fieldname, w) for w in q.words]
            if not words or None in words:
                return _NOTHING
            if len(words) == 1:
                return TermNode(self, q.fieldname, words[0], q.boost)
            return PhraseNode(self, q.fieldname, words, q.slop, q.boost)
        if kind == "null":
            return _NOTHING
        raise Unsupported(type(q).__name__)

    def phrase_scores(
        self, fieldname: str, words: list[bytes], slop: int, docs=None, verify: bool = True, tree_sum: bool = True
    ) -> dict[int, float]:
        """Sum of the words' scores for documents (of ``docs`` when given) that have every word and, if
        ``verify``, have them in order, each 1..``slop`` positions after the previous (Whoosh's
        ``SpanNear2(ordered=True, mindist=1)``).  ``tree_sum``: add in the order of Whoosh's matcher tree, else
        left to right (as ``search._leaf_scores`` does)."""
        if docs is not None and len(docs) <= 1000:  # a few candidates: look each word up, no whole-list dicts
            out = {}
            add = _sum_in_order if tree_sum else sum
            posts = [self.postings(fieldname, w) for w in words] if verify and len(words) > 1 else None
            for d in docs:
                vals = [self.score_at(fieldname, w, d) for w in words]
                if None in vals or (posts is not None and not _in_order(posts, d, slop)):
                    continue
                out[d] = vals[0] + vals[1] if len(vals) == 2 else add(vals)
            return out
        posts = [self.postings(fieldname, w) for w in words]
        if any(not p.ids for p in posts):
            return {}
        order = sorted(range(len(posts)), key=lambda i: len(posts[i].ids))
        candidates = set(posts[order[0]].ids) if docs is None else set(docs).intersection(posts[order[0]].ids)
        for i in order[1:]:
            candidates.intersection_update(posts[i].ids)
            if not candidates:
                return {}
        candidates -= self.deleted
        if verify and len(words) > 1:
            candidates = {d for d in candidates if _in_order(posts, d, slop)}
        docs_in_order = sorted(candidates)
        per_word = [self.scores_for(fieldname, w, docs_in_order) for w in words]
        if len(per_word) == 2:  # both orders agree for two
            return {d: a + b for d, a, b in zip(docs_in_order, *per_word)}  # noqa: B905 (same lengths)
        add = _sum_in_order if tree_sum else sum
        return {d: add(list(vals)) for d, *vals in zip(docs_in_order, *per_word)}  # noqa: B905

    # --- top documents --------------------------------------------------------------------------------------
    def top(self, q, depth: int, allowed=None) -> tuple[list[tuple[float, int]], int, bool]:
        """This segment's ``depth`` best (score, global docnum), its match count and whether that is exact."""
        node, acc, matched, bound = self._candidates(q, allowed, docs_needed=False)
        off = self.offset
        if not node.has_phrase:
            if matched is None:  # a dense list whose non-zero entries are exactly the matches
                best = _best_dense(acc, depth, off, _probe(node, depth), _contenders(node, len(acc)))
                return best, len(acc) - acc.count(0.0), True
            return _best(acc, matched, depth, off, dense=allowed is None), len(matched), True
        # Settle the top hits in bag-of-words order: a document's exact score never exceeds its bound.
        order = [(-acc[d], d) for d in matched]
        heapq.heapify(order)
        heap: list[tuple[float, int]] = []  # (score, -docnum) min-heap of the best verified
        while order:
            _neg, d = heapq.heappop(order)
            if len(heap) >= depth and bound(d) < heap[0][0]:
                break
            s = node.exact(d)
            if s is None:
                continue
            item = (s, -d)
            if len(heap) < depth:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
        best = sorted(((s, -neg + off) for s, neg in heap), key=lambda t: (-t[0], t[1]))
        if len(matched) <= VERIFY_ALL_LIMIT:  # the count: every candidate checked (positions, no scores)
            return best, sum(1 for d in matched if node.matches_at(d)), True
        # the count: the share of an evenly spread sample of the candidates that really has the phrase
        run = max(1, ESTIMATE_SAMPLE // ESTIMATE_RUNS)
        stride = max(run, len(matched) // ESTIMATE_RUNS)
        sample = [d for start in range(0, len(matched), stride) for d in matched[start : start + run]]
        found = sum(1 for d in sample if node.matches_at(d))
        estimate = round(len(matched) * found / len(sample)) if sample else 0
        return best, max(estimate, len(best)), False

    def matches(self, q, allowed=None) -> list[tuple[float, int]]:
        """Every matching document as (score, global docnum), phrases checked (for sorting and facets)."""
        node, acc, matched, _bound = self._candidates(q, allowed)
        off = self.offset
        if not node.has_phrase:
            if type(acc) is not list:
                return list(zip(acc[matched].tolist(), (matched + off).tolist(), strict=True))
            return [(acc[d], d + off) for d in matched]
        out = []
        for d in matched:
            s = node.exact(d)
            if s is not None:
                out.append((s, d + off))
        return out

    def _candidates(self, q, allowed, docs_needed: bool = True):
        """(compiled node, dense scores, matching local docnums, bound function): exact scores unless the query
        has phrases; then upper bounds (phrases as bags of words) to be checked with ``node.exact``.
        ``docs_needed=False``: the matching docnums may come back as None when the scores are a list with a
        non-zero entry exactly for each match (listing ~100,000 entries cost more than finding the top ones)."""
        node = self.compile(q)
        n = self.doc_count_all
        coord = isinstance(node, OrNode) and node.scale
        np = _np()
        if np is not None:
            return self._candidates_np(np, node, allowed, coord)
        acc = [0.0] * n
        counts = None
        if coord:  # a scaled OR at the top: sum the children here, apply CoordMatcher's formula below
            for c in node.children:
                c.accumulate(acc, node.boost)
            if not node.has_phrase:
                counts = [0] * n
                for c in node.children:
                    c.count(counts)
        else:
            node.accumulate(acc, 1.0)
        for d in self.deleted:
            if d < n:
                acc[d] = 0.0
        off = self.offset
        if allowed is not None:
            matched = [d for d in compress(range(n), acc) if d + off in allowed]
        elif docs_needed or counts is not None or node.has_phrase:
            matched = list(compress(range(n), acc))  # every score is > 0 (idf > 0, positive boosts)
        else:
            matched = None
        tc, scale = (node.termcount, node.scale) if coord else (0, None)
        if counts is not None:  # CoordMatcher's formula with the number of matching term leaves: exact
            den, share = (tc - scale) ** 2, (tc - 1) / tc
            if tc == 0 or tc == scale:
                for d in matched:
                    acc[d] = 0
            else:
                for d in matched:
                    acc[d] = (acc[d] + ((counts[d] - 1) / den)) * share  # _sqr, inlined
        if coord and node.has_phrase:
            # every leaf counted: an upper bound (the formula grows with score and count, and positions only take
            # matches away); it grows with the sum, so the sum gives the order

            def bound(d: int) -> float:
                return _sqr(acc[d], tc, tc, scale)

        else:
            bound = acc.__getitem__
        return node, acc, matched, bound

    def _candidates_np(self, np, node, allowed, coord):
        """``_candidates`` accumulated in numpy arrays (the same operations per document, in the same order); the
        scores come back as a list when phrases are still to be verified one document at a time."""
        n = self.doc_count_all
        acc = np.zeros(n)
        counts = None
        if coord:
            for c in node.children:
                c.accumulate(acc, node.boost)
            if not node.has_phrase:
                counts = np.zeros(n, dtype=np.int64)
                for c in node.children:  # flat: terms only (see compile)
                    if isinstance(c, TermNode):
                        p = self.postings(c.fieldname, c.btext)
                        counts[np.asarray(p.ids, dtype=np.intp)] += 1
        else:
            node.accumulate(acc, 1.0)
        if self.deleted:
            dead = np.fromiter((d for d in self.deleted if d < n), dtype=np.intp)
            acc[dead] = 0.0
        matched = np.flatnonzero(acc)  # every score is > 0 (idf > 0, positive boosts)
        if allowed is not None:
            off = self.offset
            matched = np.fromiter((d for d in matched.tolist() if d + off in allowed), dtype=np.intp)
        tc, scale = (node.termcount, node.scale) if coord else (0, None)
        if counts is not None:  # CoordMatcher's formula, as in _candidates
            if tc == 0 or tc == scale:
                acc[matched] = 0.0
            else:
                den, share = (tc - scale) ** 2, (tc - 1) / tc
                acc[matched] = (acc[matched] + ((counts[matched] - 1) / den)) * share
        if node.has_phrase:  # verified one document at a time: plain Python values
            acc = acc.tolist()
            matched = matched.tolist()
            if coord:

                def bound(d: int) -> float:
                    return _sqr(acc[d], tc, tc, scale)

                return node, acc, matched, bound
        return node, acc, matched, acc.__getitem__


# --- compiled query nodes ----------------------------------------------------------------------------------------
# Each node adds an upper bound of its score into a dense accumulator (phrases as their bag of words; exact for
# everything else) and scores one document exactly.  Scores follow Whoosh's matchers: WrappingMatcher boosts,
# UnionMatcher/IntersectionMatcher sums, DisjunctionMaxMatcher max, CoordMatcher for a scaled OR.
class Node:
    leaves = 0  # term matchers in this node's matcher tree (what a CoordMatcher counts)
    has_phrase = False

    def accumulate(self, acc, factor: float) -> None:
        bound = self.bound()
        if type(acc) is not list:
            if bound:
                np = _numpy_module()
                docs = np.fromiter(bound.keys(), dtype=np.intp, count=len(bound))
                scores = np.fromiter(bound.values(), dtype=np.float64, count=len(bound))
                acc[docs] += scores * factor
            return
        self._accumulated = bound  # its documents, for ``docs`` (the top hits' candidates)
        for d, s in bound.items():
            acc[d] += s * factor

    def bound(self) -> dict[int, float]:
        raise NotImplementedError

    def ceiling(self) -> float:
        """An upper bound on the score this node adds to any document (its boost included); inf if unknown."""
        return _INF

    def docs(self):
        """The documents this node matched when accumulated into a list (a collection; deleted ones may be
        included), or None when it does not know them without more work."""
        return getattr(self, "_accumulated", None)

    def count(self, counts: list[int]) -> None:
        """Add this node's matching term leaves to ``counts[doc]`` for the documents it matches (no phrases)."""
        for d in self.bound():
            counts[d] += self.matching(d)

    def matching(self, d: int) -> int:
        """Term leaves matching at ``d`` (CoordMatcher's ``matching_terms``); 0 when the node does not match."""
        raise NotImplementedError

    def exact(self, d: int) -> float | None:
        raise NotImplementedError

    def matches_at(self, d: int) -> bool:
        """Whether ``d`` really matches (phrases checked); cheaper than ``exact`` where the score is not needed."""
        return self.exact(d) is not None

    def size(self) -> int:
        """Roughly how many documents the node matches (to try likelier alternatives first)."""
        return 0


class _Nothing(Node):
    def accumulate(self, acc, factor):
        return None

    def count(self, counts):
        return None

    def matching(self, d):
        return 0

    def bound(self):
        return {}

    def exact(self, d):
        return None

    def ceiling(self):
        return 0.0

    def docs(self):
        return ()


_NOTHING = _Nothing()


class TermNode(Node):
    leaves = 1

    def __init__(self, seg: Segment, fieldname: str, btext: bytes, boost: float) -> None:
        self.seg, self.fieldname, self.btext, self.boost = seg, fieldname, btext, boost
        self._scores: dict[int, float] | None = None

    @property
    def scores(self) -> dict[int, float]:
        if self._scores is None:
            self._scores = self.seg.term_scores(self.fieldname, self.btext)
        return self._scores

    def accumulate(self, acc, factor):
        self.seg.add_scores(self.fieldname, self.btext, acc, factor * self.boost)

    def bound(self):
        b = self.boost
        return self.scores if b == 1.0 else {d: s * b for d, s in self.scores.items()}

    def count(self, counts):
        for d in self.scores:
            counts[d] += 1

    def matching(self, d):
        return 1 if self.matches_at(d) else 0

    def exact(self, d):  # a lookup: the whole list's dict only when something needs it anyway
        s = self.scores.get(d) if self._scores is not None else self.seg.score_at(self.fieldname, self.btext, d)
        return s * self.boost if s is not None and self.boost != 1.0 else s

    def matches_at(self, d):
        return self.seg.has(self.fieldname, self.btext, d)

    def size(self):
        return len(self.seg.postings(self.fieldname, self.btext).ids)

    def ceiling(self):
        # idf * (w * (K1 + 1)) / (w + norm) with norm > 0 stays below idf * (K1 + 1); the margin covers rounding
        idf, k1p1, _norm, _raw = self.seg._params(self.fieldname, self.btext)
        return idf * k1p1 * self.boost * _CEILING_MARGIN

    def docs(self):
        return self.seg.postings(self.fieldname, self.btext).ids


class PhraseNode(Node):
    has_phrase = True

    def __init__(self, seg: Segment, fieldname: str, words: list[bytes], slop: int, boost: float) -> None:
        self.seg, self.fieldname, self.words, self.slop, self.boost = seg, fieldname, words, slop, boost
        self.leaves = len(words)
        self._posts = [seg.postings(fieldname, w) for w in words]

    def bound(self):
        out = self.seg.phrase_scores(self.fieldname, self.words, self.slop, verify=False)
        b = self.boost
        return out if b == 1.0 else {d: s * b for d, s in out.items()}

    def accumulate(self, acc, factor):
        if type(acc) is list:
            return Node.accumulate(self, acc, factor)
        # numpy: the bag-of-words bound of ``bound`` (documents with every word, the words' scores summed in the
        # same order, then the boost, then the factor), without a dict per candidate
        np = _numpy_module()
        seg = self.seg
        cand = seg.docs_with_all(self.fieldname, self.words)
        if cand is None or not len(cand):
            return
        per_word = []
        for w in self.words:
            dense = np.zeros(seg.doc_count_all)
            seg.add_scores(self.fieldname, w, dense, 1.0)
            per_word.append(dense[cand])
        total = per_word[0] + per_word[1] if len(per_word) == 2 else _sum_in_order(per_word)
        if self.boost != 1.0:
            total = total * self.boost
        acc[cand] += total * factor

    def exact(self, d):
        vals = []
        for w in self.words:
            s = self.seg.score_at(self.fieldname, w, d)
            if s is None:
                return None
            vals.append(s)
        if not _in_order(self._posts, d, self.slop):
            return None
        s = _sum_in_order(vals)
        return s * self.boost if self.boost != 1.0 else s

    def matching(self, d):
        return self.leaves if self.exact(d) is not None else 0

    def matches_at(self, d):
        for p in self._posts:
            ids = p.ids
            i = bisect_left(ids, d)
            if i == len(ids) or ids[i] != d:
                return False
        return d not in self.seg.deleted and _in_order(self._posts, d, self.slop)

    def size(self):
        return min(len(p.ids) for p in self._posts)


class OrNode(Node):
    def __init__(self, children: list[Node], boost: float, scale: float | None, termcount: int) -> None:
        self.children = [c for c in children if c is not _NOTHING]
        self.boost, self.scale, self.termcount = boost, scale, termcount
        self.has_phrase = any(c.has_phrase for c in self.children)
        self.leaves = sum(c.leaves for c in self.children)
        self._likeliest: list[Node] | None = None

    def accumulate(self, acc, factor):
        if self.scale:
            return Node.accumulate(self, acc, factor)
        for c in self.children:
            c.accumulate(acc, factor * self.boost)

    def bound(self):
        parts = [c.bound() for c in self.children]
        out = _union(parts)
        if self.boost != 1.0:
            out = {d: s * self.boost for d, s in out.items()}
        if self.scale:
            tc, scale = self.termcount, self.scale
            if self.has_phrase:  # every leaf counted: an upper bound (the formula grows with the count)
                out = {d: _sqr(s, tc, tc, scale) for d, s in out.items()}
            else:
                out = {d: _sqr(s, self.matching(d), tc, scale) for d, s in out.items()}
        return out

    def matching(self, d):
        return sum(c.matching(d) for c in self.children)

    def matches_at(self, d):
        if self._likeliest is None:
            self._likeliest = sorted(self.children, key=lambda c: -c.size())
        return any(c.matches_at(d) for c in self._likeliest)

    def size(self):
        return max((c.size() for c in self.children), default=0)

    def ceiling(self):
        if self.scale:
            return _INF
        return sum(c.ceiling() for c in self.children) * self.boost * _CEILING_MARGIN

    def docs(self):
        if self.scale:
            return None
        parts = [c.docs() for c in self.children]
        if any(p is None for p in parts):
            return None
        return _Union(parts)

    def exact(self, d):
        parts = [c.exact(d) for c in self.children]
        found = [p for p in parts if p is not None]
        if not found:
            return None
        s = _sum_in_order(found)
        if self.boost != 1.0:
            s *= self.boost
        if self.scale:
            matching = sum(c.matching(d) for c, p in zip(self.children, parts, strict=True) if p is not None)
            s = _sqr(s, matching, self.termcount, self.scale)
        return s


class AndNode(Node):
    def __init__(self, children: list[Node], boost: float) -> None:
        self.children, self.boost = children, boost
        self.has_phrase = any(c.has_phrase for c in children)
        self.leaves = sum(c.leaves for c in children)

    def bound(self):
        if self.children and all(type(c) is TermNode for c in self.children):
            out = self._terms_bound()
        else:
            out = _intersection([c.bound() for c in self.children])
        return out if self.boost == 1.0 else {d: s * self.boost for d, s in out.items()}

    def _terms_bound(self) -> dict[int, float]:
        """``_intersection`` of the terms' bounds, scoring only the documents that have every term (a synonym's
        words: usually far fewer than the commonest word's postings)."""
        seg = self.children[0].seg
        posts = sorted((seg.postings(c.fieldname, c.btext).ids for c in self.children), key=len)
        cand = set(posts[0])
        for ids in posts[1:]:
            if len(ids) > 20 * len(cand):  # a far longer list: look the few candidates up (~0.9 us each) rather
                bl, n = bisect_left, len(ids)  # than hash the whole list (~55 ns a posting)
                cand = {d for d in cand if (i := bl(ids, d)) < n and ids[i] == d}
            else:
                cand.intersection_update(ids)
            if not cand:
                return {}
        docs = sorted(cand - seg.deleted) if seg.deleted else sorted(cand)
        per_child = []
        for c in self.children:
            vals = seg.scores_for(c.fieldname, c.btext, docs)
            per_child.append(vals if c.boost == 1.0 else [v * c.boost for v in vals])
        return {d: _sum_in_order(list(vals)) for d, *vals in zip(docs, *per_child, strict=True)}

    def accumulate(self, acc, factor):
        parts = _dense_parts(self.children, len(acc)) if type(acc) is not list else None
        if parts is None:
            return Node.accumulate(self, acc, factor)
        np = _numpy_module()
        cand = np.flatnonzero(np.logical_and.reduce([p > 0 for p in parts]))
        vals = _sum_in_order([p[cand] for p in parts])
        if self.boost != 1.0:
            vals = vals * self.boost
        acc[cand] += vals * factor

    def exact(self, d):
        vals = []
        for c in self.children:
            s = c.exact(d)
            if s is None:
                return None
            vals.append(s)
        s = _sum_in_order(vals)
        return s * self.boost if self.boost != 1.0 else s

    def matching(self, d):
        counts = [c.matching(d) for c in self.children]
        return sum(counts) if all(counts) else 0

    def ceiling(self):
        return sum(c.ceiling() for c in self.children) * self.boost * _CEILING_MARGIN


class MaxNode(Node):
    def __init__(self, children: list[Node], boost: float) -> None:
        self.children = [c for c in children if c is not _NOTHING]
        self.boost = boost
        self.has_phrase = any(c.has_phrase for c in self.children)
        self.leaves = sum(c.leaves for c in self.children)

    def bound(self):
        out = _union_max([c.bound() for c in self.children])
        return out if self.boost == 1.0 else {d: s * self.boost for d, s in out.items()}

    def accumulate(self, acc, factor):
        parts = _dense_parts(self.children, len(acc)) if type(acc) is not list else None
        if parts is None:
            return Node.accumulate(self, acc, factor)
        np = _numpy_module()
        top = np.maximum.reduce(parts) if len(parts) > 1 else parts[0]
        if self.boost != 1.0:
            top = top * self.boost
        acc += top * factor  # zero where no child matches: adding 0.0 changes nothing

    def exact(self, d):
        found = [s for s in (c.exact(d) for c in self.children) if s is not None]
        if not found:
            return None
        s = max(found)
        return s * self.boost if self.boost != 1.0 else s

    def matching(self, d):
        return sum(c.matching(d) for c in self.children)

    def ceiling(self):
        return max((c.ceiling() for c in self.children), default=0.0) * self.boost * _CEILING_MARGIN


def _dense_parts(children: list[Node], n: int) -> list | None:
    """Each child's ``bound()`` as a dense numpy array of ``n`` (0.0 where it does not match), or None when a
    child's bound cannot be had that way with the same arithmetic."""
    if not children:
        return None
    parts = []
    for c in children:
        dense = _dense_bound(c, n)
        if dense is None:
            return None
        parts.append(dense)
    return parts


def _dense_bound(node: Node, n: int):
    np = _numpy_module()
    if isinstance(node, _Nothing) or (isinstance(node, OrNode | MaxNode) and not node.children):
        return np.zeros(n)
    if isinstance(node, OrNode):
        # OrNode.bound: ``_union`` adds its children's bounds largest first (ties in order), then the boost
        if node.scale:
            return None
        parts = _dense_parts(node.children, n)
        if parts is None:
            return None
        seg = _segment_of(node)
        live = seg.live_mask() if seg is not None else None
        sizes = [int(np.count_nonzero(p if live is None else p * live)) for p in parts]
        order = sorted(range(len(parts)), key=sizes.__getitem__, reverse=True)
        out = parts[order[0]].copy()
        for i in order[1:]:
            out += parts[i]  # 0.0 where the part has no document: exact
        return out if node.boost == 1.0 else out * node.boost
    if isinstance(node, TermNode | PhraseNode | AndNode | MaxNode):
        dense = np.zeros(n)
        node.accumulate(dense, 1.0)  # their accumulate adds exactly their bound (times 1.0)
        return dense
    return None


def _segment_of(node: Node):
    while not hasattr(node, "seg"):
        children = getattr(node, "children", None)
        if not children:
            return None
        node = children[0]
    return node.seg


def _score_row(idf: float, k1p1: float, norm: list, w) -> list:
    """BM25F's score for weight ``w`` at each length byte (None where the byte has no length): the arithmetic of
    ``whoosh.scoring.bm25``, looked up per posting instead of computed."""
    return [idf * ((w * k1p1) / (w + n)) if n is not None else None for n in norm]


def _sqr(score: float, matching: int, termcount: int, scale: float) -> float:
    """whoosh.matching.wrappers.CoordMatcher._sqr, same arithmetic."""
    if termcount == 0 or termcount == scale:
        return 0
    return (score + ((matching - 1) / (termcount - scale) ** 2)) * ((termcount - 1) / termcount)


def _best(scores, docs: list[int], depth: int, offset: int, dense: bool = False) -> list[tuple[float, int]]:
    """The ``depth`` highest (score, docnum + offset) of ``docs``; ties: lower docnum first.  ``dense``: ``scores``
    is a list (or numpy array) whose non-zero entries are exactly ``docs`` (then the threshold comes from the list
    itself)."""
    if depth <= 0:
        return []
    if type(scores) is not list and type(scores) is not dict:
        np = _numpy_module()
        picked = np.asarray(docs, dtype=np.intp)
        if len(picked) > depth:
            values = scores[picked]
            kth = np.partition(values, len(values) - depth)[len(values) - depth]
            picked = picked[values >= kth]  # every tie at the threshold, then ordered below
        ranked = sorted(zip(scores[picked].tolist(), picked.tolist(), strict=True), key=lambda t: (-t[0], t[1]))
        ranked = ranked[:depth]
        return [(s, d + offset) for s, d in ranked]
    if len(docs) > 4 * depth:
        # (dense: the zeros are the documents that do not match; filter drops them in C before the heap's loop;
        # with fewer than ``depth`` non-zero scores the threshold is 0.0, as the heap over every entry gave)
        best = heapq.nlargest(depth, filter(None, scores)) if dense else []
        kth = best[-1] if len(best) == depth else 0.0
        if kth > 0:  # (a zero threshold would take in documents that do not match)
            docs = list(compress(range(len(scores)), map(ge, scores, repeat(kth))))
        else:
            kth = heapq.nlargest(depth, (scores[d] for d in docs))[-1]
            docs = [d for d in docs if scores[d] >= kth]
    docs = sorted(docs, key=lambda d: (-scores[d], d))[:depth]
    return [(scores[d], d + offset) for d in docs]


def _probe(node: Node, depth: int):
    """Documents likely to score high, to bound the top hits' threshold from below: the postings of the term
    leaf with the largest weight (idf times the boosts above it) among those with at least ``depth`` postings, or
    None.  (Any documents give a valid bound; these make it a tight one.)"""
    best, best_weight = None, 0.0
    stack = [(node, 1.0)]
    while stack:
        n, factor = stack.pop()
        factor *= getattr(n, "boost", 1.0)
        if isinstance(n, TermNode):
            ids = n.seg.postings(n.fieldname, n.btext).ids
            if len(ids) >= depth:
                weight = factor * n.seg._params(n.fieldname, n.btext)[0]
                if weight > best_weight:
                    best, best_weight = ids, weight
        else:
            stack.extend((c, factor) for c in getattr(n, "children", ()))
    return best


_INF = float("inf")
CONTENDERS_MAX_SHARE = 4  # look among contenders only when they are at most a quarter of the segment
_CEILING_MARGIN = 1.0 + 1e-9  # a bound rounded up past any floating-point rounding of the sums it bounds


class _Union:
    """Several collections of documents, read as their union (sized by the sum of their sizes)."""

    __slots__ = ("parts",)

    def __init__(self, parts: list) -> None:
        self.parts = parts

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def as_set(self) -> set[int]:
        out: set[int] = set()
        for p in self.parts:
            if type(p) is _Union:
                out |= p.as_set()
            else:
                out.update(p)
        return out


def _contenders(node: Node, n: int):
    """A function of a score threshold giving a set of documents that holds every one scoring at least that much
    after ``node`` was accumulated into a list, or None when it has no such set much smaller than the segment.

    For an OR, the children matching the most documents are left out for as long as their ceilings add up to less
    than the threshold: a document that only they match cannot reach it, so the others' documents are enough.  For
    "sciatica pain" the three "pain" terms (36,000 documents, ceiling 21.7) are left out at a threshold of 25.0,
    and 5,000 documents are looked at instead of 100,000."""
    if not isinstance(node, OrNode) or node.scale:
        return None

    def find(threshold: float) -> set[int] | None:
        parts = []
        for c in node.children:
            docs = c.docs()
            if docs is None:
                return None
            parts.append((len(docs), c.ceiling() * node.boost, docs))
        parts.sort(key=lambda p: -p[0])
        left_out, kept, size = 0.0, [], 0
        for length, ceiling, docs in parts:
            if left_out + ceiling < threshold:
                left_out += ceiling
            else:
                kept.append(docs)
                size += length
        if not left_out or size * CONTENDERS_MAX_SHARE > n:
            return None
        return _Union(kept).as_set()

    return find


def _best_dense(scores: list[float], depth: int, offset: int, probe=None, contenders=None) -> list[tuple[float, int]]:
    """``_best`` over a dense list whose non-zero entries are exactly the matching documents, without listing
    them: a threshold no higher than the ``depth``-th highest value, then the positions at or above it, sorted.
    The threshold is the ``depth``-th highest among the ``probe`` documents when they have that many non-zero
    scores (a lower bound, found in a few thousand steps instead of one per match), else among all values.  The
    positions are looked for among ``contenders(threshold)`` when that gives a set (see :func:`_contenders`),
    else in the whole list."""
    if depth <= 0:
        return []
    best = heapq.nlargest(depth, filter(None, map(scores.__getitem__, probe))) if probe is not None else []
    if len(best) < depth:
        best = heapq.nlargest(depth, filter(None, scores))
    if not best:
        return []
    kth = best[-1]
    found = contenders(kth) if contenders is not None else None
    if found is None:
        docs = _positions_at_least(scores, kth)
    else:
        docs = [d for d in found if scores[d] >= kth]
    docs.sort(key=lambda d: (-scores[d], d))
    return [(scores[d], d + offset) for d in docs[:depth]]


_SCAN_STEP = 256


def _positions_at_least(values: list[float], threshold: float) -> list[int]:
    """The positions of ``values`` (ascending) whose value is at least ``threshold``, which few reach: ``max``
    rules out most runs of ``_SCAN_STEP`` values at C speed, and only the others are compared one by one (about
    half the time of comparing every value, for a list of 100,000)."""
    out: list[int] = []
    n = len(values)
    for lo in range(0, n, _SCAN_STEP):
        run = values[lo : lo + _SCAN_STEP]
        if max(run) >= threshold:
            out.extend(compress(range(lo, min(n, lo + _SCAN_STEP)), map(ge, run, repeat(threshold))))
    return out


def _decode_positions(value: bytes, fmt) -> list[int]:
    """A Positions value: a 4-byte big-endian count, then that many varint deltas (whoosh.formats).  Values whose
    deltas all fit one byte (the common case after the first) decode with ``accumulate``; anything else, including
    legacy pickled values, goes through the format's own decoder (``indexer.patches`` fixes it)."""
    if len(value) >= 4:
        count = int.from_bytes(value[:4], "big")
        body = value[4:]
        if count == len(body) and (not body or max(body) < 0x80):
            return list(accumulate(body))
    return fmt.decode_positions(value)


def _in_order(posts: list[TermPostings], docnum: int, slop: int) -> bool:
    if slop == 1:  # each word exactly one position after the previous
        frontier = set(posts[0].positions(docnum))
        for p in posts[1:]:
            frontier = {pos for pos in p.positions(docnum) if pos - 1 in frontier}
            if not frontier:
                return False
        return True
    frontier = sorted(posts[0].positions(docnum))
    for p in posts[1:]:
        nxt = []
        for pos in sorted(p.positions(docnum)):
            i = bisect_left(frontier, pos - slop)  # a previous word at pos-slop .. pos-1
            if i < len(frontier) and frontier[i] <= pos - 1:
                nxt.append(pos)
        if not nxt:
            return False
        frontier = nxt
    return True


def _sum_in_order(values: list[float]) -> float:
    """Sum in the order of Whoosh's binary matcher tree (``make_binary_tree``: halves, left first)."""
    n = len(values)
    if n == 1:
        return values[0]
    if n == 2:
        return values[0] + values[1]
    if n == 3:
        return values[0] + (values[1] + values[2])
    half = n // 2
    return _sum_in_order(values[:half]) + _sum_in_order(values[half:])


def _union(parts: list[dict[int, float]]) -> dict[int, float]:
    parts = sorted((p for p in parts if p), key=len, reverse=True)
    if not parts:
        return {}
    out = dict(parts[0])
    get = out.get
    for part in parts[1:]:
        for d, s in part.items():
            out[d] = get(d, 0.0) + s
    return out


def _union_max(parts: list[dict[int, float]]) -> dict[int, float]:
    parts = sorted((p for p in parts if p), key=len, reverse=True)
    if not parts:
        return {}
    out = dict(parts[0])
    get = out.get
    for part in parts[1:]:
        for d, s in part.items():
            prev = get(d)
            if prev is None or s > prev:
                out[d] = s
    return out


def _intersection(parts: list[dict[int, float]]) -> dict[int, float]:
    if not parts or any(not p for p in parts):
        return {}
    keys = set(min(parts, key=len))
    for p in parts:
        keys.intersection_update(p)
        if not keys:
            return {}
    return {d: _sum_in_order([p[d] for p in parts]) for d in keys}


# --- the whole query -------------------------------------------------------------------------------------------
def segments(searcher, weighting=None) -> list[Segment]:
    weighting = weighting or searcher.weighting
    return [Segment(sub, offset, weighting) for sub, offset in searcher.leaf_searchers()]


def top_documents(
    searcher, q, depth: int, *, allowed=None, segs: list[Segment] | None = None
) -> tuple[list[tuple[float, int]], int, bool, list[Segment]]:
    """The ``depth`` best (score, global docnum) for ``q`` (ties: lower docnum first), the match count, whether
    the count is exact, and the segments (for :func:`rerank`).  ``allowed``: global document numbers every hit
    must be in (a filter), or None."""
    if role(q) == "null":
        return [], 0, True, []
    segs = segs if segs is not None else segments(searcher)
    best: list[tuple[float, int]] = []
    total, exact = 0, True
    for seg in segs:
        top, count, seg_exact = seg.top(q, depth, allowed)
        total += count
        exact = exact and seg_exact
        best = sorted(best + top, key=lambda t: (-t[0], t[1]))[:depth]
    return best, total, exact, segs


def all_matches(searcher, q, *, allowed=None) -> list[tuple[float, int]]:
    """Every document matching ``q`` as (score, global docnum), phrases checked; ``allowed`` as for
    :func:`top_documents`."""
    if role(q) == "null":
        return []
    out: list[tuple[float, int]] = []
    for seg in segments(searcher):
        out.extend(seg.matches(q, allowed))
    return out


def facet_counts(searcher, docs: set[int], fieldname: str, max_terms: int = 5000) -> dict[str, int] | None:
    """{term: number of ``docs`` (global docnums) having it} for an indexed field; None when the field has more
    than ``max_terms`` terms in a segment (then Whoosh's facets are cheaper)."""
    counts: dict[str, int] = {}
    for sub, offset in searcher.leaf_searchers():
        reader = sub.reader()
        if fieldname not in reader.schema or not reader.schema[fieldname].indexed:
            return None
        local = {d - offset for d in docs if offset <= d < offset + reader.doc_count_all()}
        if not local:
            continue
        seg = Segment(sub, offset, searcher.weighting)
        terms = []
        for i, (btext, _info) in enumerate(reader.iter_field(fieldname)):
            if i >= max_terms:
                return None
            terms.append(btext)
        for btext in terms:
            n = len(local.intersection(seg.postings(fieldname, btext).ids))
            if n:
                key = btext.decode("utf-8", "replace") if isinstance(btext, bytes) else str(btext)
                counts[key] = counts.get(key, 0) + n
    return counts


def rerank(segs: list[Segment], top: list[tuple[float, int]], clauses, coord) -> list[tuple[float, int]]:
    """``search._rerank`` over decoded postings: proximity/synonym-phrase bonuses and the AND-leaning factor for
    the candidates in ``top`` (see there for the ranking)."""
    if not (clauses or coord) or not top:
        return top
    bonus = dict.fromkeys((d for _, d in top), 0.0)
    words_seen: dict[int, set] = {d: set() for d in bonus}
    leaves = [leaf for clause in clauses for leaf in leaf_queries(clause)]
    for seg in segs:
        lo, hi = seg.offset, seg.offset + seg.doc_count_all
        local = [d - lo for d in bonus if lo <= d < hi]
        if not local:
            continue
        for leaf in leaves:
            words = [leaf.text] if role(leaf) == "term" else list(leaf.words)
            bwords = [seg.term_bytes(leaf.fieldname, w) for w in words]
            if None in bwords:
                continue
            slop = getattr(leaf, "slop", 1)
            for d, s in seg.phrase_scores(leaf.fieldname, bwords, slop, docs=local, tree_sum=False).items():
                bonus[d + lo] += leaf.boost * s
        if coord:
            for (fieldname, text), ids in coord[0].items():
                b = seg.term_bytes(fieldname, text)
                if b is None:
                    continue
                for d in local:
                    if seg.has(fieldname, b, d):
                        words_seen[d + lo] |= ids

    return rescore(top, bonus, words_seen, coord)


def rescore(top: list[tuple[float, int]], bonus: dict[int, float], words_seen: dict[int, set], coord):
    """The re-ranked candidates: score x (words matched / words typed) ** power (``coord``: (term -> word ids,
    number of words, power), or None) plus the bonus, best first (ties: lower docnum)."""

    def factor(docnum: int) -> float:
        if not coord:
            return 1.0
        seen = len(words_seen[docnum])
        return (seen / coord[1]) ** coord[2] if seen else 1.0

    rescored = [(score * factor(d) + bonus[d], d) for score, d in top]
    rescored.sort(key=lambda t: (-t[0], t[1]))
    return rescored
