"""The ``healthdex`` command: a thin, lazily-loaded dispatcher over each stage's own commands.

Each subcommand lives in the package of the stage it drives and is imported only when it is invoked, so
``healthdex search`` never pays for importing Scrapy or BeautifulSoup.  ``search`` parses its own arguments
(argparse, :mod:`search_cli.command`) and is handed over before click is imported.
"""

from __future__ import annotations

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
            module_name, attr = CLICK_FREE[args[0]].split(":")
            sys.exit(getattr(importlib.import_module(module_name), attr)(args[1:]))
        from healthdex.group import cli

        cli.main(args=args, prog_name="healthdex")
    except UserError as exc:
        _fail(f"healthdex: {exc}", exc.exit_code)
    except KeyboardInterrupt:
        _fail("healthdex: interrupted", 130)
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly, as other Unix tools do
        _quiet_stdout()
        sys.exit(0)


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
