"""Turn a fetched article page into a clean article record with provenance, using the stripper.

Extraction is the expensive stage of a crawl.  With ``HEALTHDEX_EXTRACT_WORKERS`` > 0 it runs in a process
pool so the reactor keeps fetching while pages are parsed; with 0 it runs inline.  The record is
``healthdex.provenance.article_record`` — the same function ``healthdex clean`` uses over the WARC.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from crawler.items import ArticlePage, GonePage
from healthdex.provenance import article_record


def extract_record(page: ArticlePage) -> dict:
    """The stripper's record for ``page`` plus crawl provenance; an unreadable page gives an ``error`` record."""
    return article_record(page.body, page.provenance(), http_charset=page.http_charset, selectors=page.selectors)


def _extract(body: bytes, prov: dict, http_charset: str | None, selectors: dict,
             signature: tuple[int, int] | None = None) -> dict:
    """In a worker: the record, and (``signature`` = (permutations, shingle size)) its MinHash for the
    duplicates pipeline, so the reactor does not shingle and hash every text."""
    record = article_record(body, prov, http_charset=http_charset, selectors=selectors)
    if signature and record.get("text") and "error" not in record:
        from crawler.pipelines.duplicates import SIGNATURE_KEY, text_minhash

        minhash = text_minhash(record["text"], *signature)
        if minhash is not None:
            record[SIGNATURE_KEY] = minhash
    return record


def _warm_up() -> None:
    import stripper  # noqa: F401 - import BeautifulSoup and the rules once per worker, not per page


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
            for path, priority in settings.getwithbase("ITEM_PIPELINES").items())
        self.signature = (settings.getint("HEALTHDEX_MINHASH_PERMUTATIONS"),
                          settings.getint("HEALTHDEX_SHINGLE_SIZE")) if near else None
        self.pool: ProcessPoolExecutor | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractArticlePipeline:
        return cls(crawler, resolve_workers(crawler.settings.get("HEALTHDEX_EXTRACT_WORKERS")))

    def spider_opened(self, spider: Spider) -> None:
        if self.workers > 0:
            # forkserver: never fork a process that runs the reactor and other threads.
            context = multiprocessing.get_context("forkserver")
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context, initializer=_warm_up)
        self.crawler.stats.set_value("healthdex/extract_workers", self.workers)

    async def process_item(self, item, spider: Spider | None = None):
        if not isinstance(item, ArticlePage) or isinstance(item, GonePage):
            return item
        if self.pool is not None:
            future = self.pool.submit(_extract, item.body, item.provenance(), item.http_charset, item.selectors,
                                      self.signature)
            record = await asyncio.wrap_future(future)
        else:
            record = extract_record(item)
        stats = self.crawler.stats
        stats.inc_value("healthdex/extract_errors" if "error" in record else "healthdex/articles")
        return record

    def spider_closed(self, spider: Spider) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=False)
