"""The one-query ``healthdex search`` without Whoosh's reader: a plain-words query ranked over the index files.

A cold search paid more for loading Whoosh's reading stack (about 60 modules: the index, codec, column, reader,
searcher and field classes, and unpickling the schema through them) than for ranking the postings.  Here
:mod:`search_cli.index_files` reads the last commit directly, :class:`DirectSegment` gives
:mod:`search_cli.evaluate` the same postings and statistics Whoosh's searcher would (idf and average field lengths
over the whole index, Whoosh's BM25F arithmetic), and :func:`search` builds the same
:class:`~search_cli.search.SearchResults` as ``search_cli.search.search``.  It returns None, and that function goes
the usual way, for anything else: query syntax, filters, sorting, facets, a word to correct, an index
``index_files`` does not read.  The query is built from :mod:`search_cli.qnodes`, so ``whoosh.query`` is not
loaded either.
"""

from __future__ import annotations

import os
import struct
from math import log

from search_cli import evaluate, qnodes
from search_cli.index_files import DirectIndex, OffsetFile, Schema, SegmentFiles, TermInfo, Unreadable


class NeedWhoosh(Exception):
    """The query needs something only the Whoosh-backed path does (a spelling correction)."""


class DirectSegment(evaluate.Segment):
    """:class:`search_cli.evaluate.Segment` over :class:`SegmentFiles` and the index-wide statistics of a
    :class:`DirectIndex`, with BM25F's parameters from a :class:`~search_cli.query.Ranking`."""

    def __init__(self, index: DirectIndex, files: SegmentFiles, offset: int, ranking) -> None:
        self.index, self.files, self.ranking = index, files, ranking
        self.searcher = self.weighting = self.reader = None
        self.offset = offset
        self.schema = index.schema
        self.doc_count_all = files.doc_count_all
        self._terms = self  # (``_read`` asks ``self._terms.term_info`` and ``self._terms._postfile``)
        self.deleted = files.deleted
        self._start_caches({})

    # the pieces of evaluate.Segment that read through Whoosh's objects
    @property
    def _postfile(self) -> OffsetFile:
        return self.files.postfile

    def term_info(self, fieldname: str, btext: bytes) -> TermInfo:
        info = self.files.term_info(fieldname, btext)
        if info is None:
            raise evaluate.Unsupported("term missing from the segment")
        return info

    def _has_term(self, fieldname: str, btext: bytes) -> bool:
        return self.files.term_info(fieldname, btext) is not None

    def _side_postings(self, offset: int, length: int):
        side = self._shared.get("sidecar", evaluate._NOT_OPENED)
        if side is evaluate._NOT_OPENED:
            from indexer.sidecar import open_sidecar

            side = self._shared["sidecar"] = open_sidecar(
                _Storage(self.files.folder), self.files, self.doc_count_all, self._postfile.size
            )
        return side.lookup(offset, length) if side is not None else None

    def _bm25_statistics(self, fieldname: str, btext: bytes) -> tuple[float, float, float, float]:
        """(idf, average field length, B, K1) as ``whoosh.scoring.BM25FScorer`` gets them from the searcher."""
        b, k1 = self.ranking.bm25(fieldname)
        index = self.index
        dc = index.doc_count_all
        idf = log(dc / (index.doc_frequency(fieldname, btext) + 1)) + 1
        avgfl = index.field_length(fieldname) / (dc or 1) or 1
        return idf, avgfl, b, k1

    def _lengths(self, fieldname: str) -> bytes:
        raw = self._raw_lengths.get(fieldname)
        if raw is None:
            raw = self.files.lengths(fieldname)
            if raw is None or len(raw) != self.doc_count_all:
                raise evaluate.Unsupported("no usable length column")
            self._raw_lengths[fieldname] = raw
        return raw


