"""Issue 18: start URLs.  A profile with very many start URLs is crawled from lazily produced requests (not 200,000
requests scheduled before the first fetch), and start URLs or sitemaps outside the profile's allowed domains are a
clear error naming them instead of being dropped silently by the crawl."""

from __future__ import annotations

import asyncio
import json

import pytest
from faultlib import BASE, DOMAIN, HOST, write_profile

from profiles import ProfileError, ProfileIndex, parse_profile


class _Waiting(Exception):
    """The spider waited for the scheduler to run empty."""


def test_start_urls_are_produced_lazily_while_the_crawl_is_busy(tmp_path):
    from scrapy.crawler import Crawler

    from crawler.spiders.health import HealthSpider

    urls = [f"{BASE}/articles/a-{i}.html" for i in range(5000)]
    path = write_profile(tmp_path, start_urls=urls)
    crawler = Crawler(HealthSpider, {"HEALTHDEX_OUT_DIR": str(tmp_path / "out")})
    spider = HealthSpider.from_crawler(crawler, profile=str(path))

    class BusyEngine:
        def needs_backout(self) -> bool:
            return True

    async def wait_for(signal) -> None:
        raise _Waiting

    crawler.engine = BusyEngine()
    crawler.signals.wait_for = wait_for
    produced = []

    async def consume() -> None:
        async for request in spider.start():
            produced.append(request.url)

    with pytest.raises(_Waiting):
        asyncio.run(consume())
    assert produced == [f"{BASE}/robots.txt"]  # the first start URL waits for room


@pytest.mark.parametrize("key", ["start_urls", "sitemaps"])
def test_urls_outside_the_allowed_domains_are_named(tmp_path, key):
    text = (
        f'site = "{DOMAIN}"\nallowed_domains = ["{DOMAIN}"]\nstart_urls = ["{BASE}/"]\n'
        f"{key} = {json.dumps([f'{BASE}/x', 'https://other.example/a', 'https://sub.faultsite.example/b'])}\n"
    )
    if key == "start_urls":
        text = text.replace(f'start_urls = ["{BASE}/"]\n', "")
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        parse_profile(path)
    message = str(info.value)
    assert f"field '{key}'" in message and "https://other.example/a" in message and "1 URL(s)" in message
    assert "sub.faultsite.example" not in message  # subdomains are on the domain


def test_profile_index_finds_the_most_specific_profile_by_host(tmp_path):
    """Profiles are parsed once and looked up by host (the spider asks for every link), not tried one by one."""
    paths = []
    for name, domains in (("broad", ["example.org", "other.example"]), ("narrow", ["news.example.org"])):
        path = tmp_path / f"{name}.toml"
        path.write_text(
            f'site = "{domains[0]}"\nallowed_domains = {json.dumps(domains)}\nstart_urls = ["https://{domains[0]}/"]\n',
            encoding="utf-8",
        )
        paths.append(path)
    index = ProfileIndex(parse_profile(p) for p in paths)
    assert index.for_url("https://www.example.org/a").name == "broad"
    assert index.for_url("https://A.News.Example.org:8443/x").name == "narrow"
    assert index.for_url("https://other.example/").name == "broad"
    assert index.for_url("https://example.com/") is None and index.for_url("not a url") is None


def test_a_link_with_a_bad_port_does_not_lose_the_other_links_of_its_page(tmp_path):
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import HtmlResponse
    from scrapy.statscollectors import MemoryStatsCollector

    from crawler.spiders.health import HealthSpider

    path = write_profile(tmp_path)
    crawler = Crawler(HealthSpider, {"HEALTHDEX_OUT_DIR": str(tmp_path / "out")})
    crawler.stats = MemoryStatsCollector(crawler)
    spider = HealthSpider.from_crawler(crawler, profile=str(path))
    body = f'<a href="https://{HOST}:99999/articles/x.html">x</a><a href="/articles/y.html?utm_source=z">y</a>'
    response = HtmlResponse(
        f"{BASE}/index.html", body=body.encode(), headers={"Content-Type": "text/html"}, request=Request(f"{BASE}/")
    )
    urls = [r.url for r in spider.parse_page(response) if hasattr(r, "url") and hasattr(r, "callback")]
    assert urls == [f"{BASE}/articles/y.html"] and crawler.stats.get_value("healthdex/skipped_bad_link") == 1
