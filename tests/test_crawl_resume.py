"""Issue 5: a crawl killed with SIGKILL at any moment resumes with the same command: every page exactly once in
articles.jsonl and in the WARC, both readable to the end, the resumes counted in the report."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter

from crawl_support import crawl_command, env_for, make_profile, make_site, read_jsonl, run_crawl, warc_responses

from support import REPO

PAGES = 40


def _kill_when(args, env, out, lines: int, timeout: float = 120) -> None:
    """Start the crawl and SIGKILL it once articles.jsonl has at least ``lines`` lines (or it has finished)."""
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    path = out / "articles.jsonl"
    try:
        while proc.poll() is None and time.time() < deadline:
            if path.exists() and path.read_bytes().count(b"\n") >= lines:
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"the crawl ended on its own ({proc.returncode}) before the kill"


def test_sigkilled_crawl_resumes_every_page_exactly_once(tmp_path):
    site = tmp_path / "site"
    # Only 10 pages in the sitemap: the rest are reachable through links only, so a resumed run must
    # re-discover them from pages it does not fetch again.
    urls = make_site(site, PAGES, sitemap_pages=10)
    profile = make_profile(tmp_path, "resumesite", delay=0.1, concurrency=2)
    out = tmp_path / "out"
    args = crawl_command(profile, out, "--workers", "1", replay=site)
    env = env_for(tmp_path)

    kills = 0
    for lines in (3, 12, 22, 30):
        _kill_when(args, env, out, lines)
        kills += 1
        # whatever the moment, what is on disk so far must parse (after the next start repairs a torn tail)
    done = run_crawl(profile, out, "--workers", "1", replay=site)
    assert done.returncode == 0, done.stderr[-3000:]

    articles = read_jsonl(out / "articles.jsonl")
    emitted = Counter(a["final_url"] for a in articles)
    assert sorted(emitted) == sorted(urls), f"missing: {set(urls) - set(emitted)}"
    assert max(emitted.values()) == 1, [u for u, n in emitted.items() if n > 1]
    assert all("error" not in a and a["text"].strip() for a in articles)

    responses = warc_responses(out / "pages.warc.gz")
    fetched = Counter(r["url"] for r in responses if r["status"] == 200 and "/a/" in r["url"])
    assert sorted(fetched) == sorted(urls)
    assert max(fetched.values()) == 1, "a page was fetched twice into the WARC"
    # every article record points at a response record of the WARC
    assert {a["warc_record_id"] for a in articles} <= {r["id"] for r in responses}

    report = json.loads((out / "crawl-report.json").read_text())
    assert report["finish_reason"] == "finished"
    assert report["resumes"] == kills
    assert report["resumed_from_warc"] > 0
    state = json.loads((out / "crawl-state.json").read_text())
    assert state["state"] == "finished" and state["run"] == 1

    # The same command once more is a re-crawl of a finished crawl: nothing re-emitted (all 304).
    again = run_crawl(profile, out, "--workers", "1", replay=site)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(read_jsonl(out / "articles.jsonl")) == PAGES


def test_sigkilled_recrawl_resumes_and_revisits_every_page_once(tmp_path):
    """A re-crawl (all 304) killed midway: the resumed run follows the links of pages answered 304 before the
    kill (their stored bodies), revisits every page exactly once and re-emits nothing."""
    site = tmp_path / "site"
    urls = make_site(site, PAGES, sitemap_pages=10)
    profile = make_profile(tmp_path, "recrawlkill", delay=0.1, concurrency=2)
    out = tmp_path / "out"
    first = run_crawl(profile, out, "--workers", "1", replay=site)
    assert first.returncode == 0, first.stderr[-3000:]
    first_run = {r["id"] for r in warc_responses(out / "pages.warc.gz")}

    args = crawl_command(profile, out, "--workers", "1", replay=site)
    proc = subprocess.Popen(args, cwd=REPO, env=env_for(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    warc = out / "pages.warc.gz"
    size = warc.stat().st_size
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline and warc.stat().st_size < size + 15_000:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the re-crawl ended before the kill"

    done = run_crawl(profile, out, "--workers", "1", replay=site)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(read_jsonl(out / "articles.jsonl")) == PAGES  # nothing re-emitted
    second_run = [r for r in warc_responses(out / "pages.warc.gz") if r["id"] not in first_run]
    revisits = Counter(r["url"] for r in second_run if "/a/" in r["url"])
    assert sorted(revisits) == sorted(urls), f"not revisited: {set(urls) - set(revisits)}"
    assert max(revisits.values()) == 1
    assert {r["status"] for r in second_run if "/a/" in r["url"]} == {304}
    report = json.loads((out / "crawl-report.json").read_text())
    assert report["resumes"] == 1 and report["run"] == 2
