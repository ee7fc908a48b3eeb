"""Reading WARC files that may be damaged: every record that can still be read, and one line per stretch that cannot.

Shared by the crawl (its start-up check and cache: :mod:`crawler.warc_store`), ``healthdex clean``
(:mod:`stripper.sources`, :mod:`healthdex.records`) and ``healthdex replay`` (:mod:`replay.source`).  No Scrapy.

A record is handed on only once its bytes are known to be whole, so a reader never sees half a page:

- ``.warc.gz``: each gzip member must inflate completely with a correct CRC and hold whole WARC records;
- plain ``.warc``: each record's block must be ``Content-Length`` bytes followed by an empty line (and match its
  ``WARC-Block-Digest`` when it has a SHA-1 one);
- in both, a record whose ``Content-Length`` runs past the end of its member or file is *cut short*, not a page.

Past damage the reader resynchronises at the next readable record (the next gzip member that inflates to WARC
records; in a plain file the next ``WARC/1.`` header that frames a whole record) and reports the bytes in between as
a :class:`Damage` (file, offset, length, reason).  A stretch that runs to the end of the file because the file
ends inside a record is a *torn tail* (a writer killed mid-record): the only bytes a writer may cut off.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from healthdex import faultpoints

log = logging.getLogger("healthdex.warc")
# Fault point (tests/test_crawl_recrawl.py: a crawl reads its WARC once at start-up): a whole-file pass begins
READ = faultpoints.register("warc.read", "healthdex.warc_reader.WarcReader.spans: a pass over a whole WARC begins")

# A WARC header block longer than this (they are a few hundred bytes) is taken for damage.
MAX_HEADER_BYTES = 64 * 1024
_CHUNK = 1 << 20  # bytes read from the file at a time
_FEED = 64 * 1024  # bytes given to the inflater at a time (what follows a member end is copied by zlib)
_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_MAGIC = b"WARC/1."
_CONTENT_LENGTH = re.compile(rb"^content-length:[ \t]*(\d+)[ \t]*\r?$", re.I | re.M)
_SHA1_DIGEST = re.compile(rb"^warc-block-digest:[ \t]*sha1:([A-Za-z0-9=]+)[ \t]*\r?$", re.I | re.M)


@dataclass(frozen=True)
class Damage:
    """Bytes of a WARC file that hold no readable record."""

    path: str
    offset: int
    length: int
    reason: str
    torn: bool = False  # the file ends inside a record (a write cut short) and nothing readable follows

    def __str__(self) -> str:
        kind = "torn tail" if self.torn else "damaged"
        return f"{self.path}: {kind}: skipped {self.length} bytes at offset {self.offset}: {self.reason}"

    def as_dict(self) -> dict[str, object]:
        return {"offset": self.offset, "bytes": self.length, "reason": self.reason, "torn": self.torn}


@dataclass(frozen=True)
class WarcResponse:
    """A ``response`` record with HTTP headers and a numeric status: what every reader of a crawl's WARC (the crawl's
    cache, ``clean``, ``replay``) takes from it.  ``record`` is warcio's (read its content before the next one)."""

    offset: int
    record: object
    url: str  # WARC-Target-URI
    status: int

    def header(self, name: str) -> str | None:
        """An HTTP header of the response."""
        return self.record.http_headers.get_header(name)

    def warc_header(self, name: str) -> str | None:
        return self.record.rec_headers.get_header(name)


def response_of(offset: int, record) -> WarcResponse | str | None:
    """The :class:`WarcResponse` of a record :meth:`WarcReader.records` gave; None for another record type; why not
    (one line) for a response record that has no HTTP headers or status."""
    if record.rec_type != "response":
        return None
    url = (record.rec_headers.get_header("WARC-Target-URI") or "").strip().strip("<>")
    if record.http_headers is None:
        return "response without HTTP headers"
    try:
        return WarcResponse(offset, record, url, int(record.http_headers.get_statuscode()))
    except (TypeError, ValueError):
        return "bad HTTP status"


class WarcDamaged(OSError):
    """The record asked for cannot be read (raised by :func:`record_at`)."""


