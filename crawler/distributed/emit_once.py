"""Write each article once across all workers of a distributed crawl.

The shared duplicate filter already sends each URL to one worker; this covers what it cannot: a request put
back after its worker died (the dead worker may have written the article already), and two URLs that resolve to
one article key (``id``: the canonical URL, else ``final_url``).

Before the JSONL writer (priority 850 < 900) the pipeline claims the key in the crawl's ``emitted`` hash
(``scripts.CLAIM_ARTICLE``): ``pending:<worker>``; an article that is ``done`` elsewhere, or pending in a live
worker, is dropped.  The key becomes ``done:<worker>`` as soon as the line is written: on the writer's
``crawler.signals.record_written``, sent in the same call as the write.  (It used to be ``item_scraped``, whose
handlers Scrapy runs as asyncio tasks on a later turn of the event loop, after whatever else was ready: other pages'
callbacks and inline extraction, tens to hundreds of milliseconds under load.  A worker killed in that window left
a written article ``pending``, and the worker that redid the request wrote it again: the article written twice
that tests/test_distributed.py saw once under heavy load.)  The window left is the Redis round trip after the
flushed write.  An item dropped or failed by a later pipeline (``item_dropped``/``item_error``) is marked done too.
A key left ``pending`` by a dead worker is taken over.  A worker started again under its id first settles the
claims its previous life left ``pending`` (killed between claiming and marking done): ``done`` when its own
``articles.jsonl`` has the article, else released.  (Left pending, such a claim belongs to a live worker again, so
every other worker dropped the article, and it was lost when the previous life had not written it.)
Stats: ``distributed/articles_claimed``, ``distributed/articles_taken_over``, ``distributed/duplicates_dropped``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from crawler.distributed import scripts
from crawler.distributed.keys import CrawlKeys, crawl_id, redis_from_settings, worker_id
from crawler.jsonl_store import read_records
from crawler.signals import record_written


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


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
        self._settle = self.server.register_script(scripts.SETTLE_OWN_CLAIM)
        self.out_dir = Path(crawler.settings.get("HEALTHDEX_OUT_DIR"))
        self.keys: CrawlKeys | None = None
        self.claimed: set[str] = set()
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        # record_written: the line is on disk; the others: a later pipeline dropped or failed the item, or no
        # writer is configured (whichever comes first marks the key done; the rest find it done already).
        for signal in (record_written, signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(self.item_finished, signal=signal)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EmitOncePipeline:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        self.keys = CrawlKeys(crawl_id(self.crawler.settings, spider))
        self.settle_own_claims()

    def settle_own_claims(self) -> int:
        """Claims ``pending:<this worker>`` from a previous life of this worker id: ``done`` if this worker's
        ``articles.jsonl`` has the article, else released; returns how many were settled.
        Stats: ``distributed/claims_settled_done``, ``distributed/claims_released``."""
        assert self.keys is not None
        mine = f"pending:{self.worker}"
        pending = [
            _text(key) for key, value in self.server.hscan_iter(self.keys.emitted, count=1000) if _text(value) == mine
        ]
        if not pending:
            return 0
        written = {article_key(record) for record in read_records(self.out_dir / "articles.jsonl")}
        for key in pending:
            done = key in written
            if int(self._settle(keys=[self.keys.emitted], args=[key, self.worker, "1" if done else "0"])):
                self.crawler.stats.inc_value(
                    "distributed/claims_settled_done" if done else "distributed/claims_released"
                )
        return len(pending)

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
