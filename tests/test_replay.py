"""healthdex replay over real loopback sockets: proxy (http), CONNECT tunnel (https), origin form, manifests,
WARCs, robots/sitemap synthesis, conditional GET, keep-alive, the request log and the CLI."""

from __future__ import annotations

import http.client
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from healthdex.errors import UserError
from replay.server import ReplayServer
from replay.source import load_source, normalize_url

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

PAGE_A = b"<html><head><title>A</title></head><body><p>Sciatica \xe9t\xe9 page A</p></body></html>"
PAGE_B = b"<html><body><p>Page B, https</p></body></html>"
PAGE_C = b"<html><body><p>Page C with query</p></body></html>"


def write_manifest(
    folder: Path,
    rows: list[dict[str, str]],
    files: dict[str, bytes],
    columns: tuple[str, ...] = ("file", "site", "original_url", "license", "notes"),
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    lines = ["\t".join(columns)]
    lines += ["\t".join(row.get(c, "") for c in columns) for row in rows]
    (folder / "MANIFEST.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    return write_manifest(
        tmp_path / "site",
        [
            {
                "file": "example.org/a.html",
                "site": "example.org",
                "original_url": "http://www.Example.org/health/a.html#top",
                "license": "test",
                "notes": 'a "quoted" note',
            },
            {"file": "example.org/b.html", "site": "example.org", "original_url": "https://www.example.org/b.html"},
            {"file": "other.net/c.html", "site": "other.net", "original_url": "http://other.net:80/c?id=1&x=y"},
            {"file": "", "site": "unknown", "original_url": ""},  # rows without a URL are skipped
        ],
        {"example.org/a.html": PAGE_A, "example.org/b.html": PAGE_B, "other.net/c.html": PAGE_C},
    )


@pytest.fixture()
def server(site: Path):
    with ReplayServer(site) as srv:
        yield srv


def proxy_opener(server: ReplayServer) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": server.proxy_url, "https": server.proxy_url})
    )


def get(server: ReplayServer, url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with proxy_opener(server).open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def https_connection(server: ReplayServer, host: str, timeout: float = 10) -> http.client.HTTPSConnection:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=timeout)
    conn.set_tunnel(host, 443)
    return conn


# --- library -------------------------------------------------------------------------------------------------


def test_normalize_url():
    assert normalize_url("HTTP://WWW.Example.ORG:80/a#frag") == "http://www.example.org/a"
    assert normalize_url("https://example.org:443") == "https://example.org/"
    assert normalize_url("https://example.org:8443/x?b=1&a=2&utm_source=x") == "https://example.org:8443/x?a=2&b=1"
    assert normalize_url("http://user:pw@Example.org./p") == "http://example.org/p"
    assert normalize_url("http://x.com/10 Most Foods.htm") == normalize_url("http://x.com/10%20Most%20Foods.htm")
    assert normalize_url("http://x.com/alzheimer's/%7euser") == "http://x.com/alzheimer's/~user"
    with pytest.raises(ValueError):
        normalize_url("ftp://x.com/")


def test_manifest_loading_keeps_columns_and_skips_rows_without_url(site: Path):
    archive = load_source(site)
    assert len(archive) == 3
    page = archive.resolve("http://www.example.org/health/a.html")
    assert page is not None and page.meta["license"] == "test" and page.meta["notes"] == 'a "quoted" note'
    assert len(archive.skipped) == 1


def test_http_proxy_serves_saved_bytes_unchanged(server: ReplayServer):
    status, headers, body = get(server, "http://www.example.org/health/a.html")
    assert status == 200
    assert body == PAGE_A
    assert headers["Content-Type"] == "text/html"
    assert headers["Content-Length"] == str(len(PAGE_A))
    assert headers["ETag"].startswith('"') and "Last-Modified" in headers


def test_https_through_connect_tunnel(server: ReplayServer):
    conn = https_connection(server, "www.example.org")
    conn.request("GET", "/b.html")
    response = conn.getresponse()
    assert response.status == 200 and response.read() == PAGE_B
    # keep-alive inside the tunnel, plus scheme fallback: a.html was saved as http://
    conn.request("GET", "/health/a.html")
    response = conn.getresponse()
    assert response.status == 200 and response.read() == PAGE_A
    conn.close()
    urls = [e.url for e in server.request_log]
    assert urls == ["https://www.example.org/b.html", "https://www.example.org/health/a.html"]


