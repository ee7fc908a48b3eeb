"""Issue 5, Distributed: ``healthdex crawl --redis`` workers sharing one frontier, politeness and output.

Every test starts its own redis-server on 127.0.0.1 (tests/redis_server.py) and, where pages are fetched, a
replay server in this process (its request log gives the send times per host).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from redis_server import redis_server

from support import REPO, SAMPLE_PAGES

HOST = "www.dist.example"
DELAY = 0.3  # the site profile's download_delay (and --delay)
TOLERANCE = 0.05  # seconds: connection set-up jitter between the reserved time and the request line arriving
N_ARTICLES = 24

PROFILE = f"""
# A generated site for the distributed-crawl tests (tests/test_distributed.py).
site = "dist.example"
description = "generated test site"
allowed_domains = ["dist.example"]
start_urls = ["http://{HOST}/"]
sitemaps = ["http://{HOST}/sitemap.xml"]
article_urls = ['^https?://www\\.dist\\.example/articles/[a-z0-9-]+\\.html$']

[politeness]
download_delay = {DELAY}
concurrent_requests_per_domain = 1
"""


def _vocabulary() -> list[str]:
    """Words of the bundled sample pages' visible text (the generated articles are made of them)."""
    words: set[str] = set()
    for page in sorted(SAMPLE_PAGES.rglob("*.html")):
        text = re.sub(
            r"<(script|style)\b.*?</\1>|<[^>]+>",
            " ",
            page.read_text(encoding="utf-8", errors="replace"),
            flags=re.S | re.I,
        )
        words.update(w.lower() for w in re.findall(r"[A-Za-z]{4,12}", text))
    return sorted(words)


def make_site(folder: Path, n: int = N_ARTICLES, seed: int = 5) -> list[str]:
    """A replayable site of ``n`` distinct articles and a home page linking to a few of them (the rest are
    reached through the synthesized sitemap and article-to-article links); returns the article URLs."""
    rng = random.Random(seed)
    vocab = _vocabulary()
    folder.mkdir(parents=True, exist_ok=True)
    urls = [f"http://{HOST}/articles/topic-{i:03d}.html" for i in range(n)]
    rows = ["file\toriginal_url"]
    for i, url in enumerate(urls):
        title = " ".join(rng.choice(vocab) for _ in range(5)).capitalize()
        paragraphs = "\n".join(
            f"<p>{' '.join(rng.choice(vocab) for _ in range(70)).capitalize()}.</p>" for _ in range(6)
        )
        links = "".join(f'<li><a href="{urls[j]}">more</a></li>' for j in {(i + 1) % n, (i * 7 + 3) % n})
        html = (
            f"<!DOCTYPE html><html><head><title>{title}</title></head><body><header><nav><a href='/'>Home</a>"
            f"</nav></header><article><h1>{title}</h1>\n{paragraphs}\n</article><aside><ul>{links}</ul></aside>"
            f"</body></html>\n"
        )
        name = f"topic-{i:03d}.html"
        (folder / name).write_text(html, encoding="utf-8")
        rows.append(f"{name}\t{url}")
    home = "".join(f'<li><a href="{u}">article</a></li>' for u in urls[:3])
    (folder / "index.html").write_text(
        f"<!DOCTYPE html><html><head><title>Home</title></head><body><ul>{home}</ul></body></html>\n", encoding="utf-8"
    )
    rows.append(f"index.html\thttp://{HOST}/")
    (folder / "MANIFEST.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return urls


@pytest.fixture
def redis_url(tmp_path) -> str:
    with redis_server(tmp_path / "redis") as url:
        yield url


@pytest.fixture
def site(tmp_path) -> tuple[Path, Path, list[str]]:
    """(replay folder, profiles folder, article URLs)."""
    pages = tmp_path / "site"
    urls = make_site(pages)
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "distsite.toml").write_text(PROFILE, encoding="utf-8")
    return pages, profiles, urls


# -s settings of every test worker: short timeouts, so a test's crawl ends soon after its last page.
WORKER_SETTINGS = {
    "HEALTHDEX_REDIS_IDLE_TIMEOUT": 2,
    "HEALTHDEX_REDIS_WORKER_TIMEOUT": 2.5,
    "HEALTHDEX_REDIS_HEARTBEAT_INTERVAL": 0.5,
    "HEALTHDEX_PROGRESS": "false",
}


def start_worker(
    worker: str,
    out: Path,
    proxy: str,
    redis_url: str,
    profiles: Path,
    log: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    delay: float = DELAY,
) -> subprocess.Popen:
    env = {**os.environ, "HEALTHDEX_PROFILES_PATH": str(profiles), "PYTHONUNBUFFERED": "1", **(env or {})}
    args = [sys.executable, "-m", "healthdex", "crawl", "distsite", "--out", str(out), "--proxy", proxy]
    args += ["--redis", redis_url, "--worker-id", worker, "--workers", "0", "--delay", str(delay), "-v"]
    args += [arg for name, value in WORKER_SETTINGS.items() for arg in ("-s", f"{name}={value}")]
    return subprocess.Popen([*args, *extra], cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.endswith(b"}")]


