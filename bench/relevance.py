"""Relevance benchmark: every BEIR-layout collection under ../shared/data/ir through the real index and search.

    .venv/bin/python bench/relevance.py [--data DIR] [--collections a,b] [--work DIR] [--no-variants]

For each collection (a folder with corpus.jsonl, queries.jsonl and qrels/*.tsv; every judgement file present is
used: train and dev where the test split is held out), the corpus becomes healthdex records (id, title, text),
``healthdex index`` builds an index and ``healthdex search --batch`` runs the judged queries with the shipped
defaults (subprocesses: the real commands).  Each variant in ``VARIANTS`` (one ranking setting changed; an index
built with another analysis for ``INDEX_VARIANTS``) runs through ``search_cli.search.batch``, the library call
``--batch`` is thin over.  The peer, measured in the same run, is plain BM25 from the ``bm25s`` package (k1=1.2,
b=0.75, PyStemmer's English stemmer, Lucene's stop words, title and text as one field).

One table: nDCG@10 (linear gain) per collection as all (dev/holdout): dev is the queries whose id ends in an odd
number (ids without a trailing number: odd CRC-32), holdout the others; tune on dev, check on holdout.  Metrics
are this file's own small implementation (checked on toy cases in tests/test_search_bench.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ir"
LIMIT = 100  # hits per query (nDCG@10 and Recall@100)

# label -> changes to search_cli.query.Ranking's defaults ("synonyms": False searches without them).  Each row
# takes one mechanism of the defaults away (or puts back what they replaced), so its cost or gain is the
# difference to the defaults row.
VARIANTS: list[tuple[str, dict]] = [
    ("per-field BM25 added (no BM25F)", {"fields": "sum"}),
    ("Whoosh's idf, log(N/(n+1))+1", {"idf": "whoosh"}),
    ("idf power 1 (plain idf)", {"idf_power": 1.0}),
    ("title weight 1", {"title_boost": 1.0}),
    ("no title-alone bonus", {"title_alone": 0.0}),
    ("synonyms added to the words (not max)", {"synonym_mode": "add"}),
    ("no synonyms", {"synonyms": False}),
    ("no proximity pairs", {"pair_boost": 0.0}),
    ("no query stop words", {"stopword_min_words": 10**9}),
    ("+ pseudo-relevance feedback (RM3, bench only)", {"rm3": True}),
    (
        "previous defaults (0559f9d)",
        {
            "fields": "sum",
            "idf": "whoosh",
            "idf_power": 1.0,
            "title_boost": 2.0,  # (the index's title weight was 2)
            "title_alone": 0.0,
            "synonym_mode": "add",
        },
    ),
    ("--ranking whoosh (Whoosh's BM25F, OR)", {"named": "whoosh", "synonyms": False}),
]
# label -> (how the index differs, ranking changes): analysis ablations need their own index
INDEX_VARIANTS: list[tuple[str, str, dict]] = [
    ("words joined by - . ' (schema 1 tokenizer)", "joined", {}),
]


# ---------------------------------------------------------------- metrics
def load_qrels(path: str | os.PathLike) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0] == "query-id":
                continue
            qrels[parts[0]][parts[1]] = int(parts[2])
    return dict(qrels)


def parse_run(lines) -> dict[str, list[str]]:
    """TREC run lines -> qid -> docids in rank order (ties broken by the listed rank)."""
    rows: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for line in lines:
        parts = line.split()
        if len(parts) >= 6:
            rows[parts[0]].append((int(parts[3]), parts[2]))
    return {q: [d for _, d in sorted(r)] for q, r in rows.items()}


def ndcg_at_k(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    """nDCG@k with linear gain (gain = grade) and log2(rank+1) discount; 0 when nothing is relevant."""
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((g for g in rels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: list[str], rels: dict[str, int], k: int = 100) -> float:
    relevant = {d for d, g in rels.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranked[:k])) / len(relevant)


def evaluate(run: dict[str, list[str]], qrels: dict[str, dict[str, int]], qids=None) -> dict[str, float]:
    """Mean nDCG@10 and Recall@100 over ``qids`` (default: every query in the qrels)."""
    qids = list(qids if qids is not None else qrels)
    if not qids:
        return {"ndcg@10": 0.0, "recall@100": 0.0, "n": 0}
    nd = sum(ndcg_at_k(run.get(q, []), qrels.get(q, {}), 10) for q in qids) / len(qids)
    rc = sum(recall_at_k(run.get(q, []), qrels.get(q, {}), 100) for q in qids) / len(qids)
    return {"ndcg@10": nd, "recall@100": rc, "n": len(qids)}


def is_dev(qid: str) -> bool:
    """The dev half: ids ending in an odd number; ids without a trailing number by the parity of their CRC-32."""
    digits = len(qid) - len(qid.rstrip("0123456789"))
    value = int(qid[-digits:]) if digits else zlib.crc32(qid.encode("utf-8"))
    return value % 2 == 1


# ---------------------------------------------------------------- collections
class Collection:
    """A BEIR-layout folder: its documents, its judged queries and every judgement file under qrels/."""

    def __init__(self, folder: Path) -> None:
        self.name, self.folder = folder.name, folder
        self.qrels: dict[str, dict[str, int]] = {}
        self.splits = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        for split in self.splits:
            for q, rels in load_qrels(folder / "qrels" / f"{split}.tsv").items():
                self.qrels.setdefault(q, {}).update(rels)
        self.queries: dict[str, str] = {}
        with open(folder / "queries.jsonl", encoding="utf-8") as fh:
            for line in fh:
                q = json.loads(line)
                if q["_id"] in self.qrels:
                    self.queries[q["_id"]] = " ".join(str(q.get("text") or "").split())
        with open(folder / "corpus.jsonl", encoding="utf-8") as fh:
            self.docs = [json.loads(line) for line in fh if line.strip()]

    def topics(self) -> list[str]:
        return [f"{qid}\t{text}" for qid, text in self.queries.items()]

    def write_records(self, out: Path) -> None:
        with open(out, "w", encoding="utf-8") as fh:
            for d in self.docs:
                rec = {"id": d["_id"], "title": d.get("title") or "", "text": d.get("text") or ""}
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")

    def scores(self, run: dict[str, list[str]]) -> tuple[float, float, float]:
        """nDCG@10 over all judged queries, the dev half and the holdout half."""
        qids = list(self.qrels)
        dev = [q for q in qids if is_dev(q)]
        hold = [q for q in qids if not is_dev(q)]
        return tuple(evaluate(run, self.qrels, part)["ndcg@10"] for part in (qids, dev, hold))


def collections(data: Path, only: list[str] | None) -> list[Collection]:
    found = []
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        if only and folder.name not in only:
            continue
        if (folder / "corpus.jsonl").exists() and (folder / "queries.jsonl").exists() and (folder / "qrels").is_dir():
            found.append(Collection(folder))
    return found


# ---------------------------------------------------------------- running healthdex and the peer
def healthdex_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("healthdex")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "healthdex"]


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def cli_index(records: Path, index: Path) -> None:
    _run(healthdex_cmd() + ["index", str(records), "--index", str(index), "--quiet"])


def cli_batch(index: Path, topics: Path) -> list[str]:
    return _run(healthdex_cmd() + ["search", "--batch", str(topics), "--index", str(index), "--limit", str(LIMIT)])


def library_batch(opened, coll: Collection, changes: dict) -> list[str]:
    from search_cli.query import Ranking
    from search_cli.search import batch

    changes = dict(changes)
    synonyms = changes.pop("synonyms", True)
    named = changes.pop("named", None)
    if changes.pop("rm3", False):
        return rm3_batch(opened, coll, Ranking(**changes))
    ranking = Ranking.named(named) if named else Ranking(**changes)
    return list(batch(opened, coll.topics(), limit=LIMIT, synonyms=synonyms, ranking=ranking))


def rm3_batch(opened, coll: Collection, ranking, docs: int = 10, terms: int = 10, original: float = 0.7):
    """RM3-style pseudo-relevance feedback, prototyped here (it is not in healthdex): the ``terms`` words with the
    most weight in the top ``docs`` hits (each hit's share of the top scores x the word's share of its words;
    not typed, not a query stop word, not a number) are added as BM25F words, together weighing ``1 - original``
    of the query."""
    from collections import Counter

    from whoosh import query as wq

    from healthdex.errors import UserError
    from search_cli.evaluate import Evaluation, FieldsTerm
    from search_cli.query import build_query, query_stopwords
    from search_cli.search import load_synonyms

    table, stops = load_synonyms(True), query_stopwords()
    searcher, segs = opened.searcher()
    analyzer = searcher.schema["text"].analyzer
    lines = []
    for qid, text in coll.queries.items():
        try:
            built = build_query(searcher.schema, text, synonyms=table, ranking=ranking, plain=True)
        except UserError:
            continue
        args = dict(filter=built.filter, bonus=built.rerank)
        ranked = Evaluation(searcher, segs, ranking.weighting()).top(built.query, LIMIT, **args)
        top = ranked.hits[:docs]
        weights: Counter = Counter()
        for score, d in top:
            stored = searcher.stored_fields(d)
            words = [t.text for t in analyzer(f"{stored.get('title') or ''} {stored.get('text') or ''}")]
            for w, n in Counter(words).items():
                weights[w] += score / sum(s for s, _ in top) * n / len(words)
        typed = set(built.terms)
        chosen = sorted(
            ((v, w) for w, v in weights.items() if w not in typed and w not in stops and not w.isdigit()),
            reverse=True,
        )[:terms]
        if chosen:
            scale = len(typed) * (1 - original) / original / sum(v for v, _ in chosen)
            extra = [
                FieldsTerm(
                    [wq.Term("title", w, boost=ranking.title_boost), wq.Term("text", w)],
                    boost=v * scale,
                    alone=ranking.title_alone,
                )
                for v, w in chosen
            ]
            q = wq.Or([built.query, *extra])
            ranked = Evaluation(searcher, segs, ranking.weighting()).top(q, LIMIT, **args)
        for rank, (score, docnum) in enumerate(ranked.hits, 1):
            lines.append(f"{qid} Q0 {searcher.stored_fields(docnum)['key']} {rank} {score:.6f} rm3")
    return lines


def variant_index(kind: str, records: Path, index: Path) -> None:
    """An index of ``records`` whose analysis differs from the shipped schema's as ``kind`` says, built by the
    library call ``healthdex index`` is thin over (``indexer.build.index_records``) into a folder created with
    that schema and without healthdex's meta file (which would have the shipped schema read instead)."""
    from whoosh.analysis import RegexTokenizer
    from whoosh.index import create_in

    from indexer import schema as S
    from indexer import store
    from indexer.build import index_records, iter_jsonl

    schema = S.build_schema()
    if kind == "joined":  # schema 1: letters/digits joined by inner - . ' into one word ("covid-19", "b12")
        for name in (S.TITLE, S.TEXT, S.DESCRIPTION, S.SPELL):
            field = schema[name]
            for analyzer in (field.analyzer, getattr(field, "source_analyzer", None)):
                if analyzer is not None:
                    analyzer.items[0] = RegexTokenizer(r"\w+(?:[.'’-]\w+)*")
    else:
        raise ValueError(kind)
    index.mkdir(parents=True)
    create_in(str(index), schema, indexname=store.INDEX_NAME)  # (no meta file: Whoosh reads this schema)
    index_records(iter_jsonl([str(records)]), index, procs=1)


