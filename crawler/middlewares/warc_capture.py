"""Write every raw response (and its request) to the crawl's WARC, before any decompression.

On open, damage found in an existing WARC (a resumed or re-crawled output folder) is a warning per stretch and the
stats ``healthdex/warc_damage`` (offset, bytes, reason of each) and ``healthdex/warc_damaged_bytes``, which the
crawl report shows; the records after it are still read, only a torn tail is cut (``healthdex/warc_repaired_bytes``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawler.warc_store import WarcStore, warc_date
from healthdex import __version__
from healthdex.records import PROFILE_HEADER, REQUESTED_URI_HEADER

log = logging.getLogger(__name__)

# Settings recorded in the warcinfo record so a published WARC says how it was made.
_RECORDED_SETTINGS = """USER_AGENT ROBOTSTXT_OBEY DOWNLOAD_DELAY CONCURRENT_REQUESTS_PER_DOMAIN AUTOTHROTTLE_ENABLED
    HEALTHDEX_MAX_DEPTH DOWNLOAD_MAXSIZE CLOSESPIDER_PAGECOUNT HEALTHDEX_PROXY""".split()


class WarcCaptureMiddleware:
    """Appends a request/response record pair per response to ``HEALTHDEX_OUT_DIR/pages.warc.gz`` and puts
    the record id, file and fetch time into ``response.meta`` for the article record's provenance."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.out_dir = Path(crawler.settings.get("HEALTHDEX_OUT_DIR"))
        self.store: WarcStore | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        return cls(crawler)

    def open_store(self) -> WarcStore:
        """The crawl's WARC, opened (checked, repaired and indexed: its one read at start-up) on first use."""
        if self.store is None:
            settings = self.crawler.settings
            self.store = WarcStore(
                self.out_dir / "pages.warc.gz",
                None,
                gzip_level=settings.getint("HEALTHDEX_WARC_GZIP_LEVEL"),
                index=settings.getbool("HTTPCACHE_ENABLED"),
            )
        return self.store

    def spider_opened(self, spider: Spider) -> None:
        store = self.open_store()
        settings = self.crawler.settings
        store.write_warcinfo(
            {
                "software": f"healthdex/{__version__} (Scrapy)",
                "format": "WARC File Format 1.1",
                "profiles": getattr(spider, "profile_names", ""),
                "settings": "; ".join(f"{k}={settings.get(k)}" for k in _RECORDED_SETTINGS),
            }
        )
        stats = self.crawler.stats
        if store.repaired_bytes:
            stats.set_value("healthdex/warc_repaired_bytes", store.repaired_bytes)
        if store.damage:
            for damage in store.damage:
                log.warning("%s", damage)
            stats.set_value("healthdex/warc_damage", [d.as_dict() for d in store.damage])
            stats.set_value("healthdex/warc_damaged_bytes", sum(d.length for d in store.damage))

    def spider_closed(self, spider: Spider) -> None:
        if self.store:
            self.store.close()

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        if self.store is None or "cached" in response.flags:
            return response  # answered from this WARC (crawler.warc_cache): already recorded
        now = time.time()
        ip = response.ip_address
        extra = {REQUESTED_URI_HEADER: (request.meta.get("redirect_urls") or [request.url])[0]}
        profile_for = getattr(spider or self.crawler.spider, "profile_for", None)
        profile = profile_for(response.url) if profile_for else None
        if profile is not None:
            extra[PROFILE_HEADER] = profile.name
        record_id = self.store.write_exchange(
            url=response.url,
            method=request.method,
            request_headers=_decode_headers(request.headers),
            request_body=request.body,
            status=response.status,
            reason="",
            response_headers=_decode_headers(response.headers),
            body=response.body,
            timestamp=now,
            ip_address=str(ip) if ip else None,
            extra_headers=extra,
        )
        request.meta["warc_record_id"] = record_id
        request.meta["warc_file"] = self.store.path.name
        request.meta["fetched_at"] = warc_date(now)
        self.crawler.stats.inc_value("healthdex/warc_records")
        self.crawler.stats.inc_value("healthdex/bytes", len(response.body))
        return response


def _decode_headers(headers) -> list[tuple[str, str]]:
    pairs = []
    for name, values in headers.items():
        for value in values:
            pairs.append((name.decode("latin-1"), value.decode("latin-1")))
    return pairs
