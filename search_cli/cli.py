"""``healthdex similar`` and ``stats``: option parsing over :mod:`search_cli.search`, plus a click entry for
``search``, whose own parser lives in :mod:`search_cli.command`."""

from __future__ import annotations

import sys

import click


def _fmt(as_json: bool, as_jsonl: bool) -> str:
    if as_json and as_jsonl:
        from healthdex.errors import UserError

        raise UserError("choose one of --json and --jsonl")
    return "json" if as_json else "jsonl" if as_jsonl else "table"


@click.command(
    "search",
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "allow_interspersed_args": False},
)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def search_command(argv) -> None:
    """Search the index (``healthdex search --help``)."""
    from search_cli.command import main

    sys.exit(main(list(argv)))


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
