"""Concurrent readers, a second writer, SIGKILL during a write, a full disk and a damaged table of contents --
with real processes on a real index.  Writers are stopped or killed at known points (``healthdex.faultpoints``),
never after a sleep."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from indexer import schema as S
from indexer.build import index_records
from indexer.store import WRITER_FILE, open_index, read_tocs

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


# Records in the long write that the tests kill or search during.
BIG = 3000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    base = write_jsonl(d / "base.jsonl", make_records(40, "base-"))
    big_records = make_records(BIG, "big-", seed=2)
    big = write_jsonl(d / "big.jsonl", big_records)
    return base, big, {r["id"] for r in make_records(40, "base-")} | {r["id"] for r in big_records}


def start(args: list[str], point: str, action: str = "kill") -> subprocess.Popen:
    """``healthdex index`` that stops or kills itself at fault point ``point``."""
    env = {**os.environ, "HEALTHDEX_FAULT_POINT": point, "HEALTHDEX_FAULT_ACTION": action}
    return subprocess.Popen(index_cmd(*args), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_stopped(proc: subprocess.Popen) -> None:
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"writer ended before its fault point: {proc.communicate()}"


def killed(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]


def orphans(index_dir: Path) -> list[str]:
    listed = set().union(*(s for s in read_tocs(index_dir).values() if s))
    return [n for n in os.listdir(index_dir) if n.startswith("MAIN_") and n.split(".")[0] not in listed
            and "WRITELOCK" not in n]


def test_concurrent_search_during_a_long_write_never_fails(tmp_path, corpus):
    base, big, _ = corpus
    idx = tmp_path / "idx"
    subprocess.run(index_cmd(str(base), "--index", str(idx)), check=True, cwd=ROOT, capture_output=True)
    # the writer stops once every new segment file is written, just before its table of contents
    proc = start([str(big), "--index", str(idx)], "index.toc", "stop")
    searches = 0
    while True:
        assert search_works(idx) == 40  # must never raise; only the committed state is seen
        searches += 1
        pid, status = os.waitpid(proc.pid, os.WUNTRACED | os.WNOHANG)
        if pid:
            assert os.WIFSTOPPED(status), proc.communicate()
            break
    assert search_works(idx) == 40  # every new file is there, the TOC is not
    os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert search_works(idx) == 40 + BIG
    assert searches >= 1


def test_second_writer_gets_a_clear_error_while_first_runs(tmp_path, corpus):
    base, big, expected = corpus
    idx = tmp_path / "idx"
    subprocess.run(index_cmd(str(base), "--index", str(idx)), check=True, cwd=ROOT, capture_output=True)
    proc = start([str(big), "--index", str(idx)], "index.add#500", "stop")
    try:
        wait_stopped(proc)
        files = set(os.listdir(idx))
        second = subprocess.run(index_cmd(str(base), "--index", str(idx)), cwd=ROOT, capture_output=True, text=True)
        assert second.returncode == 2
        assert f"being written by another process (pid {proc.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        assert set(os.listdir(idx)) >= files  # the live writer's files are left alone
        os.kill(proc.pid, signal.SIGCONT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert keys(idx) == expected
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(
    "procs, point", [("1", "index.add#100"), ("1", "index.toc"), ("2", "index.add#2000"), ("2", "index.merged")]
)
def test_sigkill_during_write_then_reopen_and_rerun(tmp_path, corpus, procs, point):
    base, big, expected = corpus
    idx = tmp_path / "idx"
    subprocess.run(index_cmd(str(base), "--index", str(idx)), check=True, cwd=ROOT, capture_output=True)
    before = keys(idx)
    killed(start([str(big), "--index", str(idx), "--procs", procs], point))

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
    assert orphans(idx) == []


@pytest.mark.parametrize("point", ["index.add#700", "index.merged", "index.toc"])
def test_sigkill_of_an_update_run_keeps_previous_generation(tmp_path, point):
    idx = tmp_path / "idx"
    v1 = make_records(1500, "doc-", seed=3)
    index_records(v1, idx)
    v2 = [dict(r, text=r["text"] + " revised") for r in v1]
    src = write_jsonl(tmp_path / "v2.jsonl", v2)
    gen = open_index(idx).latest_generation()
    killed(start([str(src), "--index", str(idx)], point))
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


def _three_segments(tmp_path: Path) -> tuple[Path, set[str]]:
    idx = tmp_path / "idx"
    records = make_records(600, "seg-", seed=4)
    for part in range(3):
        index_records(records[part * 200 : (part + 1) * 200], idx)
    with open_index(idx).reader() as r:
        assert len(r.leaf_readers()) == 3
    return idx, {r["id"] for r in records}


@pytest.mark.parametrize("point", ["index.merged", "index.toc"])
def test_sigkill_during_optimize_keeps_previous_generation_and_leaves_no_orphans(tmp_path, point):
    idx, expected = _three_segments(tmp_path)
    gen = open_index(idx).latest_generation()
    killed(start(["--optimize", "--index", str(idx)], point))
    assert open_index(idx).latest_generation() == gen and keys(idx) == expected
    assert orphans(idx)  # the killed merge's files (this is what the next writer must clean)
    done = subprocess.run(index_cmd("--optimize", "--index", str(idx)), cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "600 documents in 1 segment" in done.stdout
    assert orphans(idx) == [] and keys(idx) == expected


def test_a_run_with_nothing_to_commit_removes_a_killed_runs_files_but_not_a_readers(tmp_path):
    idx, expected = _three_segments(tmp_path)
    reader = open_index(idx).searcher()  # a search that opened the last generation
    late = write_jsonl(tmp_path / "late.jsonl", make_records(1, "late-"))
    subprocess.run(index_cmd(str(late), "--index", str(idx)), check=True, cwd=ROOT, capture_output=True)
    # (a commit: the reader's generation is now the one before the last)
    more = write_jsonl(tmp_path / "more.jsonl", make_records(300, "more-"))
    killed(start([str(more), "--index", str(idx)], "index.toc"))
    left = orphans(idx)
    assert left
    (idx / "_MAIN_9.toc.1765000000.25").write_bytes(b"a TOC its writer did not finish")
    left.append("_MAIN_9.toc.1765000000.25")
    done = subprocess.run(index_cmd(str(late), "--index", str(idx)), cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and "nothing to commit" in done.stdout, done.stdout + done.stderr
    assert not set(left) & set(os.listdir(idx)) and orphans(idx) == []
    assert keys(idx) == expected | {"late-00000"}
    # the reader's generation (listed by the TOC before the last) was not touched
    assert {reader.stored_fields(d)[S.KEY] for d in range(reader.doc_count_all())} == expected
    reader.close()


def _limit_file_size(limit: int):
    def preexec() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # writes past it fail with EFBIG, as on a full disk

    return preexec


@pytest.mark.parametrize("procs, limit", [("1", 150_000), ("1", 2_000_000), ("2", 150_000), ("2", 1_000_000)])
def test_full_disk_is_one_line_and_keeps_the_last_commit(tmp_path, corpus, procs, limit):
    base, big, expected = corpus
    idx = tmp_path / "idx"
    subprocess.run(index_cmd(str(base), "--index", str(idx)), check=True, cwd=ROOT, capture_output=True)
    files = sorted(os.listdir(idx))
    gen = open_index(idx).latest_generation()
    full = subprocess.run(index_cmd(str(big), "--index", str(idx), "--procs", procs), cwd=ROOT, capture_output=True,
                          text=True, preexec_fn=_limit_file_size(limit), timeout=600)
    assert full.returncode == 2, full.stderr[-2000:]
    assert full.stderr.startswith(f"healthdex: cannot write the index at {idx}: File too large; nothing from this run")
    assert len(full.stderr.splitlines()) == 1
    assert sorted(os.listdir(idx)) == files  # no file of the failed run is left
    assert open_index(idx).latest_generation() == gen and search_works(idx) == 40
    again = subprocess.run(index_cmd(str(big), "--index", str(idx)), cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert keys(idx) == expected


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-30] + bytes(x ^ 0xFF for x in b[-30:-28]) + b[-28:],  # in the pickled segment list
        lambda b: b[: len(b) // 2],  # cut short
        lambda b: b"",  # empty
        lambda b: bytes(len(b)),  # zeroed
    ],
)
def test_damaged_table_of_contents_is_one_line(tmp_path, damage):
    idx = tmp_path / "idx"
    index_records(make_records(30, "a-"), idx)
    index_records(make_records(20, "b-"), idx)
    gen = open_index(idx).latest_generation()
    toc = idx / f"_MAIN_{gen}.toc"
    toc.write_bytes(damage(toc.read_bytes()))
    empty = write_jsonl(tmp_path / "empty.jsonl", [])
    for args in (["search", "pain", "--index", str(idx)], ["index", str(empty), "--index", str(idx)]):
        result = subprocess.run([sys.executable, "-m", "healthdex", *args], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 2, result.stderr[-2000:]
        assert result.stderr == (
            f"healthdex: index at {idx} is damaged: its table of contents {toc.name} cannot be read; delete "
            f"{toc.name} to go back to the commit before it (_MAIN_{gen - 1}.toc), or rebuild (healthdex index "
            f"FILE.jsonl... --index into an empty folder)\n"
        )
    toc.unlink()  # the advice works: the commit before it opens, with its documents
    assert search_works(idx) == 30


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:40] + bytes(x ^ 0xFF for x in b[40:42]) + b[42:],  # UnicodeDecodeError unpickling it
        lambda b: b.replace(b"renumber", b"renumbgr", 1),  # unpickles, and breaks the analysis of every query
    ],
)
def test_damage_in_the_schema_copy_of_the_table_of_contents_is_harmless(tmp_path, damage):
    """An index built with this healthdex's schema is opened with that schema, not the copy Whoosh pickles in
    each table of contents (bench/faults.py found the two damages above)."""
    idx = tmp_path / "idx"
    index_records(make_records(30, "a-"), idx)
    index_records(make_records(20, "b-"), idx)
    toc = idx / f"_MAIN_{open_index(idx).latest_generation()}.toc"
    damaged = damage(toc.read_bytes())
    assert damaged != toc.read_bytes()
    toc.write_bytes(damaged)
    result = subprocess.run([sys.executable, "-m", "healthdex", "search", "pain", "--index", str(idx), "--json"],
                            cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result.stderr[-2000:]
    assert json.loads(result.stdout)["total"] == search_works(idx) == 50


@pytest.mark.parametrize(
    "old, new",
    [(b"_codec", b"_cotec"), (b"_deleted", b"_de,eted"), (b"_fieldlengths", b"_figldlengths"), ("id", b"")],
)
def test_a_segment_list_that_unpickles_but_cannot_be_opened_is_one_line(tmp_path, old, new):
    """Damage in the pickled segment list that still unpickles (a renamed attribute, a segment id naming no files,
    as bench/faults.py found) is reported when the index is opened, not as a traceback from the first search."""
    idx = tmp_path / "idx"
    index_records(make_records(30, "a-"), idx)
    index_records(make_records(20, "b-"), idx)
    gen = open_index(idx).latest_generation()
    toc = idx / f"_MAIN_{gen}.toc"
    data = toc.read_bytes()
    if old == "id":  # the newest segment's id, reversed: it names no files
        old = max((i.split("_", 1)[1].encode() for i in read_tocs(idx)[gen]), key=data.rindex)
        new = old[::-1]
    at = data.rindex(old)  # in the segment list, at the end of the file
    toc.write_bytes(data[:at] + new + data[at + len(old) :])
    result = subprocess.run([sys.executable, "-m", "healthdex", "search", "pain", "--index", str(idx)], cwd=ROOT,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr[-2000:]
    assert result.stderr.startswith(
        f"healthdex: index at {idx} is damaged: its table of contents {toc.name} lists segments that cannot be opened"
    )
    assert f"delete {toc.name} to go back to the commit before it (_MAIN_{gen - 1}.toc)" in result.stderr
    toc.unlink()  # the advice works
    assert search_works(idx) == 30


def test_a_worker_process_out_of_space_is_the_same_one_line(tmp_path, monkeypatch):
    """A writer worker process that fails on a full disk (before: a RuntimeError with the errno lost)."""
    import errno

    from healthdex.errors import UserError
    from indexer import bulk

    def full(self):
        raise OSError(errno.ENOSPC, "No space left on device")

    idx = tmp_path / "idx"
    index_records(make_records(20, "base-"), idx)
    files = sorted(os.listdir(idx))
    monkeypatch.setattr(bulk.BulkSegmentWriter, "finish_segments", full)  # the forked workers' end
    with pytest.raises(UserError, match=r"^cannot write the index at .*: No space left on device; nothing from"):
        index_records(make_records(300, "more-"), idx, procs=2)
    assert sorted(os.listdir(idx)) == files
