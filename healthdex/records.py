"""Article records with crawl provenance, computed the same way from a live response and from its WARC record.

No Scrapy here (and the stripper is imported lazily): the crawl's extraction pipeline calls
:func:`article_record`, and ``healthdex clean`` over a crawl's WARC calls :func:`iter_warc_articles`, so the two
give identical records.  Everything the provenance needs is in the WARC response record:

- ``WARC-Target-URI``: the final URL (after redirects); ``WARC-Date``: ``fetched_at``; ``WARC-Record-ID``;
- the HTTP status line and headers (``ETag``, ``Last-Modified``, ``Content-Type``'s charset);
- ``WARC-Healthdex-Requested-URI``: the URL first requested (before redirects);
- ``WARC-Healthdex-Profile``: the site profile that crawled it (its selectors and article patterns).

The WARC keeps the raw body of every response, also of a compressed page the crawl dropped because it inflated past
its size limit (``DOWNLOAD_MAXSIZE``, or the profile's ``limits.max_response_bytes``); :func:`iter_warc_articles`
applies the same limit, read from the run's ``warcinfo`` record, so it drops the same pages.

The WARC is read with :mod:`healthdex.warc_reader`: a damaged stretch gives one ``{"source", "error"}`` record
(file, offset, reason) and the records after it are read as usual.

A crawl also writes ``duplicates.jsonl`` beside the WARC: the responses it deliberately did not emit as articles
(exact or near duplicates, unchanged re-fetches), keyed by ``warc_record_id``; :func:`iter_warc_articles` skips them
so its output equals ``articles.jsonl`` record for record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from healthdex.warc_reader import WarcReader, WarcResponse, response_of

PROFILE_HEADER = "WARC-Healthdex-Profile"
REQUESTED_URI_HEADER = "WARC-Healthdex-Requested-URI"
DUPLICATES_FILE = "duplicates.jsonl"
GONE_STATUSES = (404, 410)
# The crawl's default size limit for a response body after decompression (crawler.settings.DOWNLOAD_MAXSIZE); a
# WARC whose warcinfo does not record the limit was made with it.  0 means no limit.
DEFAULT_DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
_MAXSIZE_SETTING = re.compile(r"(?:^|[ ;:])DOWNLOAD_MAXSIZE=(\d+)(?=;|\s|$)", re.M)

PROVENANCE_FIELDS = (
    "url",
    "requested_url",
    "final_url",
    "status",
    "fetched_at",
    "warc_file",
    "warc_record_id",
    "profile",
    "etag",
    "last_modified",
)


def is_html(content_type: str | None) -> bool:
    """Only HTML responses can be articles (sitemaps, robots.txt, images and PDFs never are)."""
    return bool(content_type) and ("html" in content_type.lower())


def http_charset(content_type: str | None) -> str | None:
    from w3lib.encoding import http_content_type_encoding

    return http_content_type_encoding(content_type or "")


def provenance(
    *,
    requested_url: str,
    final_url: str,
    status: int,
    fetched_at: str,
    warc_file: str,
    warc_record_id: str,
    profile: str,
    etag: str | None,
    last_modified: str | None,
) -> dict[str, Any]:
    """The provenance fields every article record carries (``url`` is the final URL)."""
    return {
        "url": final_url,
        "requested_url": requested_url,
        "final_url": final_url,
        "status": status,
        "fetched_at": fetched_at,
        "warc_file": warc_file,
        "warc_record_id": warc_record_id,
        "profile": profile,
        "etag": etag,
        "last_modified": last_modified,
    }


def article_record(
    body: bytes, prov: dict[str, Any], *, http_charset: str | None = None, selectors: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """The stripper's record for ``body`` plus ``prov``; a page that cannot be read gives an ``error`` record."""
    from stripper import build_record

    try:
        record = build_record(body, prov["final_url"], http_charset=http_charset, selectors=selectors or None)
    except Exception as exc:  # noqa: BLE001 - a page that cannot be read is recorded, never fatal
        return {"id": prov["final_url"], **prov, "error": f"{exc.__class__.__name__}: {exc}".splitlines()[0]}
    record.update(prov)
    return record


def gone_record(article_id: str, prov: dict[str, Any]) -> dict[str, Any]:
    """A page that was an article and now answers 404/410: the indexer deletes ``id`` when it sees ``gone``."""
    return {"id": article_id, **prov, "gone": True}


def provenance_from_warc(response: WarcResponse, warc_file: str) -> dict[str, Any]:
    """Provenance of a response record of the crawl's WARC (what the crawl put in its article record)."""
    return provenance(
        requested_url=response.warc_header(REQUESTED_URI_HEADER) or response.url,
        final_url=response.url,
        status=response.status,
        fetched_at=response.warc_header("WARC-Date") or "",
        warc_file=warc_file,
        warc_record_id=response.warc_header("WARC-Record-ID") or "",
        profile=response.warc_header(PROFILE_HEADER) or "",
        etag=response.header("ETag"),
        last_modified=response.header("Last-Modified"),
    )


def warcinfo_maxsize(record) -> int | None:
    """``DOWNLOAD_MAXSIZE`` as recorded in a crawl's ``warcinfo`` record (its ``settings`` field), or None."""
    try:
        text = record.content_stream().read(1 << 16).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - an unreadable warcinfo records nothing
        return None
    match = _MAXSIZE_SETTING.search(text)
    return int(match.group(1)) if match else None