def test_tunnel_certificate_is_for_the_host_and_signed_by_the_ca(server: ReplayServer, tmp_path: Path):
    ca = tmp_path / "ca.pem"
    ca.write_bytes(server.ca_pem)
    context = ssl.create_default_context(cafile=str(ca))
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)
    conn.set_tunnel("www.example.org", 443)
    conn.request("GET", "/b.html")
    assert conn.getresponse().read() == PAGE_B
    conn.close()


def test_scheme_fallback_http_for_https_page(server: ReplayServer):
    status, _, body = get(server, "http://www.example.org/b.html")
    assert status == 200 and body == PAGE_B


def test_query_is_kept_and_default_port_ignored(server: ReplayServer):
    assert get(server, "http://other.net/c?id=1&x=y")[2] == PAGE_C
    assert get(server, "http://other.net/c?id=2&x=y")[0] == 404
    assert get(server, "http://OTHER.net:80/c?id=1&x=y#frag")[0] == 200


def test_unknown_url_is_404_with_small_html(server: ReplayServer):
    status, headers, body = get(server, "http://www.example.org/missing.html")
    assert status == 404
    assert headers["Content-Type"].startswith("text/html")
    assert b"404" in body and len(body) < 1000
    assert get(server, "http://unknown-host.example/robots.txt")[0] == 404


def test_origin_form_with_host_header(server: ReplayServer):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/health/a.html", headers={"Host": "www.example.org"})
    response = conn.getresponse()
    assert response.status == 200 and response.read() == PAGE_A
    conn.close()


def test_robots_and_sitemap_synthesised_per_host(server: ReplayServer):
    status, headers, body = get(server, "http://www.example.org/robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert body.decode().splitlines() == ["User-agent: *", "Allow: /", "Sitemap: http://www.example.org/sitemap.xml"]
    conn = https_connection(server, "www.example.org")
    conn.request("GET", "/robots.txt")
    assert b"Sitemap: https://www.example.org/sitemap.xml" in conn.getresponse().read()
    conn.close()
    status, headers, body = get(server, "http://www.example.org/sitemap.xml")
    assert status == 200 and "xml" in headers["Content-Type"]
    root = ET.fromstring(body)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = sorted(e.text for e in root.findall("s:url/s:loc", ns))
    assert locs == ["http://www.Example.org/health/a.html#top", "https://www.example.org/b.html"] or locs == [
        "http://www.Example.org/health/a.html#top",
        "https://www.example.org/b.html",
    ]
    other = ET.fromstring(get(server, "http://other.net/sitemap.xml")[2])
    assert [e.text for e in other.findall("s:url/s:loc", ns)] == ["http://other.net:80/c?id=1&x=y"]
    assert b"&amp;" in get(server, "http://other.net/sitemap.xml")[2]


def test_saved_robots_txt_wins(tmp_path: Path):
    folder = write_manifest(
        tmp_path / "s",
        [
            {"file": "r.txt", "original_url": "http://h.example/robots.txt", "content_type": "text/plain"},
            {"file": "p.html", "original_url": "http://h.example/p"},
        ],
        {"r.txt": b"User-agent: *\nDisallow: /private\n", "p.html": b"<p>p</p>"},
        columns=("file", "original_url", "content_type"),
    )
    with ReplayServer(folder) as srv:
        status, headers, body = get(srv, "http://h.example/robots.txt")
        assert body == b"User-agent: *\nDisallow: /private\n" and headers["Content-Type"] == "text/plain"


def test_manifest_status_column(tmp_path: Path):
    folder = write_manifest(
        tmp_path / "s",
        [{"file": "gone.html", "original_url": "http://h.example/gone", "status": "410"}],
        {"gone.html": b"<p>gone</p>"},
        columns=("file", "original_url", "status"),
    )
    with ReplayServer(folder) as srv:
        status, _, body = get(srv, "http://h.example/gone")
        assert status == 410 and body == b"<p>gone</p>"


def test_conditional_get(server: ReplayServer):
    url = "http://www.example.org/health/a.html"
    _, headers, _ = get(server, url)
    etag, modified = headers["ETag"], headers["Last-Modified"]
    status, headers304, body = get(server, url, {"If-None-Match": etag})
    assert status == 304 and body == b"" and headers304["ETag"] == etag
    assert get(server, url, {"If-None-Match": '"other"'})[0] == 200
    assert get(server, url, {"If-Modified-Since": modified})[0] == 304
    assert get(server, url, {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})[0] == 200


def test_keep_alive_and_head(server: ReplayServer):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("HEAD", "http://www.example.org/health/a.html")
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("Content-Length") == str(len(PAGE_A))
    assert response.read() == b""
    sock = conn.sock
    conn.request("GET", "http://www.example.org/health/a.html")
    assert conn.getresponse().read() == PAGE_A
    conn.request("GET", "http://www.example.org/nothing")
    response = conn.getresponse()
    assert response.status == 404
    response.read()
    assert conn.sock is sock  # all three on the same connection
    conn.close()


def test_request_log(server: ReplayServer):
    before = time.time()
    get(server, "http://www.example.org/health/a.html")
    get(server, "http://www.example.org/nope")
    log = server.request_log.snapshot()
    assert [(e.method, e.url, e.status) for e in log] == [
        ("GET", "http://www.example.org/health/a.html", 200),
        ("GET", "http://www.example.org/nope", 404),
    ]
    assert all(before <= e.time <= time.time() for e in log)
    assert log[0].client.startswith("127.0.0.1:")


def test_client_disconnect_mid_response_is_quiet(server: ReplayServer, capfd):
    import socket

    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"GET http://www.example.org/health/a.html HTTP/1.1\r\nHost: www.example.org\r\n\r\n")
        s.close()
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"GARBAGE\r\n\r\n")
        s.close()
    assert get(server, "http://www.example.org/b.html")[0] == 200
    assert "Traceback" not in capfd.readouterr().err


