"""Turn a fetched article page into a clean article record with provenance, using the stripper.

Extraction is the expensive stage of a crawl.  With ``HEALTHDEX_EXTRACT_WORKERS`` > 0 it runs in a process
pool so the reactor keeps fetching while pages are parsed; with 0 it runs inline.  The record is
``healthdex.provenance.article_record`` — the same function ``healthdex clean`` uses over the WARC.

The pool's processes are started with ``spawn``: the crawl process (reactor, threads) is never forked, and nothing
is left behind when it dies.  (With ``forkserver`` each crawl made a ``/tmp/pymp-*`` folder for the server's socket,
removed only at a normal exit, and a crawl killed with ``kill -9`` left the folder, the forkserver and its workers
for good: every worker holds both ends of the pool's task pipe, so it waits for work forever.)  Each worker also
watches its parent and exits when the crawl process is gone.
"""

from __future__ import annotations

import asyncio
import atexit
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from crawler.items import ArticlePage, GonePage
from healthdex.provenance import article_record


def extract_record(page: ArticlePage) -> dict:
    """The stripper's record for ``page`` plus crawl provenance; an unreadable page gives an ``error`` record."""
    return article_record(page.body, page.provenance(), http_charset=page.http_charset, selectors=page.selectors)


def _extract(
    body: bytes, prov: dict, http_charset: str | None, selectors: dict, signature: tuple[int, int] | None = None
) -> dict:
    """In a worker: the record, and (``signature`` = (permutations, shingle size)) its MinHash for the
    duplicates pipeline, so the reactor does not shingle and hash every text."""
    record = article_record(body, prov, http_charset=http_charset, selectors=selectors)
    if signature and record.get("text") and "error" not in record:
        from crawler.pipelines.duplicates import SIGNATURE_KEY, text_minhash

        minhash = text_minhash(record["text"], *signature)
        if minhash is not None:
            record[SIGNATURE_KEY] = minhash
    return record


def _warm_up(parent: int | None = None) -> None:
    """A worker's initializer: import the stripper once, and exit when process ``parent`` (the crawl) is gone."""
    import stripper  # noqa: F401 - import BeautifulSoup and the rules once per worker, not per page

    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent,), name="healthdex-parent-watch", daemon=True).start()
    # A spawned worker ends through the interpreter's full finalization (a forked one skips it): ~0.2-0.3 s of
    # tearing down BeautifulSoup, lxml and Scrapy modules at every crawl's end.  The pool has all it needs from the
    # worker once it returns (its results go through a synchronous pipe), so leave at the first exit handler.
    atexit.register(os._exit, 0)


def _exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """Exit this process once its parent is no longer ``parent`` (it died; the process was re-parented)."""
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)


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
        self.signature = (
            (settings.getint("HEALTHDEX_MINHASH_PERMUTATIONS"), settings.getint("HEALTHDEX_SHINGLE_SIZE"))
            if near
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
                max_workers=self.workers, mp_context=context, initializer=_warm_up, initargs=(os.getpid(),)
            )
        self.crawler.stats.set_value("healthdex/extract_workers", self.workers)

    async def process_item(self, item, spider: Spider | None = None):
        if not isinstance(item, ArticlePage) or isinstance(item, GonePage):
            return item
        if self.pool is not None:
            future = self.pool.submit(
                _extract, item.body, item.provenance(), item.http_charset, item.selectors, self.signature
            )
            record = await asyncio.wrap_future(future)
        else:
            record = extract_record(item)
        stats = self.crawler.stats
        stats.inc_value("healthdex/extract_errors" if "error" in record else "healthdex/articles")
        return record

    def spider_closed(self, spider: Spider) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=False)
