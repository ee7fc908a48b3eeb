"""``healthdex search``, ``similar`` and ``stats``: option parsing over :mod:`search_cli.search`.

Only click is imported at module level; Whoosh and the rest load when a command runs.
"""

from __future__ import annotations

import gc
import sys

import click

from search_cli import _whoosh_compat

_whoosh_compat.lazy_asyncio()  # before anything imports Whoosh: searching never needs asyncio
_whoosh_compat.lazy_morph_en()

QUERY_HELP = """Search the index. QUERY is plain words (ranked, AND-leaning, health synonyms added) or Whoosh syntax:

\b
  heart attack symptoms          words; documents with more of them rank higher
  "back pain"  "back pain"~3     phrase; words within 3 positions
  diabet*  diabetis~  diabetis~2 wildcard; fuzzy (edit distance 1 or 2)
  asthma AND (child OR kid) NOT adult
  site:medlineplus.gov  author:smith  reviewer:jones  category:cancer  lang:en
  published:>2020  updated:[2023 TO 2024]  published:<2019-06

Unbalanced quotes or brackets are read leniently; an unknown field or a date that cannot be read is an error.
A query starting with "-" goes after "--". Exit status: 0 with hits, 1 with none, 2 on error."""


def _fmt(as_json: bool, as_jsonl: bool) -> str:
    if as_json and as_jsonl:
        from healthdex.errors import UserError

        raise UserError("choose one of --json and --jsonl")
    return "json" if as_json else "jsonl" if as_jsonl else "table"


@click.command("search", help=QUERY_HELP)
@click.argument("query", required=False)
@click.option("--index", "index_dir", required=True, type=click.Path(), help="Index directory.")
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(min=0), help="Hits to show.")
@click.option("--offset", default=0, show_default=True, type=click.IntRange(min=0), help="Skip this many hits.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with hits, facets and suggestion.")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="One JSON object per hit.")
@click.option(
    "--sort",
    type=click.Choice(["relevance", "published", "updated"]),
    default="relevance",
    show_default=True,
    help="Order of hits (dates: newest first).",
)
@click.option("--facets", default="", metavar="site,category", help="Print hit counts per site / category.")
@click.option("--no-synonyms", is_flag=True, help="Do not expand health synonyms.")
@click.option(
    "--synonyms",
    "synonyms_file",
    type=click.Path(),
    default=None,
    help="Synonym file to use instead of the shipped one (also $HEALTHDEX_SYNONYMS).",
)
@click.option("--plain", is_flag=True, help="Treat QUERY as words only (no operators or fields).")
@click.option("--no-color", is_flag=True, help="No ANSI colour even on a terminal.")
@click.option(
    "--batch",
    type=click.Path(),
    default=None,
    metavar="QUERIES.tsv",
    help="Read qid<TAB>query lines ('-' for stdin) and write a TREC run to stdout.",
)
@click.option(
    "--ranking",
    type=click.Choice(["default", "whoosh"]),
    default="default",
    show_default=True,
    help="'whoosh': plain Whoosh BM25F over OR-ed words, for comparison.",
)
@click.option("--syntax", is_flag=True, help="With --batch: parse topics as query syntax, not plain words.")
def search_command(
    query,
    index_dir,
    limit,
    offset,
    as_json,
    as_jsonl,
    sort,
    facets,
    no_synonyms,
    synonyms_file,
    plain,
    no_color,
    batch,
    ranking,
    syntax,
):
    from healthdex.errors import UserError
    from search_cli.query import Ranking

    ranking = Ranking.named(ranking)
    synonyms = False if no_synonyms else (synonyms_file or True)
    if batch is not None:
        if query:
            raise UserError("give either QUERY or --batch, not both")
        return _batch(index_dir, batch, limit, synonyms, not syntax, ranking)
    if query is None:
        raise UserError("missing QUERY (or --batch FILE)")
    fmt = _fmt(as_json, as_jsonl)

    # One query creates no garbage cycles worth collecting: without the cyclic collector, importing Whoosh and
    # reading the index skip a few full collections over everything loaded so far.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        from search_cli import evaluate
        from search_cli.output import format_results, use_color
        from search_cli.search import search

        evaluate.set_vectorized(False)  # one query: importing numpy would cost more than it saves
        res = search(
            index_dir,
            query,
            limit=limit,
            offset=offset,
            sort=sort,
            synonyms=synonyms,
            facets=[f for f in facets.split(",") if f.strip()],
            plain=plain,
            ranking=ranking,
        )
    finally:
        if was_enabled:
            gc.enable()
    text = format_results(res, fmt, color=use_color(no_color))
    if text:
        click.echo(text)
    sys.exit(0 if res.hits or (limit == 0 and res.total) else 1)


def _batch(index_dir, path, limit, synonyms, plain, ranking):
    from healthdex.errors import UserError
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


@click.command("similar")
@click.argument("ref", metavar="URL_OR_KEY")
@click.option("--index", "index_dir", required=True, type=click.Path(), help="Index directory.")
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True)
@click.option("--jsonl", "as_jsonl", is_flag=True)
@click.option("--no-color", is_flag=True)
def similar_command(ref, index_dir, limit, as_json, as_jsonl, no_color):
    """Articles like the one with this URL or record key (more like this). Exit 0 with hits, 1 with none."""
    fmt = _fmt(as_json, as_jsonl)
    from search_cli.output import format_results, use_color
    from search_cli.search import similar

    res = similar(index_dir, ref, limit=limit)
    click.echo(format_results(res, fmt, color=use_color(no_color)))
    sys.exit(0 if res.hits else 1)


@click.command("stats")
@click.option("--index", "index_dir", required=True, type=click.Path(), help="Index directory.")
@click.option("--json", "as_json", is_flag=True)
def stats_command(index_dir, as_json):
    """Documents, sites, date range, size on disk and segments of an index."""
    from search_cli.output import format_stats
    from search_cli.search import stats

    click.echo(format_stats(stats(index_dir), "json" if as_json else "table"))
