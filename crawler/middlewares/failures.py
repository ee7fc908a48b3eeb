"""Record every page the crawl could not get, with the reason, for the crawl report.

A spider middleware: each request the spider makes (start requests and callback output, including sitemap
entries) gets an errback unless it has one.  Scrapy calls it for every way a page can fail after retries and
redirects are done with it — an HTTP error status (``http_503``), a timeout, a connection reset, a response over
``DOWNLOAD_MAXSIZE`` or a decompression bomb (``maxsize``), a chain longer than ``REDIRECT_MAX_TIMES``
(``redirect_max``), a redirect to a non-http(s) URL (``redirect_scheme``: RedirectMiddleware hands the 3xx on), a
refused content type, robots.txt.  The reason comes from the exception's type (and the response's status), never
from its message, which may contain the URL.

Redirects (``Location`` or meta refresh) are built by Scrapy's RedirectMiddleware and MetaRefreshMiddleware; when
such a request is scheduled (``request_scheduled``) to a URL outside the profiles it is dropped here
(``redirect_private`` for a loopback, private or reserved address or ``localhost`` no profile lists, else
``redirect_offsite``; OffsiteMiddleware drops the off-domain ones too, without a word), and when the duplicate
filter drops one whose URL is already in its own chain (``request_dropped``), it is a ``redirect_loop``.

Each failure counts ``healthdex/failed/<kind>`` and keeps ``{url: "kind: detail"}`` in the stat
``healthdex/failed_pages`` (at most ``HEALTHDEX_FAILED_PAGES_MAX`` URLs), which the crawl report prints as
``failed_by_reason`` and ``failed_pages``.  The failure is then handled: the crawl goes on.

The errback is a method bound onto the spider (``healthdex_download_failed``) so that requests stay
serialisable by name (disk and Redis queues look callbacks up on the spider).
"""

from __future__ import annotations

import ipaddress
import logging
import types
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy import exceptions as scrapy_errors
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as twisted_errors
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed

from crawler.middlewares.scope import PageDropped
from healthdex.urls import canonical_url

logger = logging.getLogger(__name__)
ERRBACK = "healthdex_download_failed"
PAGES_STAT = "healthdex/failed_pages"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_FOLLOWED = frozenset({"", "http", "https"})  # Location schemes RedirectMiddleware follows ("": relative)
# Scrapy's own IgnoreRequest messages (fixed texts, without the URL), compared whole.
_SCRAPY_IGNORED = {"Forbidden by robots.txt": "robots", "max redirections reached": "redirect_max"}
_KINDS: dict[str, tuple[type[BaseException], ...]] = {
    "maxsize": (scrapy_errors.DownloadCancelledError,),  # the download handler cancels a body over DOWNLOAD_MAXSIZE
    "timeout": (scrapy_errors.DownloadTimeoutError, twisted_errors.TimeoutError),
    "dns": (scrapy_errors.CannotResolveHostError, twisted_errors.DNSLookupError),
    "connection": (
        scrapy_errors.DownloadConnectionRefusedError,
        scrapy_errors.DownloadFailedError,
        scrapy_errors.ResponseDataLossError,
        twisted_errors.ConnectError,
        twisted_errors.ConnectionLost,
        twisted_errors.ConnectionDone,
        ResponseFailed,
    ),
}


def failure_kind(exc: BaseException) -> str:
    """A short, stable name for why a download failed, from the exception's type (see the module docstring)."""
    if isinstance(exc, HttpError):
        status, location = exc.response.status, exc.response.headers.get(b"Location") or b""
        if status in _REDIRECTS and urlsplit(location.decode("latin-1").strip()).scheme.lower() not in _FOLLOWED:
            return "redirect_scheme"  # a redirect RedirectMiddleware did not follow: not to an http(s) URL
        return f"http_{status}"
    if isinstance(exc, PageDropped):
        return exc.kind
    if isinstance(exc, IgnoreRequest):
        # HttpCompressionMiddleware: a body inflating past DOWNLOAD_MAXSIZE (its cause, a private Scrapy class)
        if type(exc.__cause__).__name__ == "_DecompressionMaxSizeExceeded":
            return "maxsize"
        return _SCRAPY_IGNORED.get(str(exc), "ignored")
    return next((kind for kind, classes in _KINDS.items() if isinstance(exc, classes)), exc.__class__.__name__)


