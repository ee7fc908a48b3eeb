"""Issue 6: a replayed crawl SIGKILLed at random (seeded) moments and restarted with the same command each time.

At the end every page is in articles.jsonl exactly once, the WARC and the JSONL parse completely, and the crawl
report counts one resume per kill that interrupted a run.  ``test_crawl_survives_three_kills`` runs in the fast suite;
``test_crawl_survives_twenty_kills`` is marked slow.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from faultlib import _RSS_WRAPPER, REPO, build_site, check_outputs, crawl_args, healthdex_env, write_profile

PAGE_DELAY_S = 0.5


@dataclass
class KillLoop:
    kills: int = 0                 # SIGKILLs delivered to a live crawl
    interrupted_runs: int = 0      # ... of which hit a run under way (crawl-state.json "running"): a resume is owed
    finished_early: int = 0        # runs that ended before their kill moment (or were killed on their way out)
    interrupted_since_finish: int = 0  # interrupted runs after the last finished one: what the report counts
    moments: list[float] = field(default_factory=list)


def _run_started(state: Path, since: float) -> bool:
    """True once this run has written crawl-state.json (spider opened): the crawl is under way."""
    try:
        return state.stat().st_mtime >= since and json.loads(state.read_text())["state"] == "running"
    except (OSError, ValueError, KeyError):
        return False


def _run_finished(state: Path, since: float) -> bool:
    """True when this run has marked the crawl finished (it was killed on its way out)."""
    try:
        return state.stat().st_mtime >= since and json.loads(state.read_text())["state"] == "finished"
    except (OSError, ValueError, KeyError):
        return False


def kill_loop(root: Path, n_kills: int, seed: int, n_pages: int = 30) -> tuple:
    """Crawl ``n_pages`` articles (each answered after PAGE_DELAY_S) with ``n_kills`` SIGKILLs, then to the end.

    Each run is killed a random (seeded) 0-2 s after it got under way — after its start-up, which takes from one
    to several seconds depending on the machine's load — so every kill lands inside the crawl itself."""
    from replay.faults import FaultRule
    from replay.server import ReplayServer

    site = build_site(root, n_good=n_pages)
    profiles = root / "profiles"
    write_profile(profiles)
    out = root / "out"
    state = out / "crawl-state.json"
    rng = random.Random(seed)
    loop = KillLoop()
    with ReplayServer(site.folder) as server:
        server.faults["re:/articles/"] = FaultRule(delay=PAGE_DELAY_S)
        args = [sys.executable, "-c", _RSS_WRAPPER, str(root / "rss.json"), *crawl_args(out, server.proxy_url)]
        env = healthdex_env(profiles)
        for _ in range(n_kills):
            moment = rng.uniform(0.0, 2.0)
            loop.moments.append(round(moment, 2))
            started = time.time() - 0.01
            proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                deadline = time.monotonic() + 120
                while proc.poll() is None and not _run_started(state, started) and time.monotonic() < deadline:
                    time.sleep(0.02)
                proc.wait(timeout=moment)
                loop.finished_early += 1
                loop.interrupted_since_finish = 0
                assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                loop.kills += 1
                if _run_started(state, started):
                    loop.interrupted_runs += 1
                    loop.interrupted_since_finish += 1
                elif _run_finished(state, started):
                    # the crawl had completed and was shutting down (closing the extraction pool): the next
                    # run is a re-crawl, as after a run that exited
                    loop.finished_early += 1
                    loop.interrupted_since_finish = 0
            finally:
                proc.stderr.close()
        final = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    return site, out, loop, final


def _assert_complete(site, out: Path, loop: KillLoop, final) -> None:
    assert final.returncode == 0, final.stderr[-3000:]
    assert "Traceback" not in final.stderr, final.stderr[-3000:]
    outcome = check_outputs(out, site.good)
    assert outcome.survived, f"{outcome.explain()} kills={loop}"
    report = json.loads((out / "crawl-report.json").read_text())
    assert report["finish_reason"] == "finished"
    # A run that finished (exited, or was killed on its way out) is followed by a re-crawl, which starts the
    # count again: the report counts the interrupted runs since the last finished one.
    assert report["resumes"] == loop.interrupted_since_finish, (report["resumes"], loop)


def test_crawl_survives_three_kills(tmp_path):
    site, out, loop, final = kill_loop(tmp_path, n_kills=3, seed=3)
    assert loop.interrupted_runs >= 2, loop
    _assert_complete(site, out, loop, final)


@pytest.mark.slow
def test_crawl_survives_twenty_kills(tmp_path):
    site, out, loop, final = kill_loop(tmp_path, n_kills=20, seed=20, n_pages=120)
    assert loop.interrupted_runs >= 15, loop
    _assert_complete(site, out, loop, final)
