"""``healthdex search --index DIR`` on a terminal without a query: a prompt for one query after another over
an index kept open (its searcher and what it read of each segment stay between queries; a newer commit is
picked up before the next query).  readline gives line editing; the history is kept in the user's cache folder
(``healthdex.usercache``).  Ctrl-D or ``exit`` leaves, Ctrl-C drops the line being typed."""

from __future__ import annotations

import os
import sys

from healthdex import usercache
from healthdex.errors import UserError

PROMPT = "healthdex> "
HISTORY_LENGTH = 1000


def run_prompt(index_dir: str, fmt: str = "table", *, no_color: bool = False, **options) -> int:
    """Answer queries typed at the prompt until Ctrl-D or ``exit``; returns 0.  Options as for
    :func:`search_cli.search.search`.  A query's error is one line, and the prompt goes on."""
    from search_cli.output import format_results, use_color
    from search_cli.search import Index, search

    history = _start_history()
    color = use_color(no_color)
    with Index(index_dir) as ix:
        print(f"healthdex search over {index_dir}: type a query (Ctrl-D or 'exit' to leave).", flush=True)
        while True:
            try:
                line = input(PROMPT).strip()
            except EOFError:
                print()
                break
            except KeyboardInterrupt:
                print()
                continue
            if line in ("exit", "quit"):
                break
            if not line:
                continue
            try:
                res = search(ix, line, **options)
            except UserError as exc:
                print(f"healthdex: {exc}", file=sys.stderr, flush=True)
                continue
            print(format_results(res, fmt, color=color), flush=True)
    _save_history(history)
    return 0


def _start_history() -> str | None:
    """Load the prompt's history (readline's); the file it is kept in, or None."""
    try:
        import readline
    except ImportError:  # (a Python built without readline: no editing, no history)
        return None
    folder = usercache.folder()
    if folder is None:
        return None
    path = os.path.join(folder, "search-history")
    readline.set_history_length(HISTORY_LENGTH)
    try:
        readline.read_history_file(path)
    except OSError:  # none yet, or unreadable: start empty
        pass
    return path


def _save_history(path: str | None) -> None:
    if path is None:
        return
    import readline

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        readline.write_history_file(path)
    except OSError as exc:
        print(f"healthdex: search history not saved: {exc.strerror or exc}", file=sys.stderr)