def redirect_problem(url: str, in_profiles) -> str | None:
    """Why a redirect to ``url`` (as Scrapy will request it) must not be followed (``private``/``offsite``), or
    None."""
    if in_profiles(url):
        return None
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    private = host == "localhost" or host.endswith(".localhost") or (address is not None and not address.is_global)
    return "private" if private else "offsite"


def record_failure(crawler: Crawler, request: Request | None, kind: str, detail: str) -> None:
    """Count and list a page the crawl could not get (the URL the spider asked for, before redirects)."""
    url = (request.meta.get("redirect_urls") or [request.url])[0] if request is not None else "?"
    stats = crawler.stats
    stats.inc_value(f"healthdex/failed/{kind}")
    spider = getattr(crawler, "spider", None)
    profile = spider.profile_for(url) if hasattr(spider, "profile_for") else None
    stats.inc_value(f"healthdex/site/{profile.name if profile else urlsplit(url).hostname}/failed/{kind}")
    limit = crawler.settings.getint("HEALTHDEX_FAILED_PAGES_MAX", 1000)
    pages = stats.get_value(PAGES_STAT) or {}
    if url in pages or len(pages) < limit:
        pages[url] = f"{kind}: {detail}"
        stats.set_value(PAGES_STAT, pages)
    logger.log(logging.INFO if kind == "robots" else logging.WARNING, "failed: %s (%s: %s)", url, kind, detail)


def _download_failed(spider: Spider, failure: Failure) -> None:
    """The errback (bound onto the spider by FailedPagesMiddleware)."""
    exc = failure.value
    kind = failure_kind(exc)
    if kind == "redirect_scheme":  # not followed by RedirectMiddleware: counted with the other dropped redirects
        spider.crawler.stats.inc_value("healthdex/dropped/redirect_scheme")
    detail = str(exc).splitlines()[0][:300] if str(exc) else exc.__class__.__name__
    record_failure(spider.crawler, getattr(failure, "request", None), kind, detail)
    return None


class FailedPagesMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._install(getattr(crawler, "spider", None))  # before any queued request is deserialised by name
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(self.request_dropped, signal=signals.request_dropped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FailedPagesMiddleware:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        self._install(spider)

    def request_scheduled(self, request: Request, spider: Spider) -> None:
        """Drop (IgnoreRequest, as OffsiteMiddleware does) and record a redirect leaving the profiles."""
        chain = request.meta.get("redirect_urls")
        profile_for = getattr(spider, "profile_for", None)
        if not chain or profile_for is None:
            return
        problem = redirect_problem(request.url, lambda url: (p := profile_for(url)) is not None and p.in_scope(url))
        if problem:
            self.crawler.stats.inc_value(f"healthdex/dropped/redirect_{problem}")
            record_failure(self.crawler, request, f"redirect_{problem}", f"redirect to {request.url} not followed")
            raise IgnoreRequest(f"redirect to {request.url} not followed ({problem})")

    def request_dropped(self, request: Request, spider: Spider) -> None:
        """A redirect the duplicate filter dropped because its URL is already in its own chain: a loop."""
        chain = request.meta.get("redirect_urls") or []
        target = canonical_url(request.url)
        if any(canonical_url(url) == target for url in chain):
            self.crawler.stats.inc_value("healthdex/dropped/redirect_loop")
            record_failure(self.crawler, request, "redirect_loop", " -> ".join([*chain, request.url]))

    def _install(self, spider: Spider | None) -> None:
        if spider is not None and not hasattr(spider, ERRBACK):
            setattr(spider, ERRBACK, types.MethodType(_download_failed, spider))

    def _attach(self, item: Any) -> Any:
        if isinstance(item, Request) and item.errback is None:
            spider = self.crawler.spider
            self._install(spider)
            item.errback = getattr(spider, ERRBACK)
        return item

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for item in start:
            yield self._attach(item)

    def process_spider_output(self, response, result: Iterable[Any]) -> Iterable[Any]:
        for item in result:
            yield self._attach(item)

    async def process_spider_output_async(self, response, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for item in result:
            yield self._attach(item)
