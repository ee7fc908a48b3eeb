"""The fault table (issue 6): every fault class, how many trials, how many survived, records lost and duplicated.

    .venv/bin/python bench/faults.py                 # everything: ~15-25 min on 2 cores
    .venv/bin/python bench/faults.py --quick         # 3 kills per loop, 1,000 queries, no ../shared pages

Rows:
- one per hostile-server class (tests/faultlib.py SCENARIOS, each a real ``healthdex crawl`` against replay on
  127.0.0.1): a trial survives when the crawl exits 0 without a traceback, every good article comes out once, the
  victim comes out or is in the report's ``failed_pages`` with the expected reason, nothing off-site is requested
  and memory/time stay under the caps.  Lost = expected articles missing; duplicated = articles written twice.
- crawl SIGKILL: each kill is a trial; lost/duplicated are counted over the final output after the restarts.
- index SIGKILL: each kill, at a seeded fault point of the writer, is a trial (the index must hold exactly the last
  completed run's documents, open and answer a search after it); lost/duplicated compare the final document keys
  with the records.
- index input and files (issue 18): poison records, odd JSONL values, over-long lines, a full disk, a damaged
  table of contents, failed runs' orphan files; each trial is a real ``healthdex index`` (peak MB is its largest
  resident size) that must exit as expected without a traceback and keep every good record exactly once.
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
        self.peak_mb = 0.0


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
    """``healthdex index`` SIGKILLed at seeded fault points (tests/test_kill_index.py), completed runs between."""
    from collections import Counter

    import test_kill_index as tki

    row = Row(f"index SIGKILL at fault points x{kills} + rerun")
    started = time.monotonic()
    survived_kills = 0

    def counting(index_dir):
        nonlocal survived_kills
        tki._searchable(index_dir)
        survived_kills += 1

    with tempfile.TemporaryDirectory(prefix="fault-index-kill-") as tmp:
        try:
            loop = tki.kill_loop(Path(tmp), n_kills=kills, seed=seed, n_records=6000 if kills > 5 else 1500,
                                 check=counting)
        except AssertionError as exc:
            row.trials, row.survived = kills, survived_kills
            row.notes.append(f"failed after {survived_kills} good kills: {str(exc)[:300]}")
            return row
        found = Counter(tki.index_keys(loop.index_dir))
        row.trials = kills
        row.lost = sum(1 for k in loop.keys if not found[k])
        row.duplicated = sum(1 for n in found.values() if n > 1)
        extra = set(found) - set(loop.keys)
        row.survived = survived_kills if not (row.lost or row.duplicated or extra) else 0
        row.notes.append(f"points {Counter(p.split('#')[0] for p in loop.points)}; {loop.completed} completed runs")
    row.seconds = time.monotonic() - started
    return row


# --- indexer rows (issue 18): each trial is a real `healthdex index` (or search) in a subprocess ---------------
def _healthdex(row: Row, *args: str, limit_file_size: int | None = None, env: dict[str, str] | None = None):
    """Run ``healthdex ARGS`` (with ``env`` added to the environment, files limited to ``limit_file_size`` bytes);
    the row's peak MB and seconds include it.  Returns the CompletedProcess."""
    import json
    import subprocess

    from faultlib import _RSS_WRAPPER, REPO, healthdex_env

    def preexec() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))

    with tempfile.NamedTemporaryFile(suffix=".json") as rss:
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", _RSS_WRAPPER, rss.name, *args], cwd=REPO,
                              env=healthdex_env(extra=env), capture_output=True, text=True, timeout=900,
                              preexec_fn=preexec if limit_file_size else None)
        row.seconds += time.monotonic() - started
        try:
            row.peak_mb = max(row.peak_mb, json.loads(Path(rss.name).read_text() or "{}").get("self_kb", 0) / 1024)
        except ValueError:
            pass
    return proc


def _index_keys(index_dir: Path) -> list[str]:
    from indexer.schema import KEY
    from indexer.store import open_index

    with open_index(index_dir).searcher() as s:
        return [d[KEY] for d in s.all_stored_fields()]


