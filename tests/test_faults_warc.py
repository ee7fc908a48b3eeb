"""Issue 6: WARCs holding hostile responses stay readable by ``healthdex clean``.

warcio 1.8 cannot decode ``Content-Encoding: br`` with brotli >= 1.1 (it sets an attribute the C decompressor
refuses), so every brotli-encoded page in a WARC was an error record, and a crawl's WARC holding one made
``healthdex clean`` die with a traceback.  Scrapy asks for br whenever brotli is installed, so real sites answer
with it.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib

import brotli
from faultlib import SCENARIOS_BY_NAME, healthdex_env, run_scenario
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from support import run_healthdex

HTML = (b"<html><head><title>Sleep</title></head><body><article><h1>Sleep</h1>"
        + b"<p>Sleep matters a great deal for health and memory in adults and in children alike.</p>" * 5
        + b"</article></body></html>")


def test_clean_reads_brotli_gzip_and_deflate_warc_records(tmp_path):
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    bodies = {"br": brotli.compress(HTML), "gzip": gzip.compress(HTML), "deflate": zlib.compress(HTML),
              "bomb": brotli.compress(b"\0" * 60_000_000, quality=5)}
    for name, body in bodies.items():
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                              ("Content-Encoding", "br" if name == "bomb" else name)],
                                   protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(f"https://www.example.org/{name}.html", "response",
                                                      payload=io.BytesIO(body), http_headers=headers))
    warc = tmp_path / "pages.warc.gz"
    warc.write_bytes(buffer.getvalue())
    result = run_healthdex("clean", str(warc), timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    records = {r["url"].rsplit("/", 1)[-1]: r for r in map(json.loads, result.stdout.splitlines())}
    for name in ("br", "gzip", "deflate"):
        assert "Sleep matters a great deal" in records[f"{name}.html"].get("text", ""), records[f"{name}.html"]
    assert "bomb.html" in records  # a bomb is a record (most likely an error), not a crash or 60 MB of zeros


def test_clean_over_a_crawl_warc_with_a_brotli_bomb(tmp_path):
    result = run_scenario(SCENARIOS_BY_NAME["brotli_bomb"], tmp_path)
    assert result.outcome.survived, result.outcome.explain()
    warc = result.run.out / "pages.warc.gz"
    clean = run_healthdex("clean", str(warc), timeout=120, env={
        "HEALTHDEX_PROFILES_PATH": healthdex_env(tmp_path / "profiles")["HEALTHDEX_PROFILES_PATH"]})
    assert "Traceback" not in clean.stderr, clean.stderr[-3000:]
    assert clean.returncode == 0, clean.stderr
    urls = {json.loads(line).get("url") for line in clean.stdout.splitlines()}
    crawled = {json.loads(line)["url"] for line in (result.run.out / "articles.jsonl").read_text().splitlines()}
    assert crawled and crawled <= urls
