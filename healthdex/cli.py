"""The ``healthdex`` command: a thin, lazily-loaded dispatcher over each stage's own commands.

Each subcommand lives in the package of the stage it drives and is imported only when it is invoked, so
``healthdex search`` never pays for importing Scrapy or BeautifulSoup.
"""

from __future__ import annotations

import importlib
import sys

import click

from healthdex import __version__
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


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = SUBCOMMANDS.get(name)
        if entry is None:
            return None
        module_name, attr = entry[0].split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing the commands must not import every stage.
        with formatter.section("Commands"):
            formatter.write_dl([(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="healthdex")
def cli() -> None:
    """Crawl health articles politely, strip boilerplate, index and search them."""


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors become one line on stderr and exit status 2, never a traceback."""
    try:
        cli.main(args=argv, prog_name="healthdex")
    except UserError as exc:
        click.echo(f"healthdex: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("healthdex: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
