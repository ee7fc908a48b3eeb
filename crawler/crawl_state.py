"""What the output folder says about earlier runs: a crawl to resume, or a finished one to re-crawl.

No Scrapy here.  ``OUT/crawl-state.json`` is written (atomically) when a run starts and when it finishes:

- ``{"state": "running", "run": N, "run_offset": BYTES, "resumes": K}``: run N started when the WARC was BYTES long.
  If a process finds this on start, the previous process died (e.g. SIGKILL): it *resumes* run N — the responses
  the WARC holds from ``run_offset`` on are answered from the WARC instead of being fetched again.
- ``{"state": "finished", ...}``: run N completed; the next run is a *re-crawl* (N+1): what the WARC holds is
  history, used for conditional requests.

Every component reads the state when it is built (before the run writes its own), so all see the same past.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

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
