"""The search library behind ``healthdex search``, ``similar`` and ``stats``; importable by tests and users.

    from search_cli.search import search
    res = search("data/index", "sciatica back pain", limit=5)
    for hit in res.hits:
        print(hit.rank, hit.title, hit.url, hit.snippet)

A query goes one way: :func:`search_cli.query.build_query` parses it (and adds synonyms), an
:class:`~search_cli.evaluate.Evaluation` over Whoosh's reader ranks it, and the hits are read from the stored
fields with their snippets.  To run many queries, open the index once (``with Index(path) as ix: search(ix, q)``):
its searcher and what it read of each segment are kept until a newer commit lands.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime

from healthdex.errors import UserError
from search_cli.evaluate import Evaluation, segments
from search_cli.query import FIELD_ALIASES, Ranking, build_query, clean

log = logging.getLogger(__name__)
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
SNIPPET_FIELDS = ("text", "description", "title")


@dataclass(slots=True)
class Hit:
    rank: int
    key: str
    url: str
    title: str
    site: str
    published: str | None
    updated: str | None
    score: float
    snippet: str  # with MARK_START/MARK_END around matched terms

    def to_dict(self, marker: tuple[str, str] = ("«", "»")) -> dict:
        d = asdict(self)
        d["snippet"] = self.snippet.replace(MARK_START, marker[0]).replace(MARK_END, marker[1])
        return d


@dataclass
class SearchResults:
    query: str
    total: int
    hits: list[Hit]
    offset: int = 0
    limit: int = 10
    sort: str = "relevance"
    mode: str = "plain"
    suggestion: str | None = None
    suggestion_total: int | None = None
    total_exact: bool = True  # False: ``total`` is estimated (a phrase with very many candidates)
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    synonyms: list[dict] = field(default_factory=list)
    explain: dict | None = None  # how the query was answered (search(..., explain=True))

    def to_dict(self, marker: tuple[str, str] = ("«", "»")) -> dict:
        out = {k: v for k, v in asdict(self).items() if k != "hits" and (k != "explain" or v is not None)}
        return {**out, "hits": [h.to_dict(marker) for h in self.hits]}


class Index:
    """An index opened for searching, for one query or many (the interactive prompt, a library caller): one
    searcher, replaced by a new one when a newer commit exists (checked before each query), so what the evaluator
    read of each segment (field lengths, deletions, dates) is read once per commit."""

    def __init__(self, path: str | os.PathLike) -> None:
        from indexer.schema import SCHEMA_VERSION
        from indexer.store import open_index, read_meta

        self.path = os.fspath(path)
        if not os.path.isdir(self.path):
            raise UserError(f"no index at {self.path} (build one with: healthdex index FILE.jsonl --index {self.path})")
        self.ix = open_index(self.path)
        built = read_meta(self.path).get("schema_version", SCHEMA_VERSION)
        if built != SCHEMA_VERSION:  # (still searchable, with the words and weights of its own version)
            log.warning("healthdex: index %s has schema %s, not %s: rebuild it", path, built, SCHEMA_VERSION)
        self._searcher = None
        self._segments: list = []

    def searcher(self):
        """(searcher, evaluator segments) of the last commit."""
        if self._searcher is None or not self._searcher.up_to_date():
            # a new searcher, not ``refresh()``: whoosh-ng's refresh reuses the reader of a segment whose deletions
            # changed, so it would keep finding deleted articles
            self.close()
            self._searcher = self.ix.searcher()
            self._segments = segments(self._searcher)
        return self._searcher, self._segments

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextmanager
def _opened(index: str | os.PathLike | Index) -> Iterator[Index]:
    """``index`` itself when already open, else the index at that path, open for this call only."""
    if isinstance(index, Index):
        yield index
        return
    with Index(index) as opened:
        yield opened


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


def _snippet(schema, stored: dict, terms: dict[str, set[str]], maxchars: int = 150) -> str:
    """The best passages of the first field (text, description, title) where the query's terms occur, found by
    the field's analysis steps (word pattern, stop words, minimum size, stemmer); else the start of the body."""
    from indexer.schema import _fast_plan
    from search_cli.snippets import snippet

    for f in SNIPPET_FIELDS:
        value = stored.get(f)
        plan = _fast_plan(schema[f].analyzer) if value and f in schema and terms.get(f) else None
        if plan is not None:
            expression, stops, minsize, _maxsize, stem, _sig = plan
            found = snippet(
                str(value),
                terms[f],
                word_pattern=expression,
                stopwords=frozenset(stops),
                stem=stem,
                marks=(MARK_START, MARK_END),
                maxchars=maxchars,
                minsize=minsize,
            )
            if found:
                return found
    body = " ".join(str(stored.get("text") or stored.get("description") or "").split())
    return body[:maxchars] + ("…" if len(body) > maxchars else "")


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


def _hits(searcher, ev: Evaluation, ranked: list[tuple[float, int]], first_rank: int, snippets: bool) -> list[Hit]:
    terms: dict[str, set[str]] = {}
    for fieldname, text in ev.words:
        terms.setdefault(fieldname, set()).add(text)
    out = []
    for i, (score, docnum) in enumerate(ranked):
        stored = searcher.stored_fields(docnum)
        snippet = _snippet(searcher.schema, stored, terms) if snippets else ""
        out.append(hit_from_stored(stored, first_rank + i, score, snippet))
    return out


