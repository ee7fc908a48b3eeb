"""``healthdex index FILE.jsonl... --index DIR [--optimize] [--delete-gone FILE]``: a thin wrapper over
:func:`indexer.build.index_records`."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import click

from healthdex.errors import UserError
from indexer.build import MAX_LINE_BYTES


@click.command("index")
@click.argument("files", nargs=-1, metavar="FILE.jsonl...")
@click.option(
    "--index",
    "index_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Index directory (created if missing).",
)
@click.option("--optimize", is_flag=True, help="Merge all segments into one after indexing (faster searches).")
@click.option(
    "--delete-gone",
    "gone_files",
    multiple=True,
    metavar="FILE",
    help="JSON Lines (or one key/URL per line) of articles to delete from the index; repeatable.",
)
@click.option(
    "--procs",
    type=click.IntRange(1, 16),
    default=None,
    help="Writer processes (default: 2 for a fresh build of 5,000+ records, else 1).",
)
@click.option(
    "--limitmb",
    type=click.IntRange(16, 4096),
    default=256,
    show_default=True,
    help="Memory per writer process for collecting postings; a bigger build is written as several segments.",
)
@click.option(
    "--wait",
    "lock_timeout",
    type=float,
    default=0.0,
    metavar="SECONDS",
    help="Wait up to SECONDS for another writer to release the index.",
)
@click.option(
    "--max-line-bytes",
    type=click.IntRange(1024, None),
    default=MAX_LINE_BYTES,
    show_default=True,
    help="Longest input line read (a record, or a --delete-gone line); a longer one is reported and skipped.",
)
@click.option("--quiet", "-q", is_flag=True, help="No summary line.")
def index_command(files, index_dir, optimize, gone_files, procs, limitmb, lock_timeout, max_line_bytes, quiet):
    """Create or update a search index from article JSON Lines (- reads stdin).

    Each record needs `text` and an `id` or `url`; its key is the id, else the canonical URL. Unchanged records
    (same content) are not rewritten; records marked "gone": true, and those listed by --delete-gone, are deleted.
    """
    from indexer.build import IndexStats, count_lines, index_records, iter_gone, iter_jsonl

    if not files and not gone_files and not optimize:
        raise click.UsageError("give at least one FILE.jsonl (or --delete-gone FILE, or --optimize)")
    if list(files).count("-") > 1:
        raise UserError("stdin (-) can be given only once")
    stats = IndexStats()
    records = iter_jsonl(files, stats=stats, max_line_bytes=max_line_bytes)
    if gone_files:
        records = itertools.chain(records, iter_gone(gone_files, stats=stats, max_line_bytes=max_line_bytes))
    expected = count_lines(files)
    progress = sys.stderr.isatty() and not quiet
    stats = index_records(
        records,
        index_dir,
        optimize=optimize,
        progress=progress,
        procs=procs,
        limitmb=limitmb,
        expected=expected,
        lock_timeout=lock_timeout,
        stats=stats,
    )
    if stats.recovered_from_pid:
        click.echo(
            f"healthdex: note: an earlier index run (pid {stats.recovered_from_pid}) was interrupted before "
            f"committing; its partial work was discarded",
            err=True,
        )
    if not quiet:
        click.echo(f"{index_dir}: {stats.summary()}")
