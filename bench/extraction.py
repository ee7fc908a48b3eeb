"""Article-extraction benchmarks: healthdex against trafilatura and readability-lxml, one table per set, one run.

    .venv/bin/python bench/extraction.py [SHARED_OR_BENCHMARK_DIR] [--split dev|holdout|all] [--sets a,b]

Data, beside the repository in ``../shared/data/`` (same layout: ``html/<id>.html.gz`` and ``ground-truth.json``):
``article-extraction-benchmark/`` (181 pages, see its MANIFEST.md) and ``modern-news-extraction/`` (248 news pages
from 2023-2026 in 24 languages, see its README).  Both are scored in the same run.  Metric as in the MANIFEST: word
4-gram shingle multisets over Unicode ``\\w+`` tokens; corpus precision = mean over pages with a non-empty
prediction, recall = mean over pages with a non-empty truth, F1 = harmonic mean of the two; accuracy = exact
token-sequence match; empty = pages with no word in the output.

Each extractor runs in its own process, one after the other (so they do not compete for cores), over every set;
pages/s counts extraction time only (files are read and gunzipped before the clock starts), and the last line
gives healthdex's speed as a multiple of trafilatura's measured in the same run.  Split: pages whose id (or, for
ids that are not hex digests, the SHA-1 of the id) starts with a hex digit in ``HOLDOUT_PREFIXES`` are the holdout
(~30%) kept aside while developing; the rest are ``dev``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
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
SETS = ("article-extraction-benchmark", "modern-news-extraction")
HOLDOUT_PREFIXES = "abcde"
EXTRACTORS = ("healthdex", "trafilatura-precision", "trafilatura", "readability-lxml")
_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
_HEX_RE = re.compile(r"^[0-9a-f]{16,}$")


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


def find_sets(path: str | None, names: list[str]) -> dict[str, Path]:
    """{set name: folder} for the named sets under a ``shared`` folder, or the one benchmark folder given; exits
    when none is found."""
    base = Path(path) if path else DEFAULT_SHARED
    if _is_set(base):
        return {base.name: base}
    found = {name: base / "data" / name for name in names if _is_set(base / "data" / name)}
    if not found:
        sys.exit(
            f"benchmark data not found: expected ground-truth.json and html/ in {base} or in "
            f"{', '.join(str(base / 'data' / n) for n in names)}\n"
            "(the data lives in ../shared beside the repository; pass its path as the first argument)"
        )
    return found


def _is_set(folder: Path) -> bool:
    return (folder / "ground-truth.json").is_file() and (folder / "html").is_dir()


def in_holdout(page_id: str) -> bool:
    key = page_id if _HEX_RE.match(page_id) else hashlib.sha1(page_id.encode()).hexdigest()
    return key[0] in HOLDOUT_PREFIXES


def load_split(data: Path, split: str) -> dict[str, dict[str, str]]:
    """Ground truth items of the split: {id: {"articleBody", "url"}}."""
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    if split == "all":
        return truth
    return {k: v for k, v in truth.items() if in_holdout(k) == (split == "holdout")}


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
        import logging

        import lxml.html
        from readability import Document

        logging.getLogger("readability").setLevel(logging.CRITICAL)  # it logs a traceback for each page it fails on

        def run(html: bytes, url: str) -> str:
            summary = Document(html, url=url).summary(html_partial=True)
            return lxml.html.fromstring(summary).text_content() if summary.strip() else ""

        return run
    raise SystemExit(f"unknown extractor {name!r}")


def worker(name: str, sets: dict[str, Path], split: str, out: Path) -> None:
    """Extract every page of each set's split with one extractor; write predictions and extraction seconds."""
    extract = _make_extractor(name)
    result: dict[str, dict[str, Any]] = {}
    clock = time.perf_counter
    for set_name, data in sets.items():
        items = load_split(data, split)
        pages = {k: gzip.decompress((data / "html" / f"{k}.html.gz").read_bytes()) for k in sorted(items)}
        preds: dict[str, str] = {}
        errors = 0
        elapsed = 0.0
        for page_id, html in pages.items():
            start = clock()
            try:
                text = extract(html, items[page_id]["url"])
            except Exception:  # noqa: BLE001 - an extractor failing on a page scores an empty prediction
                text = ""
                errors += 1
            elapsed += clock() - start
            preds[page_id] = text or ""
        result[set_name] = {"preds": preds, "seconds": elapsed, "errors": errors}
    out.write_text(json.dumps(result), encoding="utf-8")


