"""A page to an article: ``extract_article`` (the stripper's stages in order), ``build_record`` (the JSONL record)."""

from __future__ import annotations

import hashlib
import re
from html import unescape as html_unescape
from typing import Any

from bs4 import BeautifulSoup

from healthdex.errors import UserError
from healthdex.urls import canonical_url, site_of
from stripper import extract, rules, settings
from stripper.decode import decode_html, fix_mojibake
from stripper.metadata import normalize_date, resolve

MAX_INPUT_BYTES = 50_000_000  # larger inputs are cut (no health article is 50 MB of HTML)

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
    trace: list[str] | None = None,
) -> dict[str, Any]:
    """The article text (without its headline) and metadata of one HTML page.

    Raises ``ExtractionError`` for input that is not a page at all (empty, binary); any other input yields a
    dict.  Its ``text`` is empty only for a page without prose, and then ``empty_reason`` says why; ``limits``
    lists the limits the page hit (``stripper.settings``).  ``trace`` gets what ``healthdex clean --explain`` shows.
    """
    source = _text_of(html, http_charset)
    max_depth = settings.limit("HEALTHDEX_MAX_TREE_DEPTH")
    max_elements = settings.limit("HEALTHDEX_MAX_TREE_ELEMENTS")
    try:
        # profile selectors need the whole soup
        soup = extract.parse(source, walk_only=not selectors, max_depth=max_depth, max_elements=max_elements)
    except Exception as exc:  # noqa: BLE001 - lxml refuses some garbage; that is unreadable input
        raise ExtractionError(f"cannot parse the page as HTML: {type(exc).__name__}") from exc
    facts = extract.PageFacts()
    emptied = soup.builder.emptied
    if soup.builder.limit_hit:
        facts.limits.append(settings.limit_message(f"HEALTHDEX_MAX_TREE_{soup.builder.limit_hit.upper()}"))
    if selectors:
        soup = _apply_selectors(soup, selectors)
    root = extract.build_tree(soup, facts)
    fields = resolve(facts, url)
    article_body = fields.pop("_article_body")
    leading = fields.pop("_title_variants") | {c.lower() for c in fields["categories"]}
    body = extract.body_text(
        root,
        facts.signatures,
        leading,
        body_from_jsonld(article_body),
        trace,
        hidden_prose=facts.hidden_prose,
        headlines=facts.h1,
        title=fields["title"],
    )
    if body.dateline and not fields["published"]:
        fields["published"] = normalize_date(body.dateline)
    if not fields["published"]:
        for paragraph in body.paragraphs[:3]:
            lead = rules.LEAD_DATELINE_RE.match(paragraph)
            if lead:
                fields["published"] = normalize_date(lead.group("date"))
                break
    fields["text"] = fix_mojibake(body.text)
    for key in ("title", "description"):
        if fields[key]:
            fields[key] = fix_mojibake(fields[key])
    if not fields["references"] and body.references:
        fields["references"] = body.references
    extra: dict[str, Any] = {}
    if not fields["text"]:
        extra["empty_reason"] = extract.empty_reason(root, emptied)
    if facts.limits:
        extra["limits"] = facts.limits
    if trace is not None:
        trace.extend(f"limit: {line}" for line in facts.limits)
        trace.append(
            f"text: {len(fields['text'])} characters in {len(body.paragraphs)} paragraphs from the {body.source}"
            if fields["text"]
            else f"text: empty ({extra['empty_reason']})"
        )
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
        **extra,
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


def explain_page(
    html: bytes | str,
    url: str | None = None,
    *,
    http_charset: str | None = None,
    selectors: dict[str, list[str]] | None = None,
) -> list[str]:
    """Why the page came out as it did, one line each: the chosen container (a CSS-like path) and its score, each
    element and block left out with the reason, the fallbacks tried, the limits hit and the text's length."""
    trace: list[str] = []
    extract_article(html, url, http_charset=http_charset, selectors=selectors, trace=trace)
    return trace
