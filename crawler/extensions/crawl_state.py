"""What the output folder says about earlier runs: a crawl to resume, or a finished one to re-crawl.

``OUT/crawl-state.json`` is written (atomically) when a run starts and when it finishes:

- ``{"state": "running", "run": N, "run_offset": BYTES, "resumes": K}``: run N started when the WARC was BYTES long.
  If a process finds this on start, the previous process died (e.g. SIGKILL): it *resumes* run N — the responses
  the WARC holds from ``run_offset`` on are answered from the WARC instead of being fetched again.
- ``{"state": "finished", ...}``: run N completed; the next run is a *re-crawl* (N+1): what the WARC holds is
  history, used for conditional requests.

Every component reads the state when it is built (before the run writes its own), so all see the same past.
``CrawlStateExtension`` keeps the file; a run that finds ``running`` is a resume, counted in the report.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from crawler.middlewares.warc_capture import WarcCaptureMiddleware

STATE_FILE = "crawl-state.json"


@dataclass
class CrawlState:
    state: str = "new"  # "new" (no earlier run), "running" (a run was interrupted), "finished"
    run: int = 0
    run_offset: int = 0
    resumes: int = 0

    @property
    def interrupted(self) -> bool:
        return self.state == "running"


def load_state(out_dir: Path) -> CrawlState:
    path = Path(out_dir) / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return CrawlState()
    known = {k: data[k] for k in ("state", "run", "run_offset", "resumes") if k in data}
    return CrawlState(**known)


def save_state(out_dir: Path, state: CrawlState) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (STATE_FILE + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(asdict(state), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, out_dir / STATE_FILE)


def next_state(previous: CrawlState, warc_length: int) -> CrawlState:
    """The state of the run about to start, given the previous one and the WARC's readable length."""
    if previous.interrupted:
        return CrawlState("running", previous.run, min(previous.run_offset, warc_length), previous.resumes + 1)
    return CrawlState("running", previous.run + 1, warc_length, 0)


class CrawlStateExtension:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.out_dir = Path(crawler.settings.get("HEALTHDEX_OUT_DIR"))
        self.previous = load_state(self.out_dir)  # before this run changes anything
        self.state: CrawlState | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlStateExtension:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        # The WARC's length once its torn tail is cut (the capture middleware opens it: its one read at start-up).
        store = self.crawler.get_downloader_middleware(WarcCaptureMiddleware).open_store()
        self.state = next_state(self.previous, store.start_length)
        save_state(self.out_dir, self.state)
        stats = self.crawler.stats
        stats.set_value("healthdex/run", self.state.run)
        stats.set_value("healthdex/resumes", self.state.resumes)
        stats.set_value("healthdex/recrawl", int(self.state.run > 1))

    def spider_closed(self, spider: Spider, reason: str) -> None:
        # Only an interrupted run stays "running" (shutdown: Ctrl-C); a limit reached is a finished run.
        if self.state is not None and reason != "shutdown":
            self.state.state = "finished"
            save_state(self.out_dir, self.state)
