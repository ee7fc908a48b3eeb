"""Bad input never escapes as an unhandled exception: ExtractionError or a (possibly empty) result."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from stripper import ExtractionError, build_record, extract_article
from stripper.extract import parse

SHARED = Path(os.environ.get("HEALTHDEX_SHARED", Path(__file__).resolve().parents[2] / "shared"))
HEALTH_PAGES = SHARED / "data" / "health-pages"


def outcome(data: bytes | str) -> dict | None:
    try:
        return extract_article(data, "https://example.org/a")
    except ExtractionError as exc:
        assert "\n" not in str(exc) and str(exc)
        return None


@pytest.mark.parametrize("data", [b"", b"   \n\t ", ""])
def test_empty_input_is_an_extraction_error(data: bytes | str) -> None:
    with pytest.raises(ExtractionError):
        extract_article(data)


def test_binary_garbage() -> None:
    with pytest.raises(ExtractionError):
        extract_article(bytes(range(256)) * 100)
    with pytest.raises(ExtractionError):
        extract_article(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00\x01" * 500)


def test_extraction_error_is_a_user_error() -> None:
    from healthdex.errors import UserError

    assert issubclass(ExtractionError, UserError)


def test_nul_bytes_inside_a_page() -> None:
    para = b"Health text with a NUL\x00 in the middle of it. " * 5
    result = outcome(b"<html><body><p>" + para + b"</p></body></html>")
    assert result is not None and "\x00" not in result["text"]
    assert "Health text with a NUL in the middle" in result["text"]


def test_very_deep_nesting_does_not_blow_the_stack() -> None:
    depth = 100_000
    html = (
        "<html><body>"
        + "<div>" * depth
        + "<p>deep text that is long enough to be a paragraph</p>"
        + "</div>" * depth
        + "</body></html>"
    )
    result = outcome(html.encode())
    assert result is None or isinstance(result["text"], str)
    result = outcome("<b><i>" * 50_000 + "x")
    assert result is None or isinstance(result["text"], str)


def test_huge_single_line() -> None:
    result = outcome(b"<html><body><p>" + b"word " * 2_000_000 + b"</p></body></html>")
    assert result is not None and len(result["text"]) > 1_000_000
    assert outcome(b"a" * 5_000_000) is not None


def test_unclosed_script_and_comment_are_linear() -> None:
    assert outcome(b"<p>text before the script that is long enough</p>" + b"<script>" * 20_000) is not None
    assert outcome(b"<!--" * 50_000) is not None
    assert (
        str(parse("<p>a</p><script>x</script><p>b</p><!-- c --><svg><path/></svg>").body)
        == "<body><p>a</p><p>b</p></body>"
    )


def test_malformed_markup_and_jsonld() -> None:
    html = b"""<html><head><script type="application/ld+json">{"@type": "Article", "headline": "X",,, </script>
    <meta name="author"><meta property="article:published_time" content="not a date">
    <script type="application/ld+json">[1, "two", null, {"@graph": 5}]</script></head>
    <body><table><tr><td><p>Unclosed <b>markup <i>everywhere in this paragraph of text</td></table>
    <time datetime="99999-99-99">x</time></body>"""
    result = outcome(html)
    assert result is not None and "Unclosed markup everywhere" in result["text"]
    assert result["published"] is None


def test_not_html_at_all() -> None:
    result = outcome(b'{"json": "document", "with": ["no", "html"]}')
    assert result is None or isinstance(result["text"], str)
    result = outcome(b"<?xml version='1.0' encoding='utf-8'?><rss><channel><item>x</item></channel></rss>")
    assert result is None or isinstance(result["text"], str)


def test_selectors_from_a_profile() -> None:
    html = b"""<html><head><title>T</title></head><body><div class="junk"><p>Junk paragraph that is quite long
    and would otherwise be kept.</p></div><div id="story"><p>The story paragraph that the profile selects, which is
    long enough.</p><p class="promo">A promo inside the story that the profile removes explicitly.</p></div></body>"""
    r = extract_article(html, selectors={"content": ["#story"], "remove": [".promo", "::bad selector"]})
    assert "The story paragraph" in r["text"]
    assert "Junk paragraph" not in r["text"] and "promo inside" not in r["text"]


def test_build_record_id_and_hash() -> None:
    html = b"""<html><head><link rel="canonical" href="https://www.example.org/story?utm_source=x"></head>
    <body><p>A paragraph of article text that is long enough to be kept by the stripper.</p></body></html>"""
    r = build_record(html, "https://example.org/story?id=1#top")
    assert r["id"] == "https://www.example.org/story" and r["site"] == "example.org"
    assert r["url"] == "https://example.org/story?id=1#top"
    other = build_record(html.replace(b"www.example.org", b"elsewhere.com"), "https://example.org/story?id=1#top")
    assert other["id"] == "https://example.org/story?id=1"  # a canonical on another site is not trusted
    assert r["content_hash"].startswith("sha256:") and len(r["content_hash"]) == 7 + 64
    assert build_record(html) == build_record(html)
    assert build_record(html)["id"] is None


@pytest.mark.skipif(
    not HEALTH_PAGES.is_dir(),
    reason=f"shared health pages not present at {HEALTH_PAGES} "
    "(development data beside the repository; not shipped to users)",
)
def test_every_shared_health_page_goes_through() -> None:
    rows = list(csv.DictReader((HEALTH_PAGES / "MANIFEST.tsv").open(encoding="utf-8"), delimiter="\t"))
    assert len(rows) >= 400
    failures = []
    with_text = 0
    for row in rows:
        try:
            record = build_record((HEALTH_PAGES / row["file"]).read_bytes(), row["original_url"] or None)
        except ExtractionError:
            continue
        except Exception as exc:  # noqa: BLE001 - collect them all for one clear failure message
            failures.append(f"{row['file']}: {type(exc).__name__}: {exc}")
            continue
        with_text += bool(record["text"])
        for bad in ("Ã©", "â€™", "â€œ"):
            if bad in record["text"]:
                failures.append(f"{row['file']}: mojibake {bad!r}")
    assert not failures, "\n".join(failures)
    assert with_text >= 0.95 * len(rows)
