"""Inputs of ``healthdex clean``: HTML files (plain or gzipped), folders of them, and WARC files."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from healthdex.errors import UserError

HTML_SUFFIXES: tuple[str, ...] = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz")
WARC_SUFFIXES: tuple[str, ...] = (".warc", ".warc.gz")
MAX_PAGE_BYTES = 50_000_000


@dataclass(frozen=True)
class Page:
    """One page to clean: where it came from, its bytes (or the reason it could not be read), url and charset."""

    source: str
    body: bytes | None
    url: str | None = None
    http_charset: str | None = None
    error: str | None = None


def _is_html(path: Path) -> bool:
    return path.name.lower().endswith(HTML_SUFFIXES)


def _is_warc(path: Path) -> bool:
    return path.name.lower().endswith(WARC_SUFFIXES)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named and the HTML/WARC files under folders named (recursive, sorted); UserError if missing."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise UserError(f"no such file or folder: {raw}")
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and (_is_html(p) or _is_warc(p))))
        else:
            out.append(path)
    return out


def charset_of(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header value, or None."""
    if not content_type:
        return None
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def read_file(path: Path) -> Page:
    """One HTML file (plain or gzipped) as a page; a file that cannot be read gives a page with ``error``."""
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                body = fh.read(MAX_PAGE_BYTES)
        else:
            with path.open("rb") as fh:
                body = fh.read(MAX_PAGE_BYTES)
    except (OSError, EOFError) as exc:
        return Page(str(path), None, error=f"cannot read file: {exc}".splitlines()[0])
    return Page(str(path), body)


class _WarcioBrotli:
    """A ``Content-Encoding: br`` decoder with the interface warcio expects.  warcio 1.8 sets ``unused_data`` on a
    ``brotli.Decompressor``, which the C type of brotli >= 1.1 refuses, so every brotli-encoded response in a WARC
    was unreadable.  Output is capped at MAX_PAGE_BYTES: a decompression bomb raises instead of filling memory."""

    def __init__(self) -> None:
        import brotli

        self._decompressor = brotli.Decompressor()
        self.unused_data = None

    def decompress(self, data: bytes) -> bytes:
        out = self._decompressor.process(data, output_buffer_limit=MAX_PAGE_BYTES)
        if not self._decompressor.can_accept_more_data() and not self._decompressor.is_finished():
            raise ValueError(f"brotli body inflates beyond {MAX_PAGE_BYTES} bytes")
        return out


def use_warcio_brotli() -> None:
    """Make warcio decode ``Content-Encoding: br`` with :class:`_WarcioBrotli` (idempotent)."""
    try:
        import brotli  # noqa: F401
        from warcio.bufferedreaders import BufferedReader
    except ImportError:
        return
    BufferedReader.DECOMPRESSORS["br"] = _WarcioBrotli


def _read_warc(path: Path) -> Iterator[Page]:
    """The HTML responses of a WARC; each damaged stretch is a page with an error (file, offset, reason) where it
    was met, and the records after it are read (healthdex.warc_reader)."""
    from healthdex.warc_reader import WarcReader, WarcResponse, response_of

    use_warcio_brotli()
    damaged: list = []
    for offset, record in WarcReader(path, on_damage=damaged.append).records():
        while damaged:
            yield _damage_page(damaged.pop(0))
        found = response_of(offset, record)
        content_type = found.header("Content-Type") if isinstance(found, WarcResponse) else None
        if not content_type or "html" not in content_type.lower():
            continue
        source, url = f"{path}#{found.warc_header('WARC-Record-ID') or ''}", found.url
        try:
            body = record.content_stream().read(MAX_PAGE_BYTES)
        except Exception as exc:  # noqa: BLE001 - a body that cannot be decoded must not stop the run
            yield Page(source, None, url, error=f"cannot read WARC record: {exc}".splitlines()[0])
            continue
        yield Page(source, body, url, charset_of(content_type))
    for damage in damaged:
        yield _damage_page(damage)


def _damage_page(damage) -> Page:
    return Page(f"{damage.path}@{damage.offset}", None, error=str(damage))


def is_crawl_warc(path: Path) -> bool:
    """True for a WARC written by a healthdex crawl (its responses name the site profile that fetched them)."""
    from healthdex.records import PROFILE_HEADER
    from healthdex.warc_reader import WarcReader, WarcResponse, response_of

    for offset, record in WarcReader(path, on_damage=lambda damage: None).records():
        if isinstance(found := response_of(offset, record), WarcResponse):
            return bool(found.warc_header(PROFILE_HEADER))
    return False


def check_url_option(files: list[Path], url: str | None) -> None:
    """A page URL given by the user applies to exactly one HTML file."""
    if url is not None and (len(files) != 1 or _is_warc(files[0])):
        raise UserError("--url needs exactly one HTML file")


def iter_pages(paths: Iterable[str | Path], url: str | None = None) -> Iterator[Page]:
    """Every page of the given paths in order.  ``url`` applies to a single HTML file only."""
    files = expand_paths(paths)
    check_url_option(files, url)
    for path in files:
        if _is_warc(path):
            yield from _read_warc(path)
        else:
            page = read_file(path)
            yield Page(page.source, page.body, url, None, page.error) if url else page
