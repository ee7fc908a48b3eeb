"""Issue 6 and 18: ``healthdex index`` SIGKILLed at known points (``healthdex.faultpoints``) while it builds,
updates, merges and commits: after a record is handed to the writer, before the commit, after the merge, after
every segment file is written but before the table of contents.

After every kill the index holds exactly what the last completed run committed, opens and answers a search, and
has no segment file that no table of contents lists; runs in between complete and commit; a last run of every file
leaves exactly the expected documents (every record key once, nothing else).  The points and moments are drawn
from a seed, so a failure replays exactly.  ``test_index_survives_three_kills`` is in the fast suite; the
twenty-kill loop is marked slow.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from faultlib import REPO, _paragraph, healthdex_env

from support import run_healthdex

POINTS = ("index.add", "index.commit", "index.merged", "index.toc")


def write_records(path: Path, n: int, seed: int = 1, prefix: str = "", version: int = 0) -> list[str]:
    rng = random.Random(seed)
    keys = []
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            key = f"https://www.example.org/articles/{prefix}{i}"
            keys.append(key)
            text = "\n\n".join(_paragraph(rng, 80) for _ in range(5)) + (f" revision{version}" if version else "")
            fh.write(json.dumps({"url": key, "title": _paragraph(rng, 8), "site": "example.org", "text": text,
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


def orphan_files(index_dir: Path) -> list[str]:
    """Segment files that no table of contents lists."""
    from indexer.store import read_tocs

    listed = set().union(*(s for s in read_tocs(index_dir).values() if s))
    return [n for n in os.listdir(index_dir) if n.startswith("MAIN_") and n.split(".")[0] not in listed
            and "WRITELOCK" not in n]


def _searchable(index_dir: Path) -> None:
    from indexer.store import index_exists

    result = run_healthdex("search", "influenza vaccine", "--index", str(index_dir), "--limit", "3", timeout=120)
    if index_exists(index_dir):
        assert result.returncode in (0, 1), result.stderr[-2000:]
    else:
        assert result.returncode == 2 and "no index" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


@dataclass
class KillLoop:
    keys: list[str]
    index_dir: Path
    kills: int = 0
    completed: int = 0
    points: list[str] = field(default_factory=list)


def kill_loop(tmp_path: Path, n_kills: int, seed: int, n_records: int, files: int = 3,
              check=_searchable) -> KillLoop:
    """``n_kills`` runs of ``healthdex index`` over a seeded choice of the input files, each killed at a seeded
    fault point, with completed runs in between; ``check(index_dir)`` after every kill."""
    rng = random.Random(seed)
    per_file = n_records // files
    paths = [tmp_path / f"records-{f}.jsonl" for f in range(files)]
    file_keys = [write_records(p, per_file, seed=f, prefix=f"f{f}-") for f, p in enumerate(paths)]
    version = [0] * files  # the version of each file's records on disk
    committed: dict[str, int] = {}  # key -> version the index holds
    index_dir = tmp_path / "index"
    loop = KillLoop([k for ks in file_keys for k in ks], index_dir)

    def run(chosen: list[int], point: str | None, optimize: bool) -> subprocess.CompletedProcess:
        args = [sys.executable, "-m", "healthdex", "index", *(str(paths[f]) for f in chosen), "--index",
                str(index_dir)] + (["--optimize"] if optimize else [])
        env = healthdex_env(extra={"HEALTHDEX_FAULT_POINT": point} if point else None)
        proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
        return proc

    while loop.kills < n_kills:
        chosen = list(range(rng.randint(1, files)))
        pending = [k for f in chosen for k in file_keys[f] if committed.get(k) != version[f]]
        if not pending:  # everything chosen is indexed: the next run is an update of one of its files
            f = rng.choice(chosen)
            version[f] += 1
            write_records(paths[f], per_file, seed=f, prefix=f"f{f}-", version=version[f])
            pending = file_keys[f]
        point = rng.choice(POINTS)
        if point == "index.add":
            point += f"#{rng.randint(1, len(pending))}"
        proc = run(chosen, point, optimize=rng.random() < 0.3)
        assert proc.returncode == -signal.SIGKILL, f"{point} not reached: {proc.returncode} {proc.stderr[-2000:]}"
        loop.kills += 1
        loop.points.append(point)
        check(index_dir)
        if committed:
            assert sorted(index_keys(index_dir)) == sorted(committed)  # exactly the last committed generation
        if rng.random() < 0.5:  # a run that completes
            proc = run(chosen, None, optimize=False)
            assert proc.returncode == 0, proc.stderr[-3000:]
            assert "was interrupted before committing" in proc.stderr
            loop.completed += 1
            committed.update((k, version[f]) for f in chosen for k in file_keys[f])
            assert sorted(index_keys(index_dir)) == sorted(committed)
            assert orphan_files(index_dir) == []
    final = run(list(range(files)), None, optimize=False)
    assert final.returncode == 0, final.stderr[-3000:]
    assert orphan_files(index_dir) == []
    return loop


def _assert_exact(keys: list[str], index_dir: Path) -> None:
    found = index_keys(index_dir)
    assert len(found) == len(set(found)), "duplicated documents"
    assert sorted(found) == sorted(keys)
    _searchable(index_dir)


def test_index_survives_three_kills(tmp_path):
    loop = kill_loop(tmp_path, n_kills=3, seed=3, n_records=1500)
    _assert_exact(loop.keys, loop.index_dir)


@pytest.mark.slow
def test_index_survives_twenty_kills(tmp_path):
    loop = kill_loop(tmp_path, n_kills=20, seed=20, n_records=6000)
    assert {p.split("#")[0] for p in loop.points} == set(POINTS)
    _assert_exact(loop.keys, loop.index_dir)
