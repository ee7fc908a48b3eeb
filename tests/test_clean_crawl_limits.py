"""Issue 5: ``healthdex clean`` over a crawl's WARC reproduces the crawl's articles exactly, including the pages the
crawl dropped as too large.  A gzip-encoded page is small on the wire (so the WARC holds its raw body) but inflates
past the crawl's size limit, so Scrapy drops it after decompression; clean applies the same limit (the crawl's
``DOWNLOAD_MAXSIZE`` from the WARC's warcinfo record, or the profile's ``limits.max_response_bytes``) and says how
many it dropped.  Real crawls over the replay server on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from crawl_support import make_profile, make_site, page_url, read_jsonl, run_crawl, warc_responses
from warcio.archiveiterator import ArchiveIterator

from support import run_healthdex


def wire_size(warc: Path, url: str) -> int:
    """Bytes of ``url``'s response body as received (still gzip-encoded)."""
    with warc.open("rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type == "response" and record.rec_headers.get_header("WARC-Target-URI") == url:
                assert record.http_headers.get_header("Content-Encoding") == "gzip"
                return len(record.raw_stream.read())
    raise AssertionError(f"{url} not in {warc}")


PAGES = 6
LIMIT = 250_000
BIG = 1  # page 1 inflates to ~440 KB


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    folder = root / "site"
    make_site(folder, PAGES)
    big = folder / "a" / f"{BIG}.html"
    html = big.read_text(encoding="utf-8")
    padding = "<!-- " + "padding " * 40_000 + "-->"  # compresses ~100:1
    big.write_text(html.replace("</body>", padding + "</body>", 1), encoding="utf-8")
    assert big.stat().st_size > LIMIT
    return root, folder


@pytest.mark.parametrize("limit_from", ["setting", "profile"])
def test_clean_drops_what_the_crawl_dropped_as_too_large(site, limit_from):
    from replay.server import ReplayServer

    root, folder = site
    if limit_from == "setting":
        profile = make_profile(root, "limitsite")
        extra = ("-s", f"DOWNLOAD_MAXSIZE={LIMIT}")
    else:
        profile = make_profile(root, "limitprof", extra=f"[limits]\nmax_response_bytes = {LIMIT}\n")
        extra = ()
    out = root / f"out-{limit_from}"
    with ReplayServer(folder, faults={page_url(BIG): {"gzip": True}}) as server:
        result = run_crawl(profile, out, "--delay", "0", *extra, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr[-3000:]

    articles = read_jsonl(out / "articles.jsonl")
    assert page_url(BIG) not in {a["final_url"] for a in articles}  # the crawl dropped it ...
    assert len(articles) == PAGES - 1
    report = json.loads((out / "crawl-report.json").read_text())
    assert report["failed_by_reason"].get("maxsize") == 1
    captured = [r for r in warc_responses(out / "pages.warc.gz") if r["url"] == page_url(BIG)]
    assert len(captured) == 1 and len(captured[0]["body"]) > LIMIT  # ... the WARC has it: over the limit inflated,
    assert wire_size(out / "pages.warc.gz", page_url(BIG)) < LIMIT  # small as it came (gzip)

    cleaned = run_healthdex("clean", str(out / "pages.warc.gz"), env={"HEALTHDEX_PROFILES_PATH": str(root)})
    assert cleaned.returncode == 0, cleaned.stderr[-2000:]
    records = [json.loads(line) for line in cleaned.stdout.splitlines() if line.strip()]
    by_id = {r["warc_record_id"]: {k: v for k, v in r.items() if k != "source"} for r in records}
    assert by_id == {a["warc_record_id"]: a for a in articles}
    assert cleaned.stderr.strip() == (
        f"healthdex clean: {out / 'pages.warc.gz'}: 1 response over the crawl's "
        f"size limit not cleaned, as the crawl dropped it"
    )
