"""The ``healthdex`` command: a thin, lazily-loaded dispatcher over each stage's own commands.

Each subcommand lives in the package of the stage it drives and is imported only when it is invoked, so
``healthdex search`` never pays for importing Scrapy or BeautifulSoup.  ``search`` is dispatched before click is
even imported (see :mod:`search_cli.command`): it is the command people run most, and start-up time is part of its
speed.
"""

from __future__ import annotations

import gc
import importlib
import sys

from healthdex.errors import UserError

# command name -> ("module:attribute" of a click.Command, one-line help); imported on first use only.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("healthdex.demo:demo_command", "Replay the bundled sample site, crawl, index and search it."),
    "replay": ("replay.cli:replay_command", "Serve saved pages or a WARC on 127.0.0.1 under their original URLs."),
    "crawl": ("crawler.cli:crawl_command", "Crawl sites by profile into a WARC and clean JSON Lines."),
    "crawl-report": ("crawler.cli:crawl_report_command", "Summarise a finished or interrupted crawl."),
    "profiles": ("crawler.cli:profiles_command", "List the site profiles."),
    "clean": ("stripper.cli:clean_command", "Extract clean articles from HTML files, folders or WARCs."),
    "index": ("indexer.cli:index_command", "Create or update a search index from article JSON Lines."),
    "search": ("search_cli.cli:search_command", "Search the index."),
    "similar": ("search_cli.cli:similar_command", "Articles similar to a given URL."),
    "stats": ("search_cli.cli:stats_command", "Index statistics."),
}

# command name -> "module:function(argv) -> exit status" run without click (see the module docstring).
CLICK_FREE: dict[str, str] = {"search": "search_cli.command:main"}


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors become one line on stderr and exit status 2, never a traceback."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        if args and args[0] in CLICK_FREE:
            sys.exit(_run_click_free(args, one_shot=argv is None))
        from healthdex.group import cli

        cli.main(args=args, prog_name="healthdex")
    except UserError as exc:
        _fail(f"healthdex: {exc}", exc.exit_code)
    except KeyboardInterrupt:
        _fail("healthdex: interrupted", 130)
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly, as other Unix tools do
        _quiet_stdout()
        sys.exit(0)


def _run_click_free(args: list[str], one_shot: bool) -> int:
    """Run a command of ``CLICK_FREE``.  ``one_shot``: this process exists for this command only (the console
    script), so the cyclic garbage collector is off throughout (it would only walk the modules being imported,
    ~2% of a cold search) and everything is frozen at the end (the interpreter's exit then skips its full
    collection over all of it, another ~4%; callgrind, healthdex search at 100k articles); and regular
    expressions come compiled from the last run (:mod:`healthdex.regex_cache`, ~4%)."""
    if one_shot:
        gc.disable()
        from healthdex import regex_cache

        regex_cache.install()
    try:
        module_name, attr = CLICK_FREE[args[0]].split(":")
        return getattr(importlib.import_module(module_name), attr)(args[1:])
    finally:
        if one_shot:
            regex_cache.save()
            gc.freeze()


def _fail(message: str, status: int) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    sys.exit(status)


def _quiet_stdout() -> None:
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    main()
