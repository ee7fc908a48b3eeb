"""``indexer.whoosh_internals``: every private whoosh-ng name it relies on is there (whoosh-ng is pinned), each bug
it fixes is still a bug in whoosh-ng's own code (so the fix goes when whoosh-ng fixes it), and its readers give what
Whoosh's public API gives."""

from __future__ import annotations

import random

import pytest

from indexer import whoosh_internals
from indexer.build import index_records
from indexer.store import open_index


def test_every_internal_is_where_it_is_expected():
    assert whoosh_internals.problems() == []


def test_the_pinned_whoosh_ng_is_installed():
    import tomllib
    from importlib.metadata import version
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    pins = [d for d in project["dependencies"] if d.startswith("whoosh-ng")]
    assert pins == [f"whoosh-ng=={version('whoosh-ng')}"]


def test_whoosh_still_reads_positions_ending_in_a_full_stop_as_a_pickle():
    from whoosh import formats

    whoosh_internals.apply()
    value = (2).to_bytes(4, "big") + bytes([3, 46])  # positions 3 and 49: the last varint byte is b"."
    fmt = formats.Positions()
    with pytest.raises(Exception):  # noqa: B017 (whoosh-ng raises whatever unpickling the varints raises)
        whoosh_internals.ORIGINALS["Positions.decode_positions"](fmt, value)
    assert fmt.decode_positions(value) == [3, 49]


def test_whoosh_still_calls_an_empty_postings_file_corrupt(tmp_path):
    from whoosh.codec.base import Segment
    from whoosh.filedb.filestore import FileStorage

    whoosh_internals.apply()
    (tmp_path / "x.pst").write_bytes(b"")
    storage = FileStorage(str(tmp_path))
    with pytest.raises(Exception, match="(?i)empty|corrupt"):
        whoosh_internals.ORIGINALS["Segment._validate_named"](None, storage, "x.pst")
    assert Segment._validate_named(None, storage, "x.pst") is None


def test_whoosh_still_deletes_the_generation_a_reader_just_opened(tmp_path):
    path = tmp_path / "idx"
    index_records([{"url": "https://example.org/1", "title": "a", "text": "sciatica pain"}], path, procs=1)
    index_records([{"url": "https://example.org/2", "title": "b", "text": "gout pain"}], path, procs=1)
    *_, previous, last = sorted(p.name for p in path.glob("_MAIN_*.toc"))  # healthdex keeps the previous TOC
    ix = open_index(path)
    whoosh_internals.ORIGINALS["index.clean_files"](ix.storage, "MAIN", ix.latest_generation(), ix._segments())
    assert {p.name for p in path.glob("_MAIN_*.toc")} == {last}


def test_postings_and_lengths_read_as_whoosh_reads_them(tmp_path):
    rng = random.Random(2)
    words = ["pain", "nerve", "sciatica", "back"] + [f"w{i}" for i in range(50)]
    recs = [
        {"url": f"https://example.org/{i}", "title": "note", "text": " ".join(rng.choices(words, k=rng.randint(1, 90)))}
        for i in range(400)
    ]
    index_records(recs, tmp_path / "idx", procs=1)
    with open_index(tmp_path / "idx").reader() as r:
        (leaf, _offset), *_ = r.leaf_readers()
        for term in (b"pain", b"note"):
            field = "title" if term == b"note" else "text"
            ids, weights, values = whoosh_internals.read_postings(leaf, field, term)
            m = leaf.postings(field, term)
            expected = []
            while m.is_active():
                expected.append((m.id(), m.weight(), m.value()))
                m.next()
            assert list(zip(ids.tolist(), weights.tolist(), values, strict=True)) == expected
            assert len(expected) > 128  # several posting blocks
        lengths = whoosh_internals.length_bytes(leaf, "text")
        from whoosh.util.numeric import byte_to_length

        assert [byte_to_length(b) for b in lengths] == [leaf.doc_field_length(d, "text") for d in range(400)]


def test_whoosh_still_cannot_inline_a_posting_value_over_64_kb(monkeypatch):
    """An article repeating one word ~70,000 times: its positions make one posting value over 64 KB, which
    Whoosh's inline term info cannot hold (``struct.error`` at commit, the whole segment lost)."""
    import struct

    from whoosh import fields
    from whoosh.codec.whoosh3 import W3PostingsWriter
    from whoosh.filedb.filestore import RamStorage

    whoosh_internals.apply()

    def commit_one_poison_document():
        ix = RamStorage().create_index(fields.Schema(text=fields.TEXT(phrase=True)))
        with ix.writer() as w:
            w.add_document(text="good " * 70000)
        with ix.searcher() as s:
            return s.doc_frequency("text", "good")

    assert commit_one_poison_document() == 1
    original = whoosh_internals.ORIGINALS["W3PostingsWriter.finish_postings"]
    monkeypatch.setattr(W3PostingsWriter, "finish_postings", original)
    with pytest.raises(struct.error):
        commit_one_poison_document()
