"""The folder where healthdex keeps what it can rebuild (parsed synonym tables, compiled regular expressions):
``$HEALTHDEX_CACHE_DIR``, else ``$XDG_CACHE_HOME/healthdex``, else ``~/.cache/healthdex``.  Setting
``HEALTHDEX_CACHE_DIR`` to an empty value turns caching off."""

from __future__ import annotations

import os

CACHE_ENV_VAR = "HEALTHDEX_CACHE_DIR"


def folder() -> str | None:
    """The cache folder (perhaps not created yet), or None when caching is off."""
    got = os.environ.get(CACHE_ENV_VAR)
    if got is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        got = os.path.join(base, "healthdex")
    return got or None


def write_atomically(target: str, data: bytes) -> None:
    """Replace ``target`` by ``data`` (a reader sees the old file or the new one); errors are ignored: a cache
    that cannot be written is only a slower next run."""
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except (OSError, ValueError):
        try:
            os.unlink(tmp)
        except OSError:
            pass