def suggest(searcher, text: str, known: Iterable[str] = ()) -> str | None:
    """A corrected query string (unstemmed spelling field), or None when every word is known: to the index, or
    (lowercased) in ``known`` (the query's words a health synonym matched: "flu" found as influenza is no typo
    for "four")."""
    from indexer.schema import SPELL as SPELL_FIELD

    known = frozenset(known)
    if SPELL_FIELD not in searcher.schema:
        return None
    field = searcher.schema[SPELL_FIELD]
    reader = searcher.reader()
    corrector = None  # made for the first unknown word
    changed = False

    def fix(m: re.Match) -> str:
        nonlocal changed, corrector
        word = m.group(0)
        low = word.lower()
        if word in ("AND", "OR", "NOT") or low in FIELD_ALIASES or len(low) < 3 or not low.isalpha():
            return word
        if low in known or len(low) > 40:  # (the edit-distance automaton grows with the word: 20k chars, 3.7 s)
            return word
        if reader.doc_frequency(SPELL_FIELD, low) > 0:
            return word
        if not any(field.process_text(low, mode="query")):  # a stop word: never in the lexicon, never a typo
            return word
        if corrector is None:
            corrector = reader.corrector(SPELL_FIELD)
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


def _rank(ev: Evaluation, built, depth: int, sort: str = "relevance"):
    return ev.top(built.query, depth, filter=built.filter, bonus=built.rerank, sort=SORTS[sort])


def search(
    index: str | os.PathLike | Index,
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
    explain: bool = False,
) -> SearchResults:
    """Search ``index`` (a folder, or an open :class:`Index`) for ``query``; see ``healthdex search --help`` for
    the query syntax.  ``explain``: the results say how the query was answered (``SearchResults.explain``)."""
    if limit < 0 or offset < 0:
        raise UserError("--limit and --offset must not be negative")
    if sort not in SORTS:
        raise UserError(f"unknown sort '{sort}' (choose from: {', '.join(SORTS)})")
    facet_fields = {}
    for name in (f.strip() for f in facets if f.strip()):
        if name not in FACETS:
            raise UserError(f"unknown facet '{name}' (choose from: {', '.join(sorted(FACETS))})")
        facet_fields[name] = FACETS[name]
    ranking = ranking or Ranking()
    table = load_synonyms(synonyms)
    with _opened(index) as opened:
        searcher, segs = opened.searcher()
        built = build_query(searcher.schema, query, synonyms=table, ranking=ranking, plain=plain)
        ev = Evaluation(searcher, segs, ranking.weighting())
        ranked = _rank(ev, built, max(1, offset + limit), sort)
        out = SearchResults(
            query=clean(query),
            total=ranked.total,
            total_exact=ranked.exact,
            hits=_hits(searcher, ev, ranked.hits[offset : offset + limit], offset + 1, snippets),
            offset=offset,
            limit=limit,
            sort=sort,
            mode=built.mode,
            synonyms=[
                {"matched": m.matched, "expanded": list(m.alternatives), "source": m.source} for m in built.synonyms
            ],
        )
        if facet_fields:
            docs = ev.matches(built.query, filter=built.filter)
            for name, fieldname in facet_fields.items():
                if fieldname in searcher.schema:
                    counts = ev.facet_counts(docs, fieldname)
                    out.facets[name] = dict(
                        sorted(((k, v) for k, v in counts.items() if k), key=lambda kv: (-kv[1], kv[0]))
                    )
        # "Did you mean": only words the index has never seen are corrected (from the unstemmed spelling field),
        # and the correction is offered when it finds at least as much as the query as typed (it finds the word).
        if suggest_spelling:
            typed_synonyms = (w for m in built.synonyms for w in m.matched.lower().split())
            fixed = suggest(searcher, clean(query), known=typed_synonyms)
            if fixed:
                try:
                    b2 = build_query(searcher.schema, fixed, synonyms=table, ranking=ranking, plain=plain)
                    total2 = _rank(Evaluation(searcher, segs, ranking.weighting()), b2, 1).total
                except UserError:
                    total2 = 0
                if total2 > 0 and total2 >= out.total:
                    out.suggestion, out.suggestion_total = fixed, total2
        if explain:
            out.explain = explanation(built, ev, ranking, out)
    return out


def explanation(built, ev: Evaluation, ranking: Ranking, res: SearchResults) -> dict:
    """How a query was answered: its parse, synonyms, ranking, the terms scored (with their weights), what was
    expanded or matched by Whoosh's own matchers, and the spelling check."""
    return {
        "parsed": str(built.query),
        "mode": built.mode,
        "filter": None if built.filter is None else str(built.filter),
        "synonyms": [
            f"{m.matched} -> {', '.join(m.alternatives)} (weight {ranking.synonym_weight})" for m in built.synonyms
        ],
        "evaluator": "healthdex evaluator over Whoosh's reader: exact top hits"
        + ("" if res.total_exact else "; count estimated from a sample of a phrase's candidates"),
        "scoring": ranking.describe(),
        "bonus": [str(c) for c in built.rerank],
        "terms": [
            {"field": f, "term": t, "boost": round(v["boost"], 4), "idf": v["idf"], "docs": v["docs"]}
            for (f, t), v in sorted(ev.terms.items(), key=lambda kv: (-kv[1]["boost"], kv[0]))
        ],
        "notes": built.notes + ev.notes,
        "spelling": f"did you mean: {res.suggestion}" if res.suggestion else "no correction offered",
    }


