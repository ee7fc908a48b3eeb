"""An index of the responses a crawl's WARC already holds, and reading one back.  No Scrapy here.

Resume answers requests from it (no page fetched twice); re-crawl takes ``ETag`` / ``Last-Modified`` from it for
conditional requests and the body of a ``304 Not Modified`` page (to follow its links without fetching it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from healthdex.provenance import PROFILE_HEADER, REQUESTED_URI_HEADER
from healthdex.urls import canonical_url
from healthdex.warc_reader import WarcReader, record_at


@dataclass(frozen=True)
class Capture:
    url: str  # WARC-Target-URI (the URL this response answered)
    offset: int  # of the response record in the WARC
    status: int
    record_id: str
    date: str  # WARC-Date
    etag: str | None
    last_modified: str | None
    requested_url: str
    profile: str


@dataclass
class StoredResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # as received (still Content-Encoded, if it was)


def url_key(url: str) -> str:
    try:
        return canonical_url(url)
    except Exception:  # noqa: BLE001 - an unparseable URL is its own key
        return url


def scan_warc(path: Path) -> dict[str, list[Capture]]:
    """Every readable response record by canonical URL (in WARC order); damaged stretches are skipped (the WARC
    capture middleware reports them)."""
    captures: dict[str, list[Capture]] = {}
    for offset, record in WarcReader(path, on_damage=lambda damage: None).records():
        http = record.http_headers
        if record.rec_type != "response" or http is None:
            continue
        try:
            status = int(http.get_statuscode())
        except (TypeError, ValueError):
            continue
        headers = record.rec_headers
        url = headers.get_header("WARC-Target-URI") or ""
        capture = Capture(
            url=url, offset=offset, status=status, record_id=headers.get_header("WARC-Record-ID") or "",
            date=headers.get_header("WARC-Date") or "", etag=http.get_header("ETag"),
            last_modified=http.get_header("Last-Modified"),
            requested_url=headers.get_header(REQUESTED_URI_HEADER) or url,
            profile=headers.get_header(PROFILE_HEADER) or "",
        )
        captures.setdefault(url_key(url), []).append(capture)
    return captures


def read_response(path: Path, offset: int) -> StoredResponse:
    """The HTTP status, headers and body (as received) of the response record at ``offset``; ``WarcDamaged`` (an
    OSError) when it can no longer be read."""
    with record_at(path, offset) as record:
        http = record.http_headers
        return StoredResponse(int(http.get_statuscode()), list(http.headers), record.raw_stream.read())
