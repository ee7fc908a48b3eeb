"""Keep ``OUT/crawl-state.json`` (see :mod:`crawler.crawl_state`): ``running`` while a run is under way,
``finished`` when it ends normally.  A run that finds ``running`` is a resume, counted in the report."""

from __future__ import annotations

from pathlib import Path

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from crawler.crawl_state import CrawlState, load_state, next_state, save_state
from crawler.middlewares.warc_capture import WarcCaptureMiddleware


class CrawlStateExtension:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.out_dir = Path(crawler.settings.get("HEALTHDEX_OUT_DIR"))
        self.previous = load_state(self.out_dir)  # before this run changes anything
        self.state: CrawlState | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlStateExtension:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        # The WARC's length once its torn tail is cut (the capture middleware opens it: its one read at start-up).
        store = self.crawler.get_downloader_middleware(WarcCaptureMiddleware).open_store()
        self.state = next_state(self.previous, store.start_length)
        save_state(self.out_dir, self.state)
        stats = self.crawler.stats
        stats.set_value("healthdex/run", self.state.run)
        stats.set_value("healthdex/resumes", self.state.resumes)
        stats.set_value("healthdex/recrawl", int(self.state.run > 1))

    def spider_closed(self, spider: Spider, reason: str) -> None:
        # Only an interrupted run stays "running" (shutdown: Ctrl-C); a limit reached is a finished run.
        if self.state is not None and reason != "shutdown":
            self.state.state = "finished"
            save_state(self.out_dir, self.state)
