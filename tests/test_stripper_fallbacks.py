"""No silent loss, on real pages: each fallback of ``extract.body_text`` gives a page its article when the container's
text is short, empty text comes only with ``empty_reason``, and the crawl report and ``healthdex clean`` count the
empty pages.  Pages from ../shared are used when it is present."""

from __future__ import annotations

import asyncio
import csv
import gzip
import json
import re

import pytest

from stripper import ExtractionError, build_record, extract_article

from support import SAMPLE_PAGES, SHARED

MODERN = SHARED / "data" / "modern-news-extraction"
HEALTH_PAGES = SHARED / "data" / "health-pages"
needs_modern = pytest.mark.skipif(not MODERN.is_dir(), reason=f"shared modern news pages not present at {MODERN}")
needs_health = pytest.mark.skipif(
    not HEALTH_PAGES.is_dir(), reason=f"shared health pages not present at {HEALTH_PAGES}"
)


def extracted(html: bytes | str, url: str | None = None) -> tuple[dict, str]:
    """The record and where its text came from (the last line of the --explain trace)."""
    trace: list[str] = []
    record = extract_article(html, url, trace=trace)
    return record, trace[-1].rpartition(" from the ")[2]


def modern_page(page_id: str) -> tuple[bytes, dict]:
    truth = json.loads((MODERN / "ground-truth.json").read_text(encoding="utf-8"))[page_id]
    return gzip.decompress((MODERN / "html" / f"{page_id}.html.gz").read_bytes()), truth


def test_lenient_second_pass_when_a_wrong_class_hides_the_paragraphs() -> None:
    """A template that puts a furniture class on every paragraph (here: healthline's 82 <p> as "sidebar-text")."""
    page = SAMPLE_PAGES / "healthline.com" / "nutrition-how-to-overcome-binge-eating.html"
    html = page.read_text(encoding="utf-8")
    original, source = extracted(html)
    assert source == "container"
    mislabelled, source = extracted(html.replace("<p>", '<p class="sidebar-text">'))
    assert source == "lenient second pass"
    assert mislabelled["text"] == original["text"]


@needs_modern
def test_article_element_when_the_container_holds_a_paywall_stub() -> None:
    html, truth = modern_page("jp-chunichishimbun")  # the free lead of a members-only article
    record, source = extracted(html, truth["url"])
    assert source == "article element"
    assert truth["articleBody"].split("\n")[0] in record["text"]


@needs_modern
def test_jsonld_article_body_when_the_page_shows_a_summary() -> None:
    html, truth = modern_page("es-abc-v1_1")
    record, source = extracted(html, truth["url"])
    assert source == "JSON-LD articleBody"
    words = " ".join(re.findall(r"\w+", record["text"]))  # the JSON-LD copy spaces some punctuation differently
    for paragraph in truth["articleBody"].split("\n")[1:4]:
        assert " ".join(re.findall(r"\w+", paragraph)) in words


@needs_modern
def test_page_prose_when_the_article_waits_in_a_hidden_element() -> None:
    """A streamed React page: the article sits in <div hidden id="S:1"> until a script moves it into place."""
    html, truth = modern_page("tr-anadoluajansi-v2")
    record, source = extracted(html, truth["url"])
    assert source == "page prose"
    paragraphs = truth["articleBody"].split("\n")
    assert sum(p in record["text"] for p in paragraphs) >= 0.8 * len(paragraphs)


def test_empty_text_says_why() -> None:
    menu = "".join(f'<li><a href="/{i}">Section {i}</a></li>' for i in range(30))
    listing = extract_article(f"<html><body><nav><ul>{menu}</ul></nav><div><ul>{menu}</ul></div></body></html>")
    assert listing["text"] == "" and listing["empty_reason"] == "no prose"
    blank = extract_article("<html><head><title>Loading</title></head><body><div id=app></div></body></html>")
    assert blank["text"] == "" and blank["empty_reason"] == "no text"
    assert "empty_reason" not in extract_article("<p>A paragraph of article text, long enough to be one.</p>")


@needs_health
def test_no_shared_health_page_with_an_article_comes_out_empty() -> None:
    rows = list(csv.DictReader((HEALTH_PAGES / "MANIFEST.tsv").open(encoding="utf-8"), delimiter="\t"))
    empty = {}
    for row in rows:
        try:
            record = build_record((HEALTH_PAGES / row["file"]).read_bytes(), row["original_url"] or None)
        except ExtractionError:
            continue
        if not record["text"]:
            empty[row["file"]] = record["empty_reason"]
    # a shop page of a back-pain device: a menu, images and a copyright line, no paragraph of text
    assert empty == {"unidentified/sondhi-unreliable-27.html": "no prose"}


def test_crawl_counts_empty_articles_and_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    from scrapy.utils.test import get_crawler

    from crawler.items import ArticlePage
    from crawler.pipelines.extract import ExtractArticlePipeline
    from crawler.report import format_report, summarise_stats

    monkeypatch.setenv("HEALTHDEX_MAX_TREE_DEPTH", "50")
    crawler = get_crawler(settings_dict={"HEALTHDEX_EXTRACT_WORKERS": 0})
    pipeline = ExtractArticlePipeline.from_crawler(crawler)
    article = b"<html><body><article><p>" + b"A paragraph of article text, long enough to be one. " * 4 + b"</p>"
    pages = {
        "https://example.org/a": article + b"</article></body></html>",
        "https://example.org/deep": article + b"<div>" * 100 + b"</article></body></html>",
        "https://example.org/index": b"<html><body><nav><a href=/>Home</a> <a href=/b>News</a></nav></body></html>",
    }
    for url, body in pages.items():
        page = ArticlePage(url=url, final_url=url, status=200, body=body, http_charset=None, profile="test")
        asyncio.run(pipeline.process_item(page, None))
    report = summarise_stats(crawler.stats.get_stats(), duration=1.0, reason="finished", profiles="test")
    assert report["articles_extracted"] == 3 and report["empty_articles"] == 1
    assert report["empty_by_reason"] == {"no prose": 1} and report["extract_limited"] == 1
    assert "empty articles       1" in format_report(report) and "no prose: 1" in format_report(report)