# --- main ----------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", nargs="?", help="the shared folder or one benchmark folder (default ../shared)")
    ap.add_argument("--split", choices=("dev", "holdout", "all"), default="all")
    ap.add_argument("--sets", default=",".join(SETS), help=f"comma-separated subset of {', '.join(SETS)}")
    ap.add_argument(
        "--extractors", default=",".join(EXTRACTORS), help=f"comma-separated subset of {', '.join(EXTRACTORS)}"
    )
    ap.add_argument("--worst", type=int, default=0, help="also list the N lowest-F1 pages of the first extractor")
    ap.add_argument(
        "--clean-jobs",
        type=int,
        default=2,
        help="also time `healthdex clean` over a folder of every "
        "set's pages with 1 and with this many processes (0: skip)",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    sets = find_sets(args.data, [n.strip() for n in args.sets.split(",") if n.strip()])
    if args.worker:
        worker(args.worker, sets, args.split, Path(args.out))
        return
    names = [n.strip() for n in args.extractors.split(",") if n.strip()]
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            out = Path(tmp) / f"{name}.json"
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                args.data or str(DEFAULT_SHARED),
                "--sets",
                ",".join(sets),
                "--split",
                args.split,
                "--worker",
                name,
                "--out",
                str(out),
            ]
            subprocess.run(cmd, check=True, cwd=REPO)
            results[name] = json.loads(out.read_text(encoding="utf-8"))
    header = (
        f"{'extractor':<24}{'precision':>10}{'recall':>9}{'F1':>8}{'accuracy':>10}{'empty':>7}{'errors':>8}"
        f"{'pages/s':>9}"
    )
    speed: dict[str, list[float]] = {name: [0, 0.0] for name in names}  # pages, seconds over every set
    for set_name, data in sets.items():
        items = load_split(data, args.split)
        truths = {k: v["articleBody"] for k, v in items.items()}
        print(f"\n{set_name}: {data}  split={args.split}  pages={len(items)}")
        print(header)
        print("-" * len(header))
        for name in names:
            r = results[name][set_name]
            s = corpus_scores(truths, r["preds"])
            speed[name][0] += len(items)
            speed[name][1] += r["seconds"]
            print(
                f"{name:<24}{s['precision']:>10.3f}{s['recall']:>9.3f}{s['f1']:>8.4f}{s['accuracy']:>10.3f}"
                f"{s['empty']:>7d}{r['errors']:>8d}{len(items) / r['seconds'] if r['seconds'] else 0.0:>9.1f}"
            )
        if args.worst and names:
            _print_worst(names[0], truths, results[names[0]][set_name]["preds"], items, args.worst)
    rates = {name: pages / seconds for name, (pages, seconds) in speed.items() if seconds}
    print("\npages/s over every set: " + ", ".join(f"{name} {rate:.1f}" for name, rate in rates.items()))
    if "healthdex" in rates and "trafilatura" in rates:
        print(f"healthdex / trafilatura speed: {rates['healthdex'] / rates['trafilatura']:.2f}x")
    if args.clean_jobs > 1:
        clean_speed(sets, args.clean_jobs)


def clean_speed(sets: dict[str, Path], jobs: int, rounds: int = 2) -> None:
    """`healthdex clean` over one folder holding every set's pages, with 1 and ``jobs`` processes, alternately
    (``rounds`` times each, the best kept); wall time of the whole command, start-up included.  The load average
    is printed beside it: the ratio only means something when the other processes left the cores free."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for set_name, data in sets.items():
            for page in (data / "html").glob("*.html.gz"):
                (folder / f"{set_name}-{page.name}").symlink_to(page)
        pages = len(list(folder.iterdir()))
        best: dict[int, float] = {}
        load = os.getloadavg()[0]
        for _ in range(rounds):
            for n in (1, jobs):
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "healthdex", "clean", "--jobs", str(n), str(folder)], cwd=REPO,
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
                best[n] = min(best.get(n, float("inf")), time.perf_counter() - start)
    print(
        f"\nhealthdex clean over a folder of {pages} pages (load average {load:.1f} -> {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores): 1 process {pages / best[1]:.1f} pages/s, {jobs} processes "
        f"{pages / best[jobs]:.1f} pages/s: {best[1] / best[jobs]:.2f}x"
    )


def _print_worst(
    name: str, truths: dict[str, str], preds: dict[str, str], items: dict[str, dict[str, str]], n: int
) -> None:
    scored = []
    for page_id, truth in truths.items():
        p, r, _ = page_scores(truth, preds.get(page_id, ""))
        p = p if p is not None else 0.0
        r = r if r is not None else 0.0
        scored.append((2 * p * r / (p + r) if p + r else 0.0, p, r, page_id))
    print(f"lowest-F1 pages for {name}:")
    for f1, p, r, page_id in sorted(scored)[:n]:
        print(f"  {f1:.3f}  P={p:.3f} R={r:.3f}  {page_id[:24]:<24}  {items[page_id]['url'][:90]}")


if __name__ == "__main__":
    main()