def host_gaps(entries) -> dict[str, list[float]]:
    times: dict[str, list[float]] = defaultdict(list)
    for entry in entries:
        times[urlsplit(entry.url).hostname].append(entry.time)
    return {host: [b - a for a, b in zip(sorted(ts), sorted(ts)[1:], strict=False)] for host, ts in times.items()}


def wait_for(predicate, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def test_two_workers_one_killed_every_article_once_and_host_spacing_held(tmp_path, redis_url, site):
    from replay.server import ReplayServer

    pages, profiles, article_urls = site
    out = tmp_path / "out"
    client = redis.Redis.from_url(redis_url)
    crawl = "healthdex:distsite"
    with ReplayServer(pages) as server:
        a = start_worker("a", out, server.proxy_url, redis_url, profiles, tmp_path / "a.log")
        b = start_worker("b", out, server.proxy_url, redis_url, profiles, tmp_path / "b.log")
        try:
            # Kill worker a once the crawl is well under way and a has requests in flight.
            def a_is_busy() -> bool:
                fetched = sum(1 for e in server.request_log.snapshot() if "/articles/" in e.url)
                return fetched >= 8 and client.hlen(f"{crawl}:inflight:a") > 0

            assert wait_for(a_is_busy, timeout=30), (tmp_path / "a.log").read_text(errors="replace")[-3000:]
            inflight_at_kill = client.hlen(f"{crawl}:inflight:a")
            a.send_signal(signal.SIGKILL)
            a.wait(timeout=10)
            assert b.wait(timeout=45) == 0, (tmp_path / "b.log").read_text(errors="replace")[-3000:]
            log = server.request_log.snapshot()
            # A worker joining a finished crawl seeds nothing, fetches nothing of the site's pages, and stops
            # after the idle timeout.
            started = time.monotonic()
            c = start_worker("c", out, server.proxy_url, redis_url, profiles, tmp_path / "c.log")
            assert c.wait(timeout=30) == 0, (tmp_path / "c.log").read_text(errors="replace")[-3000:]
            late_worker_s = time.monotonic() - started
            late_requests = [e.url for e in server.request_log.snapshot()[len(log) :]]
        finally:
            for process in (a, b, *([c] if "c" in locals() else [])):
                if process.poll() is None:
                    process.kill()
                    process.wait()

    # The union of the workers' outputs holds every article exactly once.
    records = read_jsonl(out / "worker-a" / "articles.jsonl") + read_jsonl(out / "worker-b" / "articles.jsonl")
    counts = Counter(r["final_url"] for r in records)
    assert sorted(counts) == sorted(article_urls)
    assert [u for u, c in counts.items() if c > 1] == []
    assert all("error" not in r and r["text"].strip() for r in records)
    assert read_jsonl(out / "worker-b" / "articles.jsonl"), "the surviving worker wrote nothing"

    # a's unfinished requests went back to the frontier and b did them.
    assert inflight_at_kill > 0
    assert int(client.hget(f"{crawl}:counters", "reclaimed") or 0) >= 1
    assert client.hlen(f"{crawl}:inflight:a") == 0
    assert client.zcard(f"{crawl}:requests") == 0
    report_b = json.loads((out / "worker-b" / "crawl-report.json").read_text())
    assert report_b["finish_reason"] == "finished"

    # The late worker only looked (its own robots.txt fetch) and went away.
    assert set(late_requests) <= {f"http://{HOST}/robots.txt"}, late_requests
    assert read_jsonl(out / "worker-c" / "articles.jsonl") == []
    assert late_worker_s < 20
    assert int(client.scard(f"{crawl}:workers")) == 0  # everyone deregistered (a was rescued, b and c left)

    # Seeded once: the seed flag is done and only one seeding happened.
    assert client.get(f"{crawl}:seeded") == b"done"
    assert int(client.hget(f"{crawl}:counters", "seedings") or 0) == 1

    # No host saw two requests closer together than its delay, across both workers.
    gaps = host_gaps(log)
    assert set(gaps) == {HOST}
    assert len(log) >= N_ARTICLES + 2
    too_close = [round(g, 3) for g in gaps[HOST] if g < DELAY - TOLERANCE]
    assert too_close == [], f"gaps under {DELAY} s: {too_close} (all: {sorted(gaps[HOST])[:10]})"


def stopped(process: subprocess.Popen) -> bool:
    """True once ``process`` is stopped (SIGSTOP by the fault point's ``stop`` action)."""
    return Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


def union_of_articles(out: Path) -> Counter:
    """How many times each article URL is written in the union of the workers' articles.jsonl."""
    return Counter(
        r["final_url"] for folder in sorted(out.glob("worker-*")) for r in read_jsonl(folder / "articles.jsonl")
    )


def run_stalled_pair(tmp_path: Path, redis_url: str, site, action: str):
    """Workers a and b; a holds still at its second article line (``action``: ``pause`` holds only its reactor
    thread, ``stop`` the whole process) until b has crawled everything else and the heartbeat timeout has passed
    at least twice over (or b has rescued a's requests); then a goes on.  Returns (replay log, Redis client)."""
    from replay.server import ReplayServer

    pages, profiles, _ = site
    out = tmp_path / "out"
    client = redis.Redis.from_url(redis_url)
    crawl = "healthdex:distsite"
    resume = tmp_path / "resume"
    fault = {
        "HEALTHDEX_FAULT_POINT": "crawl.article.before_line#2",
        "HEALTHDEX_FAULT_ACTION": action,
        "HEALTHDEX_FAULT_RESUME": str(resume),
    }
    with ReplayServer(pages) as server:
        a = start_worker("a", out, server.proxy_url, redis_url, profiles, tmp_path / "a.log", env=fault)
        b = start_worker("b", out, server.proxy_url, redis_url, profiles, tmp_path / "b.log")
        try:
            held = (lambda: Path(f"{resume}.paused").exists()) if action == "pause" else (lambda: stopped(a))
            assert wait_for(held, timeout=60), (tmp_path / "a.log").read_text(errors="replace")[-3000:]
            since = time.monotonic()

            def b_did_the_rest() -> bool:
                if client.zcard(f"{crawl}:requests") or client.hlen(f"{crawl}:inflight:b"):
                    return False
                return time.monotonic() - since > 2 * 2.5 or int(client.hget(f"{crawl}:counters", "reclaimed") or 0)

            assert wait_for(b_did_the_rest, timeout=90)
            if action == "pause":
                assert client.exists(f"{crawl}:heartbeat:a"), "the stalled worker's heartbeat expired"
                resume.touch()
            else:
                assert b.wait(timeout=60) == 0, (tmp_path / "b.log").read_text(errors="replace")[-3000:]
                a.send_signal(signal.SIGCONT)
            for name, process in (("a", a), ("b", b)):
                assert process.wait(timeout=60) == 0, (tmp_path / f"{name}.log").read_text(errors="replace")[-3000:]
            return server.request_log.snapshot(), client
        finally:
            for process in (a, b):
                if process.poll() is None:
                    process.send_signal(signal.SIGCONT)
                    process.kill()
                    process.wait()


def test_a_worker_stalled_past_the_heartbeat_timeout_keeps_its_requests_and_writes_each_article_once(
    tmp_path, redis_url, site
):
    log, client = run_stalled_pair(tmp_path, redis_url, site, "pause")
    counts = union_of_articles(tmp_path / "out")
    assert sorted(counts) == sorted(site[2])  # nothing lost
    assert [u for u, c in counts.items() if c > 1] == []  # nothing twice
    # Slow is not dead: its heartbeat went on, nothing was taken from it, no article page was fetched twice.
    assert int(client.hget("healthdex:distsite:counters", "reclaimed") or 0) == 0
    fetched = Counter(e.url for e in log if "/articles/" in e.url)
    assert [u for u, c in fetched.items() if c > 1] == []


def test_a_frozen_worker_that_lost_its_claims_writes_nothing_another_worker_wrote(tmp_path, redis_url, site):
    _, client = run_stalled_pair(tmp_path, redis_url, site, "stop")
    assert int(client.hget("healthdex:distsite:counters", "reclaimed") or 0) >= 1  # b redid a's requests
    counts = union_of_articles(tmp_path / "out")
    assert sorted(counts) == sorted(site[2])
    assert [u for u, c in counts.items() if c > 1] == []


def test_page_limits_count_all_workers_and_what_they_hold_back_is_crawled_by_the_next_run(tmp_path, redis_url, site):
    from replay.server import ReplayServer

    pages, profiles, article_urls = site
    out = tmp_path / "out"
    client = redis.Redis.from_url(redis_url)
    crawl = "healthdex:distsite"
    limit = 14  # about half the site: two workers that each counted their own pages would send them all
    with ReplayServer(pages) as server:
        for run, extra in enumerate((["--max-pages", str(limit)], [])):
            # One request at a time each, so both workers take turns at the frontier.
            extra = [*extra, "-s", "CONCURRENT_REQUESTS=1"]
            workers = [
                start_worker(w, out, server.proxy_url, redis_url, profiles, tmp_path / f"{w}.log", *extra)
                for w in ("a", "b")
            ]
            for name, process in zip("ab", workers, strict=True):
                assert process.wait(timeout=90) == 0, (tmp_path / f"{name}.log").read_text(errors="replace")[-3000:]
            if run == 0:
                sent = [e.url for e in server.request_log.snapshot() if not e.url.endswith("/robots.txt")]
                assert len(sent) <= limit, sent  # the limit is the crawl's, not each worker's
                assert int(client.hget(f"{crawl}:pages", "total")) == limit
                # What the limit held back is kept for the next run, not dropped.
                assert client.zcard(f"{crawl}:requests") + client.zcard(f"{crawl}:parked") > 0
                assert len(union_of_articles(out)) < len(article_urls)
    counts = union_of_articles(out)
    assert sorted(counts) == sorted(article_urls)  # the second run crawled the rest: nothing was lost
    assert [u for u, c in counts.items() if c > 1] == []
