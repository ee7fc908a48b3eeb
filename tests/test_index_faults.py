"""Concurrent readers, a second writer, and SIGKILL during a write -- with real processes on a real index."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexer import schema as S
from indexer.build import index_records
from indexer.store import WRITER_FILE, open_index

ROOT = Path(__file__).resolve().parents[1]
WORDS = (
    "pain back sciatica nerve blood pressure heart attack stroke diabetes insulin asthma migraine fever cough "
    "therapy doctor patient treatment symptom risk chronic acute vitamin sleep anxiety depression kidney liver "
    "cancer tumor vaccine virus bacteria infection allergy rash joint muscle bone fracture spine disc"
).split()


def make_records(n: int, prefix: str, words_per_doc: int = 250, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    return [
        {
            "id": f"{prefix}{i:05d}",
            "title": " ".join(rng.choices(WORDS, k=6)),
            "text": " ".join(rng.choices(WORDS, k=words_per_doc)) + f" uniq{prefix}{i}",
        }
        for i in range(n)
    ]


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def index_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "healthdex", "index", *args]


def keys(index_dir) -> set[str]:
    ix = open_index(index_dir)
    with ix.searcher() as s:
        return {d[S.KEY] for d in s.documents()}


def search_works(index_dir) -> int:
    from whoosh.qparser import QueryParser

    ix = open_index(index_dir)
    with ix.searcher() as s:
        q = QueryParser(S.TEXT, ix.schema).parse("back pain")
        results = s.search(q, limit=5)
        for hit in results:
            assert hit[S.KEY]
        return s.doc_count()


# Records in the long write that the tests kill or search during: enough that the (bulk) writer is still at work
# 2 s after it took the lock on a quiet machine (2,500 were not).
BIG = 8000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    base = write_jsonl(d / "base.jsonl", make_records(40, "base-"))
    big_records = make_records(BIG, "big-", seed=2)
    big = write_jsonl(d / "big.jsonl", big_records)
    return base, big, {r["id"] for r in make_records(40, "base-")} | {r["id"] for r in big_records}


def wait_for_writer(index_dir: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until the writer holds the lock (its sidecar names it) and has been adding documents a little while."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        sidecar = index_dir / WRITER_FILE
        if sidecar.exists():
            try:
                if json.loads(sidecar.read_text()).get("pid") == proc.pid:
                    return
            except ValueError:
                pass
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("writer never started")


def test_concurrent_search_during_a_long_write_never_fails(tmp_path, corpus):
    base, big, _ = corpus
    idx = tmp_path / "idx"
    subprocess.run(index_cmd(str(base), "--index", str(idx)), check=True, cwd=ROOT, capture_output=True)
    proc = subprocess.Popen(
        index_cmd(str(big), "--index", str(idx)), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen = set()
    searches = 0
    while proc.poll() is None:
        seen.add(search_works(idx))  # must never raise, before, during and after the commit
        searches += 1
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    seen.add(search_works(idx))
    assert searches > 3
    assert seen <= {40, 40 + BIG}, seen  # only committed states: the old one, then the new one
    assert 40 + BIG in seen


def test_second_writer_gets_a_clear_error_while_first_runs(tmp_path, corpus):
    base, big, _ = corpus
    idx = tmp_path / "idx"
    subprocess.run(index_cmd(str(base), "--index", str(idx)), check=True, cwd=ROOT, capture_output=True)
    proc = subprocess.Popen(
        index_cmd(str(big), "--index", str(idx)), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_writer(idx, proc)
        second = subprocess.run(index_cmd(str(base), "--index", str(idx)), cwd=ROOT, capture_output=True, text=True)
        assert second.returncode == 2
        assert f"being written by another process (pid {proc.pid}" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("procs, delay", [("1", 0.3), ("1", 2.0), ("2", 1.0)])
def test_sigkill_during_write_then_reopen_and_rerun(tmp_path, corpus, procs, delay):
    base, big, expected = corpus
    idx = tmp_path / "idx"
    subprocess.run(index_cmd(str(base), "--index", str(idx)), check=True, cwd=ROOT, capture_output=True)
    before = keys(idx)
    proc = subprocess.Popen(
        index_cmd(str(big), "--index", str(idx), "--procs", procs),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wait_for_writer(idx, proc)
    time.sleep(delay)
    assert proc.poll() is None, "writer finished before it could be killed; make the corpus bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    # the index opens and searches, and holds exactly the last committed state
    assert search_works(idx) == len(before)
    assert keys(idx) == before

    # re-running the same command (lock released even with worker processes) completes the job exactly
    rerun = subprocess.run(
        index_cmd(str(big), "--index", str(idx), "--wait", "10"), cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "was interrupted before committing" in rerun.stderr
    assert keys(idx) == expected
    assert search_works(idx) == len(expected)
    assert not (idx / WRITER_FILE).exists()
    assert not [n for n in os.listdir(idx) if n.endswith(".tmp")]  # the dead run's scratch folders are gone


def test_sigkill_of_an_update_run_keeps_previous_generation(tmp_path):
    idx = tmp_path / "idx"
    v1 = make_records(1500, "doc-", seed=3)
    index_records(v1, idx)
    v2 = [dict(r, text=r["text"] + " revised") for r in v1]
    src = write_jsonl(tmp_path / "v2.jsonl", v2)
    gen = open_index(idx).latest_generation()
    proc = subprocess.Popen(
        index_cmd(str(src), "--index", str(idx)), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    wait_for_writer(idx, proc)
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert open_index(idx).latest_generation() == gen
    with open_index(idx).searcher() as s:
        assert s.doc_count() == 1500
        assert "revised" not in s.document(key="doc-00000")["text"]
    rerun = subprocess.run(index_cmd(str(src), "--index", str(idx)), cwd=ROOT, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert "1500 updated" in rerun.stdout
    with open_index(idx).searcher() as s:
        assert s.doc_count() == 1500
        assert s.document(key="doc-00000")["text"].endswith("revised")
