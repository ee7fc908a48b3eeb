"""Write ``crawl-report.json`` into the output folder when the crawl ends (``healthdex crawl-report`` reads it), with
per site the articles written (``item_scraped``) and the spacing of its requests (``crawler.signals.request_sent``)."""

from __future__ import annotations

import json
import time
from array import array
from collections import defaultdict
from pathlib import Path

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from crawler.report import site_rows, summarise_stats
from crawler.signals import request_sent


class CrawlReport:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.out_dir = Path(crawler.settings.get("HEALTHDEX_OUT_DIR"))
        self.started = time.time()
        self.spacing: defaultdict[str, array] = defaultdict(lambda: array("d"))  # site -> seconds between requests
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.request_sent, signal=request_sent)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlReport:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        self.started = time.time()

    def request_sent(self, request, site: str, gap: float | None) -> None:
        if gap is not None:
            self.spacing[site].append(gap)

    def item_scraped(self, item) -> None:
        if isinstance(item, dict) and item.get("profile") and not item.get("gone") and "error" not in item:
            self.crawler.stats.inc_value(f"healthdex/site/{item['profile']}/articles")

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
        report["sites"] = site_rows(stats, self.spacing)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / "crawl-report.json"
        path.write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
