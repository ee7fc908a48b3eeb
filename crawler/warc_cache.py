"""Resume and re-crawl through Scrapy's ``HttpCacheMiddleware``, with the crawl's own WARC as its storage.

- Resume: when the previous process died mid-run (``crawl-state.json`` still says ``running``), a request whose URL
  the WARC already answered in that run is answered from that WARC record, not fetched again (the policy takes it as
  fresh).  Sitemaps, robots.txt and pages are re-read from the capture, so the spider re-discovers the same frontier
  and fetches only what is missing.  Scrapy's JOBDIR cannot do this: its queue is written on close, which SIGKILL
  never reaches; the WARC is flushed per response.
- Re-crawl: a URL an earlier run fetched (a 200 with ``ETag`` or ``Last-Modified``) is revalidated, whatever its
  freshness headers: a re-crawl asks the site about every page, with a conditional request (a 304 costs the site no
  body).  ``RFC2616Policy`` then decides: on a 304 (or a 5xx without ``must-revalidate``, or a download error)
  ``HttpCacheMiddleware`` hands on the stored page, flagged ``unchanged``: its links are followed and its article is
  not re-emitted.

The WARC is read once, by :class:`crawler.warc_store.WarcStore` when the capture middleware opens it; responses are
served from it by offset.  ``store_response`` writes nothing: every response is already in the WARC.
``HTTPCACHE_ENABLED = False`` turns both off.
"""

from __future__ import annotations

from pathlib import Path

from scrapy import Request, Spider
from scrapy.extensions.httpcache import RFC2616Policy
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes
from scrapy.settings import BaseSettings

from crawler.extensions.crawl_state import load_state
from crawler.middlewares.warc_capture import WarcCaptureMiddleware
from crawler.warc_store import Capture
from healthdex.urls import url_key
from healthdex.warc_reader import record_at

# Answers not worth replaying on resume: fetch these again.
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class RevalidatePolicy(RFC2616Policy):
    """``RFC2616Policy``, except for freshness: a page this run captured before it was killed is fresh (resume); any
    other stored page is stale and revalidated with its ``ETag`` / ``Last-Modified`` (re-crawl)."""

    def is_cached_response_fresh(self, cachedresponse: Response, request: Request) -> bool:
        if "resumed" in cachedresponse.flags:
            return True
        for header, validator in ((b"If-None-Match", b"ETag"), (b"If-Modified-Since", b"Last-Modified")):
            if validator in cachedresponse.headers:
                request.headers[header] = cachedresponse.headers[validator]
        return False


class WarcCacheStorage:
    """``HTTPCACHE_STORAGE`` over ``HEALTHDEX_OUT_DIR/pages.warc.gz``."""

    def __init__(self, settings: BaseSettings) -> None:
        self.state = load_state(Path(settings.get("HEALTHDEX_OUT_DIR")))  # before this run writes its own
        self.resumed: dict[str, Capture] = {}  # this run's captures, before it was killed
        self.earlier: dict[str, Capture] = {}  # earlier runs' pages, to revalidate

    def open_spider(self, spider: Spider) -> None:
        self.stats = spider.crawler.stats
        store = spider.crawler.get_downloader_middleware(WarcCaptureMiddleware).open_store()
        self.warc_path = store.path
        interrupted = self.state.interrupted
        for capture in store.captures:  # WARC order: later captures win
            if interrupted and capture.offset >= self.state.run_offset:
                if capture.status not in _RETRY_STATUSES:
                    self.resumed[url_key(capture.url)] = capture
            elif capture.status == 200 and capture.validated:
                self.earlier[url_key(capture.url)] = capture

    def close_spider(self, spider: Spider) -> None:
        pass

    def retrieve_response(self, spider: Spider, request: Request) -> Response | None:
        key = url_key(request.url)
        capture = self.resumed.get(key)
        if capture is not None:
            self.stats.inc_value("healthdex/resume/replayed")
            if capture.status == 304 and key in self.earlier:  # a re-crawl resumed: its 304 stands for the page
                return self._response(request, self.earlier[key], "resumed", "unchanged")
            return self._response(request, capture, "resumed")
        capture = self.earlier.get(key)
        if capture is None or request.method != "GET":
            return None
        self.stats.inc_value("healthdex/recrawl/conditional_requests")
        return self._response(request, capture, "unchanged")

    def store_response(self, spider: Spider, request: Request, response: Response) -> None:
        pass  # the capture middleware has written it to the WARC

    def _response(self, request: Request, capture: Capture, *flags: str) -> Response:
        with record_at(self.warc_path, capture.offset) as record:
            http, warc = record.http_headers, record.rec_headers
            status, body = int(http.get_statuscode()), record.raw_stream.read()  # body as received (still encoded)
            headers = Headers()
            for name, value in http.headers:
                headers.appendlist(name, value)
            if "resumed" in flags:  # the response as first captured: its provenance is that record's
                request.meta["warc_record_id"] = warc.get_header("WARC-Record-ID") or ""
                request.meta["warc_file"] = self.warc_path.name
                request.meta["fetched_at"] = warc.get_header("WARC-Date") or ""
        cls = responsetypes.from_args(headers=headers, url=request.url, body=body)
        return cls(url=request.url, status=status, headers=headers, body=body, request=request, flags=list(flags))
