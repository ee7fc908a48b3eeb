"""Issue 5: a second run over the same profile into the same output sends conditional requests and re-emits only
the changed article; a page now 404 is written as a ``gone`` record the indexer deletes."""

from __future__ import annotations

import json
import re
import subprocess

from crawl_support import crawl_command, env_for, make_profile, make_site, read_jsonl, run_crawl, warc_requests

from support import REPO


def test_recrawl_is_conditional_and_reports_changed_and_gone_pages(tmp_path):
    site = tmp_path / "site"
    urls = make_site(site, 12)
    profile = make_profile(tmp_path, "recrawlsite")
    out = tmp_path / "out"
    first = run_crawl(profile, out, "--delay", "0", replay=site)
    assert first.returncode == 0, first.stderr[-3000:]
    before = read_jsonl(out / "articles.jsonl")
    assert sorted(a["final_url"] for a in before) == sorted(urls)
    old = {a["final_url"]: a for a in before}
    requests_before = len(warc_requests(out / "pages.warc.gz"))

    # Between the runs the site changes one page and loses another (its manifest row removed -> 404).
    changed, removed = urls[3], urls[5]
    page = site / "a" / "3.html"
    # (generated article paragraphs start with a capital letter)
    page.write_text(
        re.sub(r"(<p\b[^>]*>)([A-Z])", r"\1Revised. \2", page.read_text(encoding="utf-8")), encoding="utf-8"
    )
    manifest = site / "MANIFEST.tsv"
    manifest.write_text(
        "".join(line for line in manifest.read_text().splitlines(keepends=True) if "\t" + removed + "\t" not in line),
        encoding="utf-8",
    )

    second = run_crawl(profile, out, "--delay", "0", replay=site)
    assert second.returncode == 0, second.stderr[-3000:]
    new = read_jsonl(out / "articles.jsonl")[len(before) :]
    assert len(new) == 2, [(r["final_url"], r.get("gone")) for r in new]
    updated = next(r for r in new if not r.get("gone"))
    gone = next(r for r in new if r.get("gone"))
    assert updated["final_url"] == changed and updated["id"] == old[changed]["id"]
    assert updated["content_hash"] != old[changed]["content_hash"]
    assert "Revised." in updated["text"]
    assert gone["id"] == old[removed]["id"] and gone["status"] == 404 and gone["gone"] is True

    # The second run's page requests were conditional (ETag and Last-Modified from the first capture).
    page_requests = [r for r in warc_requests(out / "pages.warc.gz")[requests_before:] if "/a/" in r["url"]]
    unchanged = [r for r in page_requests if r["url"] not in (changed, removed)]
    assert unchanged and all("If-None-Match" in r["headers"] and "If-Modified-Since" in r["headers"] for r in unchanged)
    report = json.loads((out / "crawl-report.json").read_text())
    assert report["run"] == 2 and report["resumes"] == 0
    assert report["unchanged"] == len(urls) - 2  # articles answered 304 (robots.txt and the sitemap were too)
    assert report["not_modified"] >= len(urls) - 2
    assert report["gone"] == 1
    assert report["records_written"] == 2

    # A third run: the gone page is not reported gone twice, nothing else changed.
    third = run_crawl(profile, out, "--delay", "0", replay=site)
    assert third.returncode == 0, third.stderr[-3000:]
    assert len(read_jsonl(out / "articles.jsonl")) == len(before) + 2


def test_a_recrawl_reads_its_warc_once_at_start_up(tmp_path):
    """Repairing the torn tail, the crawl state's run offset and the cache of earlier captures come from one read of
    the WARC (a second whole-file read at start-up exits the process here: fault point ``warc.read#2``)."""
    site = tmp_path / "site"
    make_site(site, 4)
    profile = make_profile(tmp_path, "readonce")
    out = tmp_path / "out"
    assert run_crawl(profile, out, "--delay", "0", replay=site).returncode == 0
    env = {**env_for(profile.parent), "HEALTHDEX_FAULT_POINT": "warc.read#2", "HEALTHDEX_FAULT_ACTION": "exit"}
    second = subprocess.run(
        crawl_command(profile, out, "--delay", "0", replay=site),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    report = json.loads((out / "crawl-report.json").read_text())
    assert report["run"] == 2 and report["unchanged"] == 4 and report["conditional_requests"] >= 4
