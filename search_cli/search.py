"""The search library behind ``healthdex search``, ``similar`` and ``stats``; importable by tests and users.

    from search_cli.search import search
    res = search("data/index", "sciatica back pain", limit=5)
    for hit in res.hits:
        print(hit.rank, hit.title, hit.url, hit.snippet)

Whoosh is imported lazily (inside functions) so that importing this module stays cheap.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from healthdex import regex_cache
from healthdex.errors import UserError
from search_cli.query import Ranking, build_query, clean

MARK_START = "\ue000"  # private-use sentinels around highlighted terms; output.py renders them
MARK_END = "\ue001"
SORTS = {"relevance": None, "published": "published", "updated": "updated"}
FACETS = {
    "site": "site",
    "category": "categories",
    "categories": "categories",
    "author": "authors",
    "authors": "authors",
    "lang": "language",
    "language": "language",
}
SPELL_FIELDS = ("spell_text", "spelling", "spell")


# Plain classes, not dataclasses: the dataclasses module (and the inspect module it loads) costs ~10 ms of a cold
# ``healthdex search``, whose budget is ~150 ms.
class Hit:
    __slots__ = ("rank", "key", "url", "title", "site", "published", "updated", "score", "snippet")

    def __init__(
        self,
        rank: int,
        key: str,
        url: str,
        title: str,
        site: str,
        published: str | None,
        updated: str | None,
        score: float,
        snippet: str,
    ) -> None:
        self.rank, self.key, self.url, self.title, self.site = rank, key, url, title, site
        self.published, self.updated, self.score = published, updated, score
        self.snippet = snippet  # with MARK_START/MARK_END around matched terms

    def __repr__(self) -> str:
        return f"Hit({', '.join(f'{n}={getattr(self, n)!r}' for n in self.__slots__)})"

    def to_dict(self, marker: tuple[str, str] = ("«", "»")) -> dict:
        d = {n: getattr(self, n) for n in self.__slots__}
        d["snippet"] = self.snippet.replace(MARK_START, marker[0]).replace(MARK_END, marker[1])
        return d


class SearchResults:
    def __init__(
        self,
        query: str,
        total: int,
        hits: list[Hit],
        offset: int = 0,
        limit: int = 10,
        sort: str = "relevance",
        mode: str = "plain",
        suggestion: str | None = None,
        suggestion_total: int | None = None,
        total_exact: bool = True,  # False: ``total`` is Whoosh's estimate (see _run)
        facets: dict[str, dict[str, int]] | None = None,
        synonyms: list[dict] | None = None,
    ) -> None:
        self.query, self.total, self.hits = query, total, hits
        self.offset, self.limit, self.sort, self.mode = offset, limit, sort, mode
        self.suggestion, self.suggestion_total, self.total_exact = suggestion, suggestion_total, total_exact
        self.facets = facets if facets is not None else {}
        self.synonyms = synonyms if synonyms is not None else []

    def __repr__(self) -> str:
        return f"SearchResults({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"

    def to_dict(self, marker: tuple[str, str] = ("«", "»")) -> dict:
        return {
            "query": self.query,
            "total": self.total,
            "total_exact": self.total_exact,
            "offset": self.offset,
            "limit": self.limit,
            "sort": self.sort,
            "mode": self.mode,
            "suggestion": self.suggestion,
            "suggestion_total": self.suggestion_total,
            "synonyms": self.synonyms,
            "facets": self.facets,
            "hits": [h.to_dict(marker) for h in self.hits],
        }


def open_index(index_dir: str | os.PathLike):
    """Open the index through the indexer's one entry point; a missing or empty index is a UserError."""
    from search_cli import _whoosh_compat

    _whoosh_compat.apply()
    path = os.fspath(index_dir)
    if not os.path.isdir(path):
        raise UserError(f"no index at {path} (build one with: healthdex index FILE.jsonl --index {path})")
    from indexer.store import open_index as _open

    return _open(path)


def load_synonyms(synonyms: bool | str | os.PathLike | object = True):
    """``True`` -> shipped/env file, ``False``/``None`` -> none, a path -> that file, a table -> itself."""
    if synonyms is False or synonyms is None:
        return None
    from search_cli import synonyms as syn

    if synonyms is True:
        return syn.load()
    if isinstance(synonyms, (str, os.PathLike)):
        return syn.load(synonyms)
    return synonyms