def _judge(row: Row, name: str, proc, expected: set[str], index_dir: Path, *, code: int = 0, extra=()) -> None:
    """One trial: ``proc`` exited ``code`` without a traceback and the index holds every key of ``expected``
    once; ``extra`` are further problems found by the caller."""
    from collections import Counter

    problems = list(extra)
    if proc.returncode != code:
        problems.append(f"exit {proc.returncode}: {proc.stderr[-300:]}")
    if "Traceback" in proc.stderr:
        problems.append("traceback: " + proc.stderr[proc.stderr.index("Traceback"):][:300])
    try:
        found = Counter(_index_keys(index_dir))
    except Exception as exc:  # noqa: BLE001 - an index that does not open is the finding
        found = Counter()
        problems.append(f"index does not open: {exc}")
    lost = sum(1 for k in expected if not found[k])
    row.lost += lost
    row.duplicated += sum(1 for n in found.values() if n > 1)
    row.trials += 1
    if lost or problems or any(n > 1 for n in found.values()):
        row.notes.append(f"{name}: lost {lost}; " + "; ".join(problems)[:400])
    else:
        row.survived += 1


def _good_lines(n: int, prefix: str) -> list[str]:
    import json

    return [json.dumps({"id": f"{prefix}{i}", "text": f"sciatica back pain note {prefix}{i}"}) for i in range(n)]


def index_poison_row() -> Row:
    """An article repeating one word 70,000 times (its positions overflow W3's inline term entry)."""
    import json

    from test_index_faults import make_records

    row = Row("index: poison record (one word x70,000)")
    poison = json.dumps({"id": "poison-1", "text": "repeated " * 70_000})
    poison2 = json.dumps({"id": "poison-2", "text": "echoes " * 70_000 + " repeated"})
    big = [json.dumps(r) for r in make_records(400, "bulk-")]  # enough postings for the bulk writer's own path
    trials = {
        "alone": (_good_lines(20, "g") + [poison], ()),
        "two articles": (_good_lines(20, "g") + [poison, poison2], ()),
        "bulk path": (big + [poison, poison2], ()),
        "--procs 2": (big + [poison, poison2], ("--procs", "2")),
        "update + --optimize": (_good_lines(20, "g") + [poison], ("--optimize",)),
    }
    for name, (lines, opts) in trials.items():
        with tempfile.TemporaryDirectory(prefix="fault-index-poison-") as tmp:
            src, idx = Path(tmp) / "a.jsonl", Path(tmp) / "idx"
            src.write_text("\n".join(lines) + "\n")
            if "--optimize" in opts:  # an index with a segment already, then the poison in a second, then merged
                _healthdex(row, "index", str(src), "--index", str(idx))
                src.write_text("\n".join(_good_lines(20, "h") + [poison.replace("poison-1", "poison-3")]) + "\n")
                lines = lines + _good_lines(20, "h") + [poison.replace("poison-1", "poison-3")]
            proc = _healthdex(row, "index", str(src), "--index", str(idx), *opts)
            _judge(row, name, proc, {json.loads(line)["id"] for line in lines}, idx)
    return row


def index_odd_values_row() -> Row:
    """Odd JSON values (tests/test_index_input.py ODD_VALUES: 5,000-digit numbers, 100,000-deep nesting, lone
    surrogates, unparsable URLs, ...) in every field: one trial per value."""
    import re

    from test_index_input import FIELDS, ODD_VALUES

    row = Row("index: odd JSONL values in any field")
    for n, value in enumerate(ODD_VALUES):
        with tempfile.TemporaryDirectory(prefix="fault-index-odd-") as tmp:
            src, idx = Path(tmp) / "a.jsonl", Path(tmp) / "idx"
            good = _good_lines(5, "first-") + _good_lines(5, "last-")
            odd = [f'{{"id": "odd-{f}", "url": "https://example.org/{f}", "text": "good text", "{f}": {value}}}'
                   for f in FIELDS]
            src.write_text("\n".join(good[:5] + odd + good[5:]) + "\n")
            proc = _healthdex(row, "index", str(src), "--index", str(idx))
            reported = set(re.findall(r"^healthdex: .*?:(\d+): .+, skipped$", proc.stderr, re.M))
            keys = set(_index_keys(idx)) if idx.is_dir() else set()
            quiet = sum(int(k) for k in re.findall(r"(\d+) (?:no text|error record|unchanged)", proc.stdout))
            extra = []
            if len(keys) - 10 + len(reported) + quiet != len(odd):
                extra.append(f"{len(odd)} odd lines: {len(keys) - 10} indexed, {len(reported)} reported, {quiet} quiet")
            if len(reported) != len(proc.stderr.splitlines()):
                extra.append("stderr lines other than one per skipped line")
            _judge(row, f"value {n} ({value[:20]})", proc, {f"{p}{i}" for p in ("first-", "last-") for i in range(5)},
                   idx, extra=extra)
    return row