class _Bad(Exception):
    def __init__(self, reason: str, *, torn: bool = False, start: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.torn, self.start = reason, torn, start


class _Source:
    """Reads the file at any offset through one cached chunk (zero-copy views)."""

    def __init__(self, handle, size: int) -> None:
        self.handle, self.size = handle, size
        self.base, self.data = 0, b""

    def at(self, offset: int, n: int = _CHUNK) -> memoryview:
        """``n`` bytes from ``offset``, fewer only at the end of the file."""
        if not self.base <= offset <= min(offset + n, self.size) <= self.base + len(self.data):
            self.handle.seek(offset)
            self.data, self.base = self.handle.read(max(n, _CHUNK)), offset
        start = offset - self.base
        return memoryview(self.data)[start : start + n]

    def find(self, needle: bytes, start: int) -> int | None:
        """The first offset >= ``start`` where ``needle`` begins, or None."""
        while start < self.size:
            view = self.at(start, _CHUNK)
            found = bytes(view).find(needle)
            if found >= 0:
                return start + found
            if len(view) < _CHUNK:
                return None
            start += len(view) - len(needle) + 1
        return None


class _Framer:
    """Follows WARC records through uncompressed bytes: ``WARC/1.`` header block, ``Content-Length`` bytes of
    block, an empty line.  ``done`` collects each whole record's ``(start, end)`` (stream positions); a record
    that does not frame raises :class:`_Bad` with its start."""

    def __init__(self, start: int = 0, *, digests: bool = False, file_end: bool = False) -> None:
        self.pos = self.start = start  # next byte's position; where the current record began
        self.digests = digests
        self.file_end = file_end  # the input ends where the file ends (a record cut there is a torn write)
        self.head = bytearray()
        self.left: int | None = None  # block bytes still to come
        self.length = 0
        self.trail: int | None = None  # newline bytes seen after the block (None: not in a trailer)
        self.sha1 = None
        self.expected: bytes | None = None
        self.done: list[tuple[int, int]] = []

    def _bad(self, reason: str, torn: bool = False) -> _Bad:
        return _Bad(reason, torn=torn, start=self.start)

    def feed(self, data) -> None:
        i, n = 0, len(data)
        while i < n:
            if self.left is not None:
                take = min(self.left, n - i)
                if self.sha1 is not None:
                    self.sha1.update(data[i : i + take])
                i += take
                self.pos += take
                self.left -= take
                if self.left == 0:
                    self._block_end()
                continue
            if self.trail is not None:
                if data[i] in b"\r\n" and self.trail < 4:
                    i += 1
                    self.pos += 1
                    self.trail += 1
                    continue
                self._record_end()
            taken = self._header(data[i:])
            i += taken
            self.pos += taken

    def _header(self, data) -> int:
        before = len(self.head)
        self.head += data[: MAX_HEADER_BYTES + 4 - before]
        if not self.head.startswith(_WARC_MAGIC[: len(self.head)]):
            raise self._bad("no WARC record header here")
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            if len(self.head) > MAX_HEADER_BYTES:
                raise self._bad(f"WARC header block longer than {MAX_HEADER_BYTES} bytes")
            return len(self.head) - before
        block = bytes(self.head[: end + 4])
        match = _CONTENT_LENGTH.search(block)
        if match is None:
            raise self._bad("WARC header without Content-Length")
        self.length = self.left = int(match.group(1))
        self.sha1, self.expected = None, None
        digest = _SHA1_DIGEST.search(block) if self.digests else None
        if digest is not None:
            self.expected = _decode_sha1(digest.group(1))
            self.sha1 = hashlib.sha1() if self.expected is not None else None
        self.head.clear()
        if self.left == 0:
            self._block_end()
        return len(block) - before

    def _block_end(self) -> None:
        self.left = None
        if self.sha1 is not None and self.sha1.digest() != self.expected:
            raise self._bad("block does not match its WARC-Block-Digest")
        self.trail = 0

    def _record_end(self) -> None:
        if self.trail < 2:  # a wrong Content-Length ends the block where no empty line follows
            raise self._bad("record block not followed by an empty line (Content-Length wrong?)")
        self.done.append((self.start, self.pos))
        self.start, self.trail = self.pos, None

    def finish(self) -> None:
        """The input ended: it must end between records."""
        if self.left is not None:
            have = self.length - self.left
            raise self._bad(f"record cut short: Content-Length {self.length}, {have} bytes present", self.file_end)
        if self.trail is not None:
            self._record_end()
        elif self.head:
            raise self._bad("incomplete WARC header", self.file_end)


def _decode_sha1(text: bytes) -> bytes | None:
    try:
        if len(text) == 32:
            return base64.b32decode(text.upper())
        if len(text) == 40:
            return bytes.fromhex(text.decode("ascii"))
    except ValueError:
        pass
    return None


class WarcReader:
    """The readable records of one WARC file (gzipped per record, or plain) and the damage between them.

    ``spans()`` checks the file and yields the ``(start, end)`` of each stretch of whole records; ``records()``
    parses them with warcio.  Each damaged stretch goes to ``on_damage`` (default: a warning on the
    ``healthdex.warc`` logger) and to ``self.damage``, at most once per stretch.
    """

    def __init__(self, path: str | Path, on_damage: Callable[[Damage], None] | None = None) -> None:
        self.path = Path(path)
        self.on_damage = on_damage or (lambda damage: log.warning("%s", damage))
        self.damage: list[Damage] = []
        self.size = 0

    @property
    def torn_at(self) -> int | None:
        """Where a torn tail starts (after :meth:`spans` ran to the end), else None."""
        return self.damage[-1].offset if self.damage and self.damage[-1].torn else None

    def _report(self, offset: int, length: int, reason: str, torn: bool = False) -> None:
        damage = Damage(str(self.path), offset, length, reason, torn)
        self.damage.append(damage)
        self.on_damage(damage)

    def spans(self) -> Iterator[tuple[int, int]]:
        self.damage.clear()
        if not self.path.is_file():
            return
        faultpoints.reach(READ)
        with self.path.open("rb") as handle:
            self.size = self.path.stat().st_size
            source = _Source(handle, self.size)
            head = bytes(source.at(0, 8))
            if head.startswith(_GZIP_MAGIC[:2]):
                gzipped = True
            elif head.startswith(b"WARC/"):
                gzipped = False
            else:
                gzipped = self.path.name.lower().endswith(".gz")
            yield from (self._gzip_spans if gzipped else self._plain_spans)(source)

    # --- gzip: one or more whole records per member ----------------------------------------------------------
    def _member(self, source: _Source, offset: int) -> tuple[int, int]:
        """End of the gzip member at ``offset`` and the number of records in it; _Bad when it is not whole."""
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        framer = _Framer()
        pos = offset
        try:
            while True:
                data = source.at(pos, _FEED)
                if not data:
                    raise _Bad("the file ends inside this gzip member", torn=True)
                framer.feed(inflater.decompress(data, _CHUNK))
                while inflater.unconsumed_tail and not inflater.eof:
                    framer.feed(inflater.decompress(inflater.unconsumed_tail, _CHUNK))
                if inflater.eof:
                    framer.finish()
                    return pos + len(data) - len(inflater.unused_data), len(framer.done)
                pos += len(data)
        except zlib.error as exc:
            raise _Bad(f"damaged gzip data ({exc})") from None

    def _gzip_spans(self, source: _Source) -> Iterator[tuple[int, int]]:
        offset = 0
        while offset < self.size:
            try:
                end, count = self._member(source, offset)
            except _Bad as bad:
                start = offset + 1
                while (candidate := source.find(_GZIP_MAGIC, start)) is not None:
                    try:
                        self._member(source, candidate)
                        break
                    except _Bad:
                        start = candidate + 1
                stop = self.size if candidate is None else candidate
                self._report(offset, stop - offset, bad.reason, torn=bad.torn and candidate is None)
                offset = stop
                continue
            if count:
                yield offset, end
            offset = end

    # --- plain: record by record --------------------------------------------------------------------------------
    def _frame(self, source: _Source, offset: int, first_only: bool = False) -> Iterator[tuple[int, int]]:
        """The whole records from ``offset`` on; _Bad at the first that is not (after those before it)."""
        framer = _Framer(offset, digests=True, file_end=True)
        pos = offset
        while True:
            data = source.at(pos)
            try:
                framer.feed(data) if data else framer.finish()
            except _Bad:
                yield from framer.done
                raise
            yield from framer.done
            if not data or (first_only and framer.done):
                return
            framer.done.clear()
            pos += len(data)

    def _plain_spans(self, source: _Source) -> Iterator[tuple[int, int]]:
        offset = 0
        while offset < self.size:
            try:
                for start, end in self._frame(source, offset):
                    yield start, end
                    offset = end
                return
            except _Bad as bad:
                damaged = bad.start if bad.start is not None else offset
                start = damaged + 1
                while (candidate := source.find(_WARC_MAGIC, start)) is not None:
                    try:
                        next(self._frame(source, candidate, first_only=True))
                        break
                    except (_Bad, StopIteration):
                        start = candidate + 1
                stop = self.size if candidate is None else candidate
                self._report(damaged, stop - damaged, bad.reason, torn=bad.torn and candidate is None)
                offset = stop

    # --- records ------------------------------------------------------------------------------------------------
    def records(self) -> Iterator[tuple[int, object]]:
        """``(offset, record)`` for every readable record, in file order (warcio ``ArcWarcRecord`` objects: read a
        record's content before asking for the next)."""
        from warcio.archiveiterator import ArchiveIterator

        if not self.path.is_file():
            return
        from warcio.exceptions import ArchiveLoadFailed
        from warcio.statusandheaders import StatusAndHeadersParserException

        with self.path.open("rb") as handle:
            for start, end in self.spans():
                handle.seek(start)
                iterator = ArchiveIterator(_Window(handle, end))
                while True:
                    try:
                        record = next(iterator)
                    except StopIteration:
                        break
                    except (ArchiveLoadFailed, StatusAndHeadersParserException, EOFError, ValueError) as exc:
                        reason = f"unreadable WARC record ({type(exc).__name__}: {exc})".splitlines()[0]
                        self._report(start, end - start, reason)
                        break
                    yield start, record  # one record per stretch (warcio refuses a gzip member of several)


class _Window:
    """A file handle that ends at ``end`` (warcio reads one checked stretch and stops)."""

    def __init__(self, handle, end: int) -> None:
        self.handle, self.end = handle, end

    def tell(self) -> int:
        return self.handle.tell()

    def read(self, size: int = -1) -> bytes:
        left = self.end - self.handle.tell()
        return self.handle.read(left if size < 0 else min(size, left)) if left > 0 else b""


def damage_of(path: str | Path) -> WarcReader:
    """Check a whole file without parsing records: the reader, with ``damage`` and ``torn_at`` filled in."""
    reader = WarcReader(path, on_damage=lambda damage: None)
    for _ in reader.spans():
        pass
    return reader


@contextmanager
def record_at(path: str | Path, offset: int):
    """The record at ``offset`` (a record offset :meth:`WarcReader.records` gave), checked whole before it is
    parsed; :class:`WarcDamaged` when it is not (the file changed since it was read)."""
    from warcio.archiveiterator import ArchiveIterator

    path = Path(path)
    with path.open("rb") as handle:
        size = path.stat().st_size
        source = _Source(handle, size)
        reader = WarcReader(path)
        try:
            if bytes(source.at(offset, 2)) == _GZIP_MAGIC[:2]:
                end = reader._member(source, offset)[0]
            else:
                end = next(reader._frame(source, offset, first_only=True))[1]
        except (_Bad, StopIteration) as exc:
            reason = exc.reason if isinstance(exc, _Bad) else "no record"
            raise WarcDamaged(f"{path}: cannot read the WARC record at offset {offset}: {reason}") from None
        handle.seek(offset)
        for record in ArchiveIterator(_Window(handle, end)):
            yield record
            return
    raise WarcDamaged(f"{path}: no WARC record at offset {offset}")
