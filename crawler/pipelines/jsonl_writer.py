"""Append article records to ``HEALTHDEX_OUT_DIR/articles.jsonl`` (one JSON object per line).  ``write`` writes one
line; a distributed crawl's writer (crawler.distributed.emit_once) claims the article around it."""

from __future__ import annotations

from pathlib import Path

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from crawler.jsonl_store import JsonLinesStore
from healthdex import faultpoints

# Fault points (tests/test_kill_crawl.py): an article's WARC record is written, its line not yet; the line written
BEFORE_LINE = faultpoints.register("crawl.article.before_line", "JsonLinesWriterPipeline: before an article's line")
AFTER_LINE = faultpoints.register("crawl.article.after_line", "JsonLinesWriterPipeline: after an article's line")


class JsonLinesWriterPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.path = Path(crawler.settings.get("HEALTHDEX_OUT_DIR")) / "articles.jsonl"
        self.store: JsonLinesStore | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JsonLinesWriterPipeline:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        self.store = JsonLinesStore(self.path)
        if self.store.repaired_bytes:
            self.crawler.stats.set_value("healthdex/jsonl_repaired_bytes", self.store.repaired_bytes)

    def spider_closed(self, spider: Spider) -> None:
        if self.store:
            self.store.close()

    def process_item(self, item, spider: Spider | None = None):
        if isinstance(item, dict) and self.store is not None:
            faultpoints.reach(BEFORE_LINE)
            self.write(item)
        return item

    def write(self, item: dict) -> None:
        assert self.store is not None
        self.store.write({k: v for k, v in item.items() if not k.startswith("_")})
        faultpoints.reach(AFTER_LINE)
        self.crawler.stats.inc_value("healthdex/records_written")
