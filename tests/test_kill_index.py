"""Issue 6: ``healthdex index`` SIGKILLed at random (seeded) moments while it builds and commits.

After every kill the index (if one was committed yet) opens and answers a search; the same command run again
to the end leaves exactly the expected documents (every record key once, nothing else).  Kills hit the whole
process group (the writer may use helper processes), as a terminal or a service manager would.
``test_index_survives_three_kills`` is in the fast suite; the twenty-kill loop is marked slow.
"""

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
from faultlib import REPO, _paragraph, healthdex_env

from support import run_healthdex


def write_records(path: Path, n: int, seed: int = 1, prefix: str = "") -> list[str]:
    rng = random.Random(seed)
    keys = []
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            key = f"https://www.example.org/articles/{prefix}{i}"
            keys.append(key)
            fh.write(json.dumps({"url": key, "title": _paragraph(rng, 8), "site": "example.org",
                                 "text": "\n\n".join(_paragraph(rng, 80) for _ in range(5)),
                                 "published": f"{2000 + i % 24}-01-01"}) + "\n")
    return keys


def index_keys(index_dir: Path) -> list[str]:
    from indexer.schema import KEY
    from indexer.store import open_index

    ix = open_index(index_dir)
    try:
        with ix.searcher() as searcher:
            return [fields[KEY] for fields in searcher.all_stored_fields()]
    finally:
        ix.close()


def _searchable(index_dir: Path) -> None:
    from indexer.store import index_exists

    result = run_healthdex("search", "influenza vaccine", "--index", str(index_dir), "--limit", "3", timeout=120)
    if index_exists(index_dir):
        assert result.returncode in (0, 1), result.stderr[-2000:]
    else:
        assert result.returncode == 2 and "no index" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def _wait_for_writer(index_dir: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Return once ``proc`` holds the index's writer (or has exited)."""
    from indexer.store import lock_holder

    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        holder = lock_holder(index_dir) or {}
        if holder.get("pid") == proc.pid:
            return
        time.sleep(0.02)


def kill_loop(tmp_path: Path, n_kills: int, seed: int, n_records: int, files: int = 3,
              max_delay: float = 0.8) -> tuple[list[str], Path, int]:
    paths = []
    keys: list[str] = []
    for f in range(files):  # several files: several commits per run
        path = tmp_path / f"records-{f}.jsonl"
        keys += write_records(path, n_records // files, seed=f, prefix=f"f{f}-")
        paths.append(str(path))
    index_dir = tmp_path / "index"
    args = [sys.executable, "-m", "healthdex", "index", *paths, "--index", str(index_dir)]
    rng = random.Random(seed)
    kills = 0
    for _ in range(n_kills):
        proc = subprocess.Popen(args, cwd=REPO, env=healthdex_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            # Kill a moment after this run's writer is under way (its pid in the sidecar), not at a fixed time
            # after exec: start-up time varies with the machine's load far more than the writing does.
            _wait_for_writer(index_dir, proc)
            proc.wait(timeout=rng.uniform(0.0, max_delay))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
        finally:
            err = proc.stderr.read().decode()
            proc.stderr.close()
        assert "Traceback" not in err, err[-3000:]
        _searchable(index_dir)
    final = subprocess.run(args, cwd=REPO, env=healthdex_env(), capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr[-3000:]
    assert "Traceback" not in final.stderr, final.stderr
    return keys, index_dir, kills


def _assert_exact(keys: list[str], index_dir: Path) -> None:
    found = index_keys(index_dir)
    assert len(found) == len(set(found)), "duplicated documents"
    assert sorted(found) == sorted(keys)
    _searchable(index_dir)


def test_index_survives_three_kills(tmp_path):
    keys, index_dir, kills = kill_loop(tmp_path, n_kills=3, seed=3, n_records=1500)
    assert kills >= 2
    _assert_exact(keys, index_dir)


@pytest.mark.slow
def test_index_survives_twenty_kills(tmp_path):
    keys, index_dir, kills = kill_loop(tmp_path, n_kills=20, seed=20, n_records=6000)
    assert kills >= 15
    _assert_exact(keys, index_dir)
