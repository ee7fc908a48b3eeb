"""The boilerplate stripper: HTML page -> article text and health metadata (BeautifulSoup + lxml, no Scrapy).

    from stripper import extract_article, build_record, decode_html

The names are loaded on first use: ``healthdex clean``'s main process hands pages to worker processes and never
needs BeautifulSoup itself, so it starts them sooner.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ExtractionError": "stripper.article",
    "build_record": "stripper.article",
    "extract_article": "stripper.article",
    "decode_html": "stripper.decode",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'stripper' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
