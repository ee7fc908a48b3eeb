"""Fault modes for replay (issue 6): data objects describing how a response should misbehave.

A :class:`FaultRule` says *what* goes wrong; the request handler in :mod:`replay.server` applies it.  Rules live in a
:class:`FaultSet`, a thread-safe mapping ``pattern -> FaultRule`` that can be changed while the server runs::

    server.faults["https://www.cdc.gov/flu/*"] = FaultRule(status=503, retry_after=5, times=2)
    server.faults["re:/slow/\\d+$"] = {"delay": 2.0}

Patterns: ``re:REGEX`` (searched in the normalised URL), a glob when it contains ``*``, ``?`` or ``[``, otherwise an
exact URL (normalised, so case, default ports and fragments do not matter).  Exact keys win over patterns;
patterns are tried in insertion order.  A rule matches the URL as requested and the URL of the page it resolves
to (so ``http://`` keys also catch an ``https://`` request served by scheme fallback).

From TOML (``healthdex replay --faults FILE.toml``)::

    [[fault]]
    match = "http://www.example.com/a"
    status = 503
    retry_after = 5
    times = 2          # only the first two matching requests fail; then the page is served normally
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

GENERATE_KINDS = ("html", "line", "binary", "nul", "nested")
BOMB_ENCODINGS = ("gzip", "deflate", "br")


@dataclass(frozen=True)
class FaultRule:
    """How a matching response misbehaves.  Every field is optional; several can be combined
    (e.g. ``delay`` + ``trickle_bps``).  Fields:

    - ``delay``: seconds to wait before answering (use a long one for client timeouts).
    - ``abort``: close the connection with a TCP reset before sending anything.
    - ``status``: answer this status instead (body: a small HTML page, or ``body``); ``retry_after`` adds the header.
    - ``redirect_to``: answer a redirect (``status`` or 302) with this Location (absolute or relative, any scheme).
    - ``content_type``: send this Content-Type instead of the recorded one (``""`` sends none).
    - ``headers``: extra response headers.
    - ``body``: send this body instead (str is UTF-8 encoded; use ``\\x00`` etc. for hostile bytes).
    - ``generate`` + ``size``: stream a generated body of ``size`` bytes without holding it in memory;
      kinds: ``html`` (paragraphs), ``line`` (one line, no newline), ``binary`` (pseudo-random bytes), ``nul``
      (NUL bytes), ``nested`` (``<div>`` nested ``size`` bytes deep).
    - ``no_content_length``: no Content-Length; the body ends when the connection closes.
    - ``reset_after``: send this many body bytes (Content-Length announces the full body), then a TCP reset.
    - ``trickle_bps``: send the body at this many bytes per second.
    - ``gzip``: send the body gzip-compressed with ``Content-Encoding: gzip``.
    - ``truncate_gzip``: like ``gzip`` but the compressed stream is cut in half (Content-Length matches the cut).
    - ``bomb``: send a compressed body that inflates to this many bytes of zeros, with
      ``bomb_encoding`` ``gzip`` (default; multi-member, ~1/1000 on the wire), ``deflate`` or ``br``.
    - ``times``: apply to the first N matching requests only (None: always).
    """

    delay: float = 0.0
    abort: bool = False
    status: int | None = None
    retry_after: int | str | None = None
    redirect_to: str | None = None
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    generate: str | None = None
    size: int = 0
    no_content_length: bool = False
    reset_after: int | None = None
    trickle_bps: float | None = None
    gzip: bool = False
    truncate_gzip: bool = False
    bomb: int | None = None
    bomb_encoding: str = "gzip"
    times: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.body, str):
            object.__setattr__(self, "body", self.body.encode("utf-8"))
        if isinstance(self.headers, Mapping):
            object.__setattr__(self, "headers", tuple((str(k), str(v)) for k, v in self.headers.items()))
        else:
            object.__setattr__(self, "headers", tuple((str(k), str(v)) for k, v in self.headers))
        if self.delay < 0:
            raise ValueError("delay must be >= 0")
        if self.status is not None and not 100 <= int(self.status) <= 599:
            raise ValueError(f"status must be 100..599, not {self.status}")
        if self.generate is not None and self.generate not in GENERATE_KINDS:
            raise ValueError(f"generate must be one of {', '.join(GENERATE_KINDS)}, not {self.generate!r}")
        if self.generate is not None and self.size <= 0:
            raise ValueError("generate needs size > 0")
        if self.size < 0 or (self.reset_after is not None and self.reset_after < 0):
            raise ValueError("sizes must be >= 0")
        if self.trickle_bps is not None and self.trickle_bps <= 0:
            raise ValueError("trickle_bps must be > 0")
        if self.bomb is not None and self.bomb <= 0:
            raise ValueError("bomb must be > 0")
        if self.bomb_encoding not in BOMB_ENCODINGS:
            raise ValueError(f"bomb_encoding must be one of {', '.join(BOMB_ENCODINGS)}, not {self.bomb_encoding!r}")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be >= 0")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        """A rule from plain data (TOML/JSON); unknown keys raise ValueError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault key(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        try:
            return cls(**dict(data))
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def describe(self) -> str:
        """Short text for logs: the non-default fields."""
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value != f.default and not (f.name == "headers" and not value):
                parts.append(f"{f.name}={value if not isinstance(value, bytes) else f'<{len(value)} bytes>'}")
        return ",".join(parts) or "none"


@dataclass
class _Entry:
    pattern: str
    rule: FaultRule
    matcher: Any  # callable(url) -> bool
    used: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _matcher(pattern: str):
    from replay.source import normalize_url

    if pattern.startswith("re:"):
        try:
            regex = re.compile(pattern[3:])
        except re.error as exc:
            raise ValueError(f"fault pattern {pattern!r}: bad regex: {exc}") from None
        return lambda url: regex.search(url) is not None
    if any(c in pattern for c in "*?["):
        regex = re.compile(fnmatch.translate(pattern))
        return lambda url: regex.match(url) is not None
    try:
        exact = normalize_url(pattern)
    except ValueError as exc:
        raise ValueError(f"fault pattern {pattern!r} is neither a URL, a glob nor re:REGEX ({exc})") from None
    return lambda url: url == exact


class FaultSet(MutableMapping[str, FaultRule]):
    """Thread-safe ``pattern -> FaultRule``; values may be given as dicts.  See the module docstring."""

    def __init__(self, rules: Mapping[str, FaultRule | Mapping[str, Any]] | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        for pattern, rule in (rules or {}).items():
            self[pattern] = rule

    def __setitem__(self, pattern: str, rule: FaultRule | Mapping[str, Any]) -> None:
        if not isinstance(rule, FaultRule):
            rule = FaultRule.from_dict(rule)
        entry = _Entry(pattern, rule, _matcher(pattern))
        with self._lock:
            self._entries.pop(pattern, None)
            self._entries[pattern] = entry

    def __getitem__(self, pattern: str) -> FaultRule:
        return self._entries[pattern].rule

    def __delitem__(self, pattern: str) -> None:
        with self._lock:
            del self._entries[pattern]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def uses(self, pattern: str) -> int:
        """How many requests the rule under ``pattern`` has been applied to."""
        return self._entries[pattern].used

    def match(self, *urls: str | None) -> tuple[str, FaultRule] | None:
        """The first rule (exact URLs first, then patterns in insertion order) matching any of ``urls`` that has
        uses left; counts the use.  None when no rule applies."""
        with self._lock:
            entries = list(self._entries.values())
        candidates = [u for u in urls if u]
        ordered = [e for e in entries if not e.pattern.startswith("re:") and not any(c in e.pattern for c in "*?[")]
        ordered += [e for e in entries if e not in ordered]
        for entry in ordered:
            if any(entry.matcher(u) for u in candidates):
                with entry.lock:
                    if entry.rule.times is not None and entry.used >= entry.rule.times:
                        continue
                    entry.used += 1
                return entry.pattern, entry.rule
        return None


def load_faults_toml(path: str | Path) -> FaultSet:
    """Read ``[[fault]]`` tables (each with ``match`` plus FaultRule fields).  Raises ValueError naming the file
    and the entry on any problem."""
    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read fault file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"fault"})
    if unknown:
        raise ValueError(f"{path}: unknown top-level key(s) {', '.join(unknown)}; expected [[fault]] tables")
    faults = FaultSet()
    tables = data.get("fault", [])
    if not isinstance(tables, list):
        raise ValueError(f"{path}: 'fault' must be an array of tables ([[fault]])")
    for number, table in enumerate(tables, 1):
        table = dict(table)
        pattern = table.pop("match", None)
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"{path}: fault #{number} needs a 'match' string")
        try:
            faults[pattern] = FaultRule.from_dict(table)
        except ValueError as exc:
            raise ValueError(f"{path}: fault #{number} ({pattern}): {exc}") from None
    return faults