def _iso(value) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    return str(value) if value else None


def _formatter():
    """A Whoosh highlight formatter that wraps matched terms in sentinels and joins fragments with an ellipsis."""
    from whoosh.highlight import Formatter

    class SentinelFormatter(Formatter):
        between = " … "

        def format_token(self, text, token, replace=False):
            return MARK_START + text[token.startchar : token.endchar] + MARK_END

    return SentinelFormatter()


def _query_terms(results) -> dict[str, set[str]] | None:
    """:func:`terms_by_field` of the results' query, cached on the results."""
    terms = getattr(results, "_healthdex_terms", False)
    if terms is False:
        terms = results._healthdex_terms = terms_by_field(results.q)
    return terms


def terms_by_field(q) -> dict[str, set[str]] | None:
    """field -> the query's terms in it (synonyms included); None when the query has leaves that are not plain
    terms or phrases (wildcards, fuzzy terms, ranges: Whoosh expands those)."""
    from search_cli.evaluate import role

    if any(role(leaf) not in ("term", "phrase") for leaf in q.leaves()):
        return None
    terms: dict[str, set[str]] = {}
    for fname, text in q.iter_all_terms():
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        terms.setdefault(fname, set()).add(str(text))
    return terms


def _fast_snippet(hit, field: str, value: str, maxchars: int) -> str | None:
    """:func:`plan_snippet` when the field's analyzer is the standard one, else None."""
    from indexer.schema import _fast_plan

    schema = hit.results.searcher.schema
    plan = _fast_plan(schema[field].analyzer) if field in schema else None
    if plan is None or plan[3] is not None:
        return None
    expression, stops, minsize, _maxsize, stemfn, _sig = plan
    by_field = _query_terms(hit.results)
    if by_field is None:
        return None
    return plan_snippet(expression, stops, minsize, stemfn, by_field.get(field), value, maxchars)


def plan_snippet(expression, stops, minsize: int, stemfn, terms, value: str, maxchars: int) -> str:
    """:func:`search_cli.snippets.snippet` of ``value`` for ``terms`` (the query's terms in its field, analysed
    by the standard analyzer's steps: the word pattern, stop words, minimum size, stem function); "" without
    terms."""
    from search_cli.snippets import snippet

    if not terms:
        return ""
    return snippet(
        value,
        terms,
        word_pattern=expression,  # (compiled already: the analyzer's own pattern)
        stopwords=frozenset(stops),
        stem=stemfn,
        marks=(MARK_START, MARK_END),
        maxchars=maxchars,
        minsize=minsize,
    )


def fallback_snippet(stored: dict, maxchars: int = 150) -> str:
    """The start of the body, when no field has a highlighted passage."""
    body = stored.get("text") or stored.get("description") or ""
    body = " ".join(str(body).split())
    return body[:maxchars] + ("…" if len(body) > maxchars else "")


def _snippet(hit, fields=("text", "description", "title"), maxchars=150) -> str:
    stored = hit.fields()
    for f in fields:
        value = stored.get(f)
        if f not in hit.results.searcher.schema or not value:
            continue
        value = str(value)
        fast = _fast_snippet(hit, f, value, maxchars)
        if fast is not None:
            if fast:
                return fast
            continue
        from whoosh.highlight import ContextFragmenter

        hit.results.fragmenter = ContextFragmenter(maxchars=maxchars, surround=50)
        hit.results.formatter = _formatter()
        from search_cli.snippets import WINDOW

        windows = [value[:WINDOW], value] if len(value) > WINDOW else [value]
        for window in windows:
            try:
                text = hit.highlights(f, text=window, top=2)
            except Exception:
                text = ""
            if text:
                return " ".join(text.split())
    return fallback_snippet(stored, maxchars)


def _make_hit(hit, rank: int, snippets: bool) -> Hit:
    return hit_from_stored(hit.fields(), rank, hit.score, _snippet(hit) if snippets else "")


