"""URL canonicalisation shared by every stage: the record key of a page is its canonical URL."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from w3lib.url import canonicalize_url, url_query_cleaner

# Query parameters that identify a campaign or a visitor, never a document (data, not code).
TRACKING_PARAMETERS: tuple[str, ...] = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "utm_id",
    "gclid",
    "dclid",
    "fbclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "yclid",
    "igshid",
    "ref",
    "ref_src",
    "cmpid",
    "icid",
    "ecd",
    "rd",
    "src",
)


def canonical_url(url: str) -> str:
    """Canonical form of ``url``, the one URL normaliser of every stage (record keys, the crawl's duplicate filter,
    its WARC cache, replay's lookups): lower-case host without userinfo or a trailing dot, no fragment, no default
    port, no tracking parameters, sorted query, percent-encoding made uniform (w3lib's ``canonicalize_url``).
    ``http://www.example.com/a?utm_source=x#top`` -> ``http://www.example.com/a``.  ValueError on a bad port."""
    url = url.strip()
    cleaned = url_query_cleaner(url, TRACKING_PARAMETERS, remove=True, keep_fragments=False)
    parts = urlsplit(canonicalize_url(cleaned, keep_fragments=False))
    host = (parts.hostname or "").rstrip(".")
    host = f"[{host}]" if ":" in host else host
    port = parts.port
    default = (parts.scheme, port) in (("http", 80), ("https", 443))
    netloc = host if port is None or default else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def url_key(url: str) -> str:
    """:func:`canonical_url`, or ``url`` itself when it cannot be parsed (it is then its own key)."""
    try:
        return canonical_url(url)
    except ValueError:
        return url


def site_of(url: str) -> str:
    """The site a URL belongs to: its host without a leading ``www.`` (``https://www.cdc.gov/x`` -> ``cdc.gov``)."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host
