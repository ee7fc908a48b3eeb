"""What earlier runs already wrote decides what this run emits (resume and re-crawl).

Reads ``articles.jsonl`` once, before this run appends to it:

- a page answered from the WARC on resume whose record is already in ``articles.jsonl`` (same ``warc_record_id``)
  is dropped: it was written before the kill (a page in flight when the process died is extracted now);
- a page the server answered ``304 Not Modified`` is dropped: its article is unchanged;
- a ``GonePage`` (404/410) for a URL that was an article becomes a ``{"id", ..., "gone": true}`` record, which the
  indexer deletes; a URL never seen as an article is just counted.
"""

from __future__ import annotations

from pathlib import Path

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.items import ArticlePage, GonePage
from crawler.jsonl_store import read_records
from healthdex.records import gone_record


class RecrawlPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        path = Path(crawler.settings.get("HEALTHDEX_OUT_DIR")) / "articles.jsonl"
        self.written: set[str] = set()  # warc_record_ids with a record in articles.jsonl
        self.article_ids: dict[str, str] = {}  # URL (final and requested) -> id of its latest article record
        self.gone: set[str] = set()
        for record in read_records(path):
            if record.get("warc_record_id"):
                self.written.add(record["warc_record_id"])
            self._remember(record)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RecrawlPipeline:
        return cls(crawler)

    def _remember(self, record: dict) -> None:
        article_id = record.get("id")
        if not article_id:
            return
        if record.get("gone"):
            self.gone.add(article_id)
            return
        if "error" in record:
            return
        self.gone.discard(article_id)
        for key in ("final_url", "requested_url"):
            if record.get(key):
                self.article_ids[record[key]] = article_id

    def process_item(self, item, spider: Spider | None = None):
        if isinstance(item, GonePage):
            article_id = self.article_ids.get(item.final_url) or self.article_ids.get(item.url)
            if item.warc_record_id in self.written or not article_id or article_id in self.gone:
                self.stats.inc_value("healthdex/not_found")
                raise DropItem(f"{item.final_url}: {item.status}, not a known article", log_level="DEBUG")
            self.gone.add(article_id)
            self.stats.inc_value("healthdex/gone")
            return gone_record(article_id, item.provenance())
        if isinstance(item, ArticlePage):
            if item.warc_record_id and item.warc_record_id in self.written:
                self.stats.inc_value("healthdex/resume/already_written")
                raise DropItem(f"{item.final_url}: already in articles.jsonl", log_level="DEBUG")
            if item.not_modified:
                self.stats.inc_value("healthdex/unchanged")
                raise DropItem(f"{item.final_url}: not modified since the last crawl", log_level="DEBUG")
        elif isinstance(item, dict) and "error" not in item:
            self._remember(item)
        return item
