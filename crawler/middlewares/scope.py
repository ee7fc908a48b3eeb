"""Keep the crawl on its sites: redirects leaving the profiles are not followed, wrong content types are dropped.

``RedirectMiddleware`` follows a ``Location`` anywhere; this middleware sees each 3xx first (it sits between the
WARC capture and the redirect middleware, so the 3xx itself is still recorded) and drops it when the target is

- ``scheme``: not http(s) (``ftp:``, ``file:``, ``javascript:``...);
- ``private``: a loopback, private, link-local or reserved IP address, or ``localhost``, that no profile lists;
- ``offsite``: a host outside every profile's allowed domains.

Responses whose Content-Type is not allowed for the request are dropped too (``HEALTHDEX_PAGE_CONTENT_TYPES``
for pages, ``HEALTHDEX_SITEMAP_CONTENT_TYPES`` for robots.txt and sitemaps); a missing Content-Type is allowed
(Scrapy sniffs the body).  Each drop is counted as ``healthdex/dropped/<reason>``.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urljoin, urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def redirect_problem(location: str, in_profiles) -> str | None:
    """Why a redirect to ``location`` must not be followed (``scheme``/``private``/``offsite``), or None."""
    parts = urlsplit(location)
    if parts.scheme.lower() not in ("http", "https"):
        return "scheme"
    host = (parts.hostname or "").lower().rstrip(".")
    listed = in_profiles(location)
    if not listed:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if host == "localhost" or host.endswith(".localhost") or (address is not None and not address.is_global):
            return "private"
        return "offsite"
    return None


class ScopeMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.page_types = tuple(t.lower() for t in settings.getlist("HEALTHDEX_PAGE_CONTENT_TYPES"))
        self.sitemap_types = tuple(t.lower() for t in settings.getlist("HEALTHDEX_SITEMAP_CONTENT_TYPES"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScopeMiddleware:
        return cls(crawler)

    def _in_profiles(self, url: str) -> bool:
        spider = self.crawler.spider
        profile_for = getattr(spider, "profile_for", None)
        if profile_for is None:
            return True
        profile = profile_for(url)
        return profile is not None and profile.in_scope(url)

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        stats = self.crawler.stats
        if response.status in _REDIRECTS and b"Location" in response.headers:
            location = response.headers[b"Location"].decode("latin-1").strip()
            target = urljoin(response.url, location)
            problem = redirect_problem(target, self._in_profiles)
            if problem:
                stats.inc_value(f"healthdex/dropped/redirect_{problem}")
                raise IgnoreRequest(f"redirect from {response.url} to {target} not followed ({problem})")
            return response
        if response.status != 200:
            return response
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").split(";")[0].strip().lower()
        if not content_type:
            return response
        path = urlsplit(response.url).path.lower()
        sitemapish = path.endswith(("/robots.txt", ".xml", ".xml.gz", ".gz")) or "sitemap" in path
        allowed = self.sitemap_types + self.page_types if sitemapish else self.page_types
        if not any(content_type == t or (t.endswith("/") and content_type.startswith(t)) for t in allowed):
            stats.inc_value("healthdex/dropped/content_type")
            raise IgnoreRequest(f"{response.url}: content type {content_type} not crawled")
        return response
