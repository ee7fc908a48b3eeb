"""A throwaway ``redis-server`` on 127.0.0.1 for tests: free port, no persistence, killed at the end.

CI (``scripts/test.sh``) installs the Debian ``redis-server`` package; without it these tests fail with a message
saying so rather than skipping.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def redis_server(workdir: Path, timeout: float = 10.0) -> Iterator[str]:
    """Start redis-server and yield its URL (``redis://127.0.0.1:PORT/0``)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: `apt-get install redis-server` "
                           "(scripts/test.sh does this in CI); the distributed-crawl tests need a real Redis")
    import redis

    port = _free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = (workdir / "redis.log").open("wb")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {process.returncode}: "
                                   f"{(workdir / 'redis.log').read_text(errors='replace')[-2000:]}")
            try:
                if client.ping():
                    break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on port {port} did not answer PING in {timeout} s") from None
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        process.kill()
        process.wait(timeout=10)
        log.close()