def results_of(
    query: str, built, hits: list[Hit], total: int, exact: bool, *, offset: int, limit: int, sort: str
) -> SearchResults:
    """The results of ``query`` (built as ``built``), before facets and spelling suggestions."""
    synonyms = [{"matched": m.matched, "expanded": list(m.alternatives), "source": m.source} for m in built.synonyms]
    return SearchResults(
        query=clean(query),
        total=total,
        total_exact=exact,
        hits=hits,
        offset=offset,
        limit=limit,
        sort=sort,
        mode=built.mode,
        synonyms=synonyms,
    )


def hit_from_stored(stored: dict, rank: int, score, snippet: str) -> Hit:
    """A result row from a document's stored fields."""
    return Hit(
        rank=rank,
        key=str(stored.get("key", "")),
        url=str(stored.get("url", "") or ""),
        title=str(stored.get("title", "") or ""),
        site=str(stored.get("site", "") or ""),
        published=_iso(stored.get("published")),
        updated=_iso(stored.get("updated")),
        score=round(float(score or 0.0), 6),
        snippet=snippet,
    )


def _spell_field(schema) -> str | None:
    for name in SPELL_FIELDS:
        if name in schema:
            return name
    for name in schema.names():
        if getattr(schema[name], "spelling", False) and name not in ("title", "text"):
            return name
    return None


def suggest(searcher, text: str, known: Iterable[str] = ()) -> str | None:
    """A corrected query string (unstemmed spelling field), or None when every word is known: to the index, or
    (lowercased) in ``known`` (the query's words a health synonym matched: "flu" found as influenza is no typo
    for "four")."""
    known = frozenset(known)
    from search_cli.query import FIELD_ALIASES

    field_name = _spell_field(searcher.schema)
    if field_name is None:
        return None
    field = searcher.schema[field_name]
    reader = searcher.reader()
    corrector = None  # made for the first unknown word (it loads whoosh.spelling)
    changed = False

    def fix(m: re.Match) -> str:
        nonlocal changed, corrector
        word = m.group(0)
        low = word.lower()
        if word in ("AND", "OR", "NOT") or low in FIELD_ALIASES or len(low) < 3 or not low.isalpha():
            return word
        if low in known:
            return word
        if len(low) > 40:  # no word is this long; the edit-distance automaton grows with it (20k chars: 3.7 s)
            return word
        if reader.doc_frequency(field_name, low) > 0:
            return word
        if not any(field.process_text(low, mode="query")):  # a stop word: never in the lexicon, never a typo
            return word
        if corrector is None:
            corrector = reader.corrector(field_name)
        options = corrector.suggest(low, limit=1, maxdist=2, prefix=1)
        if not options or options[0] == low:
            return word
        changed = True
        return options[0]

    # Only words outside field filters (``site:x``) and outside quotes get corrected.
    out = re.sub(
        r'"[^"]*"|\b\w+:\S+|\b[A-Za-z]+\b',
        lambda m: m.group(0) if (":" in m.group(0) or m.group(0).startswith('"')) else fix(m),
        text,
    )
    return out if changed else None


def _facet_counts(searcher, q, filt, names: Iterable[str]) -> dict[str, dict[str, int]]:
    from whoosh import sorting

    wanted = {}
    for name in names:
        fname = FACETS.get(name)
        if fname is None:
            raise UserError(f"unknown facet '{name}' (choose from: {', '.join(sorted(FACETS))})")
        if fname in searcher.schema:
            wanted[name] = sorting.FieldFacet(fname, allow_overlap=fname in ("categories", "authors"))
    if not wanted:
        return {}
    fast = _fast_facets(searcher, q, filt, wanted)
    if fast is not None:
        return fast
    res = searcher.search(q, filter=filt, limit=1, groupedby=wanted, maptype=sorting.Count, optimize=False)
    out = {}
    for name in wanted:
        counts = res.groups(name)
        out[name] = dict(
            sorted(((str(k), int(v)) for k, v in counts.items() if k not in (None, "")), key=lambda kv: (-kv[1], kv[0]))
        )
    return out