def index_long_lines_row() -> Row:
    """Input lines far over --max-line-bytes (16 MiB): a 96 MB record, a 96 MB --delete-gone line, a 200 MB file
    with no newline at all."""
    row = Row("index: over-long input lines (96-200 MB)")
    for name in ("record", "--delete-gone line", "no newline"):
        with tempfile.TemporaryDirectory(prefix="fault-index-long-") as tmp:
            src, gone, idx = Path(tmp) / "a.jsonl", Path(tmp) / "gone.txt", Path(tmp) / "idx"
            good = _good_lines(10, "g")
            with src.open("w") as fh:
                fh.write("\n".join(good[:5]) + "\n")
                if name == "record":
                    fh.write('{"id": "huge", "text": "' + "x" * (96 << 20) + '"}\n')
                fh.write("\n".join(good[5:]) + "\n")
                if name == "no newline":
                    fh.write("y" * (200 << 20))
            gone.write_text("g0\n" + ("z" * (96 << 20) if name.startswith("--delete") else "") + "\ng1\n")
            proc = _healthdex(row, "index", str(src), "--index", str(idx), "--delete-gone", str(gone))
            extra = [] if "line longer than 16,777,216 bytes" in proc.stderr else ["no message for the long line"]
            _judge(row, name, proc, {f"g{i}" for i in range(2, 10)}, idx, extra=extra)
    return row


def index_disk_full_row() -> Row:
    """An update that runs out of space (file size limit, as ``ulimit -f``: EFBIG) at several moments: one line,
    exit 2, the folder exactly as before; the same update then completes."""
    import json
    import os

    from test_index_faults import make_records

    row = Row("index: disk full (file size limit) mid-update")
    for limit in (20_000, 100_000, 400_000, 1_000_000, 1_800_000):  # the largest new file is ~2.2 MB
        with tempfile.TemporaryDirectory(prefix="fault-index-full-") as tmp:
            base, update, idx = Path(tmp) / "base.jsonl", Path(tmp) / "update.jsonl", Path(tmp) / "idx"
            base.write_text("".join(json.dumps(r) + "\n" for r in make_records(300, "base-")))
            update.write_text("".join(json.dumps(r) + "\n" for r in make_records(3000, "new-", seed=5)))
            _healthdex(row, "index", str(base), "--index", str(idx))
            files = sorted(os.listdir(idx))
            proc = _healthdex(row, "index", str(update), "--index", str(idx), limit_file_size=limit)
            extra = []
            if len(proc.stderr.splitlines()) != 1 or "cannot write the index" not in proc.stderr:
                extra.append(f"message: {proc.stderr[-300:]}")
            if sorted(os.listdir(idx)) != files:
                extra.append(f"files changed: {sorted(set(os.listdir(idx)) ^ set(files))[:5]}")
            _judge(row, f"limit {limit:,} B", proc, {f"base-{i:05d}" for i in range(300)}, idx, code=2, extra=extra)
            again = _healthdex(row, "index", str(update), "--index", str(idx))
            if again.returncode != 0 or len(_index_keys(idx)) != 3300:
                row.survived -= 1
                row.notes.append(f"limit {limit}: the rerun did not complete: {again.stderr[-300:]}")
    return row


