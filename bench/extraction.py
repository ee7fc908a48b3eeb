"""Article-extraction benchmark: healthdex against trafilatura and readability-lxml, one table, one run.

    .venv/bin/python bench/extraction.py [SHARED_OR_BENCHMARK_DIR] [--split dev|holdout|all]

Data: ``../shared/data/article-extraction-benchmark/`` beside the repository (181 pages, ``html/<id>.html.gz``
and ``ground-truth.json``; see its MANIFEST.md).  Metric as in the MANIFEST: word 4-gram shingle multisets over
Unicode ``\\w+`` tokens; corpus precision = mean over pages with a non-empty prediction, recall = mean over pages
with a non-empty truth, F1 = harmonic mean of the two; accuracy = exact token-sequence match.

Each extractor runs in its own process, one after the other (so they do not compete for cores); pages/s counts
extraction time only (files are read and gunzipped before the clock starts).  Split: pages whose id starts with
a hex digit in ``HOLDOUT_PREFIXES`` are the holdout (~30%) kept aside while developing; the rest are ``dev``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO.parent / "shared"
BENCH_SUBDIR = Path("data/article-extraction-benchmark")
HOLDOUT_PREFIXES = "abcde"
EXTRACTORS = ("healthdex", "trafilatura-precision", "trafilatura", "readability-lxml")
_TOKEN_RE = re.compile(r"\w+", re.UNICODE)


# --- metric ----------------------------------------------------------------------------------------------------


def tokens(text: str | None) -> list[str]:
    """Unicode word tokens."""
    return _TOKEN_RE.findall(text or "")


def shingles(toks: list[str], n: int = 4) -> Counter[tuple[str, ...]]:
    """Multiset of n-token shingles; fewer than n tokens form one short shingle, none for no tokens."""
    if not toks:
        return Counter()
    return Counter(tuple(toks[i : i + n]) for i in range(max(1, len(toks) - n + 1)))


def page_scores(truth: str, pred: str) -> tuple[float | None, float | None, bool]:
    """(precision or None if the prediction is empty, recall or None if the truth is empty, exact match)."""
    t_tok, p_tok = tokens(truth), tokens(pred)
    t_sh, p_sh = shingles(t_tok), shingles(p_tok)
    tp = sum((t_sh & p_sh).values())
    fp = sum(p_sh.values()) - tp
    fn = sum(t_sh.values()) - tp
    precision = recall = None
    if p_sh:
        precision = 1.0 if fp == fn == 0 else tp / (tp + fp)
    if t_sh:
        recall = 1.0 if fp == fn == 0 else tp / (tp + fn)
    return precision, recall, t_tok == p_tok


def corpus_scores(truths: dict[str, str], preds: dict[str, str]) -> dict[str, float]:
    """Corpus P, R, F1, accuracy and the number of empty predictions."""
    ps: list[float] = []
    rs: list[float] = []
    exact = empty = 0
    for page_id, truth in truths.items():
        pred = preds.get(page_id) or ""
        p, r, same = page_scores(truth, pred)
        if p is not None:
            ps.append(p)
        if r is not None:
            rs.append(r)
        exact += same
        empty += not tokens(pred)
    precision = sum(ps) / len(ps) if ps else 0.0
    recall = sum(rs) / len(rs) if rs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": exact / max(1, len(truths)), "empty": empty}


# --- data --------------------------------------------------------------------------------------------------------


def find_data(path: str | None) -> Path:
    """The benchmark folder from a path (the benchmark folder itself or a ``shared`` folder); exits if missing."""
    candidates = []
    base = Path(path) if path else DEFAULT_SHARED
    candidates = [base, base / BENCH_SUBDIR]
    for cand in candidates:
        if (cand / "ground-truth.json").is_file() and (cand / "html").is_dir():
            return cand
    sys.exit(
        f"benchmark data not found: expected ground-truth.json and html/ in {base} or {base / BENCH_SUBDIR}\n"
        "(the data lives in ../shared beside the repository; pass its path as the first argument)"
    )


def load_split(data: Path, split: str) -> dict[str, dict[str, str]]:
    """Ground truth items of the split: {id: {"articleBody", "url"}}."""
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    if split == "dev":
        return {k: v for k, v in truth.items() if k[0] not in HOLDOUT_PREFIXES}
    if split == "holdout":
        return {k: v for k, v in truth.items() if k[0] in HOLDOUT_PREFIXES}
    return truth


# --- extractors (each run in a worker process) -------------------------------------------------------------------


def _make_extractor(name: str):  # noqa: ANN202 - returns a callable (bytes, url) -> str
    if name == "healthdex":
        from stripper import extract_article

        return lambda html, url: extract_article(html, url)["text"]
    if name in ("trafilatura-precision", "trafilatura"):
        import trafilatura

        options: dict[str, Any] = (
            {"favor_precision": True, "include_comments": False} if name.endswith("precision") else {}
        )
        return lambda html, url: trafilatura.extract(html, url=url, **options) or ""
    if name == "readability-lxml":
        import lxml.html
        from readability import Document

        def run(html: bytes, url: str) -> str:
            summary = Document(html, url=url).summary(html_partial=True)
            return lxml.html.fromstring(summary).text_content() if summary.strip() else ""

        return run
    raise SystemExit(f"unknown extractor {name!r}")


def worker(name: str, data: Path, split: str, out: Path) -> None:
    """Extract every page of the split with one extractor; write predictions and extraction seconds."""
    items = load_split(data, split)
    pages = {k: gzip.decompress((data / "html" / f"{k}.html.gz").read_bytes()) for k in sorted(items)}
    extract = _make_extractor(name)
    preds: dict[str, str] = {}
    errors = 0
    elapsed = 0.0
    clock = time.perf_counter
    for page_id, html in pages.items():
        start = clock()
        try:
            text = extract(html, items[page_id]["url"])
        except Exception:  # noqa: BLE001 - an extractor failing on a page scores an empty prediction
            text = ""
            errors += 1
        elapsed += clock() - start
        preds[page_id] = text or ""
    out.write_text(json.dumps({"preds": preds, "seconds": elapsed, "errors": errors}), encoding="utf-8")


# --- main ----------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", nargs="?", help="the shared folder or the benchmark folder (default ../shared)")
    ap.add_argument("--split", choices=("dev", "holdout", "all"), default="all")
    ap.add_argument(
        "--extractors", default=",".join(EXTRACTORS), help=f"comma-separated subset of {', '.join(EXTRACTORS)}"
    )
    ap.add_argument("--worst", type=int, default=0, help="also list the N lowest-F1 pages of the first extractor")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    data = find_data(args.data)
    if args.worker:
        worker(args.worker, data, args.split, Path(args.out))
        return
    names = [n.strip() for n in args.extractors.split(",") if n.strip()]
    items = load_split(data, args.split)
    truths = {k: v["articleBody"] for k, v in items.items()}
    rows = []
    results: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            out = Path(tmp) / f"{name}.json"
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                str(data),
                "--split",
                args.split,
                "--worker",
                name,
                "--out",
                str(out),
            ]
            subprocess.run(cmd, check=True, cwd=REPO)
            result = json.loads(out.read_text(encoding="utf-8"))
            results[name] = result["preds"]
            scores = corpus_scores(truths, result["preds"])
            rows.append((name, scores, len(items) / result["seconds"] if result["seconds"] else 0.0, result["errors"]))
    print(f"article-extraction-benchmark: {data}  split={args.split}  pages={len(items)}")
    header = (
        f"{'extractor':<24}{'precision':>10}{'recall':>9}{'F1':>8}{'accuracy':>10}{'empty':>7}{'errors':>8}"
        f"{'pages/s':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, s, speed, errors in rows:
        print(
            f"{name:<24}{s['precision']:>10.3f}{s['recall']:>9.3f}{s['f1']:>8.3f}{s['accuracy']:>10.3f}"
            f"{s['empty']:>7d}{errors:>8d}{speed:>9.1f}"
        )
    if args.worst and names:
        preds = results[names[0]]
        scored = []
        for page_id, truth in truths.items():
            p, r, _ = page_scores(truth, preds.get(page_id, ""))
            p = p if p is not None else 0.0
            r = r if r is not None else 0.0
            scored.append((2 * p * r / (p + r) if p + r else 0.0, p, r, page_id))
        print(f"\nlowest-F1 pages for {names[0]}:")
        for f1, p, r, page_id in sorted(scored)[: args.worst]:
            print(f"  {f1:.3f}  P={p:.3f} R={r:.3f}  {page_id[:12]}  {items[page_id]['url'][:90]}")


if __name__ == "__main__":
    main()