def batch(
    index,
    lines: Iterable[str],
    *,
    limit: int = 1000,
    synonyms=True,
    plain: bool = True,
    ranking: Ranking | None = None,
    tag: str = "healthdex",
) -> Iterator[str]:
    """TREC run lines (``qid Q0 docid rank score tag``) for ``qid<TAB>query`` lines."""
    ranking = ranking or Ranking()
    table = load_synonyms(synonyms)
    with _opened(index) as opened:
        searcher, segs = opened.searcher()
        weighting = ranking.weighting()
        for lineno, raw in enumerate(lines, 1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            if "\t" not in line:
                raise UserError(f"batch line {lineno}: expected 'qid<TAB>query'")
            qid, text = line.split("\t", 1)
            qid = qid.strip()
            try:
                built = build_query(searcher.schema, text, synonyms=table, ranking=ranking, plain=plain)
            except UserError:
                if plain:
                    continue  # nothing searchable in this topic
                built = build_query(searcher.schema, text, synonyms=table, ranking=ranking, plain=True)
            ranked = _rank(Evaluation(searcher, segs, weighting), built, limit)
            for rank, (score, docnum) in enumerate(ranked.hits, 1):
                yield f"{qid} Q0 {searcher.stored_fields(docnum)['key']} {rank} {score:.6f} {tag}"


def find_document(searcher, ref: str) -> int:
    from healthdex.urls import canonical_url

    candidates = [("key", ref)]
    try:
        canon = canonical_url(ref)
    except ValueError:
        canon = None
    if canon and canon != ref:
        candidates.append(("key", canon))
    if "url" in searcher.schema and searcher.schema["url"].indexed:
        candidates += [("url", ref)] + ([("url", canon)] if canon else [])
    for fname, value in candidates:
        docnum = searcher.document_number(**{fname: value})
        if docnum is not None:
            return docnum
    raise UserError(f"no document with key or URL {ref!r} in the index")


def similar(index, ref: str, *, limit: int = 10, snippets: bool = True) -> SearchResults:
    """Documents like the one whose key or URL is ``ref``: its 15 most telling words (Whoosh's ``key_terms``, as
    its ``more_like``), ranked by the evaluator."""
    from whoosh import query as wq

    with _opened(index) as opened:
        searcher, segs = opened.searcher()
        docnum = find_document(searcher, ref)
        stored = searcher.stored_fields(docnum)
        text = f"{stored.get('title', '')} {stored.get('text', '')}".strip()
        words = searcher.key_terms_from_text("text", text, numterms=15) if text else []
        q = wq.Or([wq.Term("text", word, boost=weight) for word, weight in words])
        ev = Evaluation(searcher, segs, Ranking().weighting())
        ranked = ev.top(q, limit, exclude=[docnum])
        hits = _hits(searcher, ev, ranked.hits, 1, snippets)
        return SearchResults(query=f"similar:{ref}", total=len(hits), hits=hits, limit=limit, mode="similar")


def stats(index) -> dict:
    """Documents, sites, date range, size on disk and segment count of an index."""
    from pathlib import Path

    with _opened(index) as opened:
        path = Path(opened.path)
        searcher, segs = opened.searcher()
        reader = searcher.reader()
        out: dict = {"index": str(path), "documents": searcher.doc_count()}
        sites: dict[str, int] = {}
        if "site" in searcher.schema:
            for term, info in reader.iter_field("site"):
                sites[term.decode("utf-8") if isinstance(term, bytes) else str(term)] = info.doc_frequency()
        out["sites"] = len(sites)
        out["documents_per_site"] = dict(sorted(sites.items(), key=lambda kv: (-kv[1], kv[0])))
        for fname in ("published", "updated"):
            lo, hi = _date_range(reader, fname) if fname in searcher.schema else (None, None)
            out[f"{fname}_range"] = [_iso(lo), _iso(hi)]
        out["segments"] = len(segs)
    out["size_bytes"] = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return out


def _date_range(reader, fname):
    from whoosh.util.times import long_to_datetime

    values: list[datetime] = []
    if reader.has_column(fname):
        for sub, _offset in reader.leaf_readers():
            for raw in sub.column_reader(fname, translate=False):
                if isinstance(raw, int) and raw < 2**63:
                    try:
                        values.append(long_to_datetime(raw))
                    except (OverflowError, ValueError):
                        continue
    else:
        values = [v for _docnum, stored in reader.iter_docs() if isinstance(v := stored.get(fname), datetime)]
    return (min(values), max(values)) if values else (None, None)
