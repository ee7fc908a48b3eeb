"""``healthdex search``: its arguments and its run, on argparse rather than click.

Start-up time is one of the command's goals (a query typed in a terminal should answer in about a tenth of a
second), and importing click alone costs ~40 ms, a quarter of that budget.  ``healthdex.cli.main`` therefore hands
``search`` straight to :func:`main` here before click is imported; the click group keeps a pass-through entry so
``healthdex --help`` lists it and click-based callers still work.
"""

from __future__ import annotations

from search_cli import _whoosh_compat

# before anything imports argparse: what a search never uses loads only if asked for (the rest of
# lazy_start when a search needs Whoosh's reader: see main)
_whoosh_compat.lean_start()

import argparse  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import sys  # noqa: E402

from healthdex.errors import UserError  # noqa: E402

_whoosh_compat.untranslated_argparse(argparse)

QUERY_HELP = """\
QUERY is plain words (ranked, AND-leaning, health synonyms added) or Whoosh syntax:

  heart attack symptoms          words; documents with more of them rank higher
  "back pain"  "back pain"~3     phrase; words within 3 positions
  diabet*  diabetis~  diabetis~2 wildcard; fuzzy (edit distance 1 or 2)
  asthma AND (child OR kid) NOT adult
  site:medlineplus.gov  author:smith  reviewer:jones  category:cancer  lang:en
  published:>2020  updated:[2023 TO 2024]  published:<2019-06

Unbalanced quotes or brackets are read leniently; an unknown field or a date that cannot be read is an error.
A query starting with "-" goes after "--". Exit status: 0 with hits, 1 with none, 2 on error."""


class _Parser(argparse.ArgumentParser):
    """Usage errors as the one-line ``UserError`` every healthdex command reports (exit status 2)."""

    def error(self, message: str):  # type: ignore[override]
        raise UserError(f"search: {message} (see healthdex search --help)")

    def exit(self, status: int = 0, message: str | None = None):  # type: ignore[override]
        sys.stdout.flush()  # --help: out before exiting, also when stdout is a caller's buffer
        super().exit(status, message)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter sized like ``shutil.get_terminal_size`` would, without importing shutil (which loads
    the bz2 and lzma libraries): argparse builds a formatter for every option it adds, so each search paid it."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width=None) -> None:
        if width is None:
            width = _terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)


@functools.cache
def _terminal_columns() -> int:
    """$COLUMNS, else the width of the terminal on stdout, else 80 (``shutil.get_terminal_size``'s order); once
    per process (argparse makes a formatter for every option it adds)."""
    import os

    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0")
    return value


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="healthdex search",
        usage="healthdex search [OPTIONS] [QUERY]",
        description="Search the index.",
        epilog=QUERY_HELP,
        formatter_class=_Formatter,
    )
    p.add_argument("query", nargs="?", metavar="QUERY", help=argparse.SUPPRESS)
    p.add_argument("--index", dest="index_dir", required=True, metavar="DIR", help="Index directory.")
    p.add_argument("--limit", "-n", type=_count, default=10, metavar="N", help="Hits to show (default 10).")
    p.add_argument("--offset", type=_count, default=0, metavar="N", help="Skip this many hits (default 0).")
    p.add_argument(
        "--json", dest="as_json", action="store_true", help="One JSON object with hits, facets and suggestion."
    )
    p.add_argument("--jsonl", dest="as_jsonl", action="store_true", help="One JSON object per hit.")
    p.add_argument(
        "--sort",
        choices=("relevance", "published", "updated"),
        default="relevance",
        help="Order of hits (dates: newest first; default relevance).",
    )
    p.add_argument("--facets", default="", metavar="site,category", help="Print hit counts per site / category.")
    p.add_argument("--no-synonyms", action="store_true", help="Do not expand health synonyms.")
    p.add_argument(
        "--synonyms",
        dest="synonyms_file",
        default=None,
        metavar="FILE",
        help="Synonym file to use instead of the shipped one (also $HEALTHDEX_SYNONYMS).",
    )
    p.add_argument("--plain", action="store_true", help="Treat QUERY as words only (no operators or fields).")
    p.add_argument("--no-color", action="store_true", help="No ANSI colour even on a terminal.")
    p.add_argument(
        "--batch",
        default=None,
        metavar="QUERIES.tsv",
        help="Read qid<TAB>query lines ('-' for stdin) and write a TREC run to stdout.",
    )
    p.add_argument(
        "--ranking",
        choices=("default", "whoosh"),
        default="default",
        help="'whoosh': plain Whoosh BM25F over OR-ed words, for comparison (default: default).",
    )
    p.add_argument("--syntax", action="store_true", help="With --batch: parse topics as query syntax, not plain words.")
    return p


def main(argv: list[str]) -> int:
    """Run ``healthdex search ARGV``; returns the exit status (0 hits, 1 none).  Raises ``UserError``."""
    args = parser().parse_args(argv)
    from search_cli.query import Ranking

    ranking = Ranking.named(args.ranking)
    synonyms = False if args.no_synonyms else (args.synonyms_file or True)
    if args.batch is not None:
        if args.query:
            raise UserError("give either QUERY or --batch, not both")
        _batch(args.index_dir, args.batch, args.limit, synonyms, not args.syntax, ranking)
        return 0
    if args.query is None:
        raise UserError("missing QUERY (or --batch FILE)")
    if args.as_json and args.as_jsonl:
        raise UserError("choose one of --json and --jsonl")
    fmt = "json" if args.as_json else "jsonl" if args.as_jsonl else "table"

    # One query creates no garbage cycles worth collecting: without the cyclic collector, importing Whoosh and
    # reading the index skip a few full collections over everything loaded so far.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        from search_cli import evaluate
        from search_cli import search as search_module
        from search_cli.output import format_results, use_color
        from search_cli.search import search

        evaluate.set_vectorized(False)  # one query: importing numpy would cost more than it saves
        search_module.prepare_whoosh = _whoosh_compat.lazy_start
        res = search(
            args.index_dir,
            args.query,
            limit=args.limit,
            offset=args.offset,
            sort=args.sort,
            synonyms=synonyms,
            facets=[f for f in args.facets.split(",") if f.strip()],
            plain=args.plain,
            ranking=ranking,
        )
    finally:
        if was_enabled:
            gc.enable()
    text = format_results(res, fmt, color=use_color(args.no_color))
    if text:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    return 0 if res.hits or (args.limit == 0 and res.total) else 1


def _batch(index_dir: str, path: str, limit: int, synonyms, plain: bool, ranking) -> None:
    _whoosh_compat.lazy_start()
    from search_cli.search import batch

    try:
        fh = sys.stdin if path == "-" else open(path, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    with fh:
        lines = list(fh)
    out = sys.stdout
    for line in batch(index_dir, lines, limit=limit or 1000, synonyms=synonyms, plain=plain, ranking=ranking):
        out.write(line + "\n")
    out.flush()
