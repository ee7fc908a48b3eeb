"""Site profiles: one TOML file per site, data not code, shared by the crawler and ``healthdex clean``.

A profile names the site's allowed domains, where a crawl starts (start URLs, sitemaps), which URLs are
articles, which to skip, politeness and limits, and optional extraction selectors for the stripper.
The bundled profiles live in ``profiles/sites/``; users add their own with ``HEALTHDEX_PROFILES_PATH``
(a colon-separated list of folders) or by passing a path to a ``.toml`` file.
No Scrapy import here: the stripper's CLI uses profiles too.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import re2

from healthdex.errors import UserError

BUNDLED_DIR = Path(__file__).parent / "sites"
PATH_ENV = "HEALTHDEX_PROFILES_PATH"

# URL patterns are matched by RE2 (google-re2), a linear-time engine: a profile's pattern cannot freeze the crawl
# however it is written, e.g. ((a+))+$ against a long URL (Python's backtracking engine takes hours).  RE2 has no
# backreferences or lookaround; a pattern that uses them is refused with a clear message when the profile loads.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # RE2 would also print its parse errors to stderr
MAX_PATTERN_CHARS = 500

_TOP_KEYS = {
    "name",
    "site",
    "description",
    "allowed_domains",
    "start_urls",
    "sitemaps",
    "article_urls",
    "follow_urls",
    "deny_urls",
    "contact",
    "limits",
    "politeness",
    "extract",
}
_SECTION_KEYS = {
    "limits": {"max_pages", "max_depth", "max_response_bytes"},
    # No "autothrottle": AutoThrottle is crawl-wide (-s AUTOTHROTTLE_ENABLED=false) and only ever lengthens a delay.
    "politeness": {"download_delay", "concurrent_requests_per_domain", "max_crawl_delay"},
    "extract": {"content", "remove"},
}


class UrlPattern(Protocol):
    """A compiled profile pattern (RE2's, with the ``re.Pattern`` methods profiles use)."""

    pattern: str

    def search(self, text: str) -> object | None: ...


class ProfileError(UserError):
    """A profile that cannot be loaded; the message names the file and the field."""


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    site: str
    allowed_domains: tuple[str, ...]
    start_urls: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    article_urls: tuple[UrlPattern, ...] = ()  # compiled by RE2 (linear time)
    follow_urls: tuple[UrlPattern, ...] = ()
    deny_urls: tuple[UrlPattern, ...] = ()
    contact: str | None = None
    description: str = ""
    limits: dict[str, int] = field(default_factory=dict)
    politeness: dict[str, float | int | bool] = field(default_factory=dict)
    selectors: dict[str, list[str]] = field(default_factory=dict)

    def in_scope(self, url: str) -> bool:
        """True when ``url`` is http(s) on one of the profile's domains (or a subdomain) and not denied."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return False
        if not _on_domains((parts.hostname or "").lower(), self.allowed_domains):
            return False
        return not any(p.search(url) for p in self.deny_urls)

    def is_article(self, url: str) -> bool:
        """True when ``url`` is in scope and matches an article pattern (every in-scope page if none given)."""
        if not self.in_scope(url):
            return False
        return not self.article_urls or any(p.search(url) for p in self.article_urls)

    def should_follow(self, url: str) -> bool:
        """True when links to ``url`` should be followed: in scope and matching a follow or article pattern."""
        if not self.in_scope(url):
            return False
        if not self.follow_urls:
            return True
        return any(p.search(url) for p in self.follow_urls) or self.is_article(url)


def _on_domains(host: str, domains: Iterable[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def search_dirs() -> list[Path]:
    """Folders searched for ``NAME.toml``: the user's (``HEALTHDEX_PROFILES_PATH``) first, then the bundled."""
    extra = [Path(p) for p in os.environ.get(PATH_ENV, "").split(os.pathsep) if p]
    return [*extra, BUNDLED_DIR]


def available_profiles() -> dict[str, Path]:
    """Every profile name found, mapped to its file (earlier folders win)."""
    found: dict[str, Path] = {}
    for folder in search_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                found.setdefault(path.stem, path)
    return found


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a profile by bundled/user name (``webmd``) or by path (``./mysite.toml``)."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_file():
        if not candidate.is_file():
            raise ProfileError(f"profile file not found: {candidate}")
        return parse_profile(candidate)
    known = available_profiles()
    if str(name_or_path) not in known:
        names = ", ".join(sorted(known)) or "none"
        raise ProfileError(f"unknown profile {str(name_or_path)!r} (known: {names})")
    return parse_profile(known[str(name_or_path)])


def load_all() -> list[Profile]:
    return [parse_profile(path) for path in available_profiles().values()]


class ProfileIndex:
    """Profiles by allowed domain, parsed once: the profile for a URL is looked up by its host, then the host's parent
    domains (the most specific domain wins; between profiles allowing the same domain, the first given)."""

    def __init__(self, profiles: Iterable[Profile]) -> None:
        self.profiles = list(profiles)
        self.by_domain: dict[str, Profile] = {}
        for profile in self.profiles:
            for domain in profile.allowed_domains:
                self.by_domain.setdefault(domain, profile)

    def for_url(self, url: str) -> Profile | None:
        host = (urlsplit(url).hostname or "").lower()
        while host:
            if (profile := self.by_domain.get(host)) is not None:
                return profile
            host = host.partition(".")[2]
        return None


def parse_profile(path: Path) -> Profile:
    """Read and validate one profile file; every problem is a ProfileError naming the file and field.  The same
    bytes at the same path are not parsed again in this process (a crawl loads its profiles in the command and in
    the spider; a profile with 200,000 start URLs takes seconds to parse)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read profile ({exc.__class__.__name__}: {exc})") from None
    return _parse_bytes(Path(path), raw)


@functools.lru_cache(maxsize=16)
def _parse_bytes(path: Path, raw: bytes) -> Profile:
    """:func:`parse_profile` of ``raw``, the contents of ``path`` (a Profile is immutable, so it can be shared)."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path}: cannot read profile ({exc.__class__.__name__}: {exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML ({exc})") from None
    check = _Checker(path)
    check.keys(data, _TOP_KEYS, "")
    for section, allowed in _SECTION_KEYS.items():
        if section in data:
            check.keys(check.table(data, section), allowed, section + ".")
    domains = tuple(d.lower().removeprefix("www.") for d in check.strings(data, "allowed_domains", required=True))
    for domain in domains:
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", domain):
            check.fail("allowed_domains", f"{domain!r} is not a domain name")
    start_urls = check.urls(data, "start_urls", domains)
    sitemaps = check.urls(data, "sitemaps", domains)
    if not start_urls and not sitemaps:
        check.fail("start_urls", "a profile needs start_urls or sitemaps")
    extract = data.get("extract", {})
    selectors = {key: check.strings(extract, key, prefix="extract.") for key in ("content", "remove") if key in extract}
    limits = {k: check.number(data["limits"], k, "limits.", int) for k in data.get("limits", {})}
    politeness = {
        k: check.number(data["politeness"], k, "politeness.", (int, float, bool)) for k in data.get("politeness", {})
    }
    contact = data.get("contact")
    if contact is not None and (not isinstance(contact, str) or not contact.strip()):
        check.fail("contact", "must be a non-empty string (a URL or an e-mail address)")
    return Profile(
        name=check.string(data, "name") or path.stem,
        path=path,
        site=check.string(data, "site") or domains[0],
        description=check.string(data, "description") or "",
        allowed_domains=domains,
        start_urls=start_urls,
        sitemaps=sitemaps,
        article_urls=check.patterns(data, "article_urls"),
        follow_urls=check.patterns(data, "follow_urls"),
        deny_urls=check.patterns(data, "deny_urls"),
        contact=contact,
        limits=limits,
        politeness=politeness,
        selectors=selectors,
    )


