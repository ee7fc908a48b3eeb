"""What replay serves: saved pages from a MANIFEST.tsv folder or the ``response`` records of a WARC file.

Bodies are loaded lazily (file read or WARC record read by offset) so a large capture costs memory only for its
index.  Every page is keyed by :func:`normalize_url`; lookups fall back to the other scheme (pages saved in 2009
are ``http://``, the same host is crawled as ``https://`` today).
"""

from __future__ import annotations

import csv
import hashlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from healthdex.errors import UserError
from healthdex.urls import canonical_url

DEFAULT_PORTS = {"http": 80, "https": 443}
REQUIRED_COLUMNS = ("file", "original_url")
# Hop-by-hop and framing headers never replayed from a capture (the body is replayed decoded, framed anew).
DROPPED_HEADERS = frozenset(
    h.lower()
    for h in (
        "Content-Length",
        "Transfer-Encoding",
        "Content-Encoding",
        "Connection",
        "Keep-Alive",
        "Proxy-Connection",
        "Proxy-Authenticate",
        "Trailer",
        "Upgrade",
        "Date",
        "Server",
    )
)


def normalize_url(url: str) -> str:
    """The lookup key of an http(s) ``url``: its :func:`healthdex.urls.canonical_url`.  Raises ValueError."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in DEFAULT_PORTS:
        raise ValueError(f"not an http(s) URL: {url!r}")
    if not (parts.hostname or "").rstrip("."):
        raise ValueError(f"URL without a host: {url!r}")
    return canonical_url(url)


def other_scheme(key: str) -> str:
    scheme, rest = key.split("://", 1)
    return ("https" if scheme == "http" else "http") + "://" + rest


def host_of(key: str) -> str:
    """``host[:port]`` of a normalised URL (the port only when it is not the default one)."""
    return urlsplit(key).netloc


def http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


def parse_http_date(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


@dataclass
class Page:
    """One replayable response.  ``load()`` returns the body bytes (read on demand)."""

    url: str  # the original URL as recorded
    key: str  # normalize_url(url)
    status: int
    headers: list[tuple[str, str]]  # recorded headers worth replaying (no framing); Content-Type among them
    loader: Callable[[], bytes]
    last_modified: float
    meta: dict[str, str] = field(default_factory=dict)  # manifest columns / WARC headers
    synthetic: bool = False
    _etag: str | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def load(self) -> bytes:
        return self.loader()

    @property
    def etag(self) -> str:
        """The recorded ETag when the capture has one, else a strong ETag from the SHA-1 of the body (computed
        once)."""
        if self._etag is None:
            with self._lock:
                if self._etag is None:
                    recorded = [v for k, v in self.headers if k.lower() == "etag"]
                    self._etag = recorded[0] if recorded else '"' + hashlib.sha1(self.load()).hexdigest()[:20] + '"'
        return self._etag

    @property
    def content_type(self) -> str | None:
        for name, value in self.headers:
            if name.lower() == "content-type":
                return value
        return None


class Archive:
    """An index of pages by normalised URL, with per-host robots.txt/sitemap.xml synthesis."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.pages: dict[str, Page] = {}
        self.skipped: list[str] = []  # human-readable reasons rows/records were not used
        self._synthetic: dict[str, Page] = {}
        self._synth_lock = threading.Lock()
        self._hosts: dict[str, list[Page]] | None = None
        self.created = time.time()

    def __len__(self) -> int:
        return len(self.pages)

    def add(self, page: Page, *, newer_wins_by: float | None = None) -> None:
        self.pages[page.key] = page
        self._hosts = None

    @property
    def hosts(self) -> dict[str, list[Page]]:
        """host[:port] -> pages of that host (any scheme), in manifest order."""
        if self._hosts is None:
            hosts: dict[str, list[Page]] = {}
            for page in self.pages.values():
                hosts.setdefault(host_of(page.key), []).append(page)
            self._hosts = hosts
        return self._hosts

    def resolve(self, key: str) -> Page | None:
        """The page for a normalised URL: exact match, then the other scheme, then a synthesized robots.txt or
        sitemap.xml for a host the archive knows; None when unknown."""
        page = self.pages.get(key) or self.pages.get(other_scheme(key))
        if page is not None:
            return page
        parts = urlsplit(key)
        if parts.path in ("/robots.txt", "/sitemap.xml") and not parts.query and parts.netloc in self.hosts:
            return self._synthesize(parts.scheme, parts.netloc, parts.path)
        return None

    def _synthesize(self, scheme: str, host: str, path: str) -> Page:
        key = f"{scheme}://{host}{path}"
        with self._synth_lock:
            page = self._synthetic.get(key)
            if page is None:
                pages = self.hosts[host]
                if path == "/robots.txt":
                    body = f"User-agent: *\nAllow: /\nSitemap: {scheme}://{host}/sitemap.xml\n".encode()
                    ctype = "text/plain; charset=utf-8"
                else:
                    urls = sorted({p.url for p in pages if urlsplit(p.key).path not in ("/robots.txt", "/sitemap.xml")})
                    lines = [
                        '<?xml version="1.0" encoding="UTF-8"?>',
                        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
                    ]
                    lines += [f"  <url><loc>{escape(u)}</loc></url>" for u in urls]
                    lines.append("</urlset>")
                    body = ("\n".join(lines) + "\n").encode()
                    ctype = "application/xml"
                page = Page(
                    url=key,
                    key=key,
                    status=200,
                    headers=[("Content-Type", ctype)],
                    loader=lambda body=body: body,
                    last_modified=max(p.last_modified for p in pages),
                    synthetic=True,
                )
                self._synthetic[key] = page
        return page


