"""``indexer.sidecar``: the copy of long posting lists the evaluator reads with numpy gives exactly what Whoosh's
blocks give (same top hits, scores, counts and phrase checks), is written for every committed segment, goes with
its segment, and a missing or damaged one only costs speed."""

from __future__ import annotations

import random

import pytest
from test_search_evaluate import _doc, _random_query

from healthdex.errors import UserError
from indexer import sidecar
from indexer.build import index_records, optimize_index
from search_cli.evaluate import Evaluation
from search_cli.query import Ranking, build_query
from search_cli.search import Index, load_synonyms


@pytest.fixture
def path(tmp_path, monkeypatch):
    monkeypatch.setattr(sidecar, "MIN_POSTINGS", 20)  # most lists of this small index get one
    rng = random.Random(7)
    p = tmp_path / "idx"
    index_records([_doc(rng, i) for i in range(500)], p, procs=1)
    index_records([_doc(rng, i) for i in range(500, 700)], p, procs=1)
    index_records([_doc(rng, i, version=1) for i in range(0, 90, 3)], p, procs=1)  # deletions in segment 1
    return p


def _rankings(path, queries) -> list:
    out = []
    with Index(path) as ix:
        searcher, segs = ix.searcher()
        for text in queries:
            try:
                built = build_query(searcher.schema, text, synonyms=load_synonyms(True))
            except UserError:
                continue
            ranked = Evaluation(searcher, segs, Ranking().weighting()).top(
                built.query, 20, filter=built.filter, bonus=built.rerank
            )
            out.append((text, ranked.hits, ranked.total, ranked.exact))
    return out


def test_a_sidecar_per_segment_and_the_same_results_without_them(path):
    sidecars = sorted(path.glob("*" + sidecar.SUFFIX))
    with Index(path) as ix:
        _searcher, segs = ix.searcher()
        assert len(sidecars) == len(segs) >= 2 and all(s.sidecar is not None for s in segs)
        assert any(len(s.sidecar.keys) > 50 for s in segs)
    rng = random.Random(3)
    queries = [_random_query(rng) for _ in range(120)] + ['"blood pressure"', "high blood pressure", "pain"]
    with_sidecars = _rankings(path, queries)
    for f in sidecars:
        f.unlink()
    assert _rankings(path, queries) == with_sidecars


def test_a_damaged_sidecar_is_left_aside(path):
    rng = random.Random(4)
    queries = [_random_query(rng) for _ in range(40)]
    expected = _rankings(path, queries)
    first, second, *_ = sorted(path.glob("*" + sidecar.SUFFIX), key=lambda f: -f.stat().st_size)
    first.write_bytes(first.read_bytes()[: first.stat().st_size // 2])  # cut short
    second.write_bytes(second.read_bytes()[:8] + b"\xff" * 64)  # a header of nonsense
    with Index(path) as ix:
        _searcher, segs = ix.searcher()
        assert sum(s.sidecar is None for s in segs) == 2
    assert _rankings(path, queries) == expected


def test_a_sidecar_goes_with_its_segment(path):
    before = {f.name for f in path.glob("*" + sidecar.SUFFIX)}
    optimize_index(path)
    with Index(path) as ix:
        _searcher, segs = ix.searcher()
        assert len(segs) == 1 and segs[0].sidecar is not None
    index_records([{"url": "https://example.org/new", "title": "new", "text": "sciatica"}], path, procs=1)
    # the generation before the optimize is gone with its sidecars (the last one's is kept until the next commit)
    assert not before & {f.name for f in path.glob("*" + sidecar.SUFFIX)}


def test_the_two_process_writer_writes_each_segments_sidecar_before_its_commit(tmp_path, monkeypatch):
    monkeypatch.setattr(sidecar, "MIN_POSTINGS", 20)
    monkeypatch.setattr(sidecar, "ensure_sidecars", lambda ix: None)  # the after-commit writer does nothing
    rng = random.Random(5)
    p = tmp_path / "idx"
    index_records([_doc(rng, i) for i in range(1500)], p, procs=2)
    with Index(p) as ix:
        searcher, segs = ix.searcher()
        assert len(segs) >= 2 and all(s.sidecar is not None for s in segs)
        for reader, _offset in searcher.reader().leaf_readers():
            written = sidecar.sidecar_path(reader)
            reference = tmp_path / "reference.hdx"
            sidecar.write_sidecar(reader, str(reference))  # from the committed segment
            assert reference.read_bytes() == open(written, "rb").read()
