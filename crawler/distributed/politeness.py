"""Per-host politeness for the whole distributed crawl, not per worker: the next send time of each host lives in
Redis and every worker reserves it before sending.

Reservation (``scripts.RESERVE_HOST_SLOT``, atomic, on the Redis clock): ``slot = max(now, last + delay)``,
``last := slot``; the worker then waits ``slot - now`` without blocking the reactor and sends.  Two reservations
for one host are therefore at least ``delay`` apart, whichever workers make them, so N workers hit a host no
more often than one worker would.

Why a download handler and not a downloader middleware: downloader middlewares run before Scrapy's per-slot
queue, which can hold a request back further (its own delay, its concurrency limit), so the moment the request
actually leaves could drift past the reserved time while another worker's request leaves on time, closer than
``delay``.  The handler runs when the request is about to go on the wire, inside the slot's transfer, so the
reserved times are the send times.  Scrapy's own per-worker delay stays in force too; it only ever adds spacing.

The delay of a request is the larger of its download slot's configured delay (``DOWNLOAD_SLOTS[slot]["delay"]``
as the spider sets it from the profile, or ``DOWNLOAD_DELAY`` / ``--delay``) and the slot's current delay
(raised by AutoThrottle or a robots.txt Crawl-delay applied to the slot).  The host is the URL's host name, so
robots.txt fetches (which carry no profile slot) are spaced with the pages of the same host.

What is not guaranteed: the bytes leave when the worker's reactor gets to them.  A sleep that overran its slot
(reactor busy) re-reserves instead of sending late, but a stall between waking and writing the request still
shifts that one request; keep heavy work off the reactor thread (``HEALTHDEX_EXTRACT_WORKERS``).

Settings: ``HEALTHDEX_REDIS_POLITENESS`` (default True; False leaves spacing to each worker alone).
Stats: ``distributed/politeness/reserved``, ``distributed/politeness/waited_s`` (total seconds waited),
``distributed/politeness/late_rereserved``.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater

from crawler.distributed import scripts
from crawler.distributed.keys import host_key, redis_from_settings

# Host keys outlive the last reservation by this much, then Redis forgets them.
_KEY_TTL_MS = 10 * 60 * 1000
# A sleep that ends later than this after its reserved time gives the slot up and books another (seconds) ...
_LATE = 0.02
# ... at most this many times (then it sends: a reactor that stalls every time has bigger problems).
_MAX_RESERVATIONS = 5


class HostSlots:
    """Reserve send times per host in Redis.  Plain object: usable (and tested) without Scrapy."""

    def __init__(self, server) -> None:
        self.server = server
        self._reserve = server.register_script(scripts.RESERVE_HOST_SLOT)

    def reserve(self, host: str, delay: float) -> float:
        """Seconds to wait before sending to ``host``, having reserved that moment for this request."""
        ttl = _KEY_TTL_MS + int(delay * 1000)
        wait = self._reserve(keys=[host_key(host)], args=[f"{max(delay, 0.0):.6f}", ttl])
        return max(float(wait), 0.0)


class PoliteHTTPDownloadHandler(HTTP11DownloadHandler):
    """``DOWNLOAD_HANDLERS`` for http/https in a distributed crawl: Scrapy's HTTP/1.1 handler behind a
    crawl-wide per-host reservation."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.enabled = bool(crawler.settings.get("HEALTHDEX_REDIS_URL")) and crawler.settings.getbool(
            "HEALTHDEX_REDIS_POLITENESS", True)
        self.slots = HostSlots(redis_from_settings(crawler.settings)) if self.enabled else None
        self._configured: dict[str, float] | None = None

    def request_delay(self, request: Request) -> float:
        settings = self._crawler.settings
        if self._configured is None:
            self._configured = {key: float(slot["delay"]) for key, slot in settings.getdict("DOWNLOAD_SLOTS").items()
                                if isinstance(slot, dict) and "delay" in slot}
        downloader = self._crawler.engine.downloader
        key = downloader.get_slot_key(request)
        delay = self._configured.get(key, settings.getfloat("DOWNLOAD_DELAY"))
        slot = downloader.slots.get(key)
        if slot is not None:
            delay = max(delay, float(slot.delay))
        return delay

    async def download_request(self, request: Request) -> Response:
        if self.slots is not None:
            host = (urlsplit(request.url).hostname or "").lower()
            delay = self.request_delay(request)
            if host and delay > 0:
                await self.wait_for_slot(host, delay)
        return await super().download_request(request)

    async def wait_for_slot(self, host: str, delay: float) -> None:
        """Reserve a send time for ``host`` and sleep until it, without blocking the reactor.  A sleep that
        overran its slot by more than ``_LATE`` (the reactor was busy, e.g. parsing a page) gives the slot up and
        reserves the next free one, since other workers' requests may already be booked right after it."""
        from twisted.internet import reactor  # the installed one; importing it at module level could install one

        stats = self._crawler.stats
        for _ in range(_MAX_RESERVATIONS):
            wait = self.slots.reserve(host, delay)
            due = time.monotonic() + wait
            stats.inc_value("distributed/politeness/reserved")
            if wait > 0:
                stats.inc_value("distributed/politeness/waited_s", wait)
                await maybe_deferred_to_future(deferLater(reactor, wait, lambda: None))
            if time.monotonic() - due <= _LATE:
                return
            stats.inc_value("distributed/politeness/late_rereserved")