def _fast_facets(searcher, q, filt, wanted) -> dict[str, dict[str, int]] | None:
    """Facet counts over the evaluator's matches (term by term of each facet field), or None to use Whoosh's."""
    from search_cli import evaluate

    try:
        with evaluate.gc_paused():
            docs = {d for _s, d in evaluate.all_matches(searcher, q, allowed=_allowed(searcher, filt))}
            out = {}
            for name, facet in wanted.items():
                counts = evaluate.facet_counts(searcher, docs, facet.fieldname)
                if counts is None:
                    return None
                out[name] = dict(sorted(((k, v) for k, v in counts.items() if k), key=lambda kv: (-kv[1], kv[0])))
            return out
    except evaluate.Unsupported:
        return None


def search(
    index_dir: str | os.PathLike,
    query: str,
    *,
    limit: int = 10,
    offset: int = 0,
    sort: str = "relevance",
    synonyms: bool | str | os.PathLike | object = True,
    facets: Iterable[str] = (),
    plain: bool = False,
    snippets: bool = True,
    suggest_spelling: bool = True,
    ranking: Ranking | None = None,
    ix=None,
) -> SearchResults:
    """Search ``index_dir`` for ``query``; see ``healthdex search --help`` for the query syntax."""
    if limit < 0 or offset < 0:
        raise UserError("--limit and --offset must not be negative")
    if sort not in SORTS:
        raise UserError(f"unknown sort '{sort}' (choose from: {', '.join(SORTS)})")
    facets = [f.strip() for f in facets if f.strip()]
    if ix is None and DIRECT_READS:
        from search_cli import direct

        if direct.applies(query, sort=sort, facets=facets):
            found = direct.search(
                index_dir,
                query,
                limit=limit,
                offset=offset,
                synonyms=synonyms,
                plain=plain,
                snippets=snippets,
                suggest_spelling=suggest_spelling,
                ranking=ranking,
            )
            if found is not None:
                return found
    reuse = ix is not None
    if ix is None and prepare_whoosh is not None:
        prepare_whoosh()
    ix = ix or open_index(index_dir)
    table = load_synonyms(synonyms)
    with _searcher(ix, _weighting(ranking), reuse) as searcher:
        regex_cache.stop_recording()  # (patterns made from here on may hold the query's text)
        # (the searcher's schema: ``ix.schema`` would read and unpickle the index's TOC once more)
        built = build_query(searcher.schema, query, synonyms=table, ranking=ranking, plain=plain)
        results, total, exact = _run(searcher, built, limit, offset, sort)
        hits = [_make_hit(h, offset + i + 1, snippets) for i, h in enumerate(results[offset : offset + limit])]
        out = results_of(query, built, hits, total, exact, offset=offset, limit=limit, sort=sort)
        if facets:
            out.facets = _facet_counts(searcher, built.query, built.filter, facets)
        # "Did you mean": only words the index has never seen are corrected (from the unstemmed spelling field),
        # and the correction is offered when it finds at least as much as the query as typed (it finds the word).
        if suggest_spelling:
            fixed = suggest(
                searcher, clean(query), known=(w for m in built.synonyms for w in m.matched.lower().split())
            )
            if fixed:
                try:
                    b2 = build_query(searcher.schema, fixed, synonyms=table, ranking=ranking, plain=plain)
                    _, total2, _exact = _run(searcher, b2, 1, 0, sort)
                except UserError:
                    total2 = 0
                # the typed query cannot match the unknown word at all; the correction does, and loses nothing
                if total2 > 0 and total2 >= total:
                    out.suggestion, out.suggestion_total = fixed, total2
    return out


@contextmanager
def _searcher(ix, weighting, reuse: bool):
    """A searcher of ``ix``'s last commit.  With ``reuse`` (the caller keeps ``ix`` open for many queries) one is
    kept on ``ix`` per weighting and replaced when a newer commit exists (checked before each query), so
    segment files, stored-field offsets and healthdex's per-segment data are read once, not per query.  Not for
    use by several threads at once."""
    if not reuse:
        with ix.searcher(weighting=weighting) as searcher:
            yield searcher
        return
    kept = ix.__dict__.setdefault("_healthdex_searchers", {})
    key = (type(weighting).__name__, repr(sorted(vars(weighting).items())))
    searcher = kept.get(key)
    if searcher is None or not searcher.up_to_date():
        # a new searcher, not ``refresh()``: whoosh-ng's refresh reuses the reader of a segment whose deletions
        # changed, so it would keep finding deleted articles
        if searcher is not None:
            searcher.close()
        searcher = kept[key] = ix.searcher(weighting=weighting)
    yield searcher