def bm25s_run(coll: Collection) -> list[str]:
    """TREC run lines of plain BM25 (bm25s; see the module docstring)."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    texts = [f"{d.get('title') or ''} {d.get('text') or ''}" for d in coll.docs]
    corpus = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
    model = bm25s.BM25(k1=1.2, b=0.75)
    model.index(corpus, show_progress=False)
    qids = list(coll.queries)
    tokens = bm25s.tokenize(
        [coll.queries[q] for q in qids], stopwords="en", stemmer=stemmer, show_progress=False, return_ids=False
    )
    lines = []
    for qid, words in zip(qids, tokens, strict=True):
        words = [w for w in words if w in corpus.vocab]
        if not words:
            continue
        docs, scores = model.retrieve([words], k=min(LIMIT, len(texts)), show_progress=False, return_as="tuple")
        for rank, (i, s) in enumerate(zip(docs[0].tolist(), scores[0].tolist(), strict=True), 1):
            if s > 0:
                lines.append(f"{qid} Q0 {coll.docs[i]['_id']} {rank} {s:.6f} bm25s")
    return lines


# ---------------------------------------------------------------- the table
def print_table(names: list[str], rows: list[tuple[str, dict[str, tuple[float, float, float]]]]) -> None:
    width = max(len(label) for label, _ in rows)
    head = f"{'':<{width}}" + "".join(f"{n[:22]:>24}" for n in names) + f"{'mean':>17}"
    print(head)
    print("-" * len(head))
    for label, res in rows:
        cells = "".join(f"  {a:.4f} ({d:.3f}/{h:.3f})" for a, d, h in (res[n] for n in names))
        means = [sum(res[n][i] for n in names) / len(names) for i in range(3)]
        print(f"{label:<{width}}{cells}  {means[0]:.4f} ({means[1]:.3f}/{means[2]:.3f})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of BEIR-layout collections")
    ap.add_argument("--collections", default="", help="comma-separated folder names (default: all)")
    ap.add_argument("--work", type=Path, default=None, help="keep records, indexes and runs here (default: temp)")
    ap.add_argument("--no-variants", action="store_true", help="only the defaults and the peer")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        sys.exit(f"no collections at {args.data}")
    colls = collections(args.data, [c for c in args.collections.split(",") if c] or None)
    if not colls:
        sys.exit(f"no BEIR-layout collection (corpus.jsonl, queries.jsonl, qrels/) under {args.data}")
    work = args.work or Path(tempfile.mkdtemp(prefix="healthdex-relevance-"))
    from search_cli.search import Index

    labels = ["healthdex defaults"]
    labels += [label for label, _ in VARIANTS] if not args.no_variants else []
    labels += [label for label, _, _ in INDEX_VARIANTS] if not args.no_variants else []
    labels.append("bm25s (plain BM25 peer)")
    results: dict[str, dict[str, tuple]] = {label: {} for label in labels}
    for coll in colls:
        base = work / coll.name
        if base.exists():
            shutil.rmtree(base)
        base.mkdir(parents=True)
        records, topics, index = base / "records.jsonl", base / "topics.tsv", base / "index"
        coll.write_records(records)
        topics.write_text("\n".join(coll.topics()) + "\n", encoding="utf-8")
        t0 = time.perf_counter()
        cli_index(records, index)
        t_index = time.perf_counter() - t0
        t0 = time.perf_counter()
        lines = cli_batch(index, topics).splitlines()
        t_search = time.perf_counter() - t0
        results["healthdex defaults"][coll.name] = coll.scores(parse_run(lines))
        t0 = time.perf_counter()
        results["bm25s (plain BM25 peer)"][coll.name] = coll.scores(parse_run(bm25s_run(coll)))
        t_peer = time.perf_counter() - t0
        if not args.no_variants:
            with Index(index) as opened:
                for label, changes in VARIANTS:
                    results[label][coll.name] = coll.scores(parse_run(library_batch(opened, coll, changes)))
            for label, kind, changes in INDEX_VARIANTS:
                other = base / f"index-{kind}"
                variant_index(kind, records, other)
                with Index(other) as opened:
                    results[label][coll.name] = coll.scores(parse_run(library_batch(opened, coll, changes)))
        print(
            f"{coll.name}: {len(coll.docs)} documents, {len(coll.queries)} judged queries "
            f"({', '.join(coll.splits)}); healthdex index {t_index:.1f}s, search --batch {t_search:.1f}s "
            f"({1000 * t_search / max(1, len(coll.queries)):.0f} ms/query with start-up), bm25s {t_peer:.1f}s",
            file=sys.stderr,
        )
    names = [c.name for c in colls]
    print("nDCG@10: all judged queries (dev/holdout)")
    print_table(names, [(label, results[label]) for label in labels])
    peer, ours = results["bm25s (plain BM25 peer)"], results["healthdex defaults"]
    print("defaults - bm25s:" + "".join(f"  {n}: {ours[n][0] - peer[n][0]:+.4f}" for n in names))
    print(f"work dir: {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
