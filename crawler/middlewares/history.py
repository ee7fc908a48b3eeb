"""Resume and re-crawl from the crawl's own WARC: the WARC is the crawl's durable memory.

- Resume (``HEALTHDEX_RESUME``): when the previous process died mid-run (``crawl-state.json`` still says
  ``running``), a request whose URL the WARC already answered in this run is answered from the WARC record, not
  fetched again.  Sitemaps, robots.txt and pages are re-read from the capture, so the spider re-discovers the same
  frontier (links are re-extracted from the stored bodies) and fetches only what is missing.  Scrapy's JOBDIR
  cannot do this: its queue is written on close, which SIGKILL never reaches; the WARC is flushed per response.
- Re-crawl (``HEALTHDEX_CONDITIONAL_REQUESTS``): requests for URLs an earlier finished run fetched carry
  ``If-None-Match`` / ``If-Modified-Since`` from that capture.  A ``304`` is recorded in the WARC as received, then
  handed to the spider as the stored page (``meta["healthdex_not_modified"]``) so its links are still followed;
  the pipelines do not re-emit its article.
"""

from __future__ import annotations

from pathlib import Path

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes

from crawler.crawl_state import load_state
from crawler.warc_index import Capture, read_response, scan_warc, url_key

# Answers not worth replaying on resume: fetch these again.
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class CaptureHistoryMiddleware:
    def __init__(self, crawler: Crawler, resume: bool, conditional: bool) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        out_dir = Path(crawler.settings.get("HEALTHDEX_OUT_DIR"))
        self.warc_path = out_dir / "pages.warc.gz"
        state = load_state(out_dir)
        self.replayable: dict[str, Capture] = {}
        self.previous: dict[str, Capture] = {}
        if resume or conditional:
            captures = scan_warc(self.warc_path)
            for key, found in captures.items():
                for capture in found:  # WARC order: later captures win
                    if resume and state.interrupted and capture.offset >= state.run_offset:
                        if capture.status not in _RETRY_STATUSES:
                            self.replayable[key] = capture
                    elif conditional and capture.status == 200 and (capture.etag or capture.last_modified):
                        if state.interrupted and capture.offset >= state.run_offset:
                            continue
                        self.previous[key] = capture

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CaptureHistoryMiddleware:
        settings = crawler.settings
        return cls(crawler, settings.getbool("HEALTHDEX_RESUME"), settings.getbool("HEALTHDEX_CONDITIONAL_REQUESTS"))

    def process_request(self, request: Request, spider: Spider | None = None) -> Response | None:
        # A redirect copies the meta of the request it answers: start clean.
        for flag in ("healthdex_replayed", "healthdex_previous", "healthdex_not_modified"):
            request.meta.pop(flag, None)
        key = url_key(request.url)
        capture = self.replayable.get(key)
        if capture is not None:
            self.stats.inc_value("healthdex/resume/replayed")
            if capture.status == 304 and key in self.previous:
                # a re-crawl resumed: the 304 it got stands for the page stored by the earlier run
                stored = self._stored(request, self.previous[key], replayed=True)
                stored.meta["healthdex_not_modified"] = True
                return stored
            return self._stored(request, capture, replayed=True)
        previous = self.previous.get(key)
        if previous is not None and request.method == "GET":
            if previous.etag and b"If-None-Match" not in request.headers:
                request.headers[b"If-None-Match"] = previous.etag
            if previous.last_modified and b"If-Modified-Since" not in request.headers:
                request.headers[b"If-Modified-Since"] = previous.last_modified
            request.meta["healthdex_previous"] = key
            self.stats.inc_value("healthdex/recrawl/conditional_requests")
        return None

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        key = request.meta.get("healthdex_previous")
        if response.status != 304 or key is None or key not in self.previous:
            return response
        self.stats.inc_value("healthdex/recrawl/not_modified")
        stored = self._stored(request, self.previous[key], replayed=False)
        stored.meta["healthdex_not_modified"] = True
        return stored

    def _stored(self, request: Request, capture: Capture, *, replayed: bool) -> Response:
        stored = read_response(self.warc_path, capture.offset)
        headers = Headers()
        for name, value in stored.headers:
            headers.appendlist(name, value)
        cls = responsetypes.from_args(headers=headers, url=request.url, body=stored.body)
        if replayed:
            # The response as first captured: its provenance is that record's, and it is not written again.
            request.meta["healthdex_replayed"] = True
            request.meta["warc_record_id"] = capture.record_id
            request.meta["warc_file"] = self.warc_path.name
            request.meta["fetched_at"] = capture.date
        return cls(url=request.url, status=stored.status, headers=headers, body=stored.body, request=request)