class _Checker:
    """Typed field access that turns every mistake into one clear line naming file and field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field_name: str, problem: str) -> None:
        raise ProfileError(f"{self.path}: field {field_name!r}: {problem}")

    def keys(self, table: dict, allowed: set[str], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                self.fail(prefix + key, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def table(self, data: dict, key: str) -> dict:
        value = data[key]
        if not isinstance(value, dict):
            self.fail(key, "must be a table ([" + key + "])")
        return value

    def string(self, data: dict, key: str) -> str | None:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            self.fail(key, "must be a string")
        return value

    def strings(self, data: dict, key: str, *, required: bool = False, prefix: str = "") -> list[str]:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(prefix + key, "is required")
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.fail(prefix + key, "must be a list of non-empty strings")
        if required and not value:
            self.fail(prefix + key, "must not be empty")
        return list(value)

    def urls(self, data: dict, key: str, domains: tuple[str, ...]) -> tuple[str, ...]:
        """http(s) URLs on the allowed domains (the crawl would drop others as offsite without a word)."""
        values = self.strings(data, key)
        outside = []
        for value in values:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                self.fail(key, f"{value!r} is not an http(s) URL")
            if not _on_domains(parts.hostname, domains):
                outside.append(value)
        if outside:
            shown = ", ".join(outside[:3]) + (f" and {len(outside) - 3} more" if len(outside) > 3 else "")
            self.fail(key, f"{len(outside)} URL(s) not on the allowed domains ({', '.join(domains)}): {shown}")
        return tuple(values)

    def number(self, table: dict, key: str, prefix: str, kinds: type | tuple[type, ...]):
        value = table[key]
        if not isinstance(value, kinds) or (not isinstance(value, bool) and value < 0):
            self.fail(prefix + key, f"must be a non-negative number, got {value!r}")
        return value

    def patterns(self, data: dict, key: str) -> tuple[UrlPattern, ...]:
        compiled = []
        for source in self.strings(data, key):
            if len(source) > MAX_PATTERN_CHARS:
                self.fail(key, f"pattern longer than {MAX_PATTERN_CHARS} characters")
            try:
                re.compile(source)
            except re.error as exc:
                self.fail(key, f"invalid regular expression {source!r}: {exc}")
            try:
                compiled.append(re2.compile(source, options=_RE2_OPTIONS))
            except re2.error as exc:
                reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
                self.fail(
                    key,
                    f"pattern {source!r} needs a feature the linear-time matcher (RE2) does not have "
                    f"({reason}): backreferences and lookaround are not available",
                )
        return tuple(compiled)
