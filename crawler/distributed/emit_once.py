"""Write each article once across all workers of a distributed crawl: the JSONL writer of ``--redis`` crawls.

The shared duplicate filter sends each URL to one worker; this covers what it cannot: a request redone after its
worker was declared dead (which may have written the article, or may still be about to), and two URLs with one
article key (``id``: the canonical URL, else ``final_url``).

The claim is taken in the same call as the line's write (fencing): ``scripts.CLAIM_ARTICLE`` sets the key in the
crawl's ``emitted`` hash to ``pending:<worker>`` and renews the worker's heartbeat (its lease: nobody takes the
claim over before it expires), atomically; the line is written and flushed; the key becomes ``done:<worker>``.  An
article ``done`` elsewhere, or pending in another live worker, is dropped: of a worker frozen past the heartbeat
timeout and the worker that redid its request, the first to write writes, the other writes nothing.  A key left
``pending`` by a dead worker is taken over, so one window is left: a worker killed between its write and ``done``
(one Redis round trip) has its article written again under the same ``id`` (the index keeps one record per id).
A worker started again under its id first settles the claims its previous life left ``pending``: ``done`` when
its ``articles.jsonl`` has the article, else released (left pending, every other worker would drop it).
Stats: ``distributed/articles_claimed``, ``distributed/articles_taken_over``, ``distributed/duplicates_dropped``.
"""

from __future__ import annotations

from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from crawler.distributed import scripts
from crawler.distributed.keys import CrawlKeys, crawl_id, redis_from_settings, worker_id
from crawler.distributed.worker import heartbeat_value
from crawler.jsonl_store import read_records
from crawler.pipelines.jsonl_writer import JsonLinesWriterPipeline


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def article_key(record: dict) -> str | None:
    return record.get("id") or record.get("final_url") or record.get("url")


def claim_args(key: str, worker: str, lease_ms: int) -> list[Any]:
    """``scripts.CLAIM_ARTICLE``'s arguments: the key, the worker, its lease and its heartbeat's value."""
    return [key, worker, lease_ms, heartbeat_value(worker)]


class EmitOnceWriterPipeline(JsonLinesWriterPipeline):
    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.get("HEALTHDEX_REDIS_URL"):
            raise NotConfigured("HEALTHDEX_REDIS_URL is not set")
        super().__init__(crawler)
        self.worker = worker_id(crawler.settings)
        self.lease_ms = int(crawler.settings.getfloat("HEALTHDEX_REDIS_WORKER_TIMEOUT") * 1000)
        self.server = redis_from_settings(crawler.settings)
        self.claim = self.server.register_script(scripts.CLAIM_ARTICLE)
        self.keys: CrawlKeys | None = None

    def spider_opened(self, spider: Spider) -> None:
        self.keys = CrawlKeys(crawl_id(self.crawler.settings, spider))
        self.settle_own_claims()
        super().spider_opened(spider)

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
        written = {article_key(record) for record in read_records(self.path)}
        pipe = self.server.pipeline()  # no script: nobody takes over the claims of a live worker
        for key in pending:
            if key in written:
                pipe.hset(self.keys.emitted, key, f"done:{self.worker}")
            else:
                pipe.hdel(self.keys.emitted, key)
        pipe.execute()
        done = sum(key in written for key in pending)
        self.crawler.stats.inc_value("distributed/claims_settled_done", done)
        self.crawler.stats.inc_value("distributed/claims_released", len(pending) - done)
        return len(pending)

    def write(self, item: dict) -> None:
        key = article_key(item)
        if key is None or self.keys is None:
            return super().write(item)
        stats = self.crawler.stats
        keys = [self.keys.emitted, self.keys.heartbeat_prefix]
        result = int(self.claim(keys=keys, args=claim_args(key, self.worker, self.lease_ms)))
        if result == 0:
            stats.inc_value("distributed/duplicates_dropped")
            raise DropItem(f"article {key} is written by another worker of this crawl")
        stats.inc_value("distributed/articles_taken_over" if result == 2 else "distributed/articles_claimed")
        super().write(item)
        self.server.hset(self.keys.emitted, key, f"done:{self.worker}")
