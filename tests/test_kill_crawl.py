"""Issue 6 / 18: a replayed crawl SIGKILLed at known steps and restarted with the same command each time.

Each run is killed by a fault point (:mod:`healthdex.faultpoints`) at the N-th arrival at a step of the crawl: half
a WARC record on disk, a whole record but its article line not yet written, half an ``articles.jsonl`` line, a line
written.  No kill depends on timing, so every run is a kill mid-crawl.  At the end every page is in articles.jsonl
exactly once, the WARC and the JSONL parse completely, and the crawl report counts one resume per kill.
``test_crawl_survives_kills_at_every_point`` runs in the fast suite; ``test_crawl_survives_twenty_kills`` is slow.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from faultlib import _RSS_WRAPPER, REPO, build_site, check_outputs, crawl_args, healthdex_env, write_profile

# The crawl's fault points, in the order a page passes them.
POINTS = (
    "crawl.warc.mid_record",  # half of the page's WARC record on disk (a torn tail)
    "crawl.warc.after_record",  # the record written, nothing else
    "crawl.article.before_line",  # extracted, its articles.jsonl line not yet written
    "crawl.jsonl.mid_line",  # half of a JSON Lines line on disk
    "crawl.article.after_line",  # the line written
)


@dataclass
class KillLoop:
    kills: int = 0  # runs that died by SIGKILL at their fault point
    points: list[str] = field(default_factory=list)  # HEALTHDEX_FAULT_POINT of each run


def kill_plan(n_kills: int, seed: int) -> list[str]:
    """Every point in turn, each at a (seeded) 1st to 3rd arrival."""
    rng = random.Random(seed)
    return [f"{POINTS[i % len(POINTS)]}#{rng.randint(1, 3)}" for i in range(n_kills)]


def kill_loop(root: Path, n_kills: int, seed: int, n_pages: int = 30) -> tuple:
    """Crawl ``n_pages`` articles with ``n_kills`` runs killed at fault points, then a run to the end."""
    from faultpoints_env import fault_env

    from replay.server import ReplayServer

    site = build_site(root, n_good=n_pages)
    profiles = root / "profiles"
    write_profile(profiles)
    out = root / "out"
    loop = KillLoop()
    with ReplayServer(site.folder) as server:
        args = [sys.executable, "-c", _RSS_WRAPPER, str(root / "rss.json"), *crawl_args(out, server.proxy_url)]
        for point in kill_plan(n_kills, seed):
            loop.points.append(point)
            env = healthdex_env(profiles, fault_env(point))
            proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
            assert proc.returncode == -signal.SIGKILL, (
                f"{point} was not reached: exit {proc.returncode} {proc.stderr[-2000:]}"
            )
            loop.kills += 1
        final = subprocess.run(
            args, cwd=REPO, env=healthdex_env(profiles, fault_env(None)), capture_output=True, text=True, timeout=180
        )
    return site, out, loop, final


def _assert_complete(site, out: Path, loop: KillLoop, final) -> None:
    assert final.returncode == 0, final.stderr[-3000:]
    assert "Traceback" not in final.stderr, final.stderr[-3000:]
    outcome = check_outputs(out, site.good)
    assert outcome.survived, f"{outcome.explain()} kills={loop}"
    report = json.loads((out / "crawl-report.json").read_text())
    assert report["finish_reason"] == "finished"
    assert report["resumes"] == loop.kills, (report["resumes"], loop)


def test_the_points_are_the_crawls():
    import crawler.pipelines.jsonl_writer  # noqa: F401 - registers its points
    import crawler.warc_store  # noqa: F401
    from healthdex import faultpoints

    assert set(POINTS) <= set(faultpoints.POINTS), set(POINTS) - set(faultpoints.POINTS)


def test_crawl_survives_kills_at_every_point(tmp_path):
    site, out, loop, final = kill_loop(tmp_path, n_kills=len(POINTS), seed=3)
    _assert_complete(site, out, loop, final)


@pytest.mark.slow
def test_crawl_survives_twenty_kills(tmp_path):
    site, out, loop, final = kill_loop(tmp_path, n_kills=20, seed=20, n_pages=120)
    _assert_complete(site, out, loop, final)
