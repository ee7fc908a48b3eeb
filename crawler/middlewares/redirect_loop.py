"""Name redirect loops instead of losing them silently.

``RedirectMiddleware`` follows A -> B -> A; the duplicate filter then drops the second request for A without a
word, so the page just vanishes from the crawl.  This middleware sees each 3xx just before RedirectMiddleware
(priority 610, between ScopeMiddleware at 650 and RedirectMiddleware at 600) and, when the target is the URL
itself or one already in this request's redirect chain (``meta["redirect_urls"]``), raises IgnoreRequest
("redirect loop"), so the failure is recorded (``healthdex/dropped/redirect_loop``; with
crawler.middlewares.failures, as ``redirect_loop`` in the crawl report).  Long non-looping chains are left to
``REDIRECT_MAX_TIMES``.
"""

from __future__ import annotations

from urllib.parse import urljoin

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from w3lib.url import canonicalize_url

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class RedirectLoopMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedirectLoopMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status not in _REDIRECTS or b"Location" not in response.headers:
            return response
        location = response.headers[b"Location"].decode("latin-1").strip()
        target = canonicalize_url(urljoin(response.url, location))
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if any(canonicalize_url(url) == target for url in chain):
            self.crawler.stats.inc_value("healthdex/dropped/redirect_loop")
            raise IgnoreRequest(f"redirect loop: {' -> '.join([*chain, target])} not followed (loop)")
        return response
