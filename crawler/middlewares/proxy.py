"""Send every request through one HTTP proxy, typically ``healthdex replay`` on 127.0.0.1."""

from __future__ import annotations

from scrapy import Request, Spider
from scrapy.crawler import Crawler


class ProxyMiddleware:
    """Sets ``request.meta["proxy"]`` from ``HEALTHDEX_PROXY``; Scrapy's HttpProxyMiddleware does the rest
    (absolute-form requests for http, a CONNECT tunnel for https, so URLs stay exactly as live)."""

    def __init__(self, proxy: str) -> None:
        self.proxy = proxy

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProxyMiddleware:
        return cls(crawler.settings.get("HEALTHDEX_PROXY", ""))

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if self.proxy and "proxy" not in request.meta:
            request.meta["proxy"] = self.proxy
