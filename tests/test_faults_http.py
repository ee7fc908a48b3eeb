"""Issue 6: hostile servers, each through a real ``healthdex crawl`` against replay on 127.0.0.1.

Every scenario (tests/faultlib.py: SCENARIOS) crawls a small site — an index, four good articles and one
victim the fault is about — and asserts: the crawl exits 0 without a traceback; every good article comes out
exactly once; the victim either comes out (a fault the crawl should ride out: a retried 503, a bad charset) or
is listed in the crawl report's ``failed_pages`` with the expected reason; nothing off the profile's host was
requested; the crawl process stayed under MAX_RSS_MB and the scenario's wall-time cap.
"""

from __future__ import annotations

import pytest
from faultlib import SCENARIOS, run_scenario


@pytest.mark.parametrize("scenario", [pytest.param(s, marks=pytest.mark.slow) if s.slow else s for s in SCENARIOS],
                         ids=[s.name for s in SCENARIOS])
def test_hostile_server(scenario, tmp_path):
    result = run_scenario(scenario, tmp_path)
    run = result.run
    detail = (f"{result.outcome.explain()}\nwall {run.wall_s:.1f}s, peak RSS {run.peak_rss_mb:.0f} MB\n"
              f"failed_pages: {run.report.get('failed_pages')}\nstderr tail:\n{run.stderr[-1500:]}")
    assert result.outcome.survived, detail
