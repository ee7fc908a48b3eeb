"""A live progress line on a terminal: pages, articles, errors, rate and queue size, redrawn every second.

Off when stderr is not a terminal (``HEALTHDEX_PROGRESS = "auto"``), or forced with ``true`` / ``false``; also off
with ``-v`` (Scrapy's log goes to the terminal then).
"""

from __future__ import annotations

import sys
import time

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task


class ProgressLine:
    def __init__(self, crawler: Crawler, interval: float, stream) -> None:
        self.crawler = crawler
        self.interval = interval
        self.stream = stream
        self.started = time.monotonic()
        self.loop: task.LoopingCall | None = None
        self.width = 0
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressLine:
        mode = str(crawler.settings.get("HEALTHDEX_PROGRESS", "auto")).lower()
        stream = sys.stderr
        if mode in ("false", "0", "off", "no") or (mode == "auto" and not stream.isatty()):
            raise NotConfigured  # (no message: Scrapy would log a warning for it)
        return cls(crawler, crawler.settings.getfloat("HEALTHDEX_PROGRESS_INTERVAL", 1.0), stream)

    def spider_opened(self, spider: Spider) -> None:
        self.started = time.monotonic()
        self.loop = task.LoopingCall(self.draw)
        self.loop.start(self.interval, now=False)

    def line(self) -> str:
        stats = self.crawler.stats
        pages = stats.get_value("response_received_count", 0)
        articles = stats.get_value("healthdex/records_written", 0)
        errors = sum(v for k, v in stats.get_stats().items() if k.startswith("downloader/exception_type_count/"))
        errors += stats.get_value("healthdex/extract_errors", 0)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        engine = self.crawler.engine
        queued = 0
        try:
            queued = len(engine._slot.scheduler) + len(engine.downloader.active)  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - the engine's internals vary between Scrapy versions
            pass
        return (f"healthdex: {pages} pages, {articles} articles, {errors} errors, "
                f"{pages / elapsed:.1f} pages/s, {queued} queued, {elapsed:.0f}s")

    def draw(self) -> None:
        text = self.line()
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def spider_closed(self, spider: Spider) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
            self.draw()
            self.stream.write("\n")
            self.stream.flush()