def index_damaged_toc_row(n: int = 20) -> Row:
    """A damaged latest table of contents (seeded bit flips, overwritten bytes, truncation, random bytes):
    ``search`` and ``index`` say so in one line (or work, when the damage is harmless), and deleting the file as
    the message says brings back the commit before it."""
    import json
    import os
    import random
    import shutil

    from test_index_faults import make_records

    row = Row("index: damaged table of contents")
    rng = random.Random(18)
    with tempfile.TemporaryDirectory(prefix="fault-index-toc-") as tmp:
        first, second, empty = Path(tmp) / "a.jsonl", Path(tmp) / "b.jsonl", Path(tmp) / "empty.jsonl"
        first.write_text("".join(json.dumps(r) + "\n" for r in make_records(30, "a-")))
        second.write_text("".join(json.dumps(r) + "\n" for r in make_records(20, "b-")))
        empty.write_text("")
        pristine = Path(tmp) / "pristine"
        _healthdex(row, "index", str(first), "--index", str(pristine))
        _healthdex(row, "index", str(second), "--index", str(pristine))
        toc_name = max((n for n in os.listdir(pristine) if n.endswith(".toc")), key=lambda n: int(n[6:-4]))
        data = (pristine / toc_name).read_bytes()
        for trial in range(n):
            damaged = bytearray(data)
            kind = trial % 4
            if kind == 0:
                damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
            elif kind == 1:
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            elif kind == 2:
                damaged = damaged[: rng.randrange(len(damaged))]
            else:
                damaged = bytearray(rng.randbytes(len(damaged)))
            idx = Path(tmp) / f"idx{trial}"
            shutil.copytree(pristine, idx)
            (idx / toc_name).write_bytes(bytes(damaged))
            extra = []
            for args in (("search", "pain", "--index", str(idx)), ("index", str(empty), "--index", str(idx))):
                proc = _healthdex(row, *args)
                if "Traceback" in proc.stderr or len(proc.stderr.splitlines()) > 1:
                    extra.append(f"{args[0]}: {proc.stderr[-300:]}")
                elif proc.returncode == 2 and "is damaged" in proc.stderr and "delete" in proc.stderr:
                    (idx / toc_name).unlink(missing_ok=True)  # as the message says
            expected = {f"a-{i:05d}" for i in range(30)}
            _judge(row, f"damage {trial} (kind {kind})", proc, expected, idx, code=proc.returncode, extra=extra)
    return row


def index_orphans_row() -> Row:
    """Segment files of failed runs: killed at each fault point, or out of space; then a run with nothing to commit
    (``--optimize`` of a one-segment index).  A trial survives when no segment file is left that no table of
    contents lists, and the index is the last commit."""
    import json

    from test_index_faults import make_records, orphans

    row = Row("index: orphan segment files of failed runs")
    failures = [("kill", p) for p in ("index.add#500", "index.commit", "index.merged", "index.toc")] + [
        ("full", 300_000)]
    for how, what in failures:
        with tempfile.TemporaryDirectory(prefix="fault-index-orphans-") as tmp:
            base, update, idx = Path(tmp) / "base.jsonl", Path(tmp) / "update.jsonl", Path(tmp) / "idx"
            base.write_text("".join(json.dumps(r) + "\n" for r in make_records(200, "base-")))
            update.write_text("".join(json.dumps(r) + "\n" for r in make_records(2000, "new-", seed=6)))
            _healthdex(row, "index", str(base), "--index", str(idx))
            if how == "kill":
                _healthdex(row, "index", str(update), "--index", str(idx), env={"HEALTHDEX_FAULT_POINT": what})
            else:
                _healthdex(row, "index", str(update), "--index", str(idx), limit_file_size=what)
            proc = _healthdex(row, "index", "--optimize", "--index", str(idx))
            left = orphans(idx)
            extra = [f"{len(left)} orphan files left: {left[:3]}"] if left else []
            _judge(row, f"{how} {what}", proc, {f"base-{i:05d}" for i in range(200)}, idx, extra=extra)
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
        rows += [index_poison_row(), index_odd_values_row(), index_long_lines_row(), index_disk_full_row(),
                 index_damaged_toc_row(), index_orphans_row()]
        rows.append(clean_row(500, shared=not args.quick))
        rows.append(search_row(queries))
        rows.append(profiles_row())
    width = max(len(r.name) for r in rows)
    print(f"{'fault class':<{width}}  {'trials':>6}  {'survived':>8}  {'lost':>5}  {'duplicated':>10}  {'peak MB':>7}  "
          f"{'time s':>7}")
    for r in rows:
        peak = f"{r.peak_mb:>7.0f}" if r.peak_mb else f"{'-':>7}"
        print(f"{r.name:<{width}}  {r.trials:>6}  {r.survived:>8}  {r.lost:>5}  {r.duplicated:>10}  {peak}  "
              f"{r.seconds:>7.0f}")
    print(f"total wall time {time.monotonic() - started:.0f} s")
    bad = [r for r in rows if r.survived != r.trials or r.lost or r.duplicated or r.trials == 0]
    for r in rows:
        for note in r.notes[:5]:
            print(f"  note [{r.name}]: {note}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
