"""Seed the shared frontier once per crawl: the first worker enqueues the spider's start requests (sitemaps,
robots.txt, start URLs); workers that join later only consume.

``process_start`` claims seeding with ``scripts.CLAIM_SEEDING`` (``seeded`` = ``seeding:<worker>``), passes the
start requests through, and sets ``seeded`` = ``done`` once the spider's ``start()`` is exhausted.  A worker that
dies while seeding leaves ``seeding:<dead worker>``; the next worker to start takes over and seeds again, and the
shared duplicate filter drops the requests the dead one had already enqueued.
Stats: ``distributed/seeded`` (1 in the worker that seeded), ``distributed/seed_requests``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.distributed import scripts
from crawler.distributed.keys import CrawlKeys, crawl_id, redis_from_settings, worker_id
from crawler.distributed.worker import beat

logger = logging.getLogger(__name__)


class SeedOnceMiddleware:
    """Spider middleware (``SPIDER_MIDDLEWARES``) that lets only one worker of a crawl emit start requests."""

    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.get("HEALTHDEX_REDIS_URL"):
            raise NotConfigured("HEALTHDEX_REDIS_URL is not set")
        self.crawler = crawler
        self.worker = worker_id(crawler.settings)
        self.ttl = crawler.settings.getfloat("HEALTHDEX_REDIS_WORKER_TIMEOUT")
        self.server = redis_from_settings(crawler.settings)
        self._claim = self.server.register_script(scripts.CLAIM_SEEDING)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SeedOnceMiddleware:
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        keys = CrawlKeys(crawl_id(self.crawler.settings, self.crawler.spider))
        beat(self.server, keys, self.worker, self.ttl)  # alive before claiming, so nobody takes over wrongly
        if not int(self._claim(keys=[keys.seeded, keys.heartbeat_prefix], args=[self.worker])):
            logger.info("distributed worker %s: crawl %r already seeded; consuming the shared frontier",
                        self.worker, keys.crawl_id)
            return
        stats = self.crawler.stats
        stats.set_value("distributed/seeded", 1)
        async for item in start:
            if isinstance(item, Request):
                stats.inc_value("distributed/seed_requests")
            yield item
        self.server.set(keys.seeded, "done")
        self.server.hincrby(keys.counters, "seedings", 1)
        logger.info("distributed worker %s: seeded crawl %r", self.worker, keys.crawl_id)
