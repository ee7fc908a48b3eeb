"""The folder where healthdex keeps what is the user's own but no data (the search prompt's history):
``$HEALTHDEX_CACHE_DIR``, else ``$XDG_CACHE_HOME/healthdex``, else ``~/.cache/healthdex``.  Setting
``HEALTHDEX_CACHE_DIR`` to an empty value keeps nothing."""

from __future__ import annotations

import os

CACHE_ENV_VAR = "HEALTHDEX_CACHE_DIR"


def folder() -> str | None:
    """The cache folder (perhaps not created yet), or None when nothing is to be kept."""
    got = os.environ.get(CACHE_ENV_VAR)
    if got is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        got = os.path.join(base, "healthdex")
    return got or None
