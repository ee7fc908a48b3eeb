"""Spider middleware: crawl depth counts link hops only, not robots.txt → sitemap index → sitemap hops.

Scrapy's DepthMiddleware adds one per request of any kind, so an article listed in a sitemap announced by
robots.txt sits at depth 2 while one in a sitemap named by the profile sits at depth 1, and ``DEPTH_LIMIT``
cuts them differently.  Here a request the spider marks ``meta["discovery"] = True`` (a sitemap found in
robots.txt or a sitemap index) keeps its parent's depth; a page listed in a sitemap or a followed link is one
deeper, so every sitemap's pages sit at depth 1, like links from a start page.  It replaces DepthMiddleware in settings
and reads the same settings (``DEPTH_LIMIT``, ``DEPTH_STATS_VERBOSE``) and stats keys.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response

logger = logging.getLogger(__name__)


class LinkDepthMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.max_depth = crawler.settings.getint("DEPTH_LIMIT")
        self.verbose = crawler.settings.getbool("DEPTH_STATS_VERBOSE")
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LinkDepthMiddleware:
        return cls(crawler)

    def _admit(self, request: Any, response: Response) -> bool:
        if not isinstance(request, Request):
            return True
        parent = response.meta.setdefault("depth", 0)
        depth = parent if request.meta.get("discovery") else parent + 1
        request.meta["depth"] = depth
        if self.max_depth and depth > self.max_depth:
            logger.debug("Ignoring link (depth > %d): %s", self.max_depth, request.url)
            self.stats.inc_value("depth/request_ignored_count")
            return False
        if self.verbose:
            self.stats.inc_value(f"request_depth_count/{depth}")
        self.stats.max_value("request_depth_max", depth)
        return True

    def process_spider_output(self, response: Response, result: Iterable[Any], spider: Spider | None = None):
        return (r for r in result if self._admit(r, response))

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any], spider: Spider | None = None
    ) -> AsyncIterator[Any]:
        async for r in result:
            if self._admit(r, response):
                yield r
