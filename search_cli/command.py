"""``healthdex search``: its arguments, and the one-shot, batch and interactive runs over
:mod:`search_cli.search`.  (argparse rather than click: ``healthdex.cli`` hands ``search`` over before click is
imported, which a command typed many times a day should not wait for.)"""

from __future__ import annotations

import argparse
import os
import sys

from healthdex.errors import UserError

QUERY_HELP = """\
QUERY is plain words (ranked by BM25F, health synonyms added) or Whoosh syntax:

  heart attack symptoms          words; documents with more of them rank higher
  "back pain"  "back pain"~3     phrase; words within 3 positions
  diabet*  diabetis~  diabetis~2 wildcard; fuzzy (edit distance 1 or 2)
  asthma AND (child OR kid) NOT adult
  site:medlineplus.gov  author:smith  reviewer:jones  category:cancer  lang:en
  published:>2020  updated:[2023 TO 2024]  published:<2019-06

Unbalanced quotes or brackets are read leniently; an unknown field or a date that cannot be read is an error.
A query starting with "-" goes after "--".  Without QUERY on a terminal, a prompt opens for one query after
another (Ctrl-D or "exit" leaves).  Exit status: 0 with hits, 1 with none, 2 on error."""

# --batch and --synonyms files larger than this are refused (a line per query: megabytes are thousands of them)
MAX_INPUT_BYTES = int(os.environ.get("HEALTHDEX_SEARCH_MAX_INPUT_BYTES", str(64 * 1024 * 1024)))


class _Parser(argparse.ArgumentParser):
    """Usage errors as the one-line ``UserError`` every healthdex command reports (exit status 2)."""

    def error(self, message: str):  # type: ignore[override]
        raise UserError(f"search: {message} (see healthdex search --help)")

    def exit(self, status: int = 0, message: str | None = None):  # type: ignore[override]
        sys.stdout.flush()  # --help: out before exiting, also when stdout is a caller's buffer
        super().exit(status, message)


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
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        "--explain",
        action="store_true",
        help="After the hits, how the query was answered: parse, synonyms, terms and weights, spelling.",
    )
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
    if args.as_json and args.as_jsonl:
        raise UserError("choose one of --json and --jsonl")
    options = dict(
        limit=args.limit,
        offset=args.offset,
        sort=args.sort,
        synonyms=synonyms,
        facets=[f for f in args.facets.split(",") if f.strip()],
        plain=args.plain,
        ranking=ranking,
        explain=args.explain,
    )
    fmt = "json" if args.as_json else "jsonl" if args.as_jsonl else "table"
    if args.query is None:
        if not sys.stdin.isatty():
            raise UserError("missing QUERY: give one, or --batch FILE for many (a prompt opens only on a terminal)")
        from search_cli.prompt import run_prompt

        return run_prompt(args.index_dir, fmt, no_color=args.no_color, **options)

    from search_cli.output import format_results, use_color
    from search_cli.search import search

    res = search(args.index_dir, args.query, **options)
    text = format_results(res, fmt, color=use_color(args.no_color))
    if text:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    return 0 if res.hits or (args.limit == 0 and res.total) else 1


def _batch(index_dir: str, path: str, limit: int, synonyms, plain: bool, ranking) -> None:
    from healthdex.inputs import read_bounded
    from search_cli.search import batch

    lines = read_bounded(path, "batch file", MAX_INPUT_BYTES, "HEALTHDEX_SEARCH_MAX_INPUT_BYTES")
    lines = lines.decode("utf-8", "replace").splitlines()
    out = sys.stdout
    for line in batch(index_dir, lines, limit=limit or 1000, synonyms=synonyms, plain=plain, ranking=ranking):
        out.write(line + "\n")
    out.flush()
