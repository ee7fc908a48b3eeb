"""The stripper's limits: documented defaults, each overridable by an environment variable of the same name.

They are read when a page is extracted, so ``healthdex clean`` (and its worker processes), the crawl's extraction
(inline or in its process pool) and library callers all see the same values.  A page over a limit is still
extracted, within the limit, and its record says which limit it hit (``"limits"``, one line each).
"""

from __future__ import annotations

import os

from healthdex.errors import UserError

DEFAULTS: dict[str, int] = {
    # elements nested deeper than this are not made: their text joins the deepest element made (browsers' HTML
    # parsers stop nesting at 512 too).  A 10 MiB page of nested <div>s would otherwise take gigabytes.
    "HEALTHDEX_MAX_TREE_DEPTH": 512,
    # elements past this count are not made (text kept, structure flattened): about 1.3 KB of memory each; real
    # article pages have a few thousand (the largest of 853 shared test pages: about 10,000 after parsing)
    "HEALTHDEX_MAX_TREE_ELEMENTS": 200_000,
    # characters of one JSON-LD block (a longer one is skipped; the page's article is kept)
    "HEALTHDEX_MAX_JSONLD_CHARS": 5_000_000,
}

MESSAGES: dict[str, str] = {
    "HEALTHDEX_MAX_TREE_DEPTH": "elements nested deeper than {limit:,}: flattened into their ancestor",
    "HEALTHDEX_MAX_TREE_ELEMENTS": "more than {limit:,} elements: the rest flattened into their ancestors",
    "HEALTHDEX_MAX_JSONLD_CHARS": "JSON-LD block over {limit:,} characters: skipped",
}


def limit(name: str) -> int:
    """The value of a limit: the environment variable when set (a positive whole number), else the default."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return DEFAULTS[name]
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise UserError(f"{name} must be a positive whole number, not {raw!r}")
    return value


def limit_message(name: str) -> str:
    """The one line a record carries when a page hit this limit (the setting named, so a user can raise it)."""
    return f"{MESSAGES[name].format(limit=limit(name))} ({name})"
