"""Issue 5, leaks: the replay server's throwaway TLS keeps no files, so no ``healthdex-replay-tls-*`` folder is left
behind when a replay server stops, nor when its process is killed (each one used to stay in /tmp with a private
key in it).  Real HTTPS through the CONNECT tunnel; TMPDIR points at a folder of the test's own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from test_replay import PAGE_B, https_connection, write_manifest

from replay.server import ReplayServer

from support import REPO


def tls_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("healthdex-replay-tls-"))


def make_site(tmp_path: Path) -> Path:
    return write_manifest(
        tmp_path / "site",
        [
            {"file": "b.html", "original_url": "https://www.example.org/b.html"},
            {"file": "c.html", "original_url": "https://other.example.net/b.html"},
        ],
        {"b.html": PAGE_B, "c.html": PAGE_B},
    )


def fetch_over_tls(port: int, host: str) -> bytes:
    server = type("Server", (), {"port": port})()
    conn = https_connection(server, host)
    try:
        conn.request("GET", "/b.html")
        return conn.getresponse().read()
    finally:
        conn.close()


def test_no_tls_folder_while_serving_https_or_after_the_server_stops(tmp_path, monkeypatch):
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    with ReplayServer(make_site(tmp_path)) as server:
        for host in ("www.example.org", "other.example.net"):  # one certificate per host
            assert fetch_over_tls(server.port, host) == PAGE_B
        assert tls_folders(private) == []
    assert tls_folders(private) == []
    assert [e.url for e in server.request_log] == ["https://www.example.org/b.html", "https://other.example.net/b.html"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_killed_replay_process_leaves_no_tls_folder(tmp_path):
    private = tmp_path / "tmp"
    private.mkdir()
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "healthdex", "replay", str(make_site(tmp_path)), "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(private)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        ready = process.stdout.readline().decode()
        assert ready.startswith("replay: serving"), ready
        assert fetch_over_tls(port, "www.example.org") == PAGE_B
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    time.sleep(0.1)
    assert tls_folders(private) == []
