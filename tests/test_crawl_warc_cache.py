"""crawler.warc_cache through Scrapy's HttpCacheMiddleware: an earlier capture is always revalidated (even one whose
headers say it is fresh for a year), a 304 or a 5xx hands on the stored page flagged ``unchanged``, a changed page
replaces it, and a capture of the interrupted run is answered without a request."""

from __future__ import annotations

from types import SimpleNamespace

from scrapy import Request
from scrapy.downloadermiddlewares.httpcache import HttpCacheMiddleware
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawler.extensions.crawl_state import CrawlState, save_state
from crawler.warc_cache import WarcCacheStorage
from crawler.warc_store import WarcStore

URL = "http://www.healthdex-bench.org/a/1.html"
HEADERS = [("Content-Type", "text/html"), ("ETag", '"v1"'), ("Cache-Control", "max-age=31536000")]


def _middleware(tmp_path, state: CrawlState):
    save_state(tmp_path, state)
    store = WarcStore(tmp_path / "pages.warc.gz", {"software": "test"}, index=True)
    store.write_exchange(
        url=URL,
        method="GET",
        request_headers=[],
        request_body=b"",
        status=200,
        reason="OK",
        response_headers=HEADERS,
        body=b"<p>stored</p>",
        timestamp=1e9,
    )
    store.close()
    store = WarcStore(tmp_path / "pages.warc.gz", None, index=True)  # reopened: the crawl's one read
    settings = {
        "HEALTHDEX_OUT_DIR": str(tmp_path),
        "HTTPCACHE_ENABLED": True,
        "HTTPCACHE_STORAGE": "crawler.warc_cache.WarcCacheStorage",
        "HTTPCACHE_POLICY": "crawler.warc_cache.RevalidatePolicy",
    }
    crawler = get_crawler(settings_dict=settings)
    middleware = HttpCacheMiddleware.from_crawler(crawler)
    assert isinstance(middleware.storage, WarcCacheStorage)
    crawler.get_downloader_middleware = lambda cls: SimpleNamespace(open_store=lambda: store)
    crawler.spider = SimpleNamespace(crawler=crawler, name="health")
    middleware.storage.open_spider(crawler.spider)
    return middleware, crawler.stats


def test_an_earlier_capture_is_revalidated_and_stands_on_304_or_5xx(tmp_path):
    middleware, stats = _middleware(tmp_path, CrawlState("finished", 1, 0, 0))
    for status, expect_stored in ((304, True), (503, True), (200, False)):
        request = Request(URL)
        assert middleware.process_request(request) is None  # not fresh, whatever its max-age: a request goes out
        assert request.headers[b"If-None-Match"] == b'"v1"'
        fetched = Response(URL, status=status, body=b"<p>new</p>" if status == 200 else b"", request=request)
        answer = middleware.process_response(request, fetched)
        assert (answer is not fetched) == expect_stored, status
        if expect_stored:
            assert answer.body == b"<p>stored</p>" and "unchanged" in answer.flags
    assert (
        stats.get_value("httpcache/revalidate") == 2 and stats.get_value("healthdex/recrawl/conditional_requests") == 3
    )


def test_a_capture_of_the_interrupted_run_is_answered_from_the_warc(tmp_path):
    middleware, stats = _middleware(tmp_path, CrawlState("running", 1, 0, 0))
    request = Request(URL)
    answer = middleware.process_request(request)
    assert answer is not None and answer.body == b"<p>stored</p>" and "resumed" in answer.flags
    assert request.meta["warc_record_id"] and b"If-None-Match" not in request.headers
    assert stats.get_value("healthdex/resume/replayed") == 1
