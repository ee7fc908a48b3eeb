"""The seed page: the wisegeek reconstruction keeps all five paragraphs and drops every boilerplate block."""

from __future__ import annotations

from pathlib import Path

import pytest

from stripper import build_record

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "healthdex/sample/pages/wisegeek.net/what-is-the-connection-between-sciatica-and-back-pain.htm.html"
URL = "https://www.wisegeek.net/what-is-the-connection-between-sciatica-and-back-pain.htm"

PARAGRAPH_STARTS = (
    "Sciatica is a condition that occurs when the sciatic nerve",
    "A herniated disc that causes sciatica and back pain occurs",
    "Sciatica and back pain are not always caused by disc herniation",
    "Regardless of whether the pain is caused by a herniated disc",
)
BOILERPLATE = (
    "We are independent & ad-supported",
    "Advertiser Disclosure",
    "How We Make Money",
    "Our Promise to you",
    "Founded in 2002",
    "Over the years",
    "WiseGeek is dedicated to providing accurate",
    "a talented writer, editor",
    "Discussion Comments",
    "Share",
    "in your inbox",
    "delivered daily",
    "affiliate",
    "Dan Cavallari",
    "Updated",
    "https://www.wisegeek.net",
)


@pytest.fixture(scope="module")
def record() -> dict:
    return build_record(PAGE.read_bytes(), URL)


def test_reconstruction_says_so() -> None:
    head = PAGE.read_text(encoding="utf-8")[:600]
    assert head.startswith("<!--") and "reconstruction" in head.lower()
    assert "wisegeek-sciatica-back-pain.txt" in head and URL in head


def test_all_paragraphs_kept(record: dict) -> None:
    text = record["text"]
    for start in PARAGRAPH_STARTS:
        assert start in text
    assert text.startswith("Sciatica is a condition")
    assert text.endswith("preventing herniated discs.")
    assert "also be causing the sciatica. A herniated disc, for example" in text
    # The brief and seed README say "five paragraphs", but the text capture holds four body paragraphs between
    # the byline and the editorial note; the reconstruction keeps exactly those.
    assert len(text.split("\n\n")) == 4


@pytest.mark.parametrize("phrase", BOILERPLATE)
def test_boilerplate_dropped(record: dict, phrase: str) -> None:
    assert phrase not in record["text"]


def test_metadata(record: dict) -> None:
    assert record["title"] == "What is the Connection Between Sciatica and Back Pain?"
    assert record["title"] not in record["text"]
    assert record["authors"] == ["Dan Cavallari"]
    assert record["updated"].startswith("2024-05-17")
    assert "Health" in record["categories"]
    assert record["canonical_url"] == URL
    assert record["id"] == URL
    assert record["site"] == "wisegeek.net"
    assert record["site_name"] == "WiseGeek"
    assert record["language"] == "en-US"
    assert record["content_hash"].startswith("sha256:")


def test_deterministic(record: dict) -> None:
    assert build_record(PAGE.read_bytes(), URL) == record