class _Storage:
    """What ``indexer.sidecar.open_sidecar`` asks of a Whoosh storage."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def file_exists(self, name: str) -> bool:
        return os.path.exists(os.path.join(self.folder, name))


class _Searcher:
    """What ``search_cli.search.suggest`` asks of a searcher (a word's document frequency); a word the index
    lacks needs Whoosh's spelling corrector."""

    def __init__(self, index: DirectIndex) -> None:
        self.index = index
        self.schema = index.schema

    def reader(self) -> _Searcher:
        return self

    def doc_frequency(self, fieldname: str, text: str) -> int:
        return self.index.doc_frequency(fieldname, text.encode("utf-8"))

    def corrector(self, fieldname: str):
        raise NeedWhoosh("spelling correction")


# --- the search ------------------------------------------------------------------------------------------------------
def applies(query: str, *, sort: str, facets) -> bool:
    """Whether :func:`search` may take the query: plain words (no syntax, no field filters), by relevance, no
    facets."""
    from search_cli.query import clean, is_plain_words

    text = clean(query)
    return sort == "relevance" and not facets and bool(text) and is_plain_words(text)


def search(
    index_dir,
    query: str,
    *,
    limit: int,
    offset: int,
    synonyms,
    plain: bool,
    snippets: bool,
    suggest_spelling: bool,
    ranking,
):
    """``search_cli.search.search`` for a plain-words query by relevance, reading the index files directly: the
    same :class:`~search_cli.search.SearchResults`, or None when the query or the index needs Whoosh's reader."""
    from healthdex import regex_cache
    from search_cli import search as S
    from search_cli.query import Ranking, build_query, clean

    ranking = ranking or Ranking()
    try:
        index = DirectIndex(os.fspath(index_dir))
    except (Unreadable, OSError, ValueError):
        return None
    try:
        if any(f.plan is None for f in index.schema.fields() if f.is_text):
            return None  # (query words are analysed here: only the standard analyzer)
        table = S.load_synonyms(synonyms)
        regex_cache.stop_recording()  # (patterns made from here on may hold the query's text)
        built = build_query(index.schema, query, synonyms=table, ranking=ranking, plain=plain, nodes=qnodes)
        if built.mode != "plain" or built.filter is not None:
            return None
        depth = max(1, offset + limit)
        if built.rerank or built.coord:
            depth = max(depth, S.RERANK_DEPTH)
        segs = [
            DirectSegment(index, files, off, ranking) for files, off in zip(index.segments, index.offsets, strict=True)
        ]
        with evaluate.gc_paused():
            top, total, exact, segs = evaluate.top_documents(None, built.query, depth, segs=segs)
            if built.rerank or built.coord:
                top = evaluate.rerank(segs, top, built.rerank, built.coord)
        terms = S.terms_by_field(built.query) if snippets else None
        hits = []
        for i, (score, docnum) in enumerate(top[offset : offset + limit]):
            stored = index.stored_fields(docnum)
            snippet = _snippet(index.schema, stored, terms) if snippets else ""
            hits.append(S.hit_from_stored(stored, offset + i + 1, score, snippet))
        out = S.results_of(query, built, hits, total, exact, offset=offset, limit=limit, sort="relevance")
        if suggest_spelling:
            known = (w for m in built.synonyms for w in m.matched.lower().split())
            if S.suggest(_Searcher(index), clean(query), known=known) is not None:
                return None  # (not reached: an unknown word raises NeedWhoosh first)
        return out
    except (Unreadable, NeedWhoosh, evaluate.Unsupported, OSError, ValueError, KeyError, IndexError, struct.error):
        return None
    finally:
        index.close()


def _snippet(schema: Schema, stored: dict, terms, maxchars: int = 150) -> str:
    """``search_cli.search._snippet`` for the standard analyzer: the first of text, description and title with a
    passage holding the query's terms, else the start of the body."""
    from search_cli import search as S

    if terms is None:
        raise NeedWhoosh("query leaves other than terms and phrases")
    for name in ("text", "description", "title"):
        value = stored.get(name)
        if name not in schema or not value:
            continue
        plan = schema[name].plan
        if plan is None or plan[3] is not None:
            raise NeedWhoosh("a field without the standard analyzer")
        expression, stops, minsize, _maxsize, stem = plan
        found = S.plan_snippet(expression, stops, minsize, stem, terms.get(name), str(value), maxchars)
        if found:
            return found
    return S.fallback_snippet(stored, maxchars)
