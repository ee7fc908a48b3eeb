"""Issue 5: robots.txt is obeyed, including Crawl-delay (timestamps checked at the server), and the crawl stays
in scope: off-profile redirects are not followed, wrong content types are dropped, canonical URLs dedupe.
Issue 19: a site's delay is a floor, in one process and across Redis workers; the report says what each site saw."""

from __future__ import annotations

import json
import subprocess
from urllib.parse import urlsplit

import pytest
from crawl_support import HOST, crawl_command, env_for, make_profile, make_site, page_url, read_jsonl, run_crawl
from redis_server import redis_server
from scrapy import Request

from crawler.fingerprint import CanonicalUrlFingerprinter
from crawler.middlewares.failures import redirect_problem
from crawler.politeness import HostState
from crawler.report import format_report, load_report
from replay.server import ReplayServer

from support import REPO


def test_robots_disallow_and_crawl_delay_are_honoured(tmp_path):
    site = tmp_path / "site"
    private = f"http://{HOST}/private/secret.html"
    (site / "private").mkdir(parents=True)
    robots = f"User-agent: *\nCrawl-delay: 1\nDisallow: /private/\nSitemap: http://{HOST}/sitemap.xml\n"
    urls = make_site(site, 5, sitemap_pages=5, robots=robots,
                     extra_rows=[{"file": "private/secret.html", "original_url": private,
                                  "content_type": "text/html"}])
    (site / "private" / "secret.html").write_text((site / "a" / "0.html").read_text())
    # the sitemap also lists the disallowed page
    sitemap = (site / "sitemap.xml").read_text().replace("</urlset>", f"<url><loc>{private}</loc></url></urlset>")
    (site / "sitemap.xml").write_text(sitemap)
    profile = make_profile(tmp_path, "politesite", delay=0, concurrency=2)
    profile.write_text(profile.read_text().replace(r"/a/\d+\.html$", r"/(a|private)/\w+\.html$"))
    out = tmp_path / "out"
    with ReplayServer(site) as server:
        result = run_crawl(profile, out, "--delay", "0", proxy=server.proxy_url)
        log = [e for e in server.request_log.snapshot() if urlsplit(e.url).hostname == HOST]
    assert result.returncode == 0, result.stderr[-3000:]
    assert not any("/private/" in e.url for e in log), "a robots.txt-disallowed page was requested"
    assert {a["final_url"] for a in read_jsonl(out / "articles.jsonl")} == set(urls)
    times = sorted(e.time for e in log)
    assert len(times) >= len(urls) + 2  # robots.txt, sitemap, pages
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # Crawl-delay: 1 — consecutive requests to the host at least ~1 s apart (the profile and --delay say 0).
    assert min(gaps) >= 0.9, [round(g, 3) for g in gaps]
    report = json.loads((out / "crawl-report.json").read_text())
    assert report["robots_denied"] >= 1


def test_crawl_delay_is_capped(tmp_path):
    site = tmp_path / "site"
    robots = f"User-agent: *\nCrawl-delay: 60\nSitemap: http://{HOST}/sitemap.xml\n"
    urls = make_site(site, 4, robots=robots)
    profile = make_profile(tmp_path, "cappedsite", delay=0, concurrency=2,
                           extra="")
    profile.write_text(profile.read_text() + "max_crawl_delay = 0.5\n")  # in [politeness]
    out = tmp_path / "out"
    with ReplayServer(site) as server:
        result = run_crawl(profile, out, "--delay", "0", proxy=server.proxy_url, timeout=120)
        times = sorted(e.time for e in server.request_log.snapshot() if urlsplit(e.url).hostname == HOST)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(read_jsonl(out / "articles.jsonl")) == len(urls)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.45 and max(gaps) < 5, [round(g, 3) for g in gaps]


@pytest.mark.parametrize(("location", "problem"), [
    ("http://elsewhere.example.com/x", "offsite"),
    ("http://127.0.0.1:9/x", "private"),
    ("http://10.1.2.3/x", "private"),
    ("http://localhost/x", "private"),
    ("https://www.healthdex-bench.org/a/2.html", None),
])
def test_redirect_targets_are_judged_against_the_profiles(location, problem):
    assert redirect_problem(location, lambda url: "healthdex-bench.org" in (urlsplit(url).hostname or "")) == problem


