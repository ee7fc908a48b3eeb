"""Fault modes of healthdex replay (issue 6), each exercised over a real loopback socket."""

from __future__ import annotations

import gzip
import http.client
import io
import socket
import subprocess
import sys
import time
import urllib.request
import zlib
from pathlib import Path

import pytest
from test_replay import PAGE_A, PAGE_B, ROOT, get, https_connection, proxy_opener, write_manifest

from replay.faults import FaultRule, FaultSet, load_faults_toml
from replay.server import ReplayServer

A = "http://www.example.org/health/a.html"
B = "https://www.example.org/b.html"


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    return write_manifest(
        tmp_path / "site",
        [{"file": "a.html", "original_url": A}, {"file": "b.html", "original_url": B}],
        {"a.html": PAGE_A, "b.html": PAGE_B},
        columns=("file", "original_url"),
    )


@pytest.fixture()
def server(site: Path):
    with ReplayServer(site) as srv:
        yield srv


def raw_request(server: ReplayServer, url: str, method: str = "GET", timeout: float = 10) -> bytes:
    """Send one request on a raw socket and read until the server closes or resets; returns what arrived."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(f"{method} {url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except ConnectionResetError:
            data += b"<RESET>"
    return data


def test_status_with_retry_after_then_recovers(server: ReplayServer):
    server.faults[A] = FaultRule(status=503, retry_after=7, times=2)
    for _ in range(2):
        status, headers, body = get(server, A)
        assert status == 503 and headers["Retry-After"] == "7" and b"503" in body
    assert get(server, A) == (200, get(server, A)[1], PAGE_A)
    assert server.faults.uses(A) == 2
    assert [e.status for e in server.request_log] == [503, 503, 200, 200]
    assert server.request_log[0].fault == A


@pytest.mark.parametrize("status", [429, 500, 502])
def test_other_error_statuses(server: ReplayServer, status: int):
    server.faults[A] = {"status": status}
    assert get(server, A)[0] == status


def test_delay(server: ReplayServer):
    server.faults[A] = FaultRule(delay=0.6)
    start = time.monotonic()
    assert get(server, A)[2] == PAGE_A
    assert time.monotonic() - start >= 0.6
    # a client with a shorter timeout times out
    server.faults[A] = FaultRule(delay=3)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=0.5)
    conn.request("GET", A)
    with pytest.raises(TimeoutError):
        conn.getresponse()
    conn.close()


def test_redirect(server: ReplayServer):
    server.faults[A] = FaultRule(redirect_to=B, status=301)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", A)
    response = conn.getresponse()
    response.read()
    assert response.status == 301 and response.getheader("Location") == B
    conn.close()
    # urllib follows it through the proxy, over https (CONNECT) for the target
    server.faults["http://www.example.org/loop1"] = {"redirect_to": "http://www.example.org/loop2"}
    server.faults["http://www.example.org/loop2"] = {"redirect_to": "/loop1"}
    with pytest.raises(urllib.error.HTTPError, match="redirect"):
        proxy_opener(server).open("http://www.example.org/loop1", timeout=10)


def test_redirect_to_other_scheme_is_sent_verbatim(server: ReplayServer):
    server.faults[A] = {"redirect_to": "file:///etc/passwd"}
    assert b"Location: file:///etc/passwd" in raw_request(server, A)


def test_reset_mid_body(server: ReplayServer):
    server.faults[A] = FaultRule(reset_after=10)
    data = raw_request(server, A)
    head, _, body = data.partition(b"\r\n\r\n")
    assert f"Content-Length: {len(PAGE_A)}".encode() in head
    assert body == PAGE_A[:10] + b"<RESET>"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", A)
    response = conn.getresponse()
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError)):
        response.read()
    conn.close()
    assert get(server, "http://www.example.org/b.html")[0] == 200  # the server is still fine


def test_reset_mid_body_inside_tls_tunnel(server: ReplayServer):
    server.faults[B] = FaultRule(reset_after=5)
    conn = https_connection(server, "www.example.org")
    conn.request("GET", "/b.html")
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError, OSError)):
        conn.getresponse().read()
    conn.close()


def test_abort_before_response(server: ReplayServer):
    server.faults[A] = FaultRule(abort=True)
    assert raw_request(server, A) in (b"", b"<RESET>")
    assert server.request_log[-1].status == 0


def test_no_content_length(server: ReplayServer):
    server.faults[A] = FaultRule(no_content_length=True)
    data = raw_request(server, A)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length" not in head and b"Connection: close" in head
    assert body == PAGE_A
    assert get(server, A)[2] == PAGE_A  # http.client reads to EOF


def test_content_type_lies(server: ReplayServer):
    server.faults[A] = FaultRule(content_type="application/octet-stream")
    assert get(server, A)[1]["Content-Type"] == "application/octet-stream"
    server.faults[A] = FaultRule(body=b"\x89PNG\r\n\x1a\n\x00\x00binary", content_type="text/html")
    status, headers, body = get(server, A)
    assert headers["Content-Type"] == "text/html" and body.startswith(b"\x89PNG")
    server.faults[A] = FaultRule(content_type="")
    assert "Content-Type" not in get(server, A)[1]


def test_generated_large_body_is_streamed(server: ReplayServer):
    size = 30 * 1024 * 1024
    server.faults["http://huge.example/*"] = FaultRule(generate="html", size=size)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", "http://huge.example/page")
    response = conn.getresponse()
    assert response.status == 200 and int(response.getheader("Content-Length")) == size
    total, first = 0, b""
    while chunk := response.read(1 << 20):
        first = first or chunk
        total += len(chunk)
    assert total == size and first.startswith(b"<!DOCTYPE html>")
    conn.close()


@pytest.mark.parametrize("kind", ["line", "binary", "nul", "nested"])
def test_generated_kinds(server: ReplayServer, kind: str):
    server.faults[A] = FaultRule(generate=kind, size=200_000)
    status, _, body = get(server, A)
    assert status == 200 and len(body) == 200_000
    if kind == "line":
        assert b"\n" not in body
    if kind == "nul":
        assert body == b"\x00" * 200_000
    if kind == "nested":
        assert body.count(b"<div>") > 39_000


def test_trickle(server: ReplayServer):
    server.faults[A] = FaultRule(trickle_bps=len(PAGE_A) * 2)  # about half a second
    start = time.monotonic()
    assert get(server, A)[2] == PAGE_A
    assert time.monotonic() - start >= 0.4


def test_gzip_and_truncated_gzip(server: ReplayServer):
    server.faults[A] = FaultRule(gzip=True)
    status, headers, body = get(server, A)
    assert headers["Content-Encoding"] == "gzip" and gzip.decompress(body) == PAGE_A
    server.faults[A] = FaultRule(truncate_gzip=True)
    status, headers, body = get(server, A)
    assert status == 200 and headers["Content-Encoding"] == "gzip" and int(headers["Content-Length"]) == len(body)
    with pytest.raises(EOFError):
        gzip.decompress(body)


def test_gzip_bomb(server: ReplayServer):
    inflated = 50 * 1024 * 1024
    server.faults[A] = FaultRule(bomb=inflated)
    status, headers, body = get(server, A)
    assert headers["Content-Encoding"] == "gzip" and len(body) < inflated / 500
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as fh:  # multi-member gzip: a careful client can cap it
        assert fh.read(3 * 1024 * 1024) == b"\x00" * (3 * 1024 * 1024)
    assert len(gzip.decompress(body)) == inflated


@pytest.mark.parametrize("encoding", ["deflate", "br"])
def test_deflate_and_brotli_bombs(server: ReplayServer, encoding: str):
    inflated = 20 * 1024 * 1024 + 5
    server.faults[A] = FaultRule(bomb=inflated, bomb_encoding=encoding)
    status, headers, body = get(server, A)
    assert headers["Content-Encoding"] == encoding and len(body) < inflated / 200
    if encoding == "deflate":
        assert len(zlib.decompress(body)) == inflated
    else:
        brotli = pytest.importorskip("brotli")
        assert len(brotli.decompress(body)) == inflated


def test_patterns_glob_regex_exact_and_order(server: ReplayServer):
    faults = server.faults
    faults["re:/health/"] = {"status": 500}
    faults["https://www.example.org/*"] = {"status": 502}
    faults["HTTP://WWW.EXAMPLE.ORG:80/health/a.html#x"] = {"status": 418}  # exact (normalised) wins
    assert get(server, A)[0] == 418
    del faults["HTTP://WWW.EXAMPLE.ORG:80/health/a.html#x"]
    assert get(server, A)[0] == 500
    assert get(server, "http://www.example.org/b.html")[0] == 502  # matches the page's own https URL (fallback)
    faults.clear()
    assert get(server, A)[0] == 200


def test_head_with_fault_has_no_body(server: ReplayServer):
    server.faults[A] = FaultRule(status=503, retry_after="120")
    data = raw_request(server, A, method="HEAD")
    assert data.startswith(b"HTTP/1.1 503") and data.endswith(b"\r\n\r\n") and b"Retry-After: 120" in data


def test_fault_rule_validation():
    with pytest.raises(ValueError, match="unknown fault key"):
        FaultRule.from_dict({"stauts": 503})
    with pytest.raises(ValueError):
        FaultRule(status=99)
    with pytest.raises(ValueError):
        FaultRule(generate="html")  # no size
    with pytest.raises(ValueError, match="bad regex"):
        FaultSet({"re:(": {"status": 500}})
    assert FaultRule(status=503, retry_after=5).describe() == "status=503,retry_after=5"


def test_faults_from_toml(tmp_path: Path):
    path = tmp_path / "faults.toml"
    path.write_text(
        '[[fault]]\nmatch = "http://www.example.org/health/a.html"\nstatus = 503\nretry_after = 5\ntimes = 1\n\n'
        '[[fault]]\nmatch = "https://*.example.org/*"\ndelay = 0.1\nheaders = { "X-Test" = "1" }\n'
        '\n[[fault]]\nmatch = "http://nul.example/"\nbody = "a\\u0000b"\n'
    )
    faults = load_faults_toml(path)
    assert faults["http://www.example.org/health/a.html"] == FaultRule(status=503, retry_after=5, times=1)
    assert faults["https://*.example.org/*"].headers == (("X-Test", "1"),)
    assert faults["http://nul.example/"].body == b"a\x00b"
    bad = tmp_path / "bad.toml"
    bad.write_text('[[fault]]\nmatch = "http://x/"\nstatsu = 1\n')
    with pytest.raises(ValueError, match=r"bad\.toml: fault #1 .*stats"):
        load_faults_toml(bad)
    bad.write_text("[[fault]]\nstatus = 1\n")
    with pytest.raises(ValueError, match="needs a 'match'"):
        load_faults_toml(bad)
    bad.write_text("this is = = not toml")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_faults_toml(bad)


def test_cli_faults_option(site: Path, tmp_path: Path):
    path = tmp_path / "faults.toml"
    path.write_text(f'[[fault]]\nmatch = "{A}"\nstatus = 503\nretry_after = 9\n')
    proc = subprocess.Popen([sys.executable, "-m", "healthdex", "replay", str(site), "--port", "0", "--faults",
                             str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        assert "1 fault rule(s)" in line, line
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", A)
        response = conn.getresponse()
        assert response.status == 503 and response.getheader("Retry-After") == "9"
        conn.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    bad = tmp_path / "bad.toml"
    bad.write_text("[[fault]]\nmatch = 'x'\nnope = 1\n")
    proc = subprocess.run([sys.executable, "-m", "healthdex", "replay", str(site), "--faults", str(bad)],
                          capture_output=True, text=True, cwd=ROOT, timeout=20)
    assert proc.returncode == 2 and proc.stderr.startswith("healthdex: ") and len(proc.stderr.splitlines()) == 1


def test_stop_does_not_hang_on_slow_faults(site: Path):
    server = ReplayServer(site)
    server.start()
    server.faults[A] = FaultRule(delay=30)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(f"GET {A} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    time.sleep(0.2)
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 3
    s.close()
