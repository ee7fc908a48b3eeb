"""How many writer processes a run uses (indexer.build.choose_procs, idle_cores), and that a two-process build
holds and answers what a one-process build does."""

from __future__ import annotations

import os

import pytest
from test_index_bulk import QUERIES, corpus, keyed_docs, keyed_postings
from whoosh import scoring
from whoosh.qparser import MultifieldParser

from indexer import build as B
from indexer import schema as S
from indexer.build import choose_procs, idle_cores, index_records
from indexer.store import open_index


def _stat(user: int, idle: int, iowait: int = 0, steal: int = 0, cores: int = 2) -> str:
    lines = [f"cpu  {user} 0 0 {idle} {iowait} 0 0 {steal} 0 0"]
    lines += [f"cpu{i} 1 0 0 1 0 0 0 0 0 0" for i in range(cores)]
    return "\n".join(lines + ["intr 1 2 3", "ctxt 99"]) + "\n"


def _reader(*texts: str):
    it = iter(texts)
    return lambda: next(it)


def test_idle_cores_from_two_samples_of_proc_stat():
    # 100 jiffies passed over 2 cores: 70 idle + 10 iowait -> 80% of 2 cores idle
    read = _reader(_stat(1000, 5000, 100), _stat(1020, 5070, 110))
    assert idle_cores(read_stat=read, sleep=lambda s: None) == pytest.approx(1.6)
    # steal counts as busy
    read = _reader(_stat(1000, 5000, steal=0), _stat(1000, 5050, steal=50))
    assert idle_cores(read_stat=read, sleep=lambda s: None) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "texts",
    [
        ("intr 1\n", "intr 2\n"),  # no cpu line
        ("cpu  a b c d\n", "cpu  a b c d\n"),  # garbage
        (_stat(10, 10), _stat(10, 10)),  # no time passed
    ],
)
def test_idle_cores_is_none_when_proc_stat_says_nothing(texts):
    assert idle_cores(read_stat=_reader(*texts), sleep=lambda s: None) is None


def test_idle_cores_is_none_when_proc_stat_cannot_be_read():
    def unreadable() -> str:
        raise OSError("no /proc")

    assert idle_cores(read_stat=unreadable, sleep=lambda s: None) is None


def test_choose_procs_explicit_small_and_incremental_runs_measure_nothing(monkeypatch):
    def never() -> float:
        raise AssertionError("measured")

    monkeypatch.setattr(B, "_usable_cpus", lambda: 2)
    assert choose_procs(1, True, 100_000, idle=never) == 1
    assert choose_procs(3, False, 10, idle=never) == 3
    assert choose_procs(0, True, 100_000, idle=never) == 1
    assert choose_procs(None, False, 100_000, idle=never) == 1  # an update: one writer
    assert choose_procs(None, True, B.BULK_MIN_DOCS - 1, idle=never) == 1
    assert choose_procs(None, True, None, idle=never) == 1  # stdin: no count
    monkeypatch.setattr(B, "_usable_cpus", lambda: 1)
    assert choose_procs(None, True, 100_000, idle=never) == 1


def test_choose_procs_uses_a_second_core_only_when_it_is_idle(monkeypatch):
    monkeypatch.setattr(B, "_usable_cpus", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.9, 1.9, 1.9))  # a job that just ended: not consulted
    assert choose_procs(None, True, 10_000, idle=lambda: 1.97) == 2
    assert choose_procs(None, True, 10_000, idle=lambda: 1.1) == 1  # another job holds most of a core
    assert choose_procs(None, True, 10_000, idle=lambda: 0.2) == 1


def test_choose_procs_falls_back_to_the_load_average(monkeypatch):
    monkeypatch.setattr(B, "_usable_cpus", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.3, 0.5, 0.5))
    assert choose_procs(None, True, 10_000, idle=lambda: None) == 2
    monkeypatch.setattr(os, "getloadavg", lambda: (1.4, 0.5, 0.5))
    assert choose_procs(None, True, 10_000, idle=lambda: None) == 1


def test_two_process_build_equals_one_process_build(tmp_path):
    """Same documents, postings and hits; the parent's segment and the worker's, and no files of the empty segment
    the parent's writer is left with at its commit."""
    recs = corpus(600)
    assert len(recs) % 32  # the last, partial batch is always the parent's: it writes a segment of its own
    one, two = tmp_path / "one", tmp_path / "two"
    s1 = index_records(recs, one, procs=1)
    s2 = index_records(recs, two, procs=2)
    assert (s1.added, s2.added, s1.segments, s2.segments, s2.procs) == (len(recs), len(recs), 1, 2, 2)
    with open_index(one).reader() as a, open_index(two).reader() as b:
        assert keyed_docs(a) == keyed_docs(b)
        assert keyed_postings(a) == keyed_postings(b)
        ids = {seg.segment_id() for seg in open_index(two)._segments()}
    split, single = all_hits(two), all_hits(one)
    assert [set(hits) for hits in split] == [set(hits) for hits in single]
    # Whoosh scores each segment with that segment's average field lengths: nearly the same scores
    assert split == [pytest.approx(hits, rel=0.02) for hits in single]
    listed = {n.split(".")[0] for n in os.listdir(two) if n.startswith("MAIN_") and "." in n}
    assert listed == ids


def all_hits(index_dir) -> list[dict[str, float]]:
    """Every hit of each query (no top-N cut, which near-equal scores could reorder): key -> score."""
    ix = open_index(index_dir)
    with ix.searcher(weighting=scoring.BM25F()) as s:
        parser = MultifieldParser([S.TITLE, S.TEXT, S.DESCRIPTION], ix.schema)
        return [{h[S.KEY]: h.score for h in s.search(parser.parse(q), limit=None)} for q in QUERIES]