def test_request_fingerprint_uses_the_canonical_url():
    fingerprint = CanonicalUrlFingerprinter().fingerprint
    plain = fingerprint(Request("http://www.healthdex-bench.org/a/1.html?b=2&a=1"))
    assert fingerprint(Request("http://WWW.healthdex-bench.org:80/a/1.html?a=1&b=2&utm_source=x#top")) == plain
    assert fingerprint(Request("http://www.healthdex-bench.org/a/1.html?a=1&b=3")) != plain


def test_off_profile_redirects_and_wrong_content_types_are_dropped_and_counted(tmp_path):
    site = tmp_path / "site"
    urls = make_site(site, 8)
    profile = make_profile(tmp_path, "scopesite")
    faults = {
        urls[1]: {"redirect_to": "http://elsewhere.example.com/landing"},
        urls[2]: {"redirect_to": "ftp://www.healthdex-bench.org/file"},
        urls[3]: {"redirect_to": "http://127.0.0.1:9/admin"},
        urls[4]: {"redirect_to": page_url(7) + "?utm_source=newsletter", "status": 301},
        urls[5]: {"content_type": "application/pdf"},
    }
    out = tmp_path / "out"
    with ReplayServer(site, faults=faults) as server:
        result = run_crawl(profile, out, "--delay", "0", proxy=server.proxy_url)
        requested = [e.url for e in server.request_log.snapshot()]
    assert result.returncode == 0, result.stderr[-3000:]
    assert not any("elsewhere.example.com" in u or "127.0.0.1" in u or u.startswith("ftp:") for u in requested)
    emitted = {a["final_url"] for a in read_jsonl(out / "articles.jsonl")}
    assert emitted == {urls[0], urls[6], urls[7]}
    # page 7 was reached directly and through a redirect with a tracking parameter: fetched once
    assert sum(1 for u in requested if "/a/7.html" in u) == 1
    report = json.loads((out / "crawl-report.json").read_text())
    assert report["dropped_by_reason"] == {"redirect_offsite": 1, "redirect_scheme": 1, "redirect_private": 1,
                                           "content_type": 1}


def test_max_pages_progress_line_and_crawl_report_command(tmp_path, healthdex):
    site = tmp_path / "site"
    make_site(site, 30)
    profile = make_profile(tmp_path, "limitsite", concurrency=1)
    out = tmp_path / "out"
    result = run_crawl(profile, out, "--delay", "0", "--max-pages", "6", "-s", "HEALTHDEX_PROGRESS=true",
                       "-s", "HEALTHDEX_PROGRESS_INTERVAL=0.2", replay=site)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "pages/s" in result.stderr and "queued" in result.stderr
    report = json.loads((out / "crawl-report.json").read_text())
    assert report["finish_reason"] == "closespider_pagecount"
    assert report["pages_fetched"] in (6, 7)  # + robots.txt; requests queued past the limit are refused
    assert report["dropped_by_reason"].get("max_pages", 0) >= 1
    shown = healthdex("crawl-report", str(out))
    assert shown.returncode == 0 and "pages fetched" in shown.stdout and "by status" in shown.stdout
    as_json = json.loads(healthdex("crawl-report", str(out), "--json").stdout)
    for key in ("pages_by_status", "articles_extracted", "duplicates_dropped", "robots_denied", "errors_by_kind",
                "bytes", "duration_s", "pages_per_s", "resumes"):
        assert key in as_json