def _weighting(ranking: Ranking | None = None):
    return (ranking or Ranking()).weighting()


_NO_VALUE = 2**63  # a sortable DATETIME column holds 2**64-1 for documents without the date


def _date_key(value):
    if value is None:
        return -1
    if isinstance(value, datetime):
        return value.timestamp()
    return -1 if value >= _NO_VALUE else value


# A plain-words query on an index opened for it alone reads the index files directly (search_cli.direct), without
# Whoosh's reader stack; False: always through Whoosh (tests compare the two).
DIRECT_READS = True
# Called before a search opens the index through Whoosh (the one-query command defers Whoosh's imports there).
prepare_whoosh = None

RERANK_DEPTH = 30  # at least this many bag-of-words candidates get the proximity bonus (all requested hits do)


def _rerank(searcher, results, clauses, depth: int, coord=None) -> None:
    """Re-score the top ``depth`` hits of ``results`` in place: multiply by the AND-leaning factor ``coord``
    ((words matched / words typed) ** power: a document with every word outranks one with a lucky word at equal
    BM25, partial matches stay) and add the scores of ``clauses`` (phrases:
    adjacent-pair proximity, synonym names).

    Both look at the candidates only: each word's term matcher skips (by its skip list) straight to each one, and
    positions are read for those documents alone. (Whoosh's phrase matcher, asked to skip to a document, decodes
    the positions of every document in between that has all the words; a coordination wrapper in the main query
    costs a tree walk for every matching document.)"""
    if not (clauses or coord) or not results.top_n:
        return
    head = results.top_n[:depth]
    bonus = dict.fromkeys((docnum for _, docnum in head), 0.0)
    words_seen: dict[int, set] = {d: set() for d in bonus}
    wanted = sorted(bonus)
    leaves = [leaf for clause in clauses for leaf in _leaves(clause)]
    coord_terms = []
    if coord:
        from whoosh import query as wq

        coord_terms = [(wq.Term(f, t), ids) for (f, t), ids in coord[0].items()]
    for sub, offset in searcher.leaf_searchers():
        n = sub.doc_count_all()
        local = [d - offset for d in wanted if offset <= d < offset + n]
        if not local:
            continue
        for leaf in leaves:
            for d, score in _leaf_scores(sub, leaf, local):
                bonus[d + offset] += score
        for term, ids in coord_terms:
            for d, _score in _leaf_scores(sub, term, local):
                words_seen[d + offset] |= ids

    from search_cli.evaluate import rescore

    results.top_n[: len(head)] = rescore(head, bonus, words_seen, coord)


def _leaves(q):
    from whoosh import query as wq

    if isinstance(q, (wq.Phrase, wq.Term)):
        yield q
    elif isinstance(q, wq.compound.CompoundQuery):
        for c in q.subqueries:
            yield from _leaves(c)


def _leaf_scores(sub, leaf, docs):
    """(doc, score) for the local ``docs`` (sorted) where ``leaf`` (a Term, or a Phrase with its slop) matches."""
    from bisect import bisect_left

    from whoosh import query as wq

    words = [leaf.text] if isinstance(leaf, wq.Term) else list(leaf.words)
    slop = getattr(leaf, "slop", 1)
    matchers = []
    for w in words:
        m = wq.Term(leaf.fieldname, w).matcher(sub)
        if not m.is_active():
            return
        matchers.append(m)
    for d in docs:
        here = True
        for m in matchers:
            if m.is_active() and m.id() < d:
                m.skip_to(d)
            if not m.is_active() or m.id() != d:
                here = False
        if not matchers[0].is_active():
            return
        if not here:
            continue
        if len(matchers) > 1:
            frontier = sorted(matchers[0].value_as("positions"))
            for m in matchers[1:]:
                nxt = []
                for p in sorted(m.value_as("positions")):
                    i = bisect_left(frontier, p - slop)  # an earlier word at p-slop .. p-1
                    if i < len(frontier) and frontier[i] <= p - 1:
                        nxt.append(p)
                frontier = nxt
                if not frontier:
                    break
            if not frontier:
                continue
        yield d, leaf.boost * sum(m.score() for m in matchers)


