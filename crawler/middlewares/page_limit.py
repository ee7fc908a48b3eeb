"""Hard page limits: at most ``HEALTHDEX_MAX_PAGES`` requests go to the network in a run (``--max-pages``), and
at most a profile's ``limits.max_pages`` to its site.

``CLOSESPIDER_PAGECOUNT`` alone only starts closing the spider: the requests already queued in the downloader
(up to ``CONCURRENT_REQUESTS``) are still fetched.  This middleware refuses them (counted as
``healthdex/dropped/max_pages``).  Answers from the WARC on resume do not count (HttpCacheMiddleware, before
this one, answers them).  A distributed crawl counts for
all its workers together (crawler.distributed.page_limit).
"""

from __future__ import annotations

from collections import Counter

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest


class PageLimitMiddleware:
    def __init__(self, crawler: Crawler, max_pages: int) -> None:
        self.crawler = crawler
        self.max_pages = max_pages
        self.sent = 0
        self.sent_by_profile: Counter[str] = Counter()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageLimitMiddleware:
        return cls(crawler, crawler.settings.getint("HEALTHDEX_MAX_PAGES"))

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if request.meta.get("dont_obey_robotstxt"):
            return None  # RobotsTxtMiddleware's own fetch
        profile_for = getattr(self.crawler.spider, "profile_for", None)
        profile = profile_for(request.url) if profile_for else None
        limit = (profile.limits.get("max_pages") if profile is not None else None) or 0
        if not self.take(request, profile.name if profile is not None else "", limit):
            raise IgnoreRequest(f"{request.url}: page limit reached")
        return None

    def take(self, request: Request, site: str, limit: int) -> bool:
        """Count ``request`` as a page sent, unless that would pass a limit (then it is not sent)."""
        if (self.max_pages and self.sent >= self.max_pages) or (limit and self.sent_by_profile[site] >= limit):
            self.crawler.stats.inc_value("healthdex/dropped/max_pages")
            return False
        self.sent += 1
        self.sent_by_profile[site] += 1
        return True
