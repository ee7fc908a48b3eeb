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


def _spider(tmp_path, max_depth: int) -> HealthSpider:
    spider = HealthSpider(profile=str(make_profile(tmp_path, "depthsite")))
    spider.crawler = get_crawler(HealthSpider, {"HEALTHDEX_MAX_DEPTH": max_depth})
    spider.crawler.stats.open_spider()
    return spider


def _parse(spider: HealthSpider, url: str, depth: int, links: list[str], **meta) -> list[Request]:
    body = ("<html><body><p>text</p>" + "".join(f'<a href="{u}">x</a>' for u in links) + "</body></html>").encode()
    request = Request(url, meta={"depth": depth, **meta})
    response = HtmlResponse(url, body=body, headers={"Content-Type": "text/html"}, request=request)
    return [r for r in spider.parse_page(response) if isinstance(r, Request)]


def test_a_page_met_shallower_while_pending_is_parsed_at_that_depth(tmp_path):
    """Page 1 is requested from page 0's links (depth 1), then listed in a sitemap (depth 0) before it is fetched:
    the sitemap's request is a duplicate, so page 1's links are taken at depth 0 when it arrives (with a limit of 1,
    at depth 1 they were all cut: the crawl missed pages one hop from a sitemap entry, depending on timing)."""
    spider = _spider(tmp_path, 1)
    assert [r.url for r in _parse(spider, page_url(0), 0, [page_url(1)])] == [page_url(1)]
    assert spider._meet(page_url(1), 0) is None  # the sitemap entry: pending, nothing new to request
    assert [r.url for r in _parse(spider, page_url(1), 1, [page_url(9)])] == [page_url(9)]


def test_a_page_parsed_deeper_is_fetched_again_for_its_links_when_met_shallower(tmp_path):
    """Page 1 was fetched and parsed at the limit (its links cut), then met at depth 0: it is requested again
    (past the duplicate filter, for its links only: its article was written), and its links are followed."""
    spider = _spider(tmp_path, 1)
    _parse(spider, page_url(0), 0, [page_url(1)])
    assert _parse(spider, page_url(1), 1, [page_url(9)]) == []  # at the limit
    assert spider._meet(page_url(1), 0) == "again"  # a sitemap entry: _parse_sitemap requests it again
    assert _parse(spider, page_url(5), 0, [page_url(1)]) == []  # and a link one hop down adds nothing more
    spider = _spider(tmp_path, 2)
    _parse(spider, page_url(0), 0, [page_url(1)])
    _parse(spider, page_url(1), 1, [page_url(2)])
    assert _parse(spider, page_url(2), 2, [page_url(9)]) == []  # at the limit
    (again,) = _parse(spider, page_url(3), 0, [page_url(2)])  # page 2 met one hop from a root: depth 1
    assert again.url == page_url(2) and again.dont_filter and again.meta["healthdex_links_only"]
    assert [r.url for r in _parse(spider, page_url(2), 1, [page_url(9)], healthdex_links_only=True)] == [page_url(9)]