def _allowed(searcher, filt) -> set[int] | None:
    """The global document numbers a filter query lets through, as a set (None: no filter)."""
    if filt is None:
        return None
    allowed = searcher._filter_to_comb(filt)
    return allowed if isinstance(allowed, set | frozenset) else set(allowed)


def _run_fast(searcher, built, depth: int, sort_field: str | None = None):
    """``_run`` through :mod:`search_cli.evaluate` (exact count), or None when the query needs Whoosh's matchers.
    ``sort_field``: newest first by that date column (as Whoosh's sorted search: documents without the date last,
    ties by higher document number), the relevance score kept as the hit's score."""
    from whoosh.searching.results import Results

    from search_cli import evaluate

    try:
        with evaluate.gc_paused():
            if sort_field:
                matches = evaluate.all_matches(searcher, built.query, allowed=_allowed(searcher, built.filter))
                keys = _date_keys(searcher, sort_field)
                if keys is None:
                    return None
                ranked = sorted(((keys(d), d, s) for s, d in matches), reverse=True)[:depth]
                top, total, exact = [(s, d) for _k, d, s in ranked], len(matches), True
            else:
                top, total, exact, segs = evaluate.top_documents(
                    searcher, built.query, depth, allowed=_allowed(searcher, built.filter)
                )
                if built.rerank or built.coord:
                    top = evaluate.rerank(segs, top, built.rerank, built.coord)
    except evaluate.Unsupported:
        return None
    from search_cli._whoosh_compat import LazyHighlighter

    results = Results(searcher, built.query, top, highlighter=LazyHighlighter())
    results._total = total
    return results, total, exact


def _date_keys(searcher, fieldname: str):
    """global docnum -> ``_date_key`` of its sortable date column, or None when the field has no column."""
    if fieldname not in searcher.schema:
        return None
    columns = []
    for sub, offset in searcher.leaf_searchers():
        reader = sub.reader()
        if not reader.has_column(fieldname):
            return None
        columns.append((offset, reader.doc_count_all(), reader.column_reader(fieldname, translate=False)))

    def key(docnum: int):
        for offset, n, column in columns:
            if offset <= docnum < offset + n:
                return _date_key(column[docnum - offset])
        return -1

    return key


def _run(searcher, built, limit, offset, sort, exact_total: bool = False, fast: bool = True):
    """Top hits (re-ranked), and the number of matches: exact when Whoosh counted them anyway, ``exact_total`` or
    the query ran on the fast path (:mod:`search_cli.evaluate`), else Whoosh's estimate (counting every match of a
    long OR query through its matchers costs as much again as the search).  ``fast=False``: Whoosh's matchers."""
    kwargs = {"limit": max(1, offset + limit), "filter": built.filter}
    if SORTS[sort]:
        from whoosh import sorting

        kwargs["sortedby"] = sorting.TranslateFacet(_date_key, sorting.FieldFacet(SORTS[sort]))
        kwargs["reverse"] = True  # newest first; documents without the date last
    elif built.rerank or built.coord:
        kwargs["limit"] = max(kwargs["limit"], RERANK_DEPTH)
    depth = kwargs["limit"]
    if fast:
        found = _run_fast(searcher, built, depth, SORTS[sort])
        if found is not None:
            return found
    try:
        results = searcher.search(built.query, **kwargs)
        if (built.rerank or built.coord) and not SORTS[sort]:
            _rerank(searcher, results, built.rerank, depth, built.coord)
        if exact_total or results.has_exact_length():
            total, exact = len(results), True
        else:
            total, exact = max(results.estimated_length(), len(results.top_n)), False
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"cannot run query: {exc}") from None
    return results, total, exact


