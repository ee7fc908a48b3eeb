"""The replay server: an HTTP proxy on 127.0.0.1 that answers for the original URLs of saved pages.

- ``GET http://host/path`` (absolute form, what a client sends to its HTTP proxy) is served as ``http://host/path``.
- ``CONNECT host:443`` is answered 200 and terminated with a throwaway certificate for ``host``
  (:mod:`replay.tls`); requests inside the tunnel are served as ``https://host/path``.
- ``GET /path`` with ``Host: host`` (origin form, e.g. ``curl -H 'Host: www.cdc.gov' http://127.0.0.1:PORT/x``) is
  served as ``http://host/path``.

HTTP/1.1 keep-alive with Content-Length, HEAD, conditional GET (ETag / Last-Modified -> 304), per-host robots.txt
and sitemap.xml synthesis, and fault injection (:mod:`replay.faults`).  Thread per connection, bounded.

Limits (arguments of :class:`ReplayServer`; defaults below): at most ``max_connections`` connections are served at
once; a connection must deliver each whole request (line, headers, body) within ``idle_timeout`` seconds of the
previous response (an idle keep-alive connection or one trickling its request is closed then, so idle sockets cannot
hold every slot), and each response write must finish within it; a connection older than ``connection_lifetime``
gets ``Connection: close`` on its next response; per-host TLS contexts are kept for ``tls_hosts`` hosts (least
recently used dropped).
"""

from __future__ import annotations

import gzip
import io
import logging
import random
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from healthdex.errors import UserError
from replay.faults import FaultRule, FaultSet
from replay.source import Archive, Page, http_date, load_source, normalize_url, parse_http_date
from replay.tls import CertificateAuthority

log = logging.getLogger("healthdex.replay")

CHUNK = 64 * 1024
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_CONNECTIONS = 128  # connections served at once (one thread each)
IDLE_TIMEOUT_S = 5.0  # to deliver a whole request after the previous response; also each response write
CONNECTION_LIFETIME_S = 300.0  # then "Connection: close" on the next response
TLS_HOSTS = 256  # per-host TLS contexts kept (least recently used dropped)


@dataclass(frozen=True)
class RequestLogEntry:
    """One answered request.  ``time`` is when the request line arrived (time.time()); ``status`` is 0 when the
    connection was aborted before a status line was sent."""

    time: float
    method: str
    url: str
    status: int
    client: str
    fault: str | None = None  # the fault pattern that applied, if any


