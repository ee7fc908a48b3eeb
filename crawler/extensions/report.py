"""Write ``crawl-report.json`` into the output folder when the crawl ends (``healthdex crawl-report`` reads it)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from crawler.report import summarise_stats


class CrawlReport:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.out_dir = Path(crawler.settings.get("HEALTHDEX_OUT_DIR"))
        self.started = time.time()
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlReport:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        self.started = time.time()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        stats = dict(self.crawler.stats.get_stats())
        finished = time.time()
        report = summarise_stats(
            stats,
            duration=finished - self.started,
            reason=reason,
            profiles=getattr(spider, "profile_names", ""),
            finished=finished,
        )
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / "crawl-report.json"
        path.write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
