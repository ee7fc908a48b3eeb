"""The public functions: ``extract_article`` (all stages in order) and ``build_record`` (plus record keys)."""

from __future__ import annotations

import hashlib
import re
from html import unescape as html_unescape
from typing import Any

from bs4 import BeautifulSoup

from healthdex.errors import UserError
from healthdex.urls import canonical_url, site_of
from stripper import extract, rules
from stripper.decode import decode_html, fix_mojibake
from stripper.metadata import normalize_date, resolve

MAX_INPUT_BYTES = 50_000_000  # larger inputs are cut (no health article is 50 MB of HTML)


BODY_HINT_FALLBACK_SHARE = 0.3  # use JSON-LD articleBody when the walk found less than this share of its length
_TAG_RE = re.compile(r"<[^>]*>")
_BLANK_LINES_RE = re.compile(r"\s*\n\s*")


def body_from_jsonld(article_body: str | None) -> str | None:
    """Plain text of a JSON-LD articleBody (entities and stray tags removed), paragraphs on blank lines."""
    if not article_body or len(article_body) < 200:
        return None
    text = html_unescape(_TAG_RE.sub(" ", article_body))
    paragraphs = [" ".join(p.split()) for p in _BLANK_LINES_RE.split(text)]
    return "\n\n".join(p for p in paragraphs if p) or None


class ExtractionError(UserError):
    """Input that cannot be read as a web page at all (empty, binary)."""


_CONTROL_BYTES = bytes(b for b in range(32) if b < 9 or b > 13)  # control bytes that no text file holds


def _looks_binary(data: bytes) -> bool:
    """True for bytes that are not text in any charset: many NULs or control bytes in the first 1024 bytes."""
    sample = data[:1024]
    if not sample:
        return False
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False  # UTF-16 with BOM has NULs
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls > len(sample) * 0.1


def _text_of(html: bytes | str, http_charset: str | None) -> str:
    if isinstance(html, str):
        text = html.replace("\x00", "")
    else:
        data = bytes(html)
        if not data.strip():
            raise ExtractionError("empty input: no HTML to extract from")
        if _looks_binary(data):
            raise ExtractionError("input is binary data, not an HTML page")
        text = decode_html(data[:MAX_INPUT_BYTES], http_charset)
    if not text.strip():
        raise ExtractionError("empty input: no HTML to extract from")
    return text


def _apply_selectors(soup: BeautifulSoup, selectors: dict[str, list[str]] | None) -> BeautifulSoup:
    """Profile selectors: drop ``remove`` matches, then keep only ``content`` matches (if any match)."""
    if not selectors:
        return soup
    for css in selectors.get("remove") or []:
        try:
            for el in soup.select(css):
                el.decompose()
        except Exception:  # noqa: BLE001 - a bad selector in a profile must not stop extraction
            continue
    for css in selectors.get("content") or []:
        try:
            found = soup.select(css)
        except Exception:  # noqa: BLE001
            continue
        if found:
            fragment = BeautifulSoup("", "lxml", multi_valued_attributes=None)
            body = fragment.new_tag("body")
            for el in found:
                body.append(el.extract())
            # keep <head> for metadata
            html = fragment.new_tag("html")
            if soup.head is not None:
                html.append(soup.head.extract())
            html.append(body)
            fragment.append(html)
            return fragment
    return soup


def extract_article(
    html: bytes | str,
    url: str | None = None,
    *,
    http_charset: str | None = None,
    selectors: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The article text (without its headline) and metadata of one HTML page.

    Raises ``ExtractionError`` for input that is not a page at all (empty, binary); any other input yields a
    dict, possibly with empty ``text``.
    """
    text = _text_of(html, http_charset)
    source = text
    try:
        soup = extract.parse(source, walk_only=not selectors)  # profile selectors need the whole soup
    except Exception as exc:  # noqa: BLE001 - lxml refuses some garbage; that is unreadable input
        raise ExtractionError(f"cannot parse the page as HTML: {type(exc).__name__}") from exc
    if selectors:
        soup = _apply_selectors(soup, selectors)
    facts = extract.PageFacts()
    root = extract.build_tree(soup, facts)
    fields = resolve(facts, url)
    article_body = fields.pop("_article_body")
    title_variants = fields.pop("_title_variants")
    container = extract.select_container(root, article_body)
    blocks = extract.collect_blocks(container)
    leading = title_variants | {c.lower() for c in fields["categories"]}
    collected = extract.postprocess(blocks, facts.signatures, leading)
    if collected.dateline and not fields["published"]:
        fields["published"] = normalize_date(collected.dateline)
    if not fields["published"]:
        for paragraph in collected.paragraphs[:3]:
            lead = rules.LEAD_DATELINE_RE.match(paragraph)
            if lead:
                fields["published"] = normalize_date(lead.group("date"))
                break
    text = "\n\n".join(collected.paragraphs)
    hint = body_from_jsonld(article_body)
    if hint and len(text) < BODY_HINT_FALLBACK_SHARE * len(hint):
        # the walk found much less than the page's own JSON-LD articleBody: trust the publisher's copy
        text = hint
    fields["text"] = fix_mojibake(text)
    for key in ("title", "description"):
        if fields[key]:
            fields[key] = fix_mojibake(fields[key])
    if not fields["references"] and collected.references:
        fields["references"] = collected.references
    return {
        "title": fields["title"],
        "text": fields["text"],
        "authors": fields["authors"],
        "reviewers": fields["reviewers"],
        "published": fields["published"],
        "updated": fields["updated"],
        "last_reviewed": fields["last_reviewed"],
        "canonical_url": fields["canonical_url"],
        "site_name": fields["site_name"],
        "language": fields["language"],
        "categories": fields["categories"],
        "description": fields["description"],
        "references": fields["references"],
        "page_type": fields["page_type"],
    }


def build_record(
    html: bytes | str,
    url: str | None = None,
    *,
    http_charset: str | None = None,
    selectors: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """``extract_article`` plus the record keys: ``url``, ``id``, ``site`` and ``content_hash``.

    ``id`` is the canonical form of the page's rel=canonical URL when that is on the same site as ``url``,
    else of ``url``; None without a url.  Deterministic: the same input gives an identical dict.
    """
    record = extract_article(html, url, http_charset=http_charset, selectors=selectors)
    record_id = None
    site = None
    if url:
        site = site_of(url)
        key = url
        canonical = record.get("canonical_url")
        if canonical and site_of(canonical) == site:
            key = canonical
        try:
            record_id = canonical_url(key)
        except Exception:  # noqa: BLE001 - a malformed URL keeps the page, without an id
            record_id = None
    out = {"url": url, "id": record_id, "site": site}
    out.update(record)
    out["content_hash"] = "sha256:" + hashlib.sha256(record["text"].encode("utf-8")).hexdigest()
    return out
