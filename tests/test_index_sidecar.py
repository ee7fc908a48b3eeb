"""Posting-list sidecars (indexer.sidecar): written at commit, equal to the W3 postings they copy, removed with
their segment, and ignored (never trusted) when they do not match the segment."""

from __future__ import annotations

import random

from whoosh import fields
from whoosh.index import create_in

from indexer import sidecar
from indexer.build import index_records
from indexer.store import open_index
from search_cli.search import search

WORDS = "pain back heart attack blood pressure sleep kidney".split()


def _docs(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    return [
        {
            "url": f"https://example.org/a/{i}",
            "title": " ".join(rng.choice(WORDS) for _ in range(3)),
            "text": " ".join(rng.choice(WORDS + [f"w{j}" for j in range(50)]) for _ in range(rng.randint(20, 80))),
            "language": "en",
        }
        for i in range(n)
    ]


def _w3_postings(reader, fieldname: str, btext: bytes) -> tuple[list[int], list[float], list[bytes]]:
    m = reader.postings(fieldname, btext)
    ids, weights, values = [], [], []
    while m.is_active():
        ids.append(m.id())
        weights.append(m.weight())
        values.append(m.value())
        m.next()
    return ids, weights, values


def _check_equal(ix) -> int:
    """Every term a sidecar holds equals Whoosh's own decoding: ids, weights and each block's values."""
    checked = 0
    storage = ix.storage
    with ix.reader() as top:
        for reader in top.leaf_readers() if hasattr(top, "leaf_readers") else [top]:
            r = reader[0] if isinstance(reader, tuple) else reader
            segment = r._segment
            side = sidecar.open_sidecar(
                storage, segment, r.doc_count_all(), storage.file_length(segment.make_filename(".pst"))
            )
            assert side is not None
            for (fieldname, btext), info in r._terms.items():
                if info.is_inlined() or not info.extent()[1]:
                    continue
                offset, length = info.extent()
                length = length[0] if isinstance(length, tuple) else length
                got = side.lookup(offset, length)
                if got is None:
                    continue
                ids, weights, values = _w3_postings(r, fieldname, btext)
                assert list(got.ids) == ids
                assert (list(got.weights) if got.weights is not None else [1.0] * len(ids)) == weights
                for b, start in enumerate(got.block_starts):
                    at, end = got.block_extent(b)
                    block_ids, _w, block_values = sidecar.decode_block(r._terms._postfile, at, end)
                    assert block_ids == ids[start : start + len(block_ids)]
                    assert list(block_values) == values[start : start + len(block_ids)]
                checked += 1
    return checked


def test_commit_writes_sidecars_that_equal_the_w3_postings(tmp_path, monkeypatch):
    monkeypatch.setattr(sidecar, "MIN_POSTINGS", 20)
    path = tmp_path / "idx"
    index_records(_docs(600), path, procs=1)
    index_records([dict(d, url=d["url"] + "?b") for d in _docs(300, seed=2)], path, procs=1)
    ix = open_index(path)
    names = [f for f in ix.storage.list() if f.endswith(sidecar.SUFFIX)]
    assert len(names) == len(ix._segments()) == 2
    assert _check_equal(ix) > 20


def test_float_weights_round_trip(tmp_path):
    schema = fields.Schema(body=fields.TEXT(field_boost=1.5))
    ix = create_in(str(tmp_path), schema, indexname="MAIN")
    w = ix.writer(compound=False)  # healthdex's writers never make compound segments
    rng = random.Random(3)
    for _ in range(400):
        w.add_document(body=" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 30))))
    w.commit()
    [segment] = ix._segments()
    assert sidecar.write_sidecar(ix.storage, segment, ix.schema, min_postings=10)
    assert _check_equal(ix) >= len(WORDS)
    side = sidecar.open_sidecar(
        ix.storage, segment, segment.doc_count_all(), ix.storage.file_length(segment.make_filename(".pst"))
    )
    assert any(side._flags)  # at least one list needed stored weights


def test_a_sidecar_that_does_not_match_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setattr(sidecar, "MIN_POSTINGS", 20)
    path = tmp_path / "idx"
    index_records(_docs(500), path, procs=1)
    before = search(path, "back pain", limit=20, snippets=False)
    [name] = [f for f in open_index(path).storage.list() if f.endswith(sidecar.SUFFIX)]
    full = (path / name).read_bytes()
    for broken in (full[: len(full) // 2], full[:-8] + b"\0" * 8, b"x"):
        (path / name).write_bytes(broken)
        ix = open_index(path)
        [segment] = ix._segments()
        assert sidecar.open_sidecar(ix.storage, segment, segment.doc_count_all(), 10**9) is None
        after = search(path, "back pain", limit=20, snippets=False)
        assert [(h.url, round(h.score, 9)) for h in after.hits] == [(h.url, round(h.score, 9)) for h in before.hits]
        assert after.total == before.total


def test_optimize_replaces_the_sidecars_with_the_merged_segments(tmp_path, monkeypatch):
    monkeypatch.setattr(sidecar, "MIN_POSTINGS", 20)
    path = tmp_path / "idx"
    index_records(_docs(300), path, procs=1)
    index_records([dict(d, url=d["url"] + "?b") for d in _docs(300, seed=2)], path, procs=1)
    index_records([], path, optimize=True)
    ix = open_index(path)
    [segment] = ix._segments()
    files = set(ix.storage.list())
    names = {f for f in files if f.endswith(sidecar.SUFFIX)}
    assert sidecar.sidecar_name(segment) in names
    # the replaced segments keep their files (sidecars included) only as long as the rest of their files
    assert all(n.replace(sidecar.SUFFIX, ".pst") in files for n in names)
    index_records([dict(d, url=d["url"] + "?c") for d in _docs(30, seed=3)], path, procs=1)
    files = set(open_index(path).storage.list())
    assert all(n.replace(sidecar.SUFFIX, ".pst") in files for n in files if n.endswith(sidecar.SUFFIX))
    assert _check_equal(ix) > 10


def test_a_temporary_left_by_a_killed_writer_neither_breaks_opening_nor_stays(tmp_path):
    path = tmp_path / "idx"
    index_records(_docs(50), path, procs=1)
    ix = open_index(path)
    [segment] = ix._segments()
    left = path / f".{sidecar.sidecar_name(segment)}.999999999.tmp"  # no such pid
    left.write_bytes(b"")
    (path / sidecar.sidecar_name(segment)).unlink()
    assert search(path, "back pain", limit=3, snippets=False).hits
    sidecar.ensure_sidecars(path)
    assert not left.exists() and (path / sidecar.sidecar_name(segment)).exists()
