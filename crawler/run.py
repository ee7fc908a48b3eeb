"""Run a crawl from Python: the library function behind ``healthdex crawl`` and the demo."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from healthdex import __version__
from healthdex.errors import UserError
from profiles import load_profile


@dataclass
class CrawlOptions:
    profiles: list[str]
    out_dir: Path
    replay_source: Path | None = None
    proxy: str | None = None
    contact: str | None = None
    max_pages: int | None = None
    max_depth: int | None = None
    delay: float | None = None
    workers: int | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    verbose: bool = False
    # Distributed crawl (crawler.distributed): Redis URL, crawl id (default: the profile names), worker id.
    redis: str | None = None
    crawl_id: str | None = None
    worker_id: str | None = None


def crawl_settings(options: CrawlOptions, proxy: str | None):
    """Scrapy settings for ``options``: crawler.settings, then the profiles' contact, then the options."""
    from scrapy.settings import Settings

    profiles = [load_profile(name) for name in options.profiles]
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    contact = options.contact or next((p.contact for p in profiles if p.contact), None)
    if not contact and not proxy:
        raise UserError("live crawls need a contact for the User-Agent: pass --contact URL-or-EMAIL "
                        "or set `contact` in the profile (replayed crawls do not)")
    agent = settings.get("HEALTHDEX_USER_AGENT_TEMPLATE").format(
        version=__version__, contact=contact or "replay; no live requests")
    cmdline = {
        "USER_AGENT": agent,
        "HEALTHDEX_OUT_DIR": str(options.out_dir),
        "HEALTHDEX_PROXY": proxy or "",
        "LOG_LEVEL": "INFO" if options.verbose else "ERROR",
    }
    if options.verbose:
        cmdline["HEALTHDEX_PROGRESS"] = False  # Scrapy's log owns the terminal
    if options.max_pages:
        cmdline["CLOSESPIDER_PAGECOUNT"] = options.max_pages
        cmdline["HEALTHDEX_MAX_PAGES"] = options.max_pages
    if options.max_depth is not None:
        cmdline["HEALTHDEX_MAX_DEPTH"] = options.max_depth
    if options.delay is not None:
        cmdline["DOWNLOAD_DELAY"] = options.delay
        cmdline["AUTOTHROTTLE_START_DELAY"] = options.delay
        cmdline["DOWNLOAD_SLOTS"] = {p.name: {"delay": options.delay} for p in profiles}
    if options.workers is not None:
        cmdline["HEALTHDEX_EXTRACT_WORKERS"] = options.workers
    settings.setdict(cmdline, priority="cmdline")
    settings.setdict(options.overrides, priority="cmdline")
    redis_url = options.redis or settings.get("HEALTHDEX_REDIS_URL")
    if redis_url:  # one worker of a crawl shared through Redis; its output goes to OUT/worker-<id>
        from crawler.distributed import enable

        crawl_id = options.crawl_id or ",".join(sorted(p.name for p in profiles))
        enable(settings, redis_url, crawl_id=crawl_id, worker_id=options.worker_id)
    return settings, profiles


@contextlib.contextmanager
def _replay(options: CrawlOptions) -> Iterator[str | None]:
    if options.replay_source is None:
        yield options.proxy
        return
    from replay.server import ReplayServer

    with ReplayServer(Path(options.replay_source)) as server:
        yield server.proxy_url


def run_crawl(options: CrawlOptions) -> dict:
    """Crawl as ``options`` say and return the crawl report (also written to ``out_dir/crawl-report.json``)."""
    from scrapy.crawler import CrawlerProcess

    from crawler.report import load_report

    with _replay(options) as proxy:
        settings, _ = crawl_settings(options, proxy)
        if not options.verbose:
            logging.getLogger("scrapy").setLevel(logging.ERROR)
        process = CrawlerProcess(settings)
        process.crawl("health", profile=",".join(options.profiles))
        if not options.verbose:  # after crawl(): Scrapy installs its root log handler there
            from crawler import log_filter

            log_filter.install()
        process.start()
    return load_report(settings.get("HEALTHDEX_OUT_DIR"))
