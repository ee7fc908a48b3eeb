"""Issue 5: robots.txt is obeyed, including Crawl-delay (timestamps checked at the server), and the crawl stays
in scope: off-profile redirects are not followed, wrong content types are dropped, canonical URLs dedupe."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from crawl_support import HOST, make_profile, make_site, page_url, read_jsonl, run_crawl
from scrapy import Request

from crawler.fingerprint import CanonicalUrlFingerprinter
from crawler.middlewares.failures import redirect_problem
from replay.server import ReplayServer


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
