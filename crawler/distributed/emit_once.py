"""Write each article once across all workers of a distributed crawl.

The shared duplicate filter already sends each URL to one worker; this covers what it cannot: a request put
back after its worker died (the dead worker may have written the article already), and two URLs that resolve to
one article key (``id``: the canonical URL, else ``final_url``).

Before the JSONL writer (priority 850 < 900) the pipeline claims the key in the crawl's ``emitted`` hash
(``scripts.CLAIM_ARTICLE``): ``pending:<worker>``; an article that is ``done`` elsewhere, or pending in a live
worker, is dropped.  After every pipeline has run (``item_scraped``, or ``item_dropped``/``item_error`` from a
later pipeline) the key becomes ``done:<worker>``.  A key left ``pending`` by a dead worker is taken over.
Stats: ``distributed/articles_claimed``, ``distributed/articles_taken_over``, ``distributed/duplicates_dropped``.
"""

from __future__ import annotations

from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from crawler.distributed import scripts
from crawler.distributed.keys import CrawlKeys, crawl_id, redis_from_settings, worker_id


def article_key(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    return item.get("id") or item.get("final_url") or item.get("url")


class EmitOncePipeline:
    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.get("HEALTHDEX_REDIS_URL"):
            raise NotConfigured("HEALTHDEX_REDIS_URL is not set")
        self.crawler = crawler
        self.worker = worker_id(crawler.settings)
        self.server = redis_from_settings(crawler.settings)
        self._claim = self.server.register_script(scripts.CLAIM_ARTICLE)
        self.keys: CrawlKeys | None = None
        self.claimed: set[str] = set()
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(self.item_finished, signal=signal)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EmitOncePipeline:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        self.keys = CrawlKeys(crawl_id(self.crawler.settings, spider))

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        key = article_key(item)
        if key is None or self.keys is None:
            return item
        stats = self.crawler.stats
        if key in self.claimed:  # this worker is already writing it (two URLs, one article)
            stats.inc_value("distributed/duplicates_dropped")
            raise DropItem(f"article {key} is already being written by this worker")
        result = int(self._claim(keys=[self.keys.emitted, self.keys.heartbeat_prefix], args=[key, self.worker]))
        if result == 0:
            stats.inc_value("distributed/duplicates_dropped")
            raise DropItem(f"article {key} is written by another worker of this crawl")
        stats.inc_value("distributed/articles_taken_over" if result == 2 else "distributed/articles_claimed")
        self.claimed.add(key)
        return item

    def item_finished(self, item: Any, **kwargs: Any) -> None:
        key = article_key(item)
        if key is not None and key in self.claimed and self.keys is not None:
            self.claimed.discard(key)
            self.server.hset(self.keys.emitted, key, f"done:{self.worker}")