def batch(
    index_dir,
    lines: Iterable[str],
    *,
    limit: int = 1000,
    synonyms=True,
    plain: bool = True,
    ranking: Ranking | None = None,
    tag: str = "healthdex",
) -> Iterator[str]:
    """TREC run lines (``qid Q0 docid rank score tag``) for ``qid<TAB>query`` lines."""
    ix = open_index(index_dir)
    table = load_synonyms(synonyms)
    with ix.searcher(weighting=_weighting(ranking)) as searcher:
        for lineno, raw in enumerate(lines, 1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            if "\t" not in line:
                raise UserError(f"batch line {lineno}: expected 'qid<TAB>query'")
            qid, text = line.split("\t", 1)
            qid = qid.strip()
            try:
                built = build_query(ix.schema, text, synonyms=table, ranking=ranking, plain=plain)
            except UserError:
                if plain:
                    continue  # nothing searchable in this topic
                built = build_query(ix.schema, text, synonyms=table, ranking=ranking, plain=True)
            results, _total, _exact = _run(searcher, built, limit, 0, "relevance")
            for rank, hit in enumerate(results[:limit], 1):
                yield f"{qid} Q0 {hit['key']} {rank} {hit.score:.6f} {tag}"


def find_document(searcher, ref: str) -> int:
    from healthdex.urls import canonical_url

    candidates = [("key", ref)]
    try:
        canon = canonical_url(ref)
    except Exception:
        canon = None
    if canon and canon != ref:
        candidates.append(("key", canon))
    for fname in ("url",):
        if fname in searcher.schema and searcher.schema[fname].indexed:
            candidates += [(fname, ref)] + ([(fname, canon)] if canon else [])
    for fname, value in candidates:
        docnum = searcher.document_number(**{fname: value})
        if docnum is not None:
            return docnum
    raise UserError(f"no document with key or URL {ref!r} in the index")


def similar(index_dir, ref: str, *, limit: int = 10, snippets: bool = True, ix=None) -> SearchResults:
    """Documents like the one whose key or URL is ``ref`` (Whoosh more_like on the text field)."""
    ix = ix or open_index(index_dir)
    with ix.searcher(weighting=_weighting()) as searcher:
        docnum = find_document(searcher, ref)
        stored = searcher.stored_fields(docnum)
        text = f"{stored.get('title', '')} {stored.get('text', '')}".strip() or None
        results = searcher.more_like(docnum, "text", text=text, top=limit, numterms=15)
        hits = [_make_hit(h, i + 1, snippets) for i, h in enumerate(results)]
        return SearchResults(query=f"similar:{ref}", total=len(hits), hits=hits, limit=limit, mode="similar")


def stats(index_dir, *, ix=None) -> dict:
    """Documents, sites, date range, size on disk and segment count of an index."""
    from pathlib import Path

    path = Path(index_dir)
    ix = ix or open_index(path)
    out: dict = {"index": str(path)}
    with ix.searcher() as searcher:
        reader = searcher.reader()
        out["documents"] = searcher.doc_count()
        sites: dict[str, int] = {}
        if "site" in searcher.schema:
            for term, info in reader.iter_field("site"):
                t = term.decode("utf-8") if isinstance(term, bytes) else str(term)
                sites[t] = info.doc_frequency()
        out["sites"] = len(sites)
        out["documents_per_site"] = dict(sorted(sites.items(), key=lambda kv: (-kv[1], kv[0])))
        for fname in ("published", "updated"):
            lo = hi = None
            if fname in searcher.schema:
                lo, hi = _date_range(searcher, reader, fname)
            out[f"{fname}_range"] = [_iso(lo), _iso(hi)]
        try:
            out["segments"] = len(list(reader.leaf_readers()))
        except Exception:
            out["segments"] = None
    out["size_bytes"] = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return out


def _date_range(searcher, reader, fname):
    from whoosh.util.times import long_to_datetime

    values: list[datetime] = []
    if reader.has_column(fname):
        for sub, _offset in reader.leaf_readers():
            for raw in sub.column_reader(fname, translate=False):
                if raw is None or not isinstance(raw, int) or raw >= _NO_VALUE:
                    continue
                try:
                    values.append(long_to_datetime(raw))
                except (OverflowError, ValueError):
                    continue
    else:
        for _docnum, stored in reader.iter_docs():
            v = stored.get(fname)
            if isinstance(v, datetime):
                values.append(v)
    if not values:
        return None, None
    return min(values), max(values)
