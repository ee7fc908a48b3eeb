"""``healthdex demo``: the whole pipeline on the bundled sample site, from any working directory.

Starts ``healthdex replay`` on a free loopback port over the bundled pages, crawls them with the profiles of
their sites, indexes the clean articles and runs one query.  Everything it writes goes into one folder.
"""

from __future__ import annotations

import csv
import time
from datetime import datetime
from pathlib import Path

import click

SAMPLE_PAGES = Path(__file__).parent / "sample" / "pages"
DEMO_QUERY = "sciatica back pain"


def sample_profiles(pages_dir: Path = SAMPLE_PAGES) -> list[str]:
    """Names of the profiles covering the sample's URLs, in a stable order."""
    from profiles import ProfileIndex, load_all

    with (pages_dir / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        urls = [row["original_url"] for row in csv.DictReader(handle, delimiter="\t")]
    index = ProfileIndex(load_all())
    names = {profile.name for url in urls if (profile := index.for_url(url)) is not None}
    return sorted(names)


def run_demo(out_dir: Path, query: str = DEMO_QUERY, limit: int = 5, echo=click.echo) -> int:
    """Run the demo into ``out_dir``; return the number of hits for ``query``."""
    from crawler.run import CrawlOptions, run_crawl
    from indexer.build import index_records, iter_jsonl
    from search_cli.output import format_results, use_color
    from search_cli.search import search

    started = time.monotonic()
    crawl_dir, index_dir = out_dir / "crawl", out_dir / "index"
    names = sample_profiles()
    echo(f"demo: replaying {SAMPLE_PAGES} on 127.0.0.1 and crawling it with profiles {', '.join(names)}")
    # The sample holds only the pages its sitemaps list: following their navigation links (one link hop and more)
    # would only meet 404s from the replay server, so the demo stops at the sitemap's pages.
    options = CrawlOptions(profiles=names, out_dir=crawl_dir, replay_source=SAMPLE_PAGES, delay=0.1, max_depth=0)
    report = run_crawl(options)
    echo(
        f"demo: crawled {report['pages_fetched']} responses, {report['articles_extracted']} articles "
        f"-> {crawl_dir / 'articles.jsonl'} and {crawl_dir / 'pages.warc.gz'}"
    )
    stats = index_records(iter_jsonl([str(crawl_dir / "articles.jsonl")]), index_dir)
    echo(f"demo: indexed into {index_dir}: {stats.summary()}")
    results = search(index_dir, query, limit=limit)
    echo(f"demo: search {query!r}")
    echo(format_results(results, "table", color=use_color()))
    echo(f"demo: done in {time.monotonic() - started:.1f} s; output left in {out_dir}")
    return len(results.hits)


@click.command("demo")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the demo's output (default: ./healthdex-demo-<timestamp>).",
)
@click.option("--query", default=DEMO_QUERY, show_default=True, help="The query to run at the end.")
def demo_command(out_dir: Path | None, query: str) -> None:
    """Replay the bundled sample site, crawl it, index it and search it."""
    if out_dir is None:
        out_dir = Path.cwd() / f"healthdex-demo-{datetime.now():%Y%m%d-%H%M%S}"
    out_dir.mkdir(parents=True, exist_ok=True)
    hits = run_demo(out_dir, query)
    raise SystemExit(0 if hits else 1)
