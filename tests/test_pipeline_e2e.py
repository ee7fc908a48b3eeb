"""Issue 2: the whole pipeline over real loopback HTTP on the bundled sample (replay → crawl → index → search)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from support import REPO, SAMPLE_PAGES, run_healthdex

WISEGEEK_URL = "https://www.wisegeek.net/what-is-the-connection-between-sciatica-and-back-pain.htm"
# The article paragraphs of the seed page's text capture (../shared/seed/wisegeek-sciatica-back-pain.txt).
# The seed README speaks of five paragraphs, but the capture holds these four between byline and editorial note.
PARAGRAPH_STARTS = [
    "Sciatica is a condition that occurs when the sciatic nerve",
    "A herniated disc that causes sciatica and back pain occurs",
    "Sciatica and back pain are not always caused by disc herniation, however.",
    "Regardless of whether the pain is caused by a herniated disc or by a strained or tight muscle",
]
SEED_BOILERPLATE = [
    "We are independent & ad-supported", "Advertiser Disclosure", "How We Make Money", "Our Promise to you",
    "Founded in 2002", "Over the years", "WiseGeek is dedicated to providing accurate",
    "a talented writer, editor", "Discussion Comments", "in your inbox",
]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("crawl")
    profiles = sorted({"webmd", "medicalnewstoday", "healthline", "livestrong", "cdc", "nhs", "mayoclinic",
                       "medlineplus", "wisegeek"})
    # --max-depth 0: the sample holds only its sitemaps' pages; their nav links would only meet 404s.
    result = run_healthdex("crawl", *profiles, "--replay", str(SAMPLE_PAGES), "--out", str(out), "--delay", "0",
                           "--max-depth", "0")
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def indexed(crawled, tmp_path_factory) -> Path:
    index_dir = tmp_path_factory.mktemp("index")
    result = run_healthdex("index", str(crawled / "articles.jsonl"), "--index", str(index_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    return index_dir


def manifest_urls() -> list[str]:
    lines = (SAMPLE_PAGES / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=False))["original_url"] for line in lines[1:]]


def read_articles(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "articles.jsonl").read_text(encoding="utf-8").splitlines()]


def test_crawl_writes_every_sample_article_once_with_provenance(crawled):
    articles = read_articles(crawled)
    urls = [a["final_url"] for a in articles]
    assert sorted(urls) == sorted(manifest_urls())
    for article in articles:
        assert "error" not in article, article.get("error")
        assert article["status"] == 200
        assert article["warc_file"] == "pages.warc.gz"
        assert article["warc_record_id"].startswith("<urn:uuid:")
        assert article["fetched_at"].endswith("Z")
        assert article["content_hash"].startswith("sha256:")
        assert article["profile"]
        assert article["text"].strip()


def test_warc_holds_every_raw_response_and_a_warcinfo(crawled):
    types, targets, ids = [], set(), set()
    with (crawled / "pages.warc.gz").open("rb") as handle:
        for record in ArchiveIterator(handle):
            types.append(record.rec_type)
            if record.rec_type == "response":
                targets.add(record.rec_headers.get_header("WARC-Target-URI"))
                ids.add(record.rec_headers.get_header("WARC-Record-ID"))
                record.content_stream().read()
    assert types[0] == "warcinfo"
    assert set(manifest_urls()) <= targets
    assert any(t.endswith("/robots.txt") for t in targets)
    assert {a["warc_record_id"] for a in read_articles(crawled)} <= ids
    assert types.count("request") == types.count("response")


def test_search_finds_the_wisegeek_page_first_with_clean_text(indexed, crawled):
    result = run_healthdex("search", "sciatica back pain", "--index", str(indexed), "--json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)["hits"]
    assert hits[0]["url"] == WISEGEEK_URL
    wisegeek = next(a for a in read_articles(crawled) if a["final_url"] == WISEGEEK_URL)
    text = wisegeek["text"]
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    assert [p[: len(s)] for p, s in zip(paragraphs, PARAGRAPH_STARTS, strict=True)] == PARAGRAPH_STARTS
    assert text.rstrip().endswith("preventing herniated discs.")
    for phrase in SEED_BOILERPLATE:
        assert phrase not in text, phrase


def test_scrapy_crawl_command_runs_the_same_spider(tmp_path):
    """``scrapy crawl health -a profile=NAME`` from the project root, pointed at a replay server."""
    import subprocess
    import sys

    from replay.server import ReplayServer

    with ReplayServer(SAMPLE_PAGES) as server:
        result = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "health", "-a", "profile=wisegeek",
             "-s", f"HEALTHDEX_PROXY={server.proxy_url}", "-s", f"HEALTHDEX_OUT_DIR={tmp_path}",
             "-s", "DOWNLOAD_DELAY=0", "-s", "LOG_LEVEL=WARNING"],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )
        requested = [entry.url for entry in server.request_log]
    assert result.returncode == 0, result.stderr[-2000:]
    articles = read_articles(tmp_path)
    assert [a["final_url"] for a in articles] == [WISEGEEK_URL]
    assert "https://www.wisegeek.net/robots.txt" in requested
    assert not any("webmd" in url for url in requested)


def test_unknown_profile_is_one_line_error(tmp_path):
    result = run_healthdex("crawl", "no-such-site", "--replay", str(SAMPLE_PAGES), "--out", str(tmp_path))
    assert result.returncode == 2
    assert "unknown profile 'no-such-site'" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreachable_replay_reports_errors_without_traceback(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_healthdex("crawl", "wisegeek", "--proxy", f"http://127.0.0.1:{port}", "--out", str(tmp_path),
                           "--delay", "0", "-s", "RETRY_TIMES=0")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "no page could be fetched" in result.stderr
    report = json.loads((tmp_path / "crawl-report.json").read_text())
    assert report["pages_fetched"] == 0
    assert sum(report["errors_by_kind"].values()) >= 1


def test_live_crawl_without_contact_is_refused(tmp_path):
    result = run_healthdex("crawl", "wisegeek", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "contact" in result.stderr
    assert not (tmp_path / "pages.warc.gz").exists()


def test_missing_index_and_malformed_query_are_one_line_errors(tmp_path, indexed):
    missing = run_healthdex("search", "sciatica", "--index", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    malformed = run_healthdex("search", "published:[2020 TO", "--index", str(indexed))
    assert malformed.returncode in (1, 2)
    assert "Traceback" not in malformed.stderr


def test_empty_inputs_are_clear(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = run_healthdex("index", str(empty), "--index", str(tmp_path / "idx"))
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 1)
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    cleaned = run_healthdex("clean", str(empty_dir))
    assert cleaned.returncode == 1
    assert "Traceback" not in cleaned.stderr
