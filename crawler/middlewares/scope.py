"""Keep the crawl to the content types it can use: responses whose Content-Type is not allowed for the request are
dropped (``HEALTHDEX_PAGE_CONTENT_TYPES`` for pages, ``HEALTHDEX_SITEMAP_CONTENT_TYPES`` for robots.txt and
sitemaps); a missing Content-Type is allowed (Scrapy sniffs the body).  Each drop is counted as
``healthdex/dropped/content_type`` and is a named failure of the page (crawler.middlewares.failures).

Redirects leaving the profiles are Scrapy's RedirectMiddleware / MetaRefreshMiddleware and OffsiteMiddleware's
business; crawler.middlewares.failures names them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response


class PageDropped(IgnoreRequest):
    """A response healthdex refused, with the failure ``kind`` the crawl report lists it under."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class ScopeMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.page_types = tuple(t.lower() for t in settings.getlist("HEALTHDEX_PAGE_CONTENT_TYPES"))
        self.sitemap_types = tuple(t.lower() for t in settings.getlist("HEALTHDEX_SITEMAP_CONTENT_TYPES"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScopeMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        if response.status != 200:
            return response
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").split(";")[0].strip().lower()
        if not content_type:
            return response
        path = urlsplit(response.url).path.lower()
        sitemapish = path.endswith(("/robots.txt", ".xml", ".xml.gz", ".gz")) or "sitemap" in path
        allowed = self.sitemap_types + self.page_types if sitemapish else self.page_types
        if not any(content_type == t or (t.endswith("/") and content_type.startswith(t)) for t in allowed):
            self.crawler.stats.inc_value("healthdex/dropped/content_type")
            raise PageDropped("content_type", f"{response.url}: content type {content_type} not crawled")
        return response
