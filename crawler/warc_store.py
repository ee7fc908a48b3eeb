"""Append-only WARC capture of every request/response pair, safe to reopen after a crash.

No Scrapy here: the downloader middleware hands plain values in.  Each record is its own gzip member, so
a process killed mid-write leaves at most one torn member at the end; ``WarcStore`` cuts it off on open, and only
it: a damaged stretch before the end is kept (the records after it are still read, :mod:`healthdex.warc_reader`)
and listed in ``damage``.  That check is the crawl's one read of its WARC at start-up: it also lists the response
records (``captures``) for resume and re-crawl (:mod:`crawler.warc_cache`).
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

try:  # libdeflate: at the same level, half zlib's CPU for 1% smaller records (optional: zlib otherwise)
    from deflate import gzip_compress as _libdeflate_gzip
except ImportError:  # pragma: no cover - depends on the environment
    _libdeflate_gzip = None
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from healthdex import faultpoints
from healthdex.warc_reader import Damage, WarcReader, WarcResponse, response_of

# Fault points (tests/test_kill_crawl.py): half of a record's gzip members on disk; a whole record written
MID_RECORD = faultpoints.register("crawl.warc.mid_record", "crawler.warc_store.WarcStore: half a record written")
AFTER_RECORD = faultpoints.register("crawl.warc.after_record", "crawler.warc_store.WarcStore: a record written")

# Hop-by-hop framing the downloader has already undone; keeping it would make readers de-chunk again.
_FRAMING_HEADERS = {"transfer-encoding"}


def warc_date(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Capture(NamedTuple):
    """A response record of the WARC (crawler.warc_cache reads the rest of it when it is asked for)."""

    url: str  # WARC-Target-URI (the URL this response answered)
    offset: int  # of the response record in the WARC
    status: int
    validated: bool  # it has an ETag or a Last-Modified (a conditional request can ask about it)


class _GzipMember:
    """A file-like sink for one record: what is written is compressed into one gzip member appended to ``out``."""

    def __init__(self, out: list[bytes], level: int) -> None:
        self._out = out
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS + 16)

    def write(self, data: bytes) -> int:
        self._out.append(self._compressor.compress(data))
        return len(data)

    def flush(self) -> None:
        pass  # a member ends at close(): a zlib flush here would cut the deflate stream into blocks

    def close(self) -> None:
        self._out.append(self._compressor.flush())


class WarcStore:
    """One WARC file opened for appending; a torn tail left by a killed process is truncated first (``repaired_bytes``),
    damage before it is kept and listed (``damage``); ``start_length`` is the file's length then.  With ``index``, the
    same read lists the readable response records (``captures``, in file order).  ``warcinfo`` (now or through
    :meth:`write_warcinfo`) opens this writer's records."""

    def __init__(
        self,
        path: Path,
        warcinfo: dict[str, str] | None,
        *,
        gzip_level: int = 6,
        libdeflate: bool = True,
        index: bool = False,
    ) -> None:
        self.path = Path(path)
        self.gzip_level = gzip_level
        # gzip members made by libdeflate when it is installed (``deflate``), else by zlib: any gzip reader reads both
        self.libdeflate = _libdeflate_gzip if libdeflate and 1 <= gzip_level <= 9 else None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired_bytes = 0
        self.damage: list[Damage] = []
        self.captures: list[Capture] = []
        if self.path.exists():
            checked = WarcReader(self.path, on_damage=lambda damage: None)
            if index:
                found = (response_of(offset, record) for offset, record in checked.records())
                self.captures = [
                    Capture(r.url, r.offset, r.status, bool(r.header("ETag") or r.header("Last-Modified")))
                    for r in found
                    if isinstance(r, WarcResponse)
                ]
            else:
                for _ in checked.spans():
                    pass
            self.damage = [d for d in checked.damage if not d.torn]
            if checked.torn_at is not None:
                with self.path.open("r+b") as handle:
                    handle.truncate(checked.torn_at)
                self.repaired_bytes = checked.size - checked.torn_at
        self.start_length = self.path.stat().st_size if self.path.exists() else 0
        self._handle = self.path.open("ab")
        # Records are made by warcio, serialised uncompressed, then gzipped here as one member each, at
        # ``gzip_level`` (warcio always uses 9: about three times the CPU of 6 for 0.4% smaller files).
        # On the bench's 92 KB pages zlib's level 6 took 2.1 ms a page, libdeflate's 1.0 ms (and 1% fewer bytes).
        self._writer = WARCWriter(io.BytesIO(), gzip=False)
        if warcinfo is not None:
            self.write_warcinfo(warcinfo)

    def write_warcinfo(self, warcinfo: dict[str, str]) -> None:
        self._write([self._writer.create_warcinfo_record(self.path.name, warcinfo)])

    def write_exchange(
        self,
        *,
        url: str,
        method: str,
        request_headers: Iterable[tuple[str, str]],
        request_body: bytes,
        status: int,
        reason: str,
        response_headers: Iterable[tuple[str, str]],
        body: bytes,
        timestamp: float,
        ip_address: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> str:
        """Write a response record and its request record; return the response's WARC-Record-ID.
        ``extra_headers`` go on the response record (e.g. ``WARC-Healthdex-Profile``)."""
        date = warc_date(timestamp)
        headers = [(k, v) for k, v in response_headers if k.lower() not in _FRAMING_HEADERS]
        http_response = StatusAndHeaders(f"{status} {reason}".strip(), headers, protocol="HTTP/1.1")
        extra = {"WARC-Date": date}
        if ip_address:
            extra["WARC-IP-Address"] = ip_address
        extra.update(extra_headers or {})
        # Lengths given: warcio then hashes each payload once per digest, with no copy through a temporary file
        # (without one it buffers the payload, and at write time drops its digests and computes them again).
        response = self._writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=http_response,
            warc_headers_dict=extra,
        )
        record_id = response.rec_headers.get_header("WARC-Record-ID")
        target = url.split("://", 1)[-1]
        path = "/" + target.split("/", 1)[1] if "/" in target else "/"
        http_request = StatusAndHeaders(f"{method} {path} HTTP/1.1", list(request_headers), is_http_request=True)
        request = self._writer.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(request_body),
            length=len(request_body),
            http_headers=http_request,
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": record_id},
        )
        self._write([response, request])
        return record_id

    def _write(self, records: list) -> None:
        members: list[bytes] = []
        for record in records:
            if self.libdeflate is not None:  # compresses whole buffers only
                buffer = io.BytesIO()
                WARCWriter(buffer, gzip=False).write_record(record)
                members.append(self.libdeflate(buffer.getbuffer(), self.gzip_level))
            else:
                member = _GzipMember(members, self.gzip_level)  # warcio's writes go straight to the compressor
                WARCWriter(member, gzip=False).write_record(record)
                member.close()
        data = memoryview(b"".join(members))
        half = len(data) // 2
        self._handle.write(data[:half])  # in two writes, so that a fault test can stop between them
        self._handle.flush()
        faultpoints.reach(MID_RECORD)
        self._handle.write(data[half:])
        self._handle.flush()
        faultpoints.reach(AFTER_RECORD)

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
