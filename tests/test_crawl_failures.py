"""Why a page failed comes from the exception's type and the response's status, never from its message (which may
contain the URL): crawler.middlewares.failures over the exceptions Scrapy's own components raise."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError, IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.internet.error import ConnectionLost

from crawler.middlewares.failures import failure_kind
from crawler.middlewares.scope import PageDropped

# URLs whose text names other failures
TRICKY = "http://www.healthdex-bench.org/timeout/robots/max-size/content-type/not-followed-(offsite)/timed-out.html"


def _response(status: int, **headers: str) -> Response:
    return Response(TRICKY, status=status, headers=headers, request=Request(TRICKY))


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (HttpError(_response(503), "Ignoring non-200 response"), "http_503"),
        (HttpError(_response(404), f"{TRICKY} timed out"), "http_404"),
        (DownloadTimeoutError(f"Getting {TRICKY} took longer than 2 seconds."), "timeout"),
        (ConnectionLost(f"{TRICKY}: Connection to the other side was lost (maxsize)"), "connection"),
        (DownloadCancelledError(f"Cancelling download of {TRICKY}: timeout? no: over max size"), "maxsize"),
        (IgnoreRequest(f"Filtered offsite request to {TRICKY!r}: Forbidden by robots.txt"), "ignored"),
        (IgnoreRequest("Forbidden by robots.txt"), "robots"),
        (PageDropped("content_type", f"{TRICKY}: content type application/pdf not crawled (timeout)"), "content_type"),
    ],
)
def test_failures_are_classified_by_type_not_by_a_message_naming_the_url(exc, kind):
    assert failure_kind(exc) == kind


def test_scrapys_own_redirect_and_decompression_failures():
    """Through Scrapy's components: a chain past REDIRECT_MAX_TIMES, a redirect to a non-http(s) URL (handed on as
    a 3xx, then an HttpError) and a gzip bomb."""
    crawler = get_crawler(settings_dict={"REDIRECT_MAX_TIMES": 1, "DOWNLOAD_MAXSIZE": 1000})
    redirect = RedirectMiddleware.from_crawler(crawler)
    request = Request(TRICKY)
    hop = redirect.process_response(request, Response(TRICKY, status=301, headers={"Location": "/timeout-2"}))
    with pytest.raises(IgnoreRequest) as info:
        redirect.process_response(hop, Response(hop.url, status=302, headers={"Location": "/timeout-3"}))
    assert failure_kind(info.value) == "redirect_max"
    ftp = Response(TRICKY, status=302, headers={"Location": "ftp://www.healthdex-bench.org/x"}, request=request)
    assert redirect.process_response(request, ftp) is ftp
    assert failure_kind(HttpError(ftp, "Ignoring non-200 response")) == "redirect_scheme"

    import gzip

    compression = HttpCompressionMiddleware.from_crawler(crawler)
    bomb = Response(TRICKY, body=gzip.compress(b"timeout " * 10_000), headers={"Content-Encoding": "gzip"})
    with pytest.raises(IgnoreRequest) as info:
        compression.process_response(request, bomb)
    assert failure_kind(info.value) == "maxsize"


def test_a_3xx_to_an_http_url_that_reached_the_errback_is_its_status():
    """(a 3xx handed on with ``dont_redirect``, say): only a non-http(s) target is a ``redirect_scheme``."""
    for location in ("/timeout-2", "//other.example/x", "HTTPS://www.healthdex-bench.org/ftp:"):
        assert failure_kind(HttpError(_response(302, Location=location), "Ignoring non-200 response")) == "http_302"
    for location in ("ftp://x/y", " file:///etc/passwd", "javascript:alert(1)"):
        assert failure_kind(HttpError(_response(301, Location=location), "")) == "redirect_scheme", location
