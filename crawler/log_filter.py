"""Keep the terminal readable: without ``-v`` a failed download is one log line, not a traceback.

Scrapy logs every download or callback failure with its traceback.  For a researcher watching a crawl the
crawl report already counts errors by kind; each failure still gets one line naming the URL and the
exception.  ``healthdex crawl -v`` leaves Scrapy's full log untouched.
"""

from __future__ import annotations

import logging


class OneLineErrors(logging.Filter):
    """Folds a record's exception into its message (``… (ConnectionRefusedError: …)``) and drops the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            detail = str(exc).splitlines()[0] if str(exc) else ""
            record.msg = f"{record.getMessage()} ({type(exc).__name__}{': ' + detail if detail else ''})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Add the filter to every handler of ``logger`` (default: the root logger Scrapy configures)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, OneLineErrors) for f in handler.filters):
            handler.addFilter(OneLineErrors())
