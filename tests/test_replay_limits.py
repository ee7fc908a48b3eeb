"""Issue 18: replay's limits.  Idle or trickling connections cannot hold every connection slot, an old connection is
closed after its response, the per-host TLS cache is bounded, and a saved file is checked when it is served (one
replaced by a symlink to a file outside the folder after start-up is refused)."""

from __future__ import annotations

import http.client
import socket
from pathlib import Path

from test_replay import PAGE_B, get, site  # noqa: F401 - site is a fixture

from replay.server import ReplayServer
from replay.tls import CertificateAuthority

REQUEST = b"GET http://www.example.org/b.html HTTP/1.1\r\nHost: www.example.org\r\nConnection: close\r\n\r\n"


def test_idle_connections_give_their_slots_back(site: Path):  # noqa: F811
    with ReplayServer(site, max_connections=2, idle_timeout=0.5) as srv:
        held = []
        for _ in range(2):  # two idle keep-alive connections take both slots
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            conn.request("GET", "http://www.example.org/b.html")
            conn.getresponse().read()
            held.append(conn)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as third:
            third.sendall(REQUEST)
            assert third.recv(100).startswith(b"HTTP/1.1 200")  # served once an idle one is closed
        for conn in held:
            conn.close()


def test_a_trickled_request_is_cut_off(site: Path):  # noqa: F811
    with ReplayServer(site, idle_timeout=0.5) as srv, socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.settimeout(0.1)
        closed = False
        for byte in REQUEST[:-4] * 10:  # one byte every 0.1 s (about 60 s in all), never a whole request
            try:
                sock.sendall(bytes([byte]))
                closed = sock.recv(1) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
            if closed:
                break
        assert closed, "the server kept a connection that trickles its request"


def test_an_old_connection_is_closed_after_its_response(site: Path):  # noqa: F811
    with ReplayServer(site, connection_lifetime=0) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("GET", "http://www.example.org/b.html")
        response = conn.getresponse()
        assert response.read() == PAGE_B and response.getheader("Connection") == "close"
        conn.close()


def test_tls_contexts_are_bounded():
    authority = CertificateAuthority(max_hosts=3)
    try:
        contexts = [authority.context_for(f"h{i}.example") for i in range(5)]
        assert authority.context_for("h4.example") is contexts[4]  # kept: recently used
        assert len(authority._contexts) == 3 and "h0.example" not in authority._contexts
    finally:
        authority.close()


def test_a_file_replaced_by_a_symlink_after_start_up_is_refused(site: Path, tmp_path: Path):  # noqa: F811
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not for the proxy's clients")
    with ReplayServer(site) as srv:
        saved = site / "example.org" / "b.html"
        saved.unlink()
        saved.symlink_to(secret)
        status, _, body = get(srv, "http://www.example.org/b.html")
        assert status == 500 and b"not for the proxy" not in body
        assert get(srv, "http://www.example.org/health/a.html")[0] == 200
