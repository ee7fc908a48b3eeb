"""Issue 5, Distributed + duplicates: exact and near duplicates are detected across all workers of a crawl
(crawler.distributed.duplicates), each recorded once in the union of the workers' duplicates.jsonl and never
emitted twice.  Real redis-server, two real ``healthdex crawl --redis`` workers, a replayed site."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from redis_server import redis_server
from test_distributed import HOST, PROFILE, make_site, read_jsonl, start_worker
from warcio.archiveiterator import ArchiveIterator

from support import run_healthdex

ORIGINALS = 16
PAIRS = 8  # exact copies of topic-000..007, near copies of topic-008..015
DELAY = 0.1
SETTINGS = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "HEALTHDEX_REDIS_WORKER_TIMEOUT=30")


def exact_url(i: int) -> str:
    return f"http://{HOST}/articles/copy-{i:03d}.html"


def near_url(i: int) -> str:
    return f"http://{HOST}/articles/near-{i:03d}.html"


def build_site(folder: Path) -> list[str]:
    """``make_site``'s articles plus, for each of the first PAIRS, a byte-identical copy under another URL, and for
    each of the next PAIRS a copy with the last word of its text changed: one 5-word shingle of ~416 differs
    (Jaccard ~0.995), so MinHashLSH's bands (5 of 25 permutations at threshold 0.9) find the pair."""
    urls = make_site(folder, n=ORIGINALS, seed=11)
    rows = []
    for i in range(PAIRS):
        html = (folder / f"topic-{i:03d}.html").read_text(encoding="utf-8")
        (folder / f"copy-{i:03d}.html").write_text(html, encoding="utf-8")
        rows.append(f"copy-{i:03d}.html\t{exact_url(i)}")
    for i in range(PAIRS, 2 * PAIRS):
        html = (folder / f"topic-{i:03d}.html").read_text(encoding="utf-8")
        paragraphs = re.findall(r"<p>(.*?)</p>", html)
        words = paragraphs[-1].split()
        words[-1] = "zebra."
        changed = html.replace(paragraphs[-1], " ".join(words), 1)
        assert changed != html
        (folder / f"near-{i:03d}.html").write_text(changed, encoding="utf-8")
        rows.append(f"near-{i:03d}.html\t{near_url(i)}")
    with (folder / "MANIFEST.tsv").open("a", encoding="utf-8") as manifest:
        manifest.write("\n".join(rows) + "\n")
    return urls


@pytest.fixture
def redis_url(tmp_path) -> str:
    with redis_server(tmp_path / "redis") as url:
        yield url


def fetched_by(warc: Path) -> set[str]:
    if not warc.exists():
        return set()
    with warc.open("rb") as handle:
        return {
            r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(handle) if r.rec_type == "response"
        }


def run_two_workers(tmp_path: Path, redis_url: str, *extra: str) -> Path:
    from replay.server import ReplayServer

    pages = tmp_path / "site"
    build_site(pages)
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "distsite.toml").write_text(
        PROFILE.replace("download_delay = 0.3", f"download_delay = {DELAY}"), encoding="utf-8"
    )
    out = tmp_path / "out"
    with ReplayServer(pages) as server:
        workers = [
            start_worker(
                w, out, server.proxy_url, redis_url, profiles, tmp_path / f"{w}.log", *extra, *SETTINGS, delay=DELAY
            )
            for w in ("a", "b")
        ]
        try:
            for worker, name in zip(workers, ("a", "b"), strict=True):
                assert worker.wait(timeout=120) == 0, (tmp_path / f"{name}.log").read_text(errors="replace")[-3000:]
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
    return out


def test_duplicates_are_detected_across_workers_recorded_once_and_emitted_once(tmp_path, redis_url):
    out = run_two_workers(tmp_path, redis_url)
    workers = ("worker-a", "worker-b")
    articles = [r for w in workers for r in read_jsonl(out / w / "articles.jsonl")]
    duplicates = [d for w in workers for d in read_jsonl(out / w / "duplicates.jsonl")]
    emitted = Counter(r["final_url"] for r in articles)
    originals = [f"http://{HOST}/articles/topic-{i:03d}.html" for i in range(ORIGINALS)]

    # Every article once in the union; of each pair exactly one URL emitted, the other recorded as a duplicate.
    assert [u for u, n in emitted.items() if n > 1] == []
    assert all("error" not in r and r["text"].strip() for r in articles)
    pairs = [(originals[i], exact_url(i), "exact") for i in range(PAIRS)]
    pairs += [(originals[i], near_url(i), "near") for i in range(PAIRS, 2 * PAIRS)]
    for first, second, _ in pairs:
        assert emitted[first] + emitted[second] == 1, (first, second, emitted[first], emitted[second])
    assert len(articles) == ORIGINALS

    recorded = Counter(d["url"] for d in duplicates)
    assert [u for u, n in recorded.items() if n > 1] == []
    assert len(duplicates) == 2 * PAIRS
    ids = {r["final_url"]: r["id"] for r in articles}
    hashes = {r["final_url"]: r["content_hash"] for r in articles}
    by_url = {d["url"]: d for d in duplicates}
    for first, second, kind in pairs:
        dropped, kept = (second, first) if first in ids else (first, second)
        entry = by_url[dropped]
        assert entry["kind"] == kind and entry["duplicate_of"] == ids[kept]
        if kind == "near":  # not the same text, estimated at least as similar as the threshold
            assert entry["content_hash"] != hashes[kept] and entry["similarity"] >= 0.9

    # The detection was crawl-wide: some pairs had their two pages fetched by different workers (each worker's WARC
    # says what it fetched), and each of those was still caught.
    fetched = {w: fetched_by(out / w / "pages.warc.gz") for w in workers}
    split = [
        (a, b)
        for a, b, _ in pairs
        if {w for w in workers if a in fetched[w]} != {w for w in workers if b in fetched[w]}
    ]
    assert split, "every pair was fetched by one worker; the test did not exercise cross-worker detection"

    # The merged crawl report counts them once, over both workers.
    result = run_healthdex("crawl-report", str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["workers_merged"] == 2
    assert report["duplicates_dropped"] == 2 * PAIRS
    assert report["duplicates_by_kind"] == {"exact": PAIRS, "near": PAIRS}
    assert report["records_written"] == ORIGINALS
