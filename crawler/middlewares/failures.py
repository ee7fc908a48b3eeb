"""Record every page the crawl could not get, with the reason, for the crawl report.

A spider middleware: each request the spider makes (start requests and callback output, including sitemap
entries) gets an errback unless it has one.  Scrapy calls it for every way a page can fail after retries and
redirects are done with it — an HTTP error status (``http_503``), a timeout, a connection reset, a response over
``DOWNLOAD_MAXSIZE`` or a decompression bomb (``maxsize``), a redirect loop or chain longer than
``REDIRECT_MAX_TIMES`` (``redirect_max``), a redirect the scope middleware refused (``redirect_offsite`` ...),
a refused content type, robots.txt.  The errback counts ``healthdex/failed/<kind>`` and keeps
``{url: "kind: detail"}`` in the stat ``healthdex/failed_pages`` (at most ``HEALTHDEX_FAILED_PAGES_MAX`` URLs),
which the crawl report prints as ``failed_by_reason`` and ``failed_pages``.  The failure is then handled: the
crawl goes on.

The errback is a method bound onto the spider (``healthdex_download_failed``) so that requests stay
serialisable by name (disk and Redis queues look callbacks up on the spider).
"""

from __future__ import annotations

import logging
import types
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

logger = logging.getLogger(__name__)
ERRBACK = "healthdex_download_failed"
_CONNECTION_ERRORS = frozenset({
    "ResponseFailed", "ResponseDataLossError", "DownloadFailedError", "DownloadConnectionRefusedError",
    "ConnectionLost", "ConnectionDone", "ConnectionRefusedError", "ConnectError", "TCPTimedOutError",
    "ResponseNeverReceived", "PotentialDataLoss",
})
PAGES_STAT = "healthdex/failed_pages"


def failure_kind(exc: BaseException) -> str:
    """A short, stable name for why a download failed."""
    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}"
    text = str(exc).lower()
    if isinstance(exc, IgnoreRequest):
        if "robots" in text:
            return "robots"
        if "max redirections" in text:
            return "redirect_max"
        if "not followed (" in text:
            return "redirect_" + text.rsplit("not followed (", 1)[1].split(")", 1)[0]
        if "content type" in text:
            return "content_type"
        if "maxsize" in text or "max size" in text:
            return "maxsize"
        return "ignored"
    name = exc.__class__.__name__
    if "maxsize" in text or "max size" in text or name == "DownloadCancelledError":
        return "maxsize"
    if "timeout" in name.lower() or "timed out" in text or "took longer than" in text:
        return "timeout"
    if name in _CONNECTION_ERRORS:
        return "connection"
    if name in ("DNSLookupError",):
        return "dns"
    return name


def _download_failed(spider: Spider, failure: Failure) -> None:
    """The errback (bound onto the spider by FailedPagesMiddleware)."""
    request = getattr(failure, "request", None)
    # The URL the spider asked for (a failure at the end of a redirect chain is the first URL's failure).
    url = (request.meta.get("redirect_urls") or [request.url])[0] if request is not None else "?"
    kind = failure_kind(failure.value)
    detail = str(failure.value).splitlines()[0][:300] if str(failure.value) else failure.value.__class__.__name__
    stats = spider.crawler.stats
    stats.inc_value(f"healthdex/failed/{kind}")
    profile = spider.profile_for(url) if hasattr(spider, "profile_for") else None
    stats.inc_value(f"healthdex/site/{profile.name if profile else urlsplit(url).hostname}/failed/{kind}")
    limit = spider.crawler.settings.getint("HEALTHDEX_FAILED_PAGES_MAX", 1000)
    pages = stats.get_value(PAGES_STAT) or {}
    if url in pages or len(pages) < limit:
        pages[url] = f"{kind}: {detail}"
        stats.set_value(PAGES_STAT, pages)
    level = logging.INFO if kind == "robots" else logging.WARNING
    logger.log(level, "failed: %s (%s: %s)", url, kind, detail)
    return None


class FailedPagesMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._install(getattr(crawler, "spider", None))  # before any queued request is deserialised by name
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FailedPagesMiddleware:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        self._install(spider)

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