def test_a_host_is_granted_a_delay_after_the_previous_request_to_it_ended():
    state = HostState()
    assert state.acquire(100.0, 2.0, False, 35) == (0.0, None)  # granted; holds the host until released
    assert state.acquire(100.5, 2.0, False, 35) == (2.0, None)  # b: the request under way ends a delay from now at best
    wait, _ = state.acquire(100.6, 2.0, False, 35)  # c: after b's reservation (102.5)
    assert wait == pytest.approx(3.9)
    state.release(101.0)
    wait, gap = state.acquire(103.9, 2.0, True, 35)  # b, late (due at 102.5): the host is free, b goes now
    assert wait == 0 and gap == pytest.approx(3.9)
    assert state.acquire(104.5, 2.0, True, 35) == (2.0, None)  # c, on time, but b is under way
    state.release(104.8)
    wait, _ = state.acquire(106.5, 2.0, True, 35)  # c again: b ended at 104.8
    assert wait == pytest.approx(0.3)
    wait, gap = state.acquire(106.8, 2.0, True, 35)
    assert wait == 0 and gap == pytest.approx(2.9)
    wait, _ = state.acquire(106.9, 2.0, False, 35)  # d: no earlier than a delay after c ends
    assert wait == pytest.approx(2.0)
    assert state.acquire(107.0, 0.0, False, 35)[0] == 0  # a request without a delay is not held back


DELAY = 2.0


@pytest.mark.parametrize("workers", [1, 2])
def test_the_profile_delay_is_a_floor_in_one_worker_and_across_redis_workers(tmp_path, workers):
    """AutoThrottle is on (its minimum is DOWNLOAD_DELAY, 0.5 s here) with Scrapy's ±50% jitter: they may lengthen
    the spacing, never shorten it.  Gaps are measured at the server; the report's per-site columns add up."""
    site = tmp_path / "site"
    private = f"http://{HOST}/private/x.html"
    rows = [{"file": "a/9.html", "original_url": page_url(9), "content_type": "text/html"}]
    make_site(site, 4, sitemap_pages=4, robots="User-agent: *\nDisallow: /private/\n", extra_rows=rows)
    (site / "a" / "9.html").write_text((site / "a" / "0.html").read_text())  # page 0's article under another URL
    extra = "".join(f"<url><loc>{u}</loc></url>" for u in (page_url(9), private))
    (site / "sitemap.xml").write_text((site / "sitemap.xml").read_text().replace("</urlset>", extra + "</urlset>"))
    profile = make_profile(tmp_path, "floorsite", delay=DELAY, concurrency=2)
    out = tmp_path / "out"
    args = ["--max-depth", "0", "-s", "AUTOTHROTTLE_ENABLED=True", "-s", "DOWNLOAD_DELAY=0.5", "-s", "RETRY_TIMES=0"]
    faults = {page_url(2): {"status": 503}, page_url(3): {"content_type": "application/pdf"}}
    with ReplayServer(site, faults=faults) as server:
        if workers == 1:
            result = run_crawl(profile, out, *args, proxy=server.proxy_url)
            assert result.returncode == 0, result.stderr[-3000:]
        else:
            with redis_server(tmp_path / "redis") as url:
                redis_args = ["--redis", url, "-s", "HEALTHDEX_REDIS_IDLE_TIMEOUT=2"]
                procs = [
                    subprocess.Popen(
                        crawl_command(profile, out, *args, *redis_args, "--worker-id", name, proxy=server.proxy_url),
                        cwd=REPO,
                        env=env_for(tmp_path),
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                    )
                    for name in "ab"
                ]
                for proc in procs:
                    _, stderr = proc.communicate(timeout=300)
                    assert proc.returncode == 0, stderr[-3000:]
        log = [e for e in server.request_log.snapshot() if urlsplit(e.url).hostname == HOST]
    times = sorted(e.time for e in log)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(times) >= 7 and min(gaps) >= DELAY, [round(g, 3) for g in gaps]
    assert not any("/private/" in e.url for e in log)
    report = load_report(out)
    row = report["sites"]["floorsite"]
    assert "site floorsite: pages" in format_report(report)
    assert row["spacing_min_s"] >= DELAY and row["spacing_median_s"] >= DELAY
    assert row["spacing_count"] == len(times) - 1
    assert row["pages"] == len(log)
    # pages 0 and 1 written, 9 a duplicate of 0; 2 failed (503); 3 dropped (a PDF), like the links of 0, 1 and 9
    # (past --max-depth 0); the private page denied by robots.txt.
    assert {k: row[k] for k in ("articles", "duplicates", "failed", "dropped", "robots_denied")} == {
        "articles": 2,
        "duplicates": 1,
        "failed": 1,
        "dropped": 4,
        "robots_denied": 1,
    }
