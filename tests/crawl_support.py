"""Helpers for the crawl tests: a generated replay site (bench/crawl.py's generator), a profile for it, and
readers for a crawl's outputs."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from support import REPO

_spec = importlib.util.spec_from_file_location("bench_crawl", REPO / "bench" / "crawl.py")
bench_crawl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_crawl)

make_site = bench_crawl.make_site
make_profile = bench_crawl.make_profile
page_url = bench_crawl.page_url
HOST = bench_crawl.HOST


def crawl_command(profile: Path, out: Path, *extra: str, replay: Path | None = None, proxy: str | None = None):
    args = [sys.executable, "-m", "healthdex", "crawl", str(profile), "--out", str(out),
            "-s", "AUTOTHROTTLE_ENABLED=False", *extra]
    if replay is not None:
        args += ["--replay", str(replay)]
    if proxy is not None:
        args += ["--proxy", proxy]
    return args


def env_for(profile_dir: Path) -> dict:
    return {**os.environ, "HEALTHDEX_PROFILES_PATH": str(profile_dir)}


def run_crawl(profile: Path, out: Path, *extra: str, replay: Path | None = None, proxy: str | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(crawl_command(profile, out, *extra, replay=replay, proxy=proxy), cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, env=env_for(profile.parent))


def read_jsonl(path: Path) -> list[dict]:
    """Every line must be a complete JSON object (a torn line fails the test)."""
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"", f"{path.name} does not end with a newline"
    return [json.loads(line) for line in lines[:-1]]


def warc_responses(path: Path) -> list[dict]:
    """Every response record (reading every record to the end: a torn record fails the test)."""
    out = []
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            body = record.content_stream().read()
            if record.rec_type == "response":
                out.append({
                    "url": record.rec_headers.get_header("WARC-Target-URI"),
                    "id": record.rec_headers.get_header("WARC-Record-ID"),
                    "status": int(record.http_headers.get_statuscode()),
                    "body": body,
                })
    return out


def warc_requests(path: Path) -> list[dict]:
    out = []
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type == "request":
                out.append({"url": record.rec_headers.get_header("WARC-Target-URI"),
                            "headers": dict(record.http_headers.headers)})
    return out
