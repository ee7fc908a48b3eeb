"""The fault table (issue 6): every fault class, how many trials, how many survived, records lost and duplicated.

    .venv/bin/python bench/faults.py                 # everything: ~15-25 min on 2 cores
    .venv/bin/python bench/faults.py --quick         # 3 kills per loop, 1,000 queries, no ../shared pages

Rows:
- one per hostile-server class (tests/faultlib.py SCENARIOS, each a real ``healthdex crawl`` against replay on
  127.0.0.1): a trial survives when the crawl exits 0 without a traceback, every good article comes out once, the
  victim comes out or is in the report's ``failed_pages`` with the expected reason, nothing off-site is requested
  and memory/time stay under the caps.  Lost = expected articles missing; duplicated = articles written twice.
- crawl SIGKILL: each kill (at a fault point: half a WARC record, before/after an article line ...) is a trial;
  lost/duplicated are counted over the final output after the restarts.
- issue 18 (one function each): a damaged byte mid-WARC then resume; damaged WARCs through clean and replay; profile
  regexes that backtrack; replay's idle/trickling connections and TLS hosts; 200,000 start URLs with --max-pages 5.
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
        self.peak_mb = 0.0  # the largest peak RSS of a process a trial ran (0: not measured)


def _self_peak_mb() -> float:
    """The peak RSS of this process or of any child it waited for (e.g. a ``healthdex clean``)."""
    import resource

    return max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


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


def warc_resume_row(trials: int) -> Row:
    """Issue 18 (1): a crawl killed at a fault point, one byte of its WARC damaged (a different record each trial),
    then resumed.  Survived: exit 0, no traceback, the damage in crawl-report.json, every record readable before
    still readable after.  Lost: good articles missing + readable records gone; duplicated: articles written twice."""
    import json
    import subprocess
    from collections import Counter

    from faultlib import (
        _RSS_WRAPPER,
        REPO,
        article_urls,
        build_site,
        crawl_args,
        healthdex_env,
        read_articles,
        write_profile,
    )
    from faultpoints_env import fault_env

    from healthdex.warc_reader import WarcReader
    from replay.server import ReplayServer

    row = Row("damaged byte mid-WARC + resume")
    started = time.monotonic()
    for trial in range(trials):
        with tempfile.TemporaryDirectory(prefix="fault-warc-resume-") as tmp:
            root = Path(tmp)
            site = build_site(root, n_good=12)
            write_profile(root / "profiles")
            out, rss = root / "out", root / "rss.json"
            warc = out / "pages.warc.gz"
            with ReplayServer(site.folder) as server:
                args = [sys.executable, "-c", _RSS_WRAPPER, str(rss), *crawl_args(out, server.proxy_url)]
                killed = subprocess.run(args, cwd=REPO, env=healthdex_env(root / "profiles",
                                        fault_env("crawl.article.after_line#8")), capture_output=True, timeout=180)
                spans = list(WarcReader(warc).spans())
                ids = {o: r.rec_headers.get_header("WARC-Record-ID") for o, r in WarcReader(warc).records()}
                quiet = WarcReader(warc, on_damage=lambda damage: None)
                start, end = spans[2 + trial % (len(spans) - 2)]
                data = bytearray(warc.read_bytes())
                data[(start + end) // 2] ^= 0x55
                warc.write_bytes(bytes(data))
                resumed = subprocess.run(args, cwd=REPO, env=healthdex_env(root / "profiles", fault_env(None)),
                                         capture_output=True, text=True, timeout=180)
            row.peak_mb = max(row.peak_mb, json.loads(rss.read_text() or "{}").get("self_kb", 0) / 1024)
            after = {r.rec_headers.get_header("WARC-Record-ID") for _, r in quiet.records()}
            gone = [i for o, i in ids.items() if o != start and i not in after]
            counts = Counter(article_urls(read_articles(out)))
            row.trials += 1
            row.lost += sum(1 for url in site.good if counts[url] == 0) + len(gone)
            row.duplicated += sum(1 for n in counts.values() if n > 1)
            report = json.loads((out / "crawl-report.json").read_text())
            damage = [(d["offset"], d["bytes"]) for d in report.get("warc_damage", [])]
            ok = (killed.returncode == -9 and resumed.returncode == 0 and "Traceback" not in resumed.stderr
                  and damage == [(start, end - start)] and not gone)
            row.survived += ok
            if not ok:
                row.notes.append(f"trial {trial}: exit {resumed.returncode}, damage {damage}, gone {len(gone)}, "
                                 f"{resumed.stderr[-300:]}")
    row.seconds = time.monotonic() - started
    return row


def damaged_warc_row() -> Row:
    """Issue 18 (4): damaged WARCs through ``healthdex clean`` and replay's loader, gzip and plain, damage in a gzip
    member, a record's header, its Content-Length, its block, or a record cut short under a huge Content-Length.
    A trial survives when clean exits 0 without a traceback, reports the damage in one error line, and every other
    page comes out (clean) and is served (replay); lost = other pages missing, duplicated = pages out twice."""
    import gzip as gz
    import io
    import json
    import subprocess
    from collections import Counter

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from healthdex.warc_reader import WarcReader
    from replay.source import load_source

    def write(path: Path, compress: bool) -> None:
        with path.open("wb") as handle:
            writer = WARCWriter(handle, gzip=compress)
            for i in range(10):
                body = f"<html><body><article><h1>Page {i}</h1><p>{'Sleep and health. ' * 60}</p></article>" \
                       f"</body></html>".encode()
                http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
                writer.write_record(writer.create_warc_record(f"https://www.example.org/p{i}.html", "response",
                                                              payload=io.BytesIO(body), length=len(body),
                                                              http_headers=http))

    def damage(path: Path, kind: str) -> None:
        start, end = list(WarcReader(path).spans())[4]
        data = bytearray(path.read_bytes())
        record, gzipped = bytes(data[start:end]), path.suffix == ".gz"
        if kind == "cut short":  # a Content-Length far past the record's block
            plain = gz.decompress(record) if gzipped else record
            plain = plain.replace(b"Content-Length: ", b"Content-Length: 99", 1)
            data[start:end] = gz.compress(plain) if gzipped else plain
        else:
            offset = {"header": 2, "Content-Length": record.find(b"Content-Length: ") + 16, "member": len(record) // 2,
                      "block": record.find(b"Sleep and health")}[kind]
            data[start + offset] ^= 0x55
        path.write_bytes(bytes(data))

    row = Row("damaged WARC: clean + replay")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fault-warc-") as tmp:
        for compress in (True, False):
            for kind in (("member", "cut short") if compress else ("header", "Content-Length", "block", "cut short")):
                path = Path(tmp) / f"{kind}.warc{'.gz' if compress else ''}".replace(" ", "-")
                write(path, compress)
                damage(path, kind)
                clean = subprocess.run([sys.executable, "-m", "healthdex", "clean", str(path)], cwd=ROOT,
                                       capture_output=True, text=True, timeout=120)
                out = [json.loads(line) for line in clean.stdout.splitlines()]
                pages = Counter(o["url"] for o in out if "error" not in o)
                served = len(load_source(path))
                row.trials += 1
                row.lost += (9 - len(pages)) + (9 - served)
                row.duplicated += sum(1 for n in pages.values() if n > 1)
                ok = (clean.returncode == 0 and "Traceback" not in clean.stderr and len(pages) == 9 and served == 9
                      and sum(1 for o in out if "error" in o) == 1)
                row.survived += ok
                if not ok:
                    row.notes.append(f"{path.name}: exit {clean.returncode}, {len(pages)} pages, {served} served")
    row.peak_mb = _self_peak_mb()
    row.seconds = time.monotonic() - started
    return row


def regex_row() -> Row:
    """Issue 18 (7): profile patterns that backtrack catastrophically in Python's engine, each against hostile URLs
    in a child process that must finish within 10 s (the crawl matches links on its reactor thread)."""
    import subprocess

    patterns = [r"((a+))+$", r"(\w+(x)?)+$", ".*" * 11 + "=$", r"(a|a)*$", r"(\w*)*x", r"^(([a-z])+.)+[A-Z]([a-z])+$"]
    urls = ["https://www.example.org/" + "a" * 60 + "!", "https://www.example.org/?" + "a=" * 40 + "b",
            "https://www.example.org/" + "ab" * 40 + "%"]
    child = ("import sys, re2, json; from pathlib import Path; from profiles import parse_profile\n"
             "p = parse_profile(Path(sys.argv[1]))\nfor u in sys.argv[2:]: p.is_article(u); p.should_follow(u)")
    row = Row("profile regexes that backtrack")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fault-regex-") as tmp:
        for i, pattern in enumerate(patterns):
            path = Path(tmp) / f"p{i}.toml"
            path.write_text('allowed_domains = ["example.org"]\nstart_urls = ["https://www.example.org/"]\n'
                            f"article_urls = [{json_string(pattern)}]\n", encoding="utf-8")
            row.trials += 1
            try:
                done = subprocess.run([sys.executable, "-c", child, str(path), *urls], cwd=ROOT, timeout=10,
                                      capture_output=True, text=True)
                ok = done.returncode == 0 and not done.stderr.strip()
            except subprocess.TimeoutExpired:
                ok, done = False, None
            row.survived += ok
            if not ok:
                row.notes.append(f"{pattern}: {'over 10 s' if done is None else done.stderr[-200:]}")
    row.seconds = time.monotonic() - started
    return row


def json_string(text: str) -> str:
    import json

    return json.dumps(text)


def replay_connections_row() -> Row:
    """Issue 18 (10): replay with default limits: 130 idle TCP connections, then 10 clients trickling a request a
    byte at a time, each followed by a real request that must be answered within 10 s; then CONNECT tunnels for 600
    distinct hosts (the TLS cache must stay bounded)."""
    import http.client
    import socket
    import ssl

    from replay.server import TLS_HOSTS, ReplayServer

    row = Row("replay: idle/trickling connections, TLS hosts")
    started = time.monotonic()
    request = b"GET http://www.example.org/b.html HTTP/1.1\r\nHost: www.example.org\r\nConnection: close\r\n\r\n"
    with tempfile.TemporaryDirectory(prefix="fault-replay-") as tmp:
        folder = Path(tmp)
        (folder / "b.html").write_bytes(b"<html><body><p>B</p></body></html>")
        (folder / "MANIFEST.tsv").write_text("file\toriginal_url\nb.html\thttp://www.example.org/b.html\n")
        with ReplayServer(folder) as server:
            for label, count, trickle in (("idle", 130, False), ("trickle", 10, True)):
                holders = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(count)]
                if trickle:
                    for sock in holders:
                        sock.sendall(b"GET http://www.example.org/b.html HTTP/1.1\r\nX")
                row.trials += 1
                try:
                    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
                        client.sendall(request)
                        ok = client.recv(20).startswith(b"HTTP/1.1 200")
                except OSError as exc:
                    ok = False
                    row.notes.append(f"{label}: {exc}")
                row.survived += ok
                row.lost += not ok
                for sock in holders:
                    sock.close()
            row.trials += 1
            context = ssl.create_default_context(cadata=server.ca_pem.decode())
            for i in range(600):
                conn = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10, context=context)
                conn.set_tunnel(f"h{i}.example.org", 443)
                conn.request("GET", "/b.html")
                conn.getresponse().read()
                conn.close()
            kept = len(server._ca._contexts)
            row.survived += kept <= TLS_HOSTS
            row.notes.append(f"TLS contexts kept after 600 hosts: {kept} (limit {TLS_HOSTS})")
    row.peak_mb = _self_peak_mb()
    row.seconds = time.monotonic() - started
    return row


def many_start_urls_row(n_urls: int) -> Row:
    """Issue 18 (11): a profile with ``n_urls`` start URLs crawled with --max-pages 5 (through replay): survived when
    the crawl exits 0 without a traceback and fetches at most 5 pages (and the site's robots.txt) in under 60 s;
    seconds and peak MB of the crawl process."""
    from faultlib import BASE, build_site, run_crawl, write_profile

    from replay.server import ReplayServer

    row = Row(f"{n_urls:,} start URLs, --max-pages 5")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fault-start-urls-") as tmp:
        root = Path(tmp)
        site = build_site(root, n_good=10)
        urls = [f"{BASE}/articles/good-{i % 10}.html?n={i}" for i in range(n_urls)]
        write_profile(root / "profiles", start_urls=urls)
        limit = {"CLOSESPIDER_PAGECOUNT": "5", "HEALTHDEX_MAX_PAGES": "5"}  # what --max-pages 5 sets
        with ReplayServer(site.folder) as server:
            run = run_crawl(root / "out", server.proxy_url, root / "profiles", settings=limit, timeout=300)
        fetched = run.report.get("pages_fetched", 99)
        row.trials = 1
        row.survived = int(run.returncode == 0 and "Traceback" not in run.stderr and fetched <= 6 and run.wall_s < 60)
        row.peak_mb = run.peak_rss_mb
        row.notes.append(f"crawl {run.wall_s:.1f} s, {run.peak_rss_mb:.0f} MB, {fetched} pages fetched")
    row.seconds = time.monotonic() - started
    return row


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
        ok = final.returncode == 0 and outcome.survived and "Traceback" not in final.stderr
        row.survived = loop.kills if ok else 0
        import json

        resumes = json.loads((out / "crawl-report.json").read_text()).get("resumes")
        row.notes.append(f"{loop.kills} kills at fault points {loop.points}; report resumes={resumes}")
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


def search_hostile_row() -> Row:
    """Issue 18 (8, 9): queries standing for huge parts of a 2,000-article index with ~130,000 distinct words, and
    endless input files: each must answer or refuse in one line (exit 0, 1 or 2, no traceback) within 10 s."""
    import json
    import random
    import string
    import subprocess

    from support import run_healthdex

    row = Row("search: huge expansions and endless inputs")
    started = time.monotonic()
    rng = random.Random(18)
    with tempfile.TemporaryDirectory(prefix="fault-search-hostile-") as tmp:
        records = Path(tmp) / "records.jsonl"
        with records.open("w", encoding="utf-8") as fh:
            for i in range(2000):
                words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 9))) for _ in range(70)]
                fh.write(json.dumps({"url": f"https://www.example.org/a/{i}", "title": words[0],
                                     "text": "back pain " + " ".join(words)}) + "\n")
        index_dir = Path(tmp) / "index"
        assert run_healthdex("index", str(records), "--index", str(index_dir)).returncode == 0
        cases = [["*a*"], ["??????*"], ["[a TO z]"], ["*qqqzz*"], ["x5~68546"], ["pain " * 10000],
                 ["back pain", "--synonyms", "/dev/zero"], ["--batch", "/dev/zero"], ["back pain", "--limit", "0"]]
        for args in cases:
            row.trials += 1
            cmd = [sys.executable, "-m", "healthdex", "search", *args, "--index", str(index_dir)]
            t0 = time.monotonic()
            try:
                done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=10)
                ok = done.returncode in (0, 1, 2) and "Traceback" not in done.stderr
                ok = ok and len(done.stderr.strip().splitlines()) <= 1
                note = f"exit {done.returncode}, {time.monotonic() - t0:.1f} s: {done.stderr.strip()[:120]}"
            except subprocess.TimeoutExpired:
                ok, note = False, "over 10 s"
            row.survived += ok
            if not ok:
                row.notes.append(f"{args[0][:20]!r}: {note}")
    row.peak_mb = _self_peak_mb()
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
        rows.append(warc_resume_row(2 if args.quick else 5))
        rows.append(damaged_warc_row())
        rows.append(regex_row())
        rows.append(replay_connections_row())
        rows.append(many_start_urls_row(20_000 if args.quick else 200_000))
        rows.append(index_kill_row(kills, args.seed))
        rows += [index_poison_row(), index_odd_values_row(), index_long_lines_row(), index_disk_full_row(),
                 index_damaged_toc_row(), index_orphans_row()]
        rows.append(clean_row(500, shared=not args.quick))
        rows.append(jsonld_row())
        rows.append(huge_page_row())
        rows.append(search_row(queries))
        rows.append(search_hostile_row())
        rows.append(profiles_row())
    width = max(len(r.name) for r in rows)
    print(f"{'fault class':<{width}}  {'trials':>6}  {'survived':>8}  {'lost':>5}  {'duplicated':>10}  "
          f"{'peak MB':>7}  {'time s':>7}")
    for r in rows:
        peak = f"{r.peak_mb:7.0f}" if r.peak_mb else f"{'-':>7}"
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