def load_source(source: str | os.PathLike[str]) -> Archive:
    """An Archive from a folder with MANIFEST.tsv (or the MANIFEST.tsv itself) or a .warc/.warc.gz file.
    Raises UserError with a one-line reason when the source is missing, unreadable or malformed."""
    path = Path(source)
    if not path.exists():
        raise UserError(f"replay source not found: {path}")
    if path.is_dir():
        manifest = path / "MANIFEST.tsv"
        if not manifest.is_file():
            raise UserError(f"replay source {path} has no MANIFEST.tsv")
        archive = load_manifest(manifest)
    elif path.name.lower().endswith((".warc", ".warc.gz")):
        archive = load_warc(path)
    elif path.name.lower().endswith(".tsv"):
        archive = load_manifest(path)
    else:
        raise UserError(f"replay source must be a folder with MANIFEST.tsv or a .warc/.warc.gz file: {path}")
    if not archive.pages:
        why = f" ({archive.skipped[0]})" if archive.skipped else ""
        raise UserError(f"nothing to replay in {path}: no pages with an original URL{why}")
    return archive


def load_manifest(manifest: Path) -> Archive:
    folder = manifest.parent.resolve()
    archive = Archive(str(manifest.parent))
    try:
        with manifest.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            columns = reader.fieldnames or []
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise UserError(f"{manifest}: missing column(s) {', '.join(missing)} (header: {' '.join(columns)})")
            for row in reader:
                line = reader.line_num
                if None in row:
                    raise UserError(f"{manifest}:{line}: more fields than the header has")
                url = (row.get("original_url") or "").strip()
                rel = (row.get("file") or "").strip()
                if not url:
                    archive.skipped.append(f"{manifest}:{line}: no original_url")
                    continue
                try:
                    key = normalize_url(url)
                except ValueError as exc:
                    raise UserError(f"{manifest}:{line}: bad original_url: {exc}") from None
                file = (folder / rel).resolve()
                if not rel or not file.is_relative_to(folder):
                    raise UserError(f"{manifest}:{line}: file {rel!r} is not inside {folder}")
                try:
                    stat = file.stat()
                except OSError:
                    raise UserError(f"{manifest}:{line}: file not found: {rel}") from None
                status_text = (row.get("status") or "").strip()
                try:
                    status = int(status_text) if status_text else 200
                    if not 100 <= status <= 599:
                        raise ValueError
                except ValueError:
                    raise UserError(f"{manifest}:{line}: bad status {status_text!r}") from None
                ctype = (row.get("content_type") or "").strip() or "text/html"
                page = Page(
                    url=url,
                    key=key,
                    status=status,
                    headers=[("Content-Type", ctype)],
                    loader=_file_loader(file, folder),
                    last_modified=int(stat.st_mtime),
                    meta={k: v for k, v in row.items() if k is not None},
                )
                archive.add(page)
    except UnicodeDecodeError as exc:
        raise UserError(f"{manifest}: not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise UserError(f"{manifest}: malformed TSV: {exc}") from None
    except OSError as exc:
        raise UserError(f"cannot read {manifest}: {exc.strerror or exc}") from None
    return archive


def _file_loader(file: Path, folder: Path) -> Callable[[], bytes]:
    """Reads ``file`` when it is served, checked again then: still inside ``folder`` and not (now) a symlink; an
    OSError otherwise (the server answers 500)."""

    def load() -> bytes:
        if not file.resolve().is_relative_to(folder):
            raise OSError(f"{file} now points outside {folder}")
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))  # ELOOP if replaced by a symlink
        with os.fdopen(fd, "rb") as handle:
            return handle.read()

    return load


def _warc_loader(path: Path, offset: int) -> Callable[[], bytes]:
    def load() -> bytes:
        from healthdex.warc_reader import record_at

        with record_at(path, offset) as record:  # WarcDamaged (an OSError) if it changed since start-up
            return record.content_stream().read()

    return load


def load_warc(path: Path) -> Archive:
    """Index every readable ``response`` record by WARC-Target-URI; the latest WARC-Date wins (ties: the later
    record).  Damaged stretches are skipped, each listed in ``archive.skipped`` (healthdex.warc_reader)."""
    from healthdex.warc_reader import WarcReader, WarcResponse, response_of

    archive = Archive(str(path))
    captured: dict[str, float] = {}
    reader = WarcReader(path, on_damage=lambda damage: archive.skipped.append(str(damage)))
    try:
        for offset, record in reader.records():
            found = response_of(offset, record)
            if isinstance(found, str):
                archive.skipped.append(f"{path}@{offset}: {found}")
            if not isinstance(found, WarcResponse):
                continue
            uri, status = found.url, found.status
            try:
                key = normalize_url(uri)
            except ValueError:
                archive.skipped.append(f"{path}@{offset}: unusable WARC-Target-URI {uri!r}")
                continue
            date = parse_http_date_iso(record.rec_headers.get_header("WARC-Date") or "")
            if key in captured and date < captured[key]:
                continue
            captured[key] = date
            headers = [(k, v) for k, v in record.http_headers.headers if k.lower() not in DROPPED_HEADERS]
            modified = None
            for k, v in headers:
                if k.lower() == "last-modified":
                    modified = parse_http_date(v)
            archive.add(
                Page(
                    url=uri,
                    key=key,
                    status=status,
                    headers=headers,
                    loader=_warc_loader(path, offset),
                    last_modified=int(modified or date or archive.created),
                    meta={"warc_date": record.rec_headers.get_header("WARC-Date") or "", "warc_offset": str(offset)},
                )
            )
    except OSError as exc:
        raise UserError(f"cannot read WARC {path}: {exc.strerror or exc}") from None
    return archive


def parse_http_date_iso(value: str) -> float:
    """WARC-Date (ISO 8601, ``2026-11-25T10:00:00Z``) as a timestamp; 0.0 when missing or malformed."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
