"""Relevance benchmark: MedQuAD + TREC 2017 LiveQA-Medical (BEIR layout) through the real CLI.

    .venv/bin/python bench/relevance.py [--data DIR] [--work DIR]

Converts corpus.jsonl to healthdex records (id, title, text), builds an index with ``healthdex index``, runs
``healthdex search --batch`` (subprocesses) for each configuration and prints nDCG@10 (linear gain) and
Recall@100 over all queries, over the queries with a relevant answer, and over a dev/holdout split (odd/even
query id). Metrics are this file's own small implementation (checked on a toy case in tests/test_search_bench.py).
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
from collections import defaultdict
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ir" / "medquad-liveqa-med"


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


# ---------------------------------------------------------------- running the real commands
def healthdex_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("healthdex")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "healthdex"]


def convert_corpus(corpus: Path, out: Path) -> int:
    n = 0
    with open(corpus, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        for line in src:
            doc = json.loads(line)
            rec = {"id": doc["_id"], "title": doc.get("title", ""), "text": doc.get("text", "")}
            dst.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    return n


def write_topics(queries: Path, out: Path, field: str = "text") -> list[str]:
    """qid<TAB>query lines; ``field`` is "text" (the consumer's message) or a ``metadata`` key (e.g. the NIST
    paraphrase; the message itself where that is empty), to check that ranking choices hold for another query
    style."""
    qids = []
    with open(queries, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        for line in src:
            q = json.loads(line)
            raw = q["text"] if field == "text" else (q.get("metadata") or {}).get(field) or q["text"]
            text = " ".join(raw.split())
            dst.write(f"{q['_id']}\t{text}\n")
            qids.append(q["_id"])
    return qids


def run_batch(index: Path, topics: Path, extra: list[str], limit: int = 100) -> tuple[list[str], float]:
    cmd = healthdex_cmd() + ["search", "--batch", str(topics), "--index", str(index), "--limit", str(limit), *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.splitlines(), elapsed


CONFIGS = [
    ("shipped defaults", []),
    ("--no-synonyms", ["--no-synonyms"]),
    ("Whoosh BM25F defaults (OR of words)", ["--no-synonyms", "--ranking", "whoosh"]),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--work", type=Path, default=None, help="keep records/index/runs here (default: temp dir)")
    ap.add_argument(
        "--variants",
        action="store_true",
        help="also run the NIST paraphrases and NLM summaries of the questions (other query styles)",
    )
    args = ap.parse_args(argv)
    data: Path = args.data
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        if not (data / name).exists():
            sys.exit(f"missing {data / name}")
    work = args.work or Path(tempfile.mkdtemp(prefix="healthdex-relevance-"))
    work.mkdir(parents=True, exist_ok=True)
    records, topics, index = work / "records.jsonl", work / "topics.tsv", work / "index"
    ndocs = convert_corpus(data / "corpus.jsonl", records)
    qids = write_topics(data / "queries.jsonl", topics)
    qrels = load_qrels(data / "qrels" / "test.tsv")

    if index.exists():
        shutil.rmtree(index)
    t0 = time.perf_counter()
    cmd = healthdex_cmd() + ["index", str(records), "--index", str(index)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    t_index = time.perf_counter() - t0

    judged = [q for q in qids if q in qrels]
    with_rel = [q for q in judged if any(g > 0 for g in qrels[q].values())]
    dev = [q for q in judged if int(q) % 2 == 1]
    hold = [q for q in judged if int(q) % 2 == 0]
    print(f"collection: {data}")
    print(
        f"documents: {ndocs} (indexed with `healthdex index` in {t_index:.1f}s); queries: {len(qids)} "
        f"({len(with_rel)} with a relevant answer); dev = odd qids ({len(dev)}), holdout = even qids ({len(hold)})"
    )
    print()
    header = f"{'configuration':<52} {'nDCG@10':>8} {'R@100':>7} {'nDCG@10*':>9} {'dev':>7} {'holdout':>8} {'time':>6}"
    print(header)
    print("-" * len(header))
    styles = [("text", "")]
    if args.variants:
        styles += [("nist_paraphrase", " [NIST paraphrase]"), ("nlm_summary", " [NLM summary]")]
    for field, suffix in styles:
        if field != "text":
            write_topics(data / "queries.jsonl", topics, field)
        for label, extra in CONFIGS:
            lines, elapsed = run_batch(index, topics, extra)
            (work / f"run-{field}-{label.split()[0].strip('-')}.trec").write_text("\n".join(lines) + "\n")
            run = parse_run(lines)
            a, r = evaluate(run, qrels, judged), evaluate(run, qrels, with_rel)
            d, h = evaluate(run, qrels, dev), evaluate(run, qrels, hold)
            name = (label + suffix)[:52]
            print(
                f"{name:<52} {a['ndcg@10']:>8.4f} {a['recall@100']:>7.4f} {r['ndcg@10']:>9.4f} "
                f"{d['ndcg@10']:>7.4f} {h['ndcg@10']:>8.4f} {elapsed:>5.1f}s"
            )
    print()
    print(
        "nDCG@10 = linear gain over all judged queries; nDCG@10* = over queries with a relevant answer; "
        "dev/holdout = nDCG@10 on odd/even qids."
    )
    print(f"work dir: {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
