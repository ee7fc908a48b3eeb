"""Apply robots.txt ``Crawl-delay`` per site (Scrapy's RobotsTxtMiddleware obeys Allow/Disallow but ignores it).

Every robots.txt response that passes through the downloader (RobotsTxtMiddleware's own fetch and the spider's,
for sitemap discovery) is parsed with Protego; the ``Crawl-delay`` for our User-Agent, capped at
``HEALTHDEX_MAX_CRAWL_DELAY`` (or the profile's ``politeness.max_crawl_delay``), becomes the minimum delay of
every download slot that sends requests to that host.  Requests without a slot (RobotsTxtMiddleware's) are put
in their site's profile slot.  Such slots get no jitter (a ±50% random delay would go
below the site's delay) and AutoThrottle is told not to lower them.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from protego import Protego
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response

logger = logging.getLogger(__name__)


class CrawlDelayMiddleware:
    def __init__(self, crawler: Crawler, user_agent: str, max_delay: float) -> None:
        self.crawler = crawler
        self.user_agent = user_agent
        self.max_delay = max_delay
        self.delays: dict[str, float] = {}  # host -> crawl delay (capped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlDelayMiddleware:
        settings = crawler.settings
        agent = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT")
        return cls(crawler, agent, settings.getfloat("HEALTHDEX_MAX_CRAWL_DELAY"))

    def _cap(self, host: str) -> float:
        profile_for = getattr(self.crawler.spider, "profile_for", None)
        profile = profile_for(f"http://{host}/") if profile_for else None
        if profile is not None and "max_crawl_delay" in profile.politeness:
            return float(profile.politeness["max_crawl_delay"])
        return self.max_delay

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        parts = urlsplit(response.url)
        if parts.path != "/robots.txt" or response.status != 200:
            return response
        host = (parts.hostname or "").lower()
        try:
            robots = Protego.parse(response.body.decode("utf-8", errors="replace"))
            delay = robots.crawl_delay(self.user_agent)
        except Exception:  # noqa: BLE001 - a robots.txt we cannot parse sets no delay
            delay = None
        if delay:
            capped = min(float(delay), self._cap(host))
            if capped > self.delays.get(host, 0.0):
                self.delays[host] = capped
                self.crawler.stats.max_value(f"healthdex/crawl_delay/{host}", capped)
                logger.info("%s: robots.txt Crawl-delay %s s (applied %s s)", host, delay, capped)
        return response

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        host = (urlsplit(request.url).hostname or "").lower()
        if "download_slot" not in request.meta:
            # e.g. RobotsTxtMiddleware's own robots.txt fetch: same slot as the site's other requests, so the
            # site sees one stream of requests spaced by its delay, not one per slot.
            profile_for = getattr(self.crawler.spider, "profile_for", None)
            profile = profile_for(request.url) if profile_for else None
            if profile is not None:
                request.meta["download_slot"] = profile.name
        delay = self.delays.get(host)
        if not delay:
            return None
        downloader = self.crawler.engine.downloader
        _, slot = downloader._get_slot(request)  # creates the slot if this is its first request
        if slot.delay < delay or slot.jitter:
            slot.delay = max(slot.delay, delay)
            slot.jitter = 0.0
        request.meta["autothrottle_dont_adjust_delay"] = True
        return None
