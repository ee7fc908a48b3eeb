"""Turn a fetched article page into a clean article record with provenance, using the stripper.

Extraction is the expensive stage of a crawl.  With ``HEALTHDEX_EXTRACT_WORKERS`` > 0 it runs in a process
pool so the reactor keeps fetching while pages are parsed; with 0 it runs inline.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from crawler.items import ArticlePage


def extract_record(page: ArticlePage) -> dict:
    """The stripper's record for ``page`` plus crawl provenance; an unreadable page gives an ``error`` record."""
    from stripper import build_record  # imported in the worker process too

    provenance = {
        "url": page.final_url,
        "requested_url": page.url,
        "final_url": page.final_url,
        "status": page.status,
        "fetched_at": page.fetched_at,
        "warc_file": page.warc_file,
        "warc_record_id": page.warc_record_id,
        "profile": page.profile,
        "etag": page.etag,
        "last_modified": page.last_modified,
    }
    try:
        record = build_record(page.body, page.final_url, http_charset=page.http_charset, selectors=page.selectors)
    except Exception as exc:  # noqa: BLE001 - a page that cannot be read is recorded, never fatal
        return {"id": page.final_url, **provenance, "error": f"{exc.__class__.__name__}: {exc}"}
    record.update(provenance)
    return record


class ExtractArticlePipeline:
    def __init__(self, crawler: Crawler, workers: int) -> None:
        self.crawler = crawler
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractArticlePipeline:
        return cls(crawler, crawler.settings.getint("HEALTHDEX_EXTRACT_WORKERS"))

    async def process_item(self, item, spider: Spider | None = None):
        if not isinstance(item, ArticlePage):
            return item
        if self.workers > 0:
            if self.pool is None:
                # forkserver: never fork a process that runs the reactor and other threads.
                context = multiprocessing.get_context("forkserver")
                self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
            record = await asyncio.wrap_future(self.pool.submit(extract_record, item))
        else:
            record = extract_record(item)
        stats = self.crawler.stats
        stats.inc_value("healthdex/extract_errors" if "error" in record else "healthdex/articles")
        return record

    def spider_closed(self, spider: Spider) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=False)
