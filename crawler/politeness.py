"""Politeness as a promise: a request to a host starts at least its delay after the previous request to it ended (the
server had it before its response ended, so the site sees the spacing whatever connection set-up costs), in one
process and across Redis workers (``crawler.distributed.politeness``).  With a delay, a host's requests go one at a
time.

The delay: the largest of the site's (``DOWNLOAD_SLOTS[profile]["delay"]``: ``download_delay`` or ``--delay``; else
``DOWNLOAD_DELAY``), the host's robots.txt ``Crawl-delay`` (RobotsTxtMiddleware's parser, ``robots_parsed`` signal;
capped at ``HEALTHDEX_MAX_CRAWL_DELAY`` or the profile's ``max_crawl_delay``) and the slot's AutoThrottle delay.
Scrapy's slot delay, jitter and AutoThrottle pace the queue before this handler: they only add.  A request reserves a
send time after those reserved, sleeps (the reactor runs on) and takes the host once the last request ended a delay
ago, else waits what is missing, keeping its turn; a killed worker's grant lapses after ``DOWNLOAD_TIMEOUT`` + 5 s.
Stats: ``healthdex/site/<site>/pages``, ``healthdex/crawl_delay/<host>``, ``healthdex/politeness/waited_s``; each
grant's gap from the host's previous one goes out with ``request_sent`` (below).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from scrapy import Request, signals
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.task import deferLater

logger = logging.getLogger(__name__)

# A signal sent as a request goes on the wire, with ``request``, ``site`` (its profile's name, else its host) and
# ``gap``: seconds since the previous request to the host (None for the first); the crawl report keeps the gaps.
request_sent = object()


@dataclass
class HostState:
    """One host's spacing in this process (``time.monotonic``); ``crawler.distributed.scripts`` has it in Redis."""

    next: float = -math.inf  # the earliest time a new reservation may take
    ended: float = -math.inf  # when the last granted request ended
    busy: float = -math.inf  # a granted request holds the host until then (or until it ends)
    sent: float | None = None  # the last grant

    def acquire(self, now: float, delay: float, reserved: bool, lease: float) -> tuple[float, float | None]:
        """``(seconds to wait, None)``, or ``(0, seconds since the previous grant or None)``: the host is granted.
        ``reserved``: the caller already waited for its reservation (it keeps its turn, gets no new one)."""
        if delay > 0:
            free = self.ended + delay
            if self.busy > now:  # the request under way may end any moment: a delay from now at the earliest
                free = max(free, now + delay)
            wait = free - now
            if not reserved:
                slot = max(now, free, self.next)
                self.next, wait = slot + delay, slot - now
            if wait > 0:
                return wait, None
            self.busy = now + lease
        gap, self.sent = (None if self.sent is None else now - self.sent), now
        return 0.0, gap

    def release(self, now: float) -> None:
        self.ended, self.busy = now, -math.inf


class LocalHosts:
    def __init__(self) -> None:
        self.states: dict[str, HostState] = {}

    def acquire(self, host: str, delay: float, reserved: bool, lease: float) -> tuple[float, float | None]:
        return self.states.setdefault(host, HostState()).acquire(time.monotonic(), delay, reserved, lease)

    def release(self, host: str, delay: float) -> None:
        self.states[host].release(time.monotonic())


class PoliteHTTPDownloadHandler(HTTP11DownloadHandler):
    """``DOWNLOAD_HANDLERS`` for http and https: Scrapy's HTTP/1.1 handler behind the per-host spacing."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.crawler = crawler
        settings = crawler.settings
        if settings.get("HEALTHDEX_REDIS_URL") and settings.getbool("HEALTHDEX_REDIS_POLITENESS", True):
            from crawler.distributed.keys import redis_from_settings
            from crawler.distributed.politeness import RedisHosts

            self.hosts: LocalHosts | RedisHosts = RedisHosts(redis_from_settings(settings))
        else:
            self.hosts = LocalHosts()
        self.lease = settings.getfloat("DOWNLOAD_TIMEOUT") + 5
        self.agent = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT")
        self.crawl_delays: dict[str, float] = {}  # host -> robots.txt Crawl-delay, capped
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    def _profile(self, url: str):
        profile_for = getattr(self.crawler.spider, "profile_for", None)
        return profile_for(url) if profile_for else None

    def robots_parsed(self, robotparser, request: Request) -> None:
        delay = robotparser.crawl_delay(self.agent)
        if not delay:
            return
        host = (urlparse_cached(request).hostname or "").lower()
        profile = self._profile(request.url)
        cap = self.crawler.settings.getfloat("HEALTHDEX_MAX_CRAWL_DELAY")
        if profile is not None:
            cap = float(profile.politeness.get("max_crawl_delay", cap))
        self.crawl_delays[host] = min(float(delay), cap)
        self.crawler.stats.max_value(f"healthdex/crawl_delay/{host}", self.crawl_delays[host])
        logger.info("%s: robots.txt Crawl-delay %s s (applied %s s)", host, delay, self.crawl_delays[host])

    def request_delay(self, request: Request, host: str, profile) -> float:
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        configured = downloader.per_slot_settings.get(profile.name if profile is not None else key, {})
        delay = float(configured.get("delay", self.crawler.settings.getfloat("DOWNLOAD_DELAY")))
        slot = downloader.slots.get(key)
        return max(delay, slot.delay if slot is not None else 0.0, self.crawl_delays.get(host, 0.0))

    async def download_request(self, request: Request) -> Response:
        host = (urlparse_cached(request).hostname or "").lower()
        profile = self._profile(request.url)
        site = profile.name if profile is not None else host
        delay = self.request_delay(request, host, profile)
        gap = await self.wait_for_host(host, delay)
        self.crawler.signals.send_catch_log(request_sent, request=request, site=site, gap=gap)
        try:
            response = await super().download_request(request)
        finally:
            self.hosts.release(host, delay)  # also after a request with no delay: the next one may have one
        self.crawler.stats.inc_value(f"healthdex/site/{site}/pages")
        return response

    async def wait_for_host(self, host: str, delay: float) -> float | None:
        """Reserve a send time for ``host``, sleep until it (the reactor runs on) and take the host once it is free;
        returns the seconds since the previous grant for the host (None for its first)."""
        from twisted.internet import reactor  # the installed one; importing it at module level could install one

        reserved = False
        while True:
            wait, gap = self.hosts.acquire(host, delay, reserved, self.lease)
            if wait <= 0:
                return gap
            reserved = True
            self.crawler.stats.inc_value("healthdex/politeness/waited_s", wait)
            await maybe_deferred_to_future(deferLater(reactor, wait, lambda: None))