class RequestLog(list):
    """A list of RequestLogEntry appended to under a lock; ``snapshot()`` copies it safely."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def add(self, entry: RequestLogEntry) -> None:
        with self._lock:
            self.append(entry)

    def snapshot(self) -> list[RequestLogEntry]:
        with self._lock:
            return list(self)


class _Aborted(Exception):
    """The handler reset the connection on purpose (a fault)."""


def _error_page(status: int, detail: str = "") -> bytes:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    text = f"<!DOCTYPE html>\n<html><head><title>{status} {phrase}</title></head>" \
           f"<body><h1>{status} {phrase}</h1><p>{escape(detail)}</p></body></html>\n"
    return text.encode()


def _generated(kind: str, size: int) -> Iterator[bytes]:
    """``size`` bytes of a generated body, in chunks, never all in memory."""
    if kind == "nested":
        opening = b"<html><body>"
        yield opening[:size]
        remaining = size - len(opening[:size])
        block = b"<div>" * (CHUNK // 5)
        while remaining > 0:
            piece = block[:remaining]
            yield piece
            remaining -= len(piece)
        return
    if kind == "html":
        head = b"<!DOCTYPE html>\n<html><head><title>Generated page</title></head><body>\n"
        para = b"<p>Generated paragraph about sciatica, back pain and nothing in particular.</p>\n" * 64
    elif kind == "line":
        head = b"<!DOCTYPE html><html><head><title>One line</title></head><body>"
        para = b"<span>one very long line without a newline</span>" * 64
    elif kind == "nul":
        head, para = b"", b"\x00" * CHUNK
    else:  # binary
        head, para = b"", random.Random(size).randbytes(CHUNK)
    first = head[:size]
    yield first
    remaining = size - len(first)
    while remaining > 0:
        piece = para[:remaining]
        yield piece
        remaining -= len(piece)


_BOMBS: dict[tuple[str, int], bytes] = {}
_BOMBS_LOCK = threading.Lock()


def _bomb(encoding: str, size: int) -> bytes:
    """A body in ``encoding`` that inflates to ``size`` zero bytes (cached: the same bomb is built once).
    gzip is multi-member (1 MiB of zeros per member, ~1 KB each), so even a GB-sized bomb costs milliseconds."""
    with _BOMBS_LOCK:
        cached = _BOMBS.get((encoding, size))
        if cached is not None:
            return cached
        mib = 1 << 20
        full, rest = divmod(size, mib)
        zeros = b"\x00" * mib
        if encoding == "gzip":
            member = gzip.compress(zeros, compresslevel=9, mtime=0)
            body = member * full + (gzip.compress(zeros[:rest], compresslevel=9, mtime=0) if rest else b"")
        elif encoding == "deflate":
            compressor = zlib.compressobj(9)
            body = b"".join(compressor.compress(zeros) for _ in range(full)) + compressor.compress(zeros[:rest])
            body += compressor.flush()
        else:
            try:
                import brotli
            except ImportError:
                raise RuntimeError("a br bomb needs the brotli package") from None
            compressor = brotli.Compressor(quality=5)
            body = b"".join(compressor.process(zeros) for _ in range(full)) + compressor.process(zeros[:rest])
            body += compressor.finish()
        if len(_BOMBS) >= 8:
            _BOMBS.clear()
        _BOMBS[(encoding, size)] = body
        return body


@dataclass
class _Response:
    status: int
    headers: list[tuple[str, str]]
    chunks: Iterable[bytes]
    length: int | None  # None: no Content-Length (close-delimited)


class _DeadlineReader(io.RawIOBase):
    """A socket's reads that fail with TimeoutError once the handler's ``deadline`` has passed: a client trickling
    its request a byte at a time cannot keep a connection (and its thread) for ever."""

    def __init__(self, sock: socket.socket, handler: _Handler) -> None:
        super().__init__()
        self._sock, self._raw, self._handler = sock, sock.makefile("rb", buffering=0), handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int | None:
        left = self._handler.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no whole request within {self._handler.timeout:g} s (idle_timeout)")
        self._sock.settimeout(left)
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "healthdex-replay/0.1"
    disable_nagle_algorithm = True  # headers and body are separate writes; no 40 ms delayed-ACK stalls
    server: _HTTPServer

    def setup(self) -> None:
        self.replay: ReplayServer = self.server.replay
        self.timeout = self.replay.idle_timeout  # the socket's timeout (StreamRequestHandler.setup sets it)
        super().setup()
        self.born = time.monotonic()
        self.deadline = self.born + self.timeout
        self.tunnel: tuple[str, int] | None = None
        self._read_with_deadline(self.connection)

    def _read_with_deadline(self, sock: socket.socket) -> None:
        self.rfile.close()
        self.rfile = io.BufferedReader(_DeadlineReader(sock, self))

    def handle_one_request(self) -> None:
        self.deadline = time.monotonic() + self.timeout  # the next request, whole, within idle_timeout
        super().handle_one_request()

    # --- connection life cycle -------------------------------------------------------------------------------
    def handle(self) -> None:
        try:
            super().handle()
        except _Aborted:
            pass
        except (ConnectionError, TimeoutError, ssl.SSLError, OSError) as exc:
            self.replay._note(f"{self._client()}: connection ended: {type(exc).__name__}: {exc}")
            self.close_connection = True

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        if self.tunnel is not None:
            try:
                self.connection.close()
            except OSError:
                pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        self.replay._note(f"{self._client()}: {format % args}")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # every request is logged once by _serve

    def version_string(self) -> str:
        return self.server_version

    def _client(self) -> str:
        host, port = self.client_address[:2]
        return f"{host}:{port}"

    # --- methods ----------------------------------------------------------------------------------------------
    def do_CONNECT(self) -> None:
        if self.tunnel is not None:
            self.send_error(400, "CONNECT inside a tunnel")
            return
        host, _, port_text = self.path.rpartition(":")
        if not host or not port_text.isdigit():
            self.send_error(400, "CONNECT needs host:port")
            return
        self.send_response(200, "Connection Established")
        self.end_headers()
        self.wfile.flush()
        try:
            context = self.replay._ca.context_for(host)
            self.connection.settimeout(self.timeout)  # the handshake within idle_timeout
            conn = context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.replay._note(f"{self._client()}: TLS handshake for {host} failed: {type(exc).__name__}: {exc}")
            self.close_connection = True
            return
        conn.settimeout(self.timeout)
        self.connection = conn
        self._read_with_deadline(conn)
        self.wfile = conn.makefile("wb")
        self.tunnel = (host.strip("[]").lower(), int(port_text))
        self.close_connection = False
        if self.replay.verbose:
            self.replay._note(f"{self._client()}: CONNECT {self.path} (TLS)")

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._drain_body()
        self._serve()

    do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_POST

    def _drain_body(self) -> None:
        length = self.headers.get("Content-Length")
        if length and length.isdigit():
            remaining = int(length)
            while remaining > 0:
                data = self.rfile.read(min(remaining, CHUNK))
                if not data:
                    break
                remaining -= len(data)

    # --- serving ----------------------------------------------------------------------------------------------
    def _target_url(self) -> str | None:
        path = self.path
        if self.tunnel is not None:
            if path.startswith("/"):
                host, port = self.tunnel
                if ":" in host:
                    host = f"[{host}]"
                return f"https://{host}{'' if port == 443 else f':{port}'}{path}"
            return path if path.lower().startswith("https://") else None
        if path.lower().startswith(("http://", "https://")):
            return path
        if path.startswith("/"):
            host = (self.headers.get("Host") or "").strip()
            return f"http://{host}{path}" if host else None
        return None

    def _serve(self) -> None:
        arrived = time.time()
        method = self.command
        raw = self._target_url()
        try:
            key = normalize_url(raw) if raw else None
        except ValueError:
            key = None
        if key is None:
            response = self._plain(400, f"cannot tell which URL is meant by {self.path!r}")
            self._send(method, raw or self.path, arrived, response, None)
            return
        page = self.replay.archive.resolve(key)
        matched = self.replay.faults.match(key, page.key if page else None) if len(self.replay.faults) else None
        pattern, rule = matched if matched else (None, None)
        if rule is not None and rule.delay:
            if self.replay._stopping.wait(rule.delay):
                self.close_connection = True
                return
        if rule is not None and rule.abort:
            self.replay._log(RequestLogEntry(arrived, method, key, 0, self._client(), pattern))
            self._reset()
        try:
            response = self._build(key, page, rule)
        except OSError as exc:  # e.g. a saved file removed or a WARC truncated since startup
            self.replay._note(f"{self._client()}: cannot read {key}: {exc}", level=logging.WARNING)
            response, rule = self._plain(500, f"replay cannot read the saved copy of {key}"), None
        self._send(method, key, arrived, response, rule, pattern)

    def _plain(self, status: int, detail: str = "") -> _Response:
        body = _error_page(status, detail)
        return _Response(status, [("Content-Type", "text/html; charset=utf-8")], [body], len(body))

    def _build(self, key: str, page: Page | None, rule: FaultRule | None) -> _Response:
        if rule is not None and rule.redirect_to is not None:
            status = rule.status if rule.status and 300 <= rule.status < 400 else 302
            response = self._plain(status, f"moved to {rule.redirect_to}")
            response.headers.append(("Location", rule.redirect_to))
        elif rule is not None and (rule.status is not None or rule.body is not None or rule.generate
                                   or rule.bomb):
            status = rule.status or (page.status if page else 200)
            if rule.generate:
                response = _Response(status, [("Content-Type", "text/html")], _generated(rule.generate, rule.size),
                                     rule.size)
            elif rule.body is not None:
                response = _Response(status, [("Content-Type", "text/html")], [rule.body], len(rule.body))
            elif rule.status is not None and not rule.bomb:
                response = self._plain(status, "fault injected by healthdex replay")
            elif page is not None:
                body = page.load()
                response = _Response(status, list(page.headers), [body], len(body))
            else:
                response = _Response(status, [("Content-Type", "text/html")], [], 0)
        elif page is None:
            response = self._plain(404, f"{key} is not in this replay archive")
        else:
            response = self._page_response(page)
            if rule is None or not (rule.gzip or rule.truncate_gzip):
                response = self._conditional(page, response)
        if rule is not None:
            response = self._apply_body_faults(response, rule)
        return response

    def _page_response(self, page: Page) -> _Response:
        body = page.load()
        headers = [(k, v) for k, v in page.headers if k.lower() not in ("etag", "last-modified")]
        if page.status == 200:
            headers += [("ETag", page.etag), ("Last-Modified", http_date(page.last_modified))]
        return _Response(page.status, headers, [body], len(body))

    def _conditional(self, page: Page, response: _Response) -> _Response:
        if page.status != 200 or self.command not in ("GET", "HEAD"):
            return response
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            if "*" in tags or page.etag in tags:
                return self._not_modified(page)
            return response
        ims = self.headers.get("If-Modified-Since")
        if ims is not None:
            since = parse_http_date(ims)
            if since is not None and int(page.last_modified) <= since:
                return self._not_modified(page)
        return response

    def _not_modified(self, page: Page) -> _Response:
        return _Response(304, [("ETag", page.etag), ("Last-Modified", http_date(page.last_modified))], [], 0)

    def _apply_body_faults(self, response: _Response, rule: FaultRule) -> _Response:
        if rule.bomb:
            body = _bomb(rule.bomb_encoding, rule.bomb)
            response = _Response(response.status, response.headers + [("Content-Encoding", rule.bomb_encoding)],
                                 [body], len(body))
        elif rule.gzip or rule.truncate_gzip:
            body = gzip.compress(b"".join(response.chunks), mtime=0)
            if rule.truncate_gzip:
                body = body[: max(1, len(body) // 2)]
            response = _Response(response.status, response.headers + [("Content-Encoding", "gzip")], [body],
                                 len(body))
        if rule.content_type is not None:
            headers = [(k, v) for k, v in response.headers if k.lower() != "content-type"]
            if rule.content_type:
                headers.append(("Content-Type", rule.content_type))
            response.headers = headers
        if rule.retry_after is not None:
            response.headers.append(("Retry-After", str(rule.retry_after)))
        response.headers.extend(rule.headers)
        if rule.no_content_length:
            response.length = None
        return response

    def _send(self, method: str, url: str, arrived: float, response: _Response, rule: FaultRule | None,
              pattern: str | None = None) -> None:
        self.replay._log(RequestLogEntry(arrived, method, url, response.status, self._client(), pattern))
        self.connection.settimeout(self.timeout)  # each write within idle_timeout
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if time.monotonic() - self.born > self.replay.connection_lifetime:
            self.send_header("Connection", "close")  # also sets close_connection
            self.replay._note(f"{self._client()}: connection older than {self.replay.connection_lifetime:g} s closed")
        if response.length is None:
            self.send_header("Connection", "close")
        else:
            self.send_header("Content-Length", str(response.length))
        self.end_headers()
        if method == "HEAD" or response.status in (204, 304) or response.status < 200:
            self.wfile.flush()
            return
        limit = rule.reset_after if rule is not None else None
        bps = rule.trickle_bps if rule is not None else None
        sent = 0
        for chunk in response.chunks:
            if limit is not None and sent + len(chunk) >= limit:
                self._write(chunk[: limit - sent], bps)
                self._reset()
            self._write(chunk, bps)
            sent += len(chunk)
        if limit is not None:
            self._reset()
        self.wfile.flush()

    def _write(self, data: bytes, bps: float | None) -> None:
        if not bps:
            self.wfile.write(data)
            return
        step = max(1, int(bps / 10))
        for start in range(0, len(data), step):
            piece = data[start : start + step]
            self.wfile.write(piece)
            self.wfile.flush()
            if self.replay._stopping.wait(len(piece) / bps):
                raise _Aborted()

    def _reset(self) -> None:
        """Close the connection with a TCP reset (RST) and stop handling it."""
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        for stream in (self.wfile, self.rfile):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.connection.close()
        except OSError:
            pass
        raise _Aborted()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], replay: ReplayServer, max_connections: int) -> None:
        self.replay = replay
        self._slots = threading.BoundedSemaphore(max_connections)
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        while not self._slots.acquire(timeout=0.25):  # at most max_connections handler threads at once
            if self.replay._stopping.is_set():
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        exc = sys.exc_info()[1]
        self.replay._note(f"{client_address[0]}:{client_address[1]}: error: {type(exc).__name__}: {exc}",
                          level=logging.WARNING)


class ReplayServer:
    """Serve an Archive (a MANIFEST.tsv folder or a WARC) as an HTTP/HTTPS proxy on ``host:port``.

    ``with ReplayServer(path) as server:`` starts it in background threads; point clients' proxy at
    ``server.proxy_url``.  ``server.request_log`` lists every answered request; ``server.faults`` (a FaultSet) can
    be changed at any time.  ``on_request`` (optional) is called with each RequestLogEntry; ``verbose`` also sends
    connection-level notes to it as strings.
    """

    def __init__(
        self,
        source: str | Path | Archive,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        faults: FaultSet | dict[str, Any] | None = None,
        allow_remote: bool = False,
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout: float = IDLE_TIMEOUT_S,
        connection_lifetime: float = CONNECTION_LIFETIME_S,
        tls_hosts: int = TLS_HOSTS,
        on_request: Callable[[RequestLogEntry | str], None] | None = None,
        verbose: bool = False,
    ) -> None:
        if host not in LOOPBACK_HOSTS and not host.startswith("127.") and not allow_remote:
            raise UserError(f"refusing to serve on non-loopback address {host} (pass allow_remote=True / --host)")
        self.archive = source if isinstance(source, Archive) else load_source(source)
        self.source = source
        self.host = host
        self._requested_port = port
        self.faults = faults if isinstance(faults, FaultSet) else FaultSet(faults)
        self.request_log = RequestLog()
        self.on_request = on_request
        self.verbose = verbose
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.connection_lifetime = connection_lifetime
        self.tls_hosts = tls_hosts
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ca: CertificateAuthority | None = None

    # --- life cycle -------------------------------------------------------------------------------------------
    def start(self) -> ReplayServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._ca = CertificateAuthority(max_hosts=self.tls_hosts)
        try:
            self._httpd = _HTTPServer((self.host, self._requested_port), self, self.max_connections)
        except OSError as exc:
            self._ca.close()
            raise UserError(f"cannot listen on {self.host}:{self._requested_port}: {exc.strerror or exc}") from None
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"replay-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._ca is not None:
            self._ca.close()
        self._httpd = None

    close = stop

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait(self) -> None:
        """Block until stop() is called (from another thread or a signal handler)."""
        while not self._stopping.wait(0.5):
            pass

    # --- properties -------------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("replay server is not running")
        return self._httpd.server_address[1]

    @property
    def proxy_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def ca_pem(self) -> bytes:
        """The throwaway CA certificate (PEM) that signs the per-host tunnel certificates."""
        if self._ca is None:
            raise RuntimeError("replay server is not running")
        return self._ca.ca_pem

    @property
    def urls(self) -> list[str]:
        return [page.url for page in self.archive.pages.values()]

    # --- logging ----------------------------------------------------------------------------------------------
    def _log(self, entry: RequestLogEntry) -> None:
        self.request_log.add(entry)
        if self.on_request is not None:
            try:
                self.on_request(entry)
            except Exception:  # a broken callback must not break serving
                log.exception("replay on_request callback failed")

    def _note(self, text: str, level: int = logging.DEBUG) -> None:
        log.log(level, text)
        if self.verbose and self.on_request is not None:
            try:
                self.on_request(text)
            except Exception:
                log.exception("replay on_request callback failed")
