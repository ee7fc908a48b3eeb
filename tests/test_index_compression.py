"""Posting blocks and stored fields compressed by ``indexer.whoosh_internals.compress_block`` (libdeflate, zlib
format), and Whoosh's term-table hash through the built-in md5: what healthdex writes must stay readable by plain
zlib and Whoosh, with the same term hashes Whoosh computes."""

from __future__ import annotations

import hashlib
import random
import zlib

import pytest

from indexer import whoosh_internals
from indexer.build import index_records
from indexer.store import open_index


def _blobs() -> list[bytes]:
    rng = random.Random(3)
    words = [b"pain", b"sciatica", b"nerve", b"\x00\x01", b"blood pressure"]
    texts = [b" ".join(rng.choices(words, k=rng.randint(1, 900))) for _ in range(20)]
    return [b"", b"x", bytes(range(256)) * 3, *texts]


@pytest.mark.parametrize("level", [1, 3, 6])
def test_compressed_blocks_are_zlib_streams(level):
    for blob in _blobs():
        assert zlib.decompress(whoosh_internals.compress_block(blob, level)) == blob


def test_without_libdeflate_blocks_are_compressed_by_zlib(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_deflate(name, *args, **kwargs):
        if name == "deflate":
            raise ImportError("no deflate here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(whoosh_internals, "_COMPRESS", None)
    monkeypatch.setattr(builtins, "__import__", no_deflate)
    for blob in _blobs():
        assert whoosh_internals.compress_block(blob, 1) == zlib.compress(blob, 1)


def test_libdeflate_is_used_when_installed(monkeypatch):
    import deflate  # a declared dependency (pyproject.toml); the zlib fallback has its own test above

    monkeypatch.setattr(whoosh_internals, "_COMPRESS", None)
    blob = b"sciatica pain " * 200
    assert whoosh_internals.compress_block(blob, 1) == deflate.zlib_compress(blob, 1)


def test_term_hash_is_whoosh_md5_hash():
    whoosh_internals.apply()
    from whoosh.filedb import filetables

    rng = random.Random(8)
    keys = [b"", b"text\x00pain"] + [rng.randbytes(rng.randint(1, 60)) for _ in range(300)]
    for key in keys:
        assert filetables._hash_functions[0](key) == int(hashlib.md5(key).hexdigest(), 16) & 0xFFFFFFFF


def test_an_index_written_so_reads_back_with_plain_zlib(tmp_path):
    """Every posting block of a built index decompresses with zlib (Whoosh reads them with ``zlib.decompress``),
    the segment records the codec's level, and the stored fields come back whole."""
    recs = [
        {"url": f"https://example.org/a/{i}", "title": f"Sciatica note {i}", "text": "sciatica pain nerve " * (5 + i)}
        for i in range(300)
    ]
    index_records(recs, tmp_path / "idx", procs=1)
    ix = open_index(tmp_path / "idx")
    (segment,) = ix._segments()
    assert segment.codec()._compression == whoosh_internals.BLOCK_LEVEL
    with ix.reader() as r:
        (leaf, _offset), *_ = r.leaf_readers()
        ids, _weights, _values = whoosh_internals.read_postings(leaf, "text", b"pain")
        assert ids.tolist() == list(range(300))
        stored = [r.stored_fields(d) for d in range(r.doc_count_all())]
    assert sorted(s["url"] for s in stored) == sorted(rec["url"] for rec in recs)
    with ix.searcher() as s:
        assert s.doc_frequency("text", "pain") == 300