def test_warc_source_latest_capture_wins(tmp_path: Path):
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path = tmp_path / "pages.warc.gz"
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)

        def write(url: str, body: bytes, date: str, status: str = "200 OK", extra=()):
            headers = StatusAndHeaders(
                status, [("Content-Type", "text/html; charset=utf-8"), *extra], protocol="HTTP/1.1"
            )

            record = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=headers, warc_headers_dict={"WARC-Date": date}
            )
            writer.write_record(record)

        write("https://www.cdc.gov/flu/index.html", b"<p>old</p>", "2026-01-01T00:00:00Z")
        write("https://www.cdc.gov/flu/index.html", b"<p>new</p>", "2026-02-01T00:00:00Z")
        write("https://www.cdc.gov/flu/index.html", b"<p>older, written last</p>", "2025-01-01T00:00:00Z")
        write(
            "https://www.cdc.gov/moved",
            b"",
            "2026-01-01T00:00:00Z",
            "301 Moved Permanently",
            [("Location", "https://www.cdc.gov/flu/index.html")],
        )
        write(
            "<https://www.cdc.gov/etag>",
            b"<p>e</p>",
            "2026-01-01T00:00:00Z",
            extra=[
                ("ETag", '"recorded-1"'),
                ("Last-Modified", "Tue, 01 Sep 2026 10:00:00 GMT"),
                ("Transfer-Encoding", "chunked"),
                ("Content-Encoding", "gzip"),
            ],
        )
        writer.write_record(
            writer.create_warc_record("https://www.cdc.gov/", "request", payload=io.BytesIO(b"GET / HTTP/1.1\r\n\r\n"))
        )
    with ReplayServer(path) as srv:
        assert len(srv.archive) == 3
        conn = https_connection(srv, "www.cdc.gov")
        conn.request("GET", "/flu/index.html")
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b"<p>new</p>"
        assert response.getheader("Content-Type") == "text/html; charset=utf-8"
        conn.request("GET", "/moved")
        response = conn.getresponse()
        response.read()
        assert response.status == 301 and response.getheader("Location") == "https://www.cdc.gov/flu/index.html"
        conn.request("GET", "/etag", headers={"If-None-Match": '"recorded-1"'})
        response = conn.getresponse()
        response.read()
        assert response.status == 304 and response.getheader("ETag") == '"recorded-1"'
        conn.request("GET", "/etag", headers={"If-Modified-Since": "Tue, 01 Sep 2026 10:00:00 GMT"})
        response = conn.getresponse()
        response.read()
        assert response.status == 304
        conn.request("GET", "/etag")
        response = conn.getresponse()
        assert response.read() == b"<p>e</p>" and response.getheader("Content-Encoding") is None
        assert [h for h, _ in response.getheaders()].count("ETag") == 1
        assert response.getheader("Last-Modified") == "Tue, 01 Sep 2026 10:00:00 GMT"
        conn.request("GET", "/sitemap.xml")
        assert b"https://www.cdc.gov/flu/index.html" in conn.getresponse().read()
        conn.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "not found"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "no MANIFEST.tsv"),
        (
            lambda p: write_manifest(p / "bad", [{"file": "x.html"}], {"x.html": b"x"}, columns=("file", "url")),
            "missing column",
        ),
        (
            lambda p: write_manifest(p / "nofile", [{"file": "x.html", "original_url": "http://h/x"}], {}),
            "file not found",
        ),
        (
            lambda p: write_manifest(p / "escape", [{"file": "../x.html", "original_url": "http://h/x"}], {}),
            "not inside",
        ),
        (lambda p: (p / "x.warc.gz").write_bytes(b"not a warc at all") and p / "x.warc.gz", "nothing to replay"),
        (lambda p: (p / "e.warc").write_bytes(b"") == 0 and p / "e.warc", "nothing to replay"),
    ],
)
def test_bad_sources_are_user_errors(tmp_path: Path, make, message):
    with pytest.raises(UserError, match=message):
        ReplayServer(make(tmp_path))


