"""Metadata fields from what the build walk noticed: JSON-LD first, then <meta>/OpenGraph, then visible DOM."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any
from urllib.parse import urljoin

from dateutil import parser as date_parser

from stripper import rules, settings
from stripper.extract import Node, PageFacts

_DEFAULT_DT = datetime(2000, 1, 1)
_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_YEAR_RE = re.compile(r"(19|20)\d\d")
_HOME_RE = re.compile(r"^(?:.{0,30}\s)?home(?:\s?page)?$", re.I)
_TITLE_SEP_RE = re.compile(r"\s+(?:\||::|-|–|—|»|·)\s+")


def normalize_date(value: str | None) -> str | None:
    """An ISO 8601 string for a date/time string ("May 17, 2024" -> "2024-05-17"), or None if unparseable."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > 80:
        return None
    try:
        if _ISO_RE.match(value):
            if len(value) == 10:
                d = date.fromisoformat(value)
                return d.isoformat() if 1990 <= d.year <= 2100 else None
            dt = date_parser.isoparse(value.replace(" ", "T", 1) if value[10:11] == " " else value)
        else:
            if not _YEAR_RE.search(value):
                return None
            dt = date_parser.parse(value, default=_DEFAULT_DT, fuzzy=True, ignoretz=True)
            if not 1990 <= dt.year <= 2100:
                return None
            if dt.hour == dt.minute == dt.second == 0 and ":" not in value:
                return dt.date().isoformat()
    except (ValueError, OverflowError, TypeError):
        return None
    if not 1990 <= dt.year <= 2100:
        return None
    return dt.isoformat()


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _name_of(value: Any) -> str | None:
    for _ in range(4):  # {"name": {"name": "Jane"}} at most a few levels deep (hostile JSON-LD nests thousands)
        if isinstance(value, str):
            return value.strip() or None
        if not isinstance(value, dict):
            return None
        value = value.get("name")
        if isinstance(value, list):
            value = value[0] if value else None
    return None


def _types(obj: dict[str, Any]) -> list[str]:
    return [t.rsplit("/", 1)[-1] for t in _as_list(obj.get("@type")) if isinstance(t, str)]


def _load_jsonld(text: str, limits: list[str] | None) -> Any:
    """One JSON-LD block, or None when it is malformed (also: a trailing comma is forgiven), longer than the
    ``HEALTHDEX_MAX_JSONLD_CHARS`` limit or nested deeper than the JSON parser goes (``RecursionError``: 200 KB of
    ``[[[...``); ``limits`` gets a line for a block skipped by a limit."""
    if len(text) > settings.limit("HEALTHDEX_MAX_JSONLD_CHARS"):
        if limits is not None:
            limits.append(settings.limit_message("HEALTHDEX_MAX_JSONLD_CHARS"))
        return None
    for attempt in (text, _TRAILING_COMMA_RE.sub(r"\1", text)):
        try:
            return json.loads(attempt, strict=False)
        except ValueError:
            continue
        except RecursionError:
            if limits is not None:
                limits.append("JSON-LD block nested deeper than the JSON parser goes: skipped")
            return None
    return None


_TRAILING_COMMA_RE = re.compile(r",\s*([}\]])")


def parse_jsonld(texts: list[str], limits: list[str] | None = None) -> list[dict[str, Any]]:
    """Every JSON-LD object of the page, flattened out of lists and @graph (malformed blocks are skipped)."""
    objects: list[dict[str, Any]] = []
    for text in texts:
        text = text.strip()
        if not text:
            continue
        data = _load_jsonld(text, limits)
        if data is None:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                objects.append(item)
                if "@graph" in item:
                    stack.append(item["@graph"])
                main = item.get("mainEntity")
                if isinstance(main, dict | list):
                    stack.append(main)
    return objects


