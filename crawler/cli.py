"""``healthdex crawl``, ``healthdex crawl-report`` and ``healthdex profiles``: thin wrappers over crawler.run."""

from __future__ import annotations

from pathlib import Path

import click

from healthdex.errors import UserError


@click.command("crawl")
@click.argument("profile_names", metavar="PROFILE...", nargs=-1, required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder: pages.warc.gz, articles.jsonl, crawl-report.json.")
@click.option("--replay", "replay_source", type=click.Path(path_type=Path),
              help="Serve this folder of saved pages (with MANIFEST.tsv) or WARC on 127.0.0.1 and crawl it.")
@click.option("--proxy", help="Send every request through this HTTP proxy (e.g. a running `healthdex replay`).")
@click.option("--contact", help="URL or e-mail put in the User-Agent; required for live crawls.")
@click.option("--max-pages", type=click.IntRange(min=1),
              help="Send at most this many requests to the network (with --redis: all workers together).")
@click.option("--max-depth", type=click.IntRange(min=0),
              help="At most N link hops from a start URL or sitemap entry (0: follow no links; default 5).")
@click.option("--delay", type=click.FloatRange(min=0),
              help="At least this many seconds between requests to a site (overrides profiles; Crawl-delay may add).")
@click.option("--workers", type=click.IntRange(min=0), help="Extraction processes (0: in the crawl process).")
@click.option("--redis", "redis_url", metavar="URL",
              help="Be one worker of a crawl shared through this Redis (redis://host:port/db); "
                   "output in OUT/worker-ID.")
@click.option("--crawl-id", help="With --redis: the shared crawl's name (default: the profile names).")
@click.option("--worker-id", help="With --redis: this worker's name (default: HOSTNAME-PID).")
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE", help="Any Scrapy setting.")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log.")
def crawl_command(profile_names, out_dir, replay_source, proxy, contact, max_pages, max_depth, delay, workers,
                  redis_url, crawl_id, worker_id, overrides, verbose) -> None:
    """Crawl the sites of PROFILE... into OUT: every raw response in a WARC, clean articles in JSON Lines."""
    from crawler.run import CrawlOptions, run_crawl

    options = CrawlOptions(
        profiles=list(profile_names), out_dir=out_dir, replay_source=replay_source, proxy=proxy, contact=contact,
        max_pages=max_pages, max_depth=max_depth, delay=delay, workers=workers,
        overrides=_parse_overrides(overrides), verbose=verbose, redis=redis_url, crawl_id=crawl_id,
        worker_id=worker_id,
    )
    report = run_crawl(options)
    from crawler.report import format_report

    click.echo(format_report(report))
    # A worker of a distributed crawl may find the work already done by the others.
    if not report.get("pages_fetched") and not report.get("resumed_from_warc") \
            and not (redis_url or options.overrides.get("HEALTHDEX_REDIS_URL")):
        errors = sum((report.get("errors_by_kind") or {}).values())
        click.echo(f"healthdex: no page could be fetched ({errors} download errors); is the site or proxy reachable?",
                   err=True)
        raise SystemExit(1)


@click.command("crawl-report")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def crawl_report_command(out_dir: Path, as_json: bool) -> None:
    """Summarise the crawl in OUT_DIR."""
    import json

    from crawler.report import format_report, load_report

    report = load_report(out_dir)
    click.echo(json.dumps(report, indent=2, sort_keys=True) if as_json else format_report(report))


@click.command("profiles")
@click.option("--json", "as_json", is_flag=True, help="Print the profiles as JSON.")
def profiles_command(as_json: bool) -> None:
    """List the site profiles (bundled and from HEALTHDEX_PROFILES_PATH)."""
    import json

    from profiles import available_profiles, parse_profile

    rows = []
    for name, path in sorted(available_profiles().items()):
        profile = parse_profile(path)
        rows.append({"name": name, "site": profile.site, "domains": list(profile.allowed_domains),
                     "description": profile.description, "path": str(path)})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max((len(r["name"]) for r in rows), default=4)
    for row in rows:
        click.echo(f"{row['name']:<{width}}  {', '.join(row['domains']):<32}  {row['description']}")


def _parse_overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UserError(f"-s expects NAME=VALUE, got {pair!r}")
        result[name.strip()] = value
    return result