def test_refuses_non_loopback_without_allow(site: Path):
    with pytest.raises(UserError, match="non-loopback"):
        ReplayServer(site, host="0.0.0.0")


# --- CLI -----------------------------------------------------------------------------------------------------


def run_cli(*args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [PYTHON, "-m", "healthdex", "replay", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
        **kwargs,
    )


def test_cli_serves_and_stops(site: Path):
    proc = run_cli(str(site), "--port", "0", "-v")
    try:
        line = proc.stdout.readline()
        pattern = r"replay: serving 3 pages from .* on http://127\.0\.0\.1:(\d+) \(use it as the HTTP/HTTPS proxy\)"
        match = re.search(pattern, line)
        assert match, line
        port = int(match.group(1))
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{port}"}))
        with opener.open("http://www.example.org/health/a.html", timeout=10) as response:
            assert response.read() == PAGE_A
        request_line = proc.stdout.readline()
        assert "GET http://www.example.org/health/a.html 200" in request_line
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_cli_sigterm_stops_cleanly(site: Path):
    proc = run_cli(str(site), "--port", "0")
    assert "replay: serving" in proc.stdout.readline()
    proc.terminate()
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err


@pytest.mark.parametrize("args", [["/nonexistent/replay-source"], ["{tmp}"], ["{site}", "--faults", "/nope.toml"]])
def test_cli_errors_are_one_line_exit_2(tmp_path: Path, site: Path, args: list[str]):
    args = [a.format(tmp=tmp_path / "empty", site=site) for a in args]
    (tmp_path / "empty").mkdir()
    proc = run_cli(*args)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert err.startswith("healthdex: ") and len(err.strip().splitlines()) == 1, err


def test_connection_threads_are_bounded(site: Path):
    import socket

    with ReplayServer(site, max_connections=2) as srv:
        held = []
        for _ in range(2):  # two idle keep-alive connections hold both handler threads
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            conn.request("GET", "http://www.example.org/b.html")
            conn.getresponse().read()
            held.append(conn)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=0.5) as third:
            third.sendall(b"GET http://www.example.org/b.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            with pytest.raises(TimeoutError):
                third.recv(100)
            held.pop().close()  # frees a thread; the waiting connection is served
            third.settimeout(10)
            assert third.recv(100).startswith(b"HTTP/1.1 200")
        for conn in held:
            conn.close()


def test_concurrent_clients_http_and_https(server: ReplayServer):
    from concurrent.futures import ThreadPoolExecutor

    def worker(n: int) -> list[bytes]:
        bodies = []
        if n % 2:
            conn = https_connection(server, "www.example.org")
            paths = ["/b.html", "/health/a.html"] * 5
        else:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            paths = ["http://www.example.org/b.html", "http://www.example.org/health/a.html"] * 5
        for path in paths:
            conn.request("GET", path)
            bodies.append(conn.getresponse().read())
        conn.close()
        return bodies

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(worker, range(32)))
    assert all(bodies == [PAGE_B, PAGE_A] * 5 for bodies in results)
    assert len(server.request_log) == 320


def test_saved_file_gone_after_start_is_500_not_a_dropped_connection(site: Path, capfd):
    with ReplayServer(site) as srv:
        (site / "example.org" / "b.html").unlink()
        status, _, body = get(srv, "http://www.example.org/b.html")
        assert status == 500 and b"cannot read" in body
        assert get(srv, "http://www.example.org/health/a.html")[0] == 200
    assert "Traceback" not in capfd.readouterr().err


def test_client_leaving_during_a_large_body_is_quiet(server: ReplayServer, capfd):
    import socket

    from replay.faults import FaultRule

    server.faults["http://big.example/*"] = FaultRule(generate="html", size=50 * 1024 * 1024)
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"GET http://big.example/x HTTP/1.1\r\nHost: big.example\r\n\r\n")
            assert s.recv(1024).startswith(b"HTTP/1.1 200")
    assert get(server, "http://www.example.org/b.html")[0] == 200
    time.sleep(0.3)
    assert "Traceback" not in capfd.readouterr().err
