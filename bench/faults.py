"""The fault table (issue 6): every fault class, how many trials, how many survived, records lost and duplicated.

    .venv/bin/python bench/faults.py                 # everything: ~15-25 min on 2 cores
    .venv/bin/python bench/faults.py --quick         # 3 kills per loop, 1,000 queries, no ../shared pages

Rows:
- one per hostile-server class (tests/faultlib.py SCENARIOS, each a real ``healthdex crawl`` against replay on
  127.0.0.1): a trial survives when the crawl exits 0 without a traceback, every good article comes out once, the
  victim comes out or is in the report's ``failed_pages`` with the expected reason, nothing off-site is requested
  and memory/time stay under the caps.  Lost = expected articles missing; duplicated = articles written twice.
- crawl SIGKILL: each kill is a trial; lost/duplicated are counted over the final output after the restarts.
- index SIGKILL: each kill is a trial (the index must open and answer a search after it); lost/duplicated compare
  the final document keys with the records.
- clean: each page (../shared/data/health-pages when present, plus generated malformed HTML) is a trial; lost =
  pages without an output record (an exception escaped), duplicated = pages with more than one.
- search: each generated query is a trial (exit 0/1/2, no traceback, under 5 s).
- profiles: each bad profile is a trial (ProfileError naming file and field).

Goal: survived = trials, lost = 0, duplicated = 0 on every row.  Exit status 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]


class Row:
    def __init__(self, name: str) -> None:
        self.name, self.trials, self.survived, self.lost, self.duplicated = name, 0, 0, 0, 0
        self.notes: list[str] = []
        self.seconds = 0.0


def http_rows(repeat: int, only: list[str] | None) -> list[Row]:
    from faultlib import SCENARIOS, run_scenario

    rows: dict[str, Row] = {}
    for scenario in SCENARIOS:
        if only and scenario.name not in only:
            continue
        row = rows.setdefault(scenario.fault_class, Row(scenario.fault_class))
        for trial in range(repeat):
            started = time.monotonic()
            with tempfile.TemporaryDirectory(prefix=f"fault-{scenario.name}-") as tmp:
                result = run_scenario(scenario, Path(tmp))
            row.seconds += time.monotonic() - started
            row.trials += 1
            row.lost += len(result.outcome.lost)
            row.duplicated += len(result.outcome.duplicated)
            if result.outcome.survived:
                row.survived += 1
            else:
                row.notes.append(f"{scenario.name}#{trial}: {result.outcome.explain()[:300]}")
            print(f"  {scenario.name:<28} {'ok' if result.outcome.survived else 'FAILED'} "
                  f"{result.run.wall_s:5.1f}s {result.run.peak_rss_mb:4.0f} MB", file=sys.stderr, flush=True)
    return list(rows.values())


def crawl_kill_row(kills: int, seed: int) -> Row:
    from collections import Counter

    from faultlib import article_urls, read_articles
    from test_kill_crawl import kill_loop

    row = Row(f"crawl SIGKILL x{kills} + restart")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fault-crawl-kill-") as tmp:
        site, out, loop, final = kill_loop(Path(tmp), n_kills=kills, seed=seed, n_pages=120 if kills > 5 else 30)
        counts = Counter(article_urls(read_articles(out)))
        row.trials = loop.kills
        row.lost = sum(1 for url in site.good if counts[url] == 0)
        row.duplicated = sum(1 for n in counts.values() if n > 1)
        from faultlib import check_outputs

        outcome = check_outputs(out, site.good)
        ok = final.returncode == 0 and outcome.survived
        row.survived = loop.kills if ok else 0
        import json

        resumes = json.loads((out / "crawl-report.json").read_text()).get("resumes")
        row.notes.append(f"{loop.kills} kills ({loop.interrupted_runs} mid-run, {loop.finished_early} runs ended "
                         f"before their kill); report resumes={resumes}; seconds after start-up {loop.moments}")
        if not ok:
            row.notes.append(f"final exit {final.returncode}: {outcome.explain()[:300]} {final.stderr[-300:]}")
    row.seconds = time.monotonic() - started
    return row


def index_kill_row(kills: int, seed: int) -> Row:
    from collections import Counter

    import test_kill_index as tki

    row = Row(f"index SIGKILL x{kills} + rerun")
    started = time.monotonic()
    survived_kills = 0
    original = tki._searchable

    def counting(index_dir):
        nonlocal survived_kills
        original(index_dir)
        survived_kills += 1

    tki._searchable = counting
    try:
        with tempfile.TemporaryDirectory(prefix="fault-index-kill-") as tmp:
            try:
                keys, index_dir, n = tki.kill_loop(Path(tmp), n_kills=kills, seed=seed,
                                                   n_records=6000 if kills > 5 else 1500)
            except AssertionError as exc:
                row.trials, row.survived = kills, survived_kills
                row.notes.append(f"failed after {survived_kills} good kills: {str(exc)[:300]}")
                return row
            found = Counter(tki.index_keys(index_dir))
            row.trials = kills
            row.lost = sum(1 for k in keys if not found[k])
            row.duplicated = sum(1 for n in found.values() if n > 1)
            extra = set(found) - set(keys)
            row.survived = survived_kills if not (row.lost or row.duplicated or extra) else 0
            row.notes.append(f"{n} of {kills} runs killed mid-way")
    finally:
        tki._searchable = original
    row.seconds = time.monotonic() - started
    return row


def clean_row(generated: int, shared: bool) -> Row:
    import json
    import random

    from stripper.cli import clean_pages
    from stripper.sources import HTML_SUFFIXES, Page, iter_pages

    row = Row("clean: shared pages + malformed HTML")
    started = time.monotonic()
    pages = []
    if shared and (ROOT.parent / "shared" / "data" / "health-pages").is_dir():
        folder = ROOT.parent / "shared" / "data" / "health-pages"
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(HTML_SUFFIXES))
        pages += list(iter_pages([str(p) for p in files]))
    rng = random.Random(6)
    tags = ["<div>", "</div>", "<p>", "</p>", "<table>", "<td>", "<script>", "</script>", "<!--", "-->", "<svg>",
            "<![CDATA[", "\x00", "&#0;", "&#x110000;", "<meta charset=x-bogus>", "<a href='", "\ufeff", "text "]
    for i in range(generated):
        body = "".join(rng.choice(tags) * rng.choice([1, 1, 1, 50, 3000]) for _ in range(rng.randint(0, 60)))
        pages.append(Page(f"generated-{i}.html", body.encode(rng.choice(["utf-8", "utf-16", "latin-1"]), "replace")))
    outputs: dict[str, int] = defaultdict(int)
    for page in pages:
        row.trials += 1
        try:
            for record in clean_pages([page]):
                json.dumps(record, ensure_ascii=False)
                outputs[page.source] += 1
        except Exception as exc:  # noqa: BLE001 - an escaping exception is the finding
            row.notes.append(f"{page.source}: {exc.__class__.__name__}: {exc}"[:200])
    row.lost = sum(1 for p in pages if outputs[p.source] == 0)
    row.duplicated = sum(1 for n in outputs.values() if n > 1)
    row.survived = sum(1 for p in pages if outputs[p.source] == 1)
    row.seconds = time.monotonic() - started
    return row


def jsonld_row() -> Row:
    """Issue 18 item 5: hostile JSON-LD (200 KB of nested arrays, deep objects, an oversized block) beside a good
    article: each page must give its article, with the good JSON-LD's metadata, and no error."""
    import json

    from stripper.cli import clean_page
    from stripper.sources import Page

    row = Row("clean: hostile JSON-LD beside an article")
    started = time.monotonic()
    good = json.dumps({"@type": "NewsArticle", "headline": "Hearing loss", "author": {"name": "Jane Doe"}})
    hostile = {
        "nested arrays": "[" * 100_000 + "]" * 100_000,
        "nested objects": '{"a":' * 50_000 + "1" + "}" * 50_000,
        "nested names": '{"@type": "Article", "author": ' + '{"name": ' * 900 + '"x"' + "}" * 901,
        "oversized block": json.dumps({"@type": "Article", "articleBody": "x " * 3_000_000}),
        "unclosed string": '{"@type": "Article", "headline": "' + "a" * 1_000_000,
    }
    article = "<p>" + "Hearing loss is common as people get older, and it comes on slowly. " * 6 + "</p>"
    for name, block in hostile.items():
        row.trials += 1
        html = (f'<html><head><script type="application/ld+json">{block}</script><script type="application/ld+json">'
                f"{good}</script></head><body><article>{article}</article></body></html>")  # fmt: skip
        try:
            out = clean_page(Page(f"{name}.html", html.encode()))
        except Exception as exc:  # noqa: BLE001 - an escaping exception is the finding
            row.lost += 1
            row.notes.append(f"{name}: {type(exc).__name__}: {exc}"[:200])
            continue
        if "error" in out or "Hearing loss is common" not in out.get("text", "") or out.get("authors") != ["Jane Doe"]:
            row.lost += 1
            row.notes.append(f"{name}: {json.dumps(out)[:200]}")
        else:
            row.survived += 1
    row.seconds = time.monotonic() - started
    return row


