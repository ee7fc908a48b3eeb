"""Turning one JSON Lines record into the fields of one Whoosh document (pure functions, no Whoosh import).

A record needs only ``text`` and an ``id`` or ``url``; everything else is optional and tolerated when malformed
(a garbage date is dropped, a string where a list was expected becomes a one-item list).  A record the index cannot
hold (a URL that does not parse, text that is not valid Unicode) raises :class:`SkipRecord`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from indexer import schema as S


class SkipRecord(Exception):
    """The record cannot be indexed (never fatal): ``reason`` is counted in the summary, the message says why in
    one line.  ``quiet`` ones, failed pages and pages without article text (ordinary crawl output), are only
    counted."""

    def __init__(self, reason: str, detail: str | None = None, *, quiet: bool = False) -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.quiet = quiet


@dataclass(frozen=True)
class Prepared:
    key: str
    fields: dict | None  # None for a record the crawl marks gone
    index_hash: str = ""

    @property
    def gone(self) -> bool:
        return self.fields is None


def record_key(record: dict) -> str:
    rid = record.get("id")
    if rid is not None and str(rid).strip():
        return str(rid).strip()
    url = _key_source(record)
    if url is not None:
        return _canonical(url)
    raise SkipRecord("no id or url")


def _canonical(url: str) -> str:
    from healthdex.urls import canonical_url

    try:
        return canonical_url(url)
    except ValueError as exc:  # e.g. "http://[::1/x": Invalid IPv6 URL
        raise SkipRecord("bad URL", f"bad URL {url[:200]!r} ({exc})") from None


def _key_source(record: dict) -> str | None:
    """The URL ``record_key`` canonicalizes when the record has no id (None when it has an id or no URL)."""
    rid = record.get("id")
    if rid is not None and str(rid).strip():
        return None
    url = record.get("url") or record.get("canonical_url")
    return url if isinstance(url, str) and url.strip() else None


def parse_date(value) -> datetime | None:
    """ISO 8601 (date or date-time, any offset) -> naive UTC datetime; anything else -> None."""
    if not isinstance(value, str) or not value.strip():
        return None
    s = value.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        try:
            from dateutil.parser import isoparse

            dt = isoparse(value.strip())
        except (ValueError, OverflowError, TypeError):
            return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    if not 1900 <= dt.year <= 2200:
        return None
    return dt


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return []
    out = []
    for v in value:
        if isinstance(v, dict):  # e.g. {"name": "..."} from schema.org
            v = v.get("name")
        if isinstance(v, str):
            v = " ".join(v.replace(",", " ").split())
            if v and v not in out:
                out.append(v)
    return out


def _str(value) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def content_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def prepare(record: dict) -> Prepared:
    """Validate and convert one record.  Raises SkipRecord for records with an ``error`` or without text/key."""
    if not isinstance(record, dict):
        raise SkipRecord("not a JSON object")
    if record.get("error"):
        raise SkipRecord("error record", quiet=True)
    key = record_key(record)
    if record.get("gone") is True:
        _check_unicode(key)
        return Prepared(key, None)
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise SkipRecord("no text", quiet=True)

    # the spelling field gets the same string object: it is analyzed once for both (see indexer.schema.SpellWords)
    doc: dict = {S.KEY: key, S.TEXT: text, S.SPELL: text}
    url = _str(record.get("url"))
    canon = _str(record.get("canonical_url"))
    if url or canon:
        from healthdex.urls import site_of

        source = canon or url
        # stored canonical too: no tracking parameters in results (the key is that URL's canonical form already
        # when the record has no id and no canonical_url)
        doc[S.URL] = key if source == _key_source(record) else _canonical(source)
        site = _str(record.get("site")) or site_of(source)
    else:
        site = _str(record.get("site"))
    if site:
        doc[S.SITE] = site.lower()
    for name, field in (
        ("site_name", S.SITE_NAME),
        ("title", S.TITLE),
        ("description", S.DESCRIPTION),
        ("page_type", S.PAGE_TYPE),
    ):
        v = _str(record.get(name))
        if v:
            doc[field] = v
    lang = _str(record.get("language"))
    if lang:
        doc[S.LANGUAGE] = lang.lower()
    for name in S.LIST_FIELDS:
        items = _as_list(record.get(name))
        if items:
            doc[name] = ", ".join(items)
    for name in S.DATE_FIELDS:
        dt = parse_date(record.get(name))
        if dt is not None:
            doc[name] = dt
    ch = _str(record.get("content_hash"))
    try:
        doc[S.CONTENT_HASH] = ch or content_hash(text)
        doc[S.INDEX_HASH] = fingerprint(doc)  # encodes every indexed value as UTF-8
    except UnicodeEncodeError as exc:
        raise _bad_unicode(exc) from None
    return Prepared(key, doc, doc[S.INDEX_HASH])


def _check_unicode(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _bad_unicode(exc) from None


def _bad_unicode(exc: UnicodeEncodeError) -> SkipRecord:
    """A lone surrogate (JSON's ``"\\ud800"``) has no UTF-8 form, so no index term or stored value can hold it."""
    return SkipRecord("invalid Unicode", f"invalid Unicode ({exc.reason}: {exc.object[exc.start : exc.end]!r})")


_UNHASHED = frozenset({S.INDEX_HASH, S.SPELL})


def fingerprint(doc: dict) -> str:
    """Hash of every value that goes into the index for this document, plus the schema version: equal
    fingerprints mean re-indexing the record would change nothing."""
    items = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in doc.items() if k not in _UNHASHED}
    blob = json.dumps([S.SCHEMA_VERSION, items], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]
