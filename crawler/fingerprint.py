"""Request fingerprints over the canonical URL (``healthdex.urls.canonical_url``: w3lib canonicalisation, no
fragment, no default port, no tracking parameters), so ``/a?utm_source=x`` and ``/a`` are one request for the
duplicate filter.  Set as ``REQUEST_FINGERPRINTER_CLASS``."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.utils.request import RequestFingerprinter

from healthdex.urls import url_key


class CanonicalUrlFingerprinter:
    def __init__(self, crawler: Crawler | None = None) -> None:
        self._base = RequestFingerprinter(crawler)
        self._cache: WeakKeyDictionary[Request, bytes] = WeakKeyDictionary()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CanonicalUrlFingerprinter:
        return cls(crawler)

    def fingerprint(self, request: Request) -> bytes:
        cached = self._cache.get(request)
        if cached is None:
            url = url_key(request.url)  # an unparseable URL keeps its own fingerprint
            cached = self._base.fingerprint(request.replace(url=url) if url != request.url else request)
            self._cache[request] = cached
        return cached