def skipped_record_ids(warc_path: Path) -> dict[str, str]:
    """warc_record_id -> kind (``exact``, ``near``, ``unchanged``, ``canonical``) of the responses the crawl chose not
    to emit (``duplicates.jsonl`` beside the WARC)."""
    path = Path(warc_path).parent / DUPLICATES_FILE
    ids: dict[str, str] = {}
    if path.is_file():
        with path.open("rb") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and entry.get("warc_record_id"):
                    ids[entry["warc_record_id"]] = str(entry.get("kind") or "")
    return ids


def iter_warc_articles(
    warc_path: str | Path, *, skip_ids: Mapping[str, str] | set[str] | None = None, counts: dict[str, int] | None = None
) -> Iterator[dict[str, Any]]:
    """The article records a healthdex crawl derived from ``warc_path``, re-extracted with the current stripper.

    For each ``response`` record: a 200 HTML page whose profile (``WARC-Healthdex-Profile``) calls its final URL
    an article gives :func:`article_record`; a 404/410 for a URL that was an article earlier in the WARC gives a
    :func:`gone_record`.  Records listed in ``duplicates.jsonl`` (or ``skip_ids``) are skipped, and so are pages
    whose body (decompressed) is over the crawl's size limit: the profile's ``limits.max_response_bytes``, else the
    ``DOWNLOAD_MAXSIZE`` of the latest ``warcinfo`` record before it (each run of a resumed crawl writes one), else
    :data:`DEFAULT_DOWNLOAD_MAXSIZE`, as the crawl dropped them.  ``counts["too_large"]`` (when given) counts those.
    A damaged stretch of the WARC gives ``{"source": "FILE@OFFSET", "error": ...}`` where it was met; a page the crawl
    fetched again unchanged (``unchanged`` in duplicates.jsonl) stands in for its earlier capture when that one could
    not be read (no article of that URL came before it), so a damaged record loses no article.
    """
    from profiles import load_profile
    from stripper.sources import MAX_PAGE_BYTES, use_warcio_brotli

    use_warcio_brotli()  # warcio 1.8 cannot decode brotli bodies with brotli >= 1.1 on its own
    warc_path = Path(warc_path)
    skip = skipped_record_ids(warc_path) if skip_ids is None else skip_ids
    profiles: dict[str, Any] = {}
    known: dict[str, str] = {}  # URL -> id of the latest article record for it
    gone: set[str] = set()
    maxsize = DEFAULT_DOWNLOAD_MAXSIZE
    damaged: list = []
    reader = WarcReader(warc_path, on_damage=damaged.append)
    for offset, record in reader.records():
        while damaged:
            yield damage_record(damaged.pop(0))
        if record.rec_type == "warcinfo":
            recorded = warcinfo_maxsize(record)
            maxsize = DEFAULT_DOWNLOAD_MAXSIZE if recorded is None else recorded
            continue
        found = response_of(offset, record)
        if not isinstance(found, WarcResponse):
            continue
        prov = provenance_from_warc(found, warc_path.name)
        name = prov["profile"]
        if name not in profiles:
            try:
                profiles[name] = load_profile(name) if name else None
            except Exception:  # noqa: BLE001 - a profile no longer available: its pages are not articles
                profiles[name] = None
        profile = profiles[name]
        if profile is None or not profile.is_article(prov["final_url"]):
            continue
        if prov["status"] in GONE_STATUSES:
            article_id = known.get(prov["final_url"]) or known.get(prov["requested_url"])
            if article_id and article_id not in gone and prov["warc_record_id"] not in skip:
                gone.add(article_id)
                yield gone_record(article_id, prov)
            continue
        content_type = found.header("Content-Type")
        if prov["status"] != 200 or not is_html(content_type):
            continue
        if prov["warc_record_id"] in skip:
            unchanged = isinstance(skip, Mapping) and skip[prov["warc_record_id"]] == "unchanged"
            if not unchanged or prov["final_url"] in known or prov["requested_url"] in known:
                continue
        # The spider gives a profile's requests its limit (request meta download_maxsize); 0: no limit.
        limit = int(profile.limits["max_response_bytes"]) if "max_response_bytes" in profile.limits else maxsize
        try:  # bounded, and a record that cannot be decoded is no article (the crawl could not read it either)
            body = record.content_stream().read(limit + 1 if limit else MAX_PAGE_BYTES)
        except Exception:  # noqa: BLE001
            continue
        if limit and len(body) > limit:  # Scrapy drops a body that inflates past the limit
            if counts is not None:
                counts["too_large"] = counts.get("too_large", 0) + 1
            continue
        out = article_record(body, prov, http_charset=http_charset(content_type), selectors=profile.selectors)
        if out.get("id"):
            gone.discard(out["id"])
            known[prov["final_url"]] = known[prov["requested_url"]] = out["id"]
        yield out
    for damage in damaged:
        yield damage_record(damage)


def damage_record(damage) -> dict[str, Any]:
    """The output record for a damaged stretch of a WARC (a :class:`healthdex.warc_reader.Damage`)."""
    return {"source": f"{damage.path}@{damage.offset}", "error": f"{damage}"}
