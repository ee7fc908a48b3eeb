"""Turn a fetched article page into a clean article record with provenance, using the stripper.

Extraction is the expensive stage of a crawl.  With ``HEALTHDEX_EXTRACT_WORKERS`` > 0 it runs in a process
pool so the reactor keeps fetching while pages are parsed; with 0 it runs inline.  The record is
``healthdex.records.article_record`` — the same function ``healthdex clean`` uses over the WARC.

The pool's processes are started with ``spawn``: the crawl process (reactor, threads) is never forked, and nothing
is left behind when it dies.  (With ``forkserver`` each crawl made a ``/tmp/pymp-*`` folder for the server's socket,
removed only at a normal exit, and a crawl killed with ``kill -9`` left the folder, the forkserver and its workers
for good: every worker holds both ends of the pool's task pipe, so it waits for work forever.)  Each worker also
watches its parent and exits when the crawl process is gone.  What the workers run is in
``crawler.pipelines.extract_worker``, which imports neither Scrapy nor datasketch.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from crawler.items import ArticlePage, GonePage
from crawler.pipelines.extract_worker import MinHashSpec, extract, warm_up
from healthdex.records import article_record

logger = logging.getLogger(__name__)


def extract_record(page: ArticlePage) -> dict:
    """The stripper's record for ``page`` plus crawl provenance; an unreadable page gives an ``error`` record."""
    return article_record(page.body, page.provenance(), http_charset=page.http_charset, selectors=page.selectors)


def minhash_spec(num_perm: int, shingle_size: int) -> MinHashSpec | None:
    """The workers' recipe for the MinHash ``crawler.pipelines.duplicates.text_minhash`` computes, or None (the
    crawl process computes signatures itself) when a sample text shows the two differ, e.g. under another datasketch
    permutation scheme."""
    import numpy as np

    from crawler.pipelines.duplicates import empty_minhash, text_minhash
    from crawler.pipelines.extract_worker import minhash_values

    empty = empty_minhash(num_perm)
    a, b = (np.asarray(p).astype(np.uint32).tobytes() for p in empty.permutations)
    spec = MinHashSpec(shingle_size, a, b, np.asarray(empty.hashvalues).astype(np.uint32).tobytes())
    sample = "A sample text of more words than a shingle has, to check the workers' signatures: Ärzte 日本語 β 42."
    try:
        values = minhash_values(sample, spec)
    except (TypeError, ValueError, OverflowError):
        return None
    expected = text_minhash(sample, num_perm, shingle_size)
    if values is None or expected is None or values.tolist() != np.asarray(expected.hashvalues).tolist():
        return None
    return spec


def resolve_workers(value: str | int | None) -> int:
    """``HEALTHDEX_EXTRACT_WORKERS``: a number, or ``auto`` (one per core; 0 on a single core)."""
    if value in (None, "", "auto"):
        cores = os.cpu_count() or 1
        return cores if cores > 1 else 0
    return max(0, int(value))


class ExtractArticlePipeline:
    def __init__(self, crawler: Crawler, workers: int) -> None:
        self.crawler = crawler
        self.workers = workers
        settings = crawler.settings
        near = settings.getfloat("HEALTHDEX_NEAR_DUPLICATE_THRESHOLD") > 0 and any(
            "DuplicatesPipeline" in str(path) and priority is not None
            for path, priority in settings.getwithbase("ITEM_PIPELINES").items()
        )
        self.signature: MinHashSpec | None = (
            minhash_spec(settings.getint("HEALTHDEX_MINHASH_PERMUTATIONS"), settings.getint("HEALTHDEX_SHINGLE_SIZE"))
            if near and workers > 0
            else None
        )
        self.pool: ProcessPoolExecutor | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractArticlePipeline:
        return cls(crawler, resolve_workers(crawler.settings.get("HEALTHDEX_EXTRACT_WORKERS")))

    def spider_opened(self, spider: Spider) -> None:
        if self.workers > 0:
            # spawn: never fork a process that runs the reactor and other threads; no socket folder in /tmp.
            context = multiprocessing.get_context("spawn")
            self.pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=warm_up,
                initargs=(os.getpid(), self.signature is not None),
            )
        self.crawler.stats.set_value("healthdex/extract_workers", self.workers)

    async def process_item(self, item, spider: Spider | None = None):
        if not isinstance(item, ArticlePage) or isinstance(item, GonePage):
            return item
        if self.pool is not None:
            future = self.pool.submit(
                extract, item.body, item.provenance(), item.http_charset, item.selectors, self.signature
            )
            record = await asyncio.wrap_future(future)
        else:
            record = extract_record(item)
        stats = self.crawler.stats
        stats.inc_value("healthdex/extract_errors" if "error" in record else "healthdex/articles")
        if "error" not in record and not record.get("text"):
            stats.inc_value("healthdex/empty_articles")
            stats.inc_value(f"healthdex/empty/{record.get('empty_reason') or 'no text'}")
        if record.get("limits"):
            stats.inc_value("healthdex/extract_limited")
            for line in record["limits"]:
                logger.warning("%s: %s", record.get("url"), line)
        return record

    def spider_closed(self, spider: Spider) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=False)
