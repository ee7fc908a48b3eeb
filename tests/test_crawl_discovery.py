"""Issue 5: sitemap discovery (robots.txt ``Sitemap:`` lines, sitemap indexes, gzip sitemaps) and canonical record
keys (same-site ``rel=canonical`` and tracking parameters)."""

from __future__ import annotations

import gzip
import json
import re

from crawl_support import HOST, make_profile, make_site, page_url, read_jsonl, run_crawl

_A_HREF = re.compile(r"\shref\s*=\s*(\"[^\"]*\"|'[^']*')", re.I)


def test_pages_found_only_through_robots_sitemap_index_and_gzip_sitemap(tmp_path):
    site = tmp_path / "site"
    robots = f"User-agent: *\nAllow: /\nSitemap: http://{HOST}/maps/index.xml\n"
    rows = [{"file": "maps/index.xml", "original_url": f"http://{HOST}/maps/index.xml",
             "content_type": "application/xml"},
            {"file": "maps/part1.xml.gz", "original_url": f"http://{HOST}/maps/part1.xml.gz",
             "content_type": "application/x-gzip"}]
    urls = make_site(site, 8, robots=robots, extra_rows=rows)
    for page in (site / "a").glob("*.html"):  # no links between pages: only the sitemaps lead to them
        page.write_text(_A_HREF.sub("", page.read_text(encoding="utf-8")), encoding="utf-8")
    (site / "maps").mkdir()
    (site / "maps" / "index.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>http://{HOST}/maps/part1.xml.gz</loc></sitemap></sitemapindex>\n")
    locs = "".join(f"<url><loc>{u}</loc></url>" for u in urls[1:])
    (site / "maps" / "part1.xml.gz").write_bytes(gzip.compress(
        ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
         f"{locs}</urlset>\n").encode()))
    profile = make_profile(tmp_path, "discoversite")
    # No sitemaps in the profile: robots.txt must announce them.
    profile.write_text(re.sub(r"(?m)^sitemaps = .*\n", "", profile.read_text()))
    out = tmp_path / "out"
    result = run_crawl(profile, out, "--delay", "0", replay=site)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(a["final_url"] for a in read_jsonl(out / "articles.jsonl")) == sorted(urls)


def test_record_keys_follow_same_site_canonical_and_drop_tracking_parameters(tmp_path):
    site = tmp_path / "site"
    printable = f"http://{HOST}/print/a/2.html"
    tracked = page_url(3) + "?utm_source=newsletter&utm_medium=email"
    rows = [{"file": "print.html", "original_url": printable, "content_type": "text/html"}]
    urls = make_site(site, 5, extra_rows=rows)
    html = (site / "a" / "2.html").read_text(encoding="utf-8")
    (site / "print.html").write_text(
        html.replace("<head>", f'<head><link rel="canonical" href="{page_url(2)}">', 1), encoding="utf-8")
    # page 0 links to the printable page and to page 3 with tracking parameters
    page0 = site / "a" / "0.html"
    page0.write_text(page0.read_text().replace("</body>", f'<a href="{printable}">print</a>'
                                                           f'<a href="{tracked}">3</a></body>', 1))
    profile = make_profile(tmp_path, "canonsite")
    profile.write_text(profile.read_text().replace(r"/a/\d+\.html$", r"/(print/)?a/\d+\.html$"))
    out = tmp_path / "out"
    result = run_crawl(profile, out, "--delay", "0", replay=site)
    assert result.returncode == 0, result.stderr[-3000:]
    articles = read_jsonl(out / "articles.jsonl")
    ids = [a["id"] for a in articles]
    assert sorted(ids) == sorted(urls), "one record per canonical key"
    assert not any("utm_" in a["final_url"] for a in articles)
    # whichever of the printable copy and the page came second is recorded under the shared key, not emitted
    dups = read_jsonl(out / "duplicates.jsonl")
    assert [(d["id"], d["kind"]) for d in dups] == [(page_url(2), "canonical")]
    assert dups[0]["url"] in (printable, page_url(2))
    report = json.loads((out / "crawl-report.json").read_text())
    assert report["duplicates_by_kind"] == {"canonical": 1}