def _main_object(objects: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str | None]:
    """The page's main CreativeWork object and its type (the best-ranked type in rules.ARTICLE_TYPES)."""
    best: dict[str, Any] | None = None
    best_rank = len(rules.ARTICLE_TYPES)
    best_type: str | None = None
    for obj in objects:
        for t in _types(obj):
            if t in rules.ARTICLE_TYPES:
                rank = rules.ARTICLE_TYPES.index(t)
                # a WebPage wrapper loses to an Article that carries the body
                if rank < best_rank:
                    best, best_rank, best_type = obj, rank, t
    if best is not None and best_type in ("WebPage",):
        for obj in objects:
            if obj is not best and any(t.endswith("Article") or t == "BlogPosting" for t in _types(obj)):
                merged = dict(obj)
                for k, v in best.items():
                    merged.setdefault(k, v)
                return merged, best_type
    return best, best_type


def _first_meta(meta: dict[str, list[str]], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        values = meta.get(key)
        if values:
            for v in values:
                if v.strip():
                    return v.strip()
    return None


def _clean_person(name: str) -> str | None:
    name = " ".join(name.split())
    name = re.sub(r"^(?:written\s+)?by\s*:?\s+", "", name, flags=re.I)
    name = _PERSON_TAIL_RE.sub("", name).strip(" ,;|-–—")
    name = _BRAND_TAIL_RE.sub("", name)  # "Jennifer Warner WebMD" (byline run into the publisher's name)
    if name.endswith(".") and len(name.rsplit(" ", 1)[-1]) > 3:  # "Diane Di Costanzo." but not "John Smith Jr."
        name = name[:-1]
    if not name or len(name) > 80 or name.startswith("http") or "@" in name or rules.NOT_A_PERSON_RE.search(name):
        return None
    return name


_PERSON_TAIL_RE = re.compile(
    r"\s+(?:last\s+review\w*|last\s+updated|updated|reviewed|date|on|published|posted|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|"
    r"july?|aug(?:ust)?|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b.*$",
    re.I,
)


_BRAND_TAIL_RE = re.compile(r"\s+[A-Z][a-z]+[A-Z]{2,}$")


def _split_people(value: str) -> list[str]:
    """ "Pat Lovell, Jon Atwood" -> two names; "Jane Doe, MD" and "Acme, Inc." stay one."""
    parts = [p for p in re.split(r"\s*(?:;|\band\b|&)\s*", value) if p]
    out: list[str] = []
    for part in parts:
        pieces = [p.strip() for p in part.split(",") if p.strip()]
        if len(pieces) > 1 and all(len(p.split()) >= 2 for p in pieces):
            out.extend(pieces)
        else:
            out.append(part)
    return out


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        key = item.lower()
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _merge_people(names: list[str]) -> list[str]:
    """Distinct names: "Jane Doe" gives way to "Jane Doe, MD"; "Jane Doe WebMD" (a byline run-on) to "Jane Doe"."""
    names = _dedupe(names)
    lows = [n.lower() for n in names]
    drop: set[int] = set()
    for i, short in enumerate(lows):
        for j, long in enumerate(lows):
            if i != j and long.startswith(short) and len(long) > len(short):
                drop.add(i if long[len(short)] == "," else j)
    return [n for k, n in enumerate(names) if k not in drop]


def _node_text(node: Node, limit: int = 300) -> str:
    text = node.text()
    return text if len(text) <= limit else ""


def resolve(facts: PageFacts, url: str | None) -> dict[str, Any]:
    """The metadata fields of the page (everything but ``text``)."""
    objects = parse_jsonld(facts.jsonld, facts.limits)
    main, main_type = _main_object(objects)
    main = main or {}
    meta = facts.meta

    # title
    h1s = [t for t in (_node_text(h, 250) for h in facts.h1[:5]) if t]
    doc_title = facts.title or None
    title = _name_of({"name": main.get("headline")}) or _first_meta(meta, rules.META_TITLE)
    if not title:
        in_doc_title = [h for h in h1s if doc_title and h.lower() in doc_title.lower()]
        if in_doc_title:
            title = in_doc_title[0]
        elif doc_title:
            title = max(_TITLE_SEP_RE.split(doc_title), key=len).strip() or doc_title
        else:
            title = h1s[0] if h1s else _first_meta(meta, rules.META_TITLE_LAST)
    title = " ".join(title.split()) if title else None
    title_variants = {
        " ".join(t.lower().split()) for t in [title, doc_title, *h1s, _first_meta(meta, rules.META_TITLE)] if t
    }

    # authors
    authors = [n for n in (_name_of(a) for a in _as_list(main.get("author"))) if n]
    if not authors:
        value = _first_meta(meta, rules.META_AUTHOR)
        if value and not value.startswith("http"):
            authors = _split_people(value)
    if not authors:
        for prop, content, node in facts.itemprops:
            if prop == "author":
                name = content or _node_text(node, 120)
                if name:
                    authors.append(name)
    if not authors:
        for node in facts.author_nodes[:6]:
            text = _node_text(node, 120)
            m = rules.BYLINE_RE.match(text)
            if m:
                authors.append(m.group("name"))
            elif node.name == "a" and text and len(text.split()) <= 5:
                authors.append(text)
    if not authors:
        # a visible byline: "By Jane Doe", or "By" / "By:" followed by the name in the next element
        for node in facts.byline_nodes[:4]:
            target = node if node.text_len > 4 or node.parent is None else node.parent
            if target.text_len > 2000:
                continue
            m = rules.BYLINE_RE.match(target.text()[:120])
            if m and len(m.group("name").split()) >= 2:  # "By Category" is a filter, "By Jane Doe" a byline
                authors.append(m.group("name"))
                break
    authors = _merge_people([a for a in (_clean_person(x) for x in authors) if a])

    # reviewers
    reviewers = [n for n in (_name_of(r) for r in _as_list(main.get("reviewedBy"))) if n]

    # dates
    published = normalize_date(_first_str(main.get("datePublished"))) or normalize_date(
        _first_meta(meta, rules.META_PUBLISHED)
    )
    updated = normalize_date(_first_str(main.get("dateModified"))) or normalize_date(
        _first_meta(meta, rules.META_UPDATED)
    )
    last_reviewed = normalize_date(_first_str(main.get("lastReviewed"))) or normalize_date(
        _first_meta(meta, rules.META_REVIEWED)
    )
    if not (published and updated and last_reviewed) or not reviewers:
        for prop, content, node in facts.itemprops:
            if prop == "datepublished" and not published:
                published = normalize_date(content or _node_text(node, 80))
            elif prop == "datemodified" and not updated:
                updated = normalize_date(content or _node_text(node, 80))
        seen: set[int] = set()
        for node in facts.date_line_nodes[:30]:
            # the line and its parent ("Updated: <time>May 17, 2024</time>")
            target = node if node.text_len > 25 or node.parent is None else node.parent
            if id(target) in seen:
                continue
            seen.add(id(target))
            line = _node_text(target, 250)
            if not line:
                continue
            if not reviewers:
                m = rules.REVIEWER_RE.search(line)
                if m:
                    reviewers.append(m.group("name").strip(" ,"))
            for fname, rx in rules.DATE_LINE_RES.items():
                m = rx.search(line)
                if m:
                    value = normalize_date(m.group("date"))
                    if value:
                        if fname == "updated" and not updated:
                            updated = value
                        elif fname == "published" and not published:
                            published = value
                        elif fname == "last_reviewed" and not last_reviewed:
                            last_reviewed = value
    if not published:
        for dt, parent in facts.times[:3]:
            context = _node_text(parent, 200).lower() if parent is not None else ""
            if any(w in context for w in ("updat", "modif", "review", "revis")):
                continue
            published = normalize_date(dt)
            if published:
                break
    reviewers = _merge_people([r for r in (_clean_person(x) for x in reviewers) if r])

    # canonical, site name, language, description, type
    canonical = facts.canonical or _first_meta(meta, ("og:url",))
    if canonical:
        canonical = urljoin(url, canonical) if url else canonical
        if not canonical.startswith(("http://", "https://")):
            canonical = None
    publisher = _name_of(main.get("publisher"))
    site_name = _first_meta(meta, ("og:site_name", "application-name")) or publisher
    if not site_name:
        for obj in objects:
            if "WebSite" in _types(obj) and _name_of(obj):
                site_name = _name_of(obj)
                break
    language = facts.lang or _first_meta(meta, rules.META_LANGUAGE) or _first_str(main.get("inLanguage"))
    if language:
        language = language.replace("_", "-").strip()[:20] or None
    description = _first_meta(meta, rules.META_DESCRIPTION) or _first_str(main.get("description"))
    description = " ".join(description.split()) if description else None
    page_type = main_type
    if page_type is None:
        og_type = _first_meta(meta, rules.META_TYPE)
        if og_type and og_type.lower() == "article":
            page_type = "Article"

    # categories: articleSection, breadcrumbs (JSON-LD, then visible), meta section, rel=category links
    categories: list[str] = []
    for section in (_first_str(x) for x in _as_list(main.get("articleSection"))):
        if section:
            # "Biology / Biochemistry,Neurology / Neuroscience": several sections in one string
            categories.extend(section.split(",") if re.search(r",\S", section) else [section])
    for obj in objects:
        if "BreadcrumbList" in _types(obj):
            for el in _as_list(obj.get("itemListElement")):
                if isinstance(el, dict):
                    name = _name_of(el) or _name_of(el.get("item"))
                    if name:
                        categories.append(name)
    if not categories:
        for node in facts.breadcrumb_nodes[:1]:
            crumbs = _links_of(node)
            if len(crumbs) <= 8 and node.text_len <= 400:
                categories.extend(crumbs)
    if not categories:
        value = _first_meta(meta, rules.META_SECTION)
        if value:
            categories.extend(value.split(",") if re.search(r",\S", value) else [value])
    if not categories:
        for node in facts.category_nodes[:10]:
            text = _node_text(node, 60)
            if text:
                categories.append(text)
    categories = _dedupe(
        [
            c
            for c in (" ".join(c.split()) for c in categories)
            if c
            and not _HOME_RE.match(c)
            and c.lower() not in title_variants
            and len(c) <= 80
            and c.lower().strip(" :") not in rules.CATEGORY_STOPLIST
        ]
    )

    # references: JSON-LD citation, then reference sections noticed during the walk
    references = [s for s in (_name_of(c) or _first_str(c) for c in _as_list(main.get("citation"))) if s]
    if not references:
        for node in facts.reference_nodes[:3]:
            references.extend(_items_of(node))

    return {
        "title": title,
        "authors": authors,
        "reviewers": reviewers,
        "published": published,
        "updated": updated,
        "last_reviewed": last_reviewed,
        "canonical_url": canonical,
        "site_name": site_name,
        "language": language,
        "categories": categories,
        "description": description,
        "references": _dedupe(references),
        "page_type": page_type,
        "_article_body": _first_str(main.get("articleBody")),
        "_title_variants": title_variants,
    }


def _first_str(value: Any) -> str | None:
    for v in _as_list(value):
        if isinstance(v, str) and v.strip():
            return v.strip()
        if isinstance(v, dict):
            name = _name_of(v)
            if name:
                return name
    return None


def _links_of(node: Node) -> list[str]:
    """Texts of the links below a (small) node, e.g. breadcrumb items."""
    out: list[str] = []
    stack: list[Node | str] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Node):
            if item.name == "a":
                text = item.text()
                if text and len(text) <= 80:
                    out.append(text)
            else:
                stack.extend(reversed(item.children))
    return out


def _items_of(node: Node) -> list[str]:
    """Texts of list items (or paragraphs) below a node, e.g. a references section."""
    out: list[str] = []
    stack: list[Node | str] = [node]
    while stack and len(out) < 200:
        item = stack.pop()
        if isinstance(item, Node):
            if item.name in ("li", "p", "dd"):
                text = item.text()
                if len(text) >= 15:
                    out.append(text)
            else:
                stack.extend(reversed(item.children))
    return out
