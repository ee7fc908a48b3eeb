"""Issue 19: ``--max-depth N`` is at most N link hops from a start URL or sitemap entry (0: no link followed), and a
link first met too deep is still followed when met again shallower."""

from __future__ import annotations

import json
import re

import pytest
from crawl_support import HOST, make_profile, make_site, page_url, run_crawl
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.spiders.health import HealthSpider
from replay.server import ReplayServer

_LINK = re.compile(rf'href="(http://{re.escape(HOST)}/a/\d+\.html)"')


@pytest.mark.parametrize("depth", [0, 1])
def test_max_depth_counts_link_hops_from_start_urls_and_sitemap_entries(tmp_path, depth):
    site = tmp_path / "site"
    urls = make_site(site, 20, sitemap_pages=3)  # start URL: page 0; the sitemap lists pages 0-2
    roots = set(urls[:3])
    expected = roots | {u for i in range(3) for u in _LINK.findall((site / "a" / f"{i}.html").read_text())}
    if depth == 0:
        expected = roots
    assert expected != set(urls)  # a crawl without the limit would reach more
    profile = make_profile(tmp_path, "depthsite", concurrency=4)
    out = tmp_path / "out"
    with ReplayServer(site) as server:
        result = run_crawl(profile, out, "--delay", "0", "--max-depth", str(depth), proxy=server.proxy_url)
        requested = {e.url for e in server.request_log.snapshot() if "/a/" in e.url}
    assert result.returncode == 0, result.stderr[-3000:]
    assert requested == expected, sorted(requested ^ expected)
    report = json.loads((out / "crawl-report.json").read_text())
    assert report["depth_limited"] > 0


def test_a_link_first_met_too_deep_is_followed_when_met_shallower(tmp_path):
    spider = HealthSpider(profile=str(make_profile(tmp_path, "depthsite")))
    spider.crawler = get_crawler(HealthSpider, {"HEALTHDEX_MAX_DEPTH": 1})
    spider.crawler.stats.open_spider()
    body = f'<html><body><p>text</p><a href="{page_url(9)}">more</a></body></html>'.encode()

    def links(url: str, depth: int) -> list[str]:
        response = HtmlResponse(
            url, body=body, headers={"Content-Type": "text/html"}, request=Request(url, meta={"depth": depth})
        )
        return [r.url for r in spider.parse_page(response) if isinstance(r, Request)]

    assert links(page_url(1), depth=1) == []  # at the limit: its links are not followed (nor recorded)
    assert links(page_url(2), depth=0) == [page_url(9)]
