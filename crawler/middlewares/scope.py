"""Keep the crawl on its sites: redirects leaving the profiles are not followed, wrong content types are dropped.

A redirect's target is judged as the URL Scrapy will request, parsed as Scrapy parses it (w3lib's
``safe_url_string`` first: it reads ``http://a:1\\@b/`` as host ``a``, where ``urlsplit`` of the raw text says
``b``).  It is dropped when it is

- ``scheme``: not http(s) (``ftp:``, ``file:``, ``javascript:``...);
- ``private``: a loopback, private, link-local or reserved IP address, or ``localhost``, that no profile lists;
- ``offsite``: a host outside every profile's allowed domains.

``ScopeMiddleware`` (650) sees each 3xx before ``RedirectMiddleware`` (600), after the WARC capture (so the 3xx
itself is recorded); ``MetaRefreshScopeMiddleware`` (585) sees each page after decompression (590) and before
``MetaRefreshMiddleware`` (580) and judges its ``<meta http-equiv=refresh>`` target the same way, with Scrapy's own
parser and ``METAREFRESH_*`` settings.  A dropped redirect is a named failure of the page (crawl report).

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
from scrapy.http import HtmlResponse, Response
from scrapy.utils.response import get_meta_refresh
from w3lib.url import safe_url_string

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


def _in_profiles(crawler: Crawler, url: str) -> bool:
    profile_for = getattr(crawler.spider, "profile_for", None)
    if profile_for is None:
        return True
    profile = profile_for(url)
    return profile is not None and profile.in_scope(url)


def redirect_target(request: Request, location: bytes) -> str:
    """The URL ``RedirectMiddleware`` requests for a ``Location`` header (its steps, then Request's own cleaning)."""
    target = safe_url_string(location)
    if location.startswith(b"//"):
        target = urlsplit(request.url).scheme + "://" + target.lstrip("/")
    return safe_url_string(urljoin(request.url, target))


def _drop(crawler: Crawler, source: str, target: str) -> None:
    """Raise IgnoreRequest (a named failure of the page) when the redirect from ``source`` to ``target`` leaves the
    profiles."""
    problem = redirect_problem(target, lambda url: _in_profiles(crawler, url))
    if problem:
        crawler.stats.inc_value(f"healthdex/dropped/redirect_{problem}")
        raise IgnoreRequest(f"redirect from {source} to {target} not followed ({problem})")


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
        stats = self.crawler.stats
        if response.status in _REDIRECTS and b"Location" in response.headers:
            _drop(self.crawler, response.url, redirect_target(request, response.headers[b"Location"].strip()))
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


class MetaRefreshScopeMiddleware:
    """Drops a page whose meta refresh (one ``MetaRefreshMiddleware`` would follow) leaves the profiles."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.enabled = settings.getbool("METAREFRESH_ENABLED")
        self.ignore_tags = settings.getlist("METAREFRESH_IGNORE_TAGS")
        self.max_delay = settings.getfloat("METAREFRESH_MAXDELAY")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MetaRefreshScopeMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        if not self.enabled or request.method == "HEAD" or not isinstance(response, HtmlResponse):
            return response
        interval, url = get_meta_refresh(response, ignore_tags=self.ignore_tags)
        if url and interval < self.max_delay:
            _drop(self.crawler, response.url, safe_url_string(url))
        return response