def huge_page_row(cap_mb: int = 1024, cap_s: float = 60.0) -> Row:
    """Issue 18 item 6: a 10 MiB page of nested <div>s (and of flat tags, and of nested inline tags) cleaned by the
    real command, then the next page: under ``cap_mb`` peak memory and ``cap_s`` seconds, the next page cleaned."""
    import json
    import os
    import subprocess

    row = Row("clean: 10 MiB pages of nested or flat tags")
    started = time.monotonic()
    size = 10 * 1024 * 1024
    pages = {"nested divs": "<div>" * (size // 5), "flat tags": "<b>x</b>" * (size // 8),
             "nested inline": "<b><i>" * (size // 6)}  # fmt: skip
    peaks = []
    for name, body in pages.items():
        row.trials += 1
        with tempfile.TemporaryDirectory(prefix="fault-huge-page-") as tmp:
            (Path(tmp) / "a-huge.html").write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
            (Path(tmp) / "b-next.html").write_text(
                "<html><body><article><p>" + "The next page, cleaned as usual after the huge one. " * 5
                + "</p></article></body></html>", encoding="utf-8")  # fmt: skip
            t0 = time.monotonic()
            with open(Path(tmp) / "out", "w+") as out, open(Path(tmp) / "err", "w+") as err:
                proc = subprocess.Popen([sys.executable, "-m", "healthdex", "clean", "--jobs", "1", tmp],
                                        cwd=ROOT, stdout=out, stderr=err)  # fmt: skip
                _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak memory
                seconds = time.monotonic() - t0
                out.seek(0), err.seek(0)
                output, errors = out.read(), err.read()
        code = os.waitstatus_to_exitcode(status)
        peak_mb = usage.ru_maxrss / 1024
        peaks.append(f"{name}: {peak_mb:.0f} MB {seconds:.1f} s")
        records = [json.loads(line) for line in output.splitlines() if line.strip()]
        ok = (code == 0 and len(records) == 2 and "The next page" in records[1].get("text", "")
              and "Traceback" not in errors and peak_mb <= cap_mb and seconds <= cap_s)  # fmt: skip
        row.survived += ok
        row.lost += len(records) != 2
        if not ok:
            row.notes.append(f"{name}: exit {code}, {len(records)} records, {errors[-200:]}")
    row.notes.append("; ".join(peaks))
    row.seconds = time.monotonic() - started
    return row


def search_row(n_queries: int) -> Row:
    import json

    import test_fuzz_search as tfs
    from hypothesis import HealthCheck, given, settings

    from support import run_healthdex

    row = Row(f"search: {n_queries} generated queries")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fault-search-") as tmp:
        records = Path(tmp) / "records.jsonl"
        import random

        from faultlib import _paragraph

        rng = random.Random(6)
        with records.open("w", encoding="utf-8") as fh:
            for i in range(60):
                fh.write(json.dumps({"url": f"https://www.example.org/articles/{i}", "title": _paragraph(rng, 6),
                                     "text": _paragraph(rng, 200), "published": f"{2005 + i % 18}-01-01"}) + "\n")
        index_dir = Path(tmp) / "index"
        assert run_healthdex("index", str(records), "--index", str(index_dir)).returncode == 0

        @settings(max_examples=n_queries, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(query=tfs.ANY_QUERY)
        def run(query):
            row.trials += 1
            try:
                tfs._check(index_dir, query)
                row.survived += 1
            except AssertionError as exc:
                row.notes.append(str(exc)[:200])

        run()
    row.seconds = time.monotonic() - started
    return row


def profiles_row() -> Row:
    from test_fuzz_profiles import BAD_PROFILES

    from profiles import ProfileError, parse_profile

    row = Row("profiles: malformed / unknown keys / bad URLs / regexes")
    with tempfile.TemporaryDirectory(prefix="fault-profiles-") as tmp:
        for name, (text, field) in sorted(BAD_PROFILES.items()):
            path = Path(tmp) / f"{name}.toml"
            path.write_text(text, encoding="utf-8")
            row.trials += 1
            try:
                parse_profile(path)
                row.notes.append(f"{name}: accepted")
            except ProfileError as exc:
                if str(path) in str(exc) and (field is None or f"'{field}'" in str(exc)):
                    row.survived += 1
                else:
                    row.notes.append(f"{name}: unclear message {exc}")
            except Exception as exc:  # noqa: BLE001
                row.notes.append(f"{name}: {exc.__class__.__name__}: {exc}")
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 kills per loop, 1,000 queries, no shared pages")
    parser.add_argument("--repeat", type=int, default=1, help="trials per hostile-server scenario")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--only", nargs="*", help="hostile-server scenario names to run (others skipped)")
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()
    kills = 3 if args.quick else args.kills
    queries = 1000 if args.quick else args.queries
    started = time.monotonic()
    rows = http_rows(args.repeat, args.only)
    if not args.only:
        rows.append(crawl_kill_row(kills, args.seed))
        rows.append(index_kill_row(kills, args.seed))
        rows.append(clean_row(500, shared=not args.quick))
        rows.append(jsonld_row())
        rows.append(huge_page_row())
        rows.append(search_row(queries))
        rows.append(profiles_row())
    width = max(len(r.name) for r in rows)
    print(f"{'fault class':<{width}}  {'trials':>6}  {'survived':>8}  {'lost':>5}  {'duplicated':>10}  {'time s':>7}")
    for r in rows:
        print(f"{r.name:<{width}}  {r.trials:>6}  {r.survived:>8}  {r.lost:>5}  {r.duplicated:>10}  {r.seconds:>7.0f}")
    print(f"total wall time {time.monotonic() - started:.0f} s")
    bad = [r for r in rows if r.survived != r.trials or r.lost or r.duplicated or r.trials == 0]
    for r in rows:
        for note in r.notes[:5]:
            print(f"  note [{r.name}]: {note}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
