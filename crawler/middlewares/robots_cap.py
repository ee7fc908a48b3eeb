"""Read at most ``HEALTHDEX_ROBOTSTXT_MAX_BYTES`` of a robots.txt (default 500 KiB, the limit Google documents).

A hostile or broken site can serve a robots.txt of many megabytes; parsing all of it (Protego, and the
spider's ``Sitemap:`` scan) costs seconds of the reactor's time per site.  Beyond the cap the body is cut at the
last line break before it and the rest ignored, as search engines do; counted in ``healthdex/robots_truncated``.
The WARC still holds the response as received (WarcCaptureMiddleware sits nearer the downloader).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response


class RobotsTxtCapMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.max_bytes = crawler.settings.getint("HEALTHDEX_ROBOTSTXT_MAX_BYTES", 500 * 1024)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RobotsTxtCapMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        if self.max_bytes <= 0 or len(response.body) <= self.max_bytes:
            return response
        if urlsplit(response.url).path != "/robots.txt":
            return response
        body = response.body[: self.max_bytes]
        cut = body.rfind(b"\n")
        self.crawler.stats.inc_value("healthdex/robots_truncated")
        return response.replace(body=body[: cut + 1] if cut >= 0 else b"")
