"""Retries that wait: Scrapy's RetryMiddleware re-sends a failed request at once; this one waits first.

It replaces ``scrapy.downloadermiddlewares.retry.RetryMiddleware`` (same priority, same ``RETRY_*`` settings)
and stamps each retry with the earliest time it may be sent:

- the response's ``Retry-After`` (seconds or an HTTP date), when a 429/503-style answer gives one, capped at
  ``HEALTHDEX_RETRY_AFTER_MAX`` seconds — a server asking for longer gets the cap, not a stalled crawl;
- otherwise exponential backoff: ``HEALTHDEX_RETRY_BACKOFF_BASE * 2 ** (attempt - 1)`` seconds, capped at
  ``HEALTHDEX_RETRY_BACKOFF_MAX``.

The wait happens in ``process_request`` (the request is held, not its download slot), so other pages go on.
Waits are counted in ``healthdex/retry/backoff_count`` and ``healthdex/retry/backoff_seconds``.
"""

from __future__ import annotations

import email.utils
import time

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future

NOT_BEFORE = "healthdex_retry_not_before"


def retry_after_seconds(value: bytes | str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), or None if absent/unreadable."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.base = settings.getfloat("HEALTHDEX_RETRY_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("HEALTHDEX_RETRY_BACKOFF_MAX", 30.0)
        self.retry_after_max = settings.getfloat("HEALTHDEX_RETRY_AFTER_MAX", 60.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        middleware = cls(crawler.settings)
        middleware.crawler = crawler
        return middleware

    def _stamp(self, retry: Request | Response | None, response: Response | None) -> Request | Response | None:
        if not isinstance(retry, Request):
            return retry
        asked = retry_after_seconds(response.headers.get(b"Retry-After")) if response is not None else None
        if asked is not None:
            wait = min(asked, self.retry_after_max)
        else:
            attempt = max(1, int(retry.meta.get("retry_times", 1)))
            wait = min(self.base * 2 ** (attempt - 1), self.backoff_max)
        if wait > 0:
            retry.meta[NOT_BEFORE] = time.time() + wait
        return retry

    def process_response(self, request: Request, response: Response) -> Request | Response:
        return self._stamp(super().process_response(request, response), response)

    def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:
        return self._stamp(super().process_exception(request, exception), None)

    async def process_request(self, request: Request) -> None:
        not_before = request.meta.pop(NOT_BEFORE, None)
        if not_before is None:
            return None
        wait = not_before - time.time()
        if wait > 0:
            from twisted.internet import reactor
            from twisted.internet.task import deferLater

            stats = self.crawler.stats
            stats.inc_value("healthdex/retry/backoff_count")
            stats.inc_value("healthdex/retry/backoff_seconds", round(wait, 3))
            await maybe_deferred_to_future(deferLater(reactor, wait, lambda: None))
        return None
