"""The bulk writer (indexer.bulk, indexer.mpwriter.ParallelBulkWriter) must build exactly the index Whoosh's
generic writer builds from the same records: same segment bytes, postings, lengths, stored fields, columns and
search results."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import random
import shutil
from pathlib import Path

import pytest
from whoosh import scoring
from whoosh.qparser import MultifieldParser, QueryParser

from indexer import records, whoosh_internals
from indexer import schema as S
from indexer.build import index_records
from indexer.bulk import BulkSegmentWriter
from indexer.store import create_or_open_for_writing, open_index, writing

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_index", ROOT / "bench" / "index.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def edge_records() -> list[dict]:
    """Records that take the unusual paths: non-ASCII case mapping, huge positions, empty fields, duplicates."""
    rng = random.Random(11)
    words = "pain sciatica nerve the of running runs ran hypertension blood pressure heart".split()
    long_text = " ".join(rng.choices(words, k=20000))  # positions past the varint table
    return [
        {"id": "greek", "title": "ΟΔΟΣ ΑΣ:Β", "text": "ΣΟΦΙΑ ΑΣ:Β Σ. ΑΣΣ σοφίας ΟΔΟΣ İstanbul İİ KELVIN"},
        {"id": "accents", "title": "Über Café", "text": "Über naïve café ÉCOLE 2nd-line — O'Brien’s B12 ’s HIV/AIDS"},
        {"id": "stops", "text": "the of and a to in", "description": "the and"},
        {"id": "long", "text": long_text, "authors": ["A B", "A B", "c, d"], "categories": ["x", "X"]},
        {"id": "dates", "text": "dated page", "published": "1999-12-31T23:59:59Z", "updated": "2200-01-01"},
        {"id": "same-text-1", "text": "identical words here", "title": "Same"},
        {"id": "same-text-2", "text": "identical words here", "title": "Same"},
        # one word's positions in one document over the 64 KB an inline term-table entry holds (issue 18): as a
        # term of one posting, and of two
        {"id": "poison", "text": "repetition " * 70000},
        {"id": "poison-2", "text": "echoes " * 70000 + "repetition"},
    ]


def corpus(n: int = 300) -> list[dict]:
    return list(_bench().generate(n, seed=3, words_per_doc=300)) + edge_records()


def build(index_dir: Path, recs: list[dict], *, bulk: bool, limitmb: int = 256) -> None:
    """All records into one fresh writer (no key lookups), as a bulk build does."""
    whoosh_internals.apply()
    ix, _ = create_or_open_for_writing(index_dir, S.SCHEMA_VERSION)
    S.SpellWords.seen = set()
    with writing(ix, index_dir, bulk=bulk, limitmb=limitmb) as w:
        assert isinstance(w, BulkSegmentWriter) == bulk
        for rec in recs:
            w.add_document(**records.prepare(rec).fields)
        w.commit()
    if bulk:
        assert w.bulk_flushes >= 1  # the bulk path wrote postings (not only Whoosh's pool)


def segment_files(index_dir: Path) -> dict[str, str]:
    """Segment file contents by extension (segment ids are random)."""
    out = {}
    for name in os.listdir(index_dir):
        if name.startswith("_MAIN_") or name.startswith("healthdex") or "WRITELOCK" in name:
            continue  # TOCs name the random segment ids; sidecars hold pids
        ext = name[name.index(".") :]
        assert ext not in out, name
        out[ext] = hashlib.sha256((index_dir / name).read_bytes()).hexdigest()
    return out


def postings(reader) -> dict:
    """Every (field, term): (doc freq, total weight, [(docnum, weight, value bytes)])."""
    out = {}
    for fieldname, tbytes in reader.all_terms():
        m = reader.postings(fieldname, tbytes)
        rows = []
        while m.is_active():
            rows.append((m.id(), m.weight(), m.value()))
            m.next()
        out[fieldname, tbytes] = (reader.doc_frequency(fieldname, tbytes), reader.frequency(fieldname, tbytes), rows)
    return out


def per_doc(reader) -> list:
    scorable = [name for name, f in reader.schema.items() if f.scorable]
    rows = []
    for d in range(reader.doc_count_all()):
        lengths = {f: reader.doc_field_length(d, f) for f in scorable}
        rows.append((reader.stored_fields(d), lengths))
    totals = {
        f: (reader.field_length(f), _minmax(reader.min_field_length, f), _minmax(reader.max_field_length, f))
        for f in scorable
    }
    return [rows, totals]


def _minmax(fn, fieldname):
    try:
        return fn(fieldname)
    except TypeError:  # whoosh-ng: a field no document has has no length column to take the min/max of
        return None


def columns(reader) -> dict:
    out = {}
    for name, field in reader.schema.items():
        if field.column_type and reader.has_column(name):
            out[name] = list(reader.column_reader(name, translate=False))
    return out


QUERIES = [
    "back pain",
    "sciatica",
    '"blood pressure"',
    "hypertension OR diabetes",
    "title:sciatica",
    "identical",
    "café",
    "σοφια",
    "published:>2015",
    "nerve NOT pain",
]


def results(index_dir: Path) -> list:
    ix = open_index(index_dir)
    out = []
    with ix.searcher(weighting=scoring.BM25F()) as s:
        parser = MultifieldParser([S.TITLE, S.TEXT, S.DESCRIPTION], ix.schema)
        for q in QUERIES:
            hits = s.search(parser.parse(q), limit=25)
            out.append([(h[S.KEY], h.score) for h in hits])
        out.append(s.reader().corrector(S.SPELL).suggest("sciatca", limit=3))
        out.append(sorted(w.decode() for w in s.reader().lexicon(S.SPELL)))
    return out


@pytest.fixture(scope="module")
def recs():
    return corpus()


@pytest.fixture(scope="module")
def generic(tmp_path_factory, recs):
    d = tmp_path_factory.mktemp("generic") / "idx"
    build(d, recs, bulk=False)
    return d


def test_bulk_segment_is_byte_identical(tmp_path, recs, generic):
    bulk = tmp_path / "idx"
    build(bulk, recs, bulk=True)
    assert segment_files(bulk) == segment_files(generic)


def test_bulk_postings_lengths_stored_columns_and_results_equal(tmp_path, recs, generic):
    bulk = tmp_path / "idx"
    build(bulk, recs, bulk=True)
    with open_index(generic).reader() as g, open_index(bulk).reader() as b:
        gp = postings(g)
        assert {f for f, _ in gp} >= {S.TEXT, S.TITLE, S.DESCRIPTION, S.SPELL, S.KEY, S.PUBLISHED, S.AUTHORS}
        dfs = [v[0] for v in gp.values()]
        assert max(dfs) > 128 and any(df == 1 for df in dfs) and any(2 <= df <= 8 for df in dfs)
        assert any(9 <= df <= 128 for df in dfs)
        assert postings(b) == gp
        assert per_doc(b) == per_doc(g)
        assert columns(b) == columns(g)
    assert results(bulk) == results(generic)


def test_segments_split_by_memory_hold_the_same_documents(tmp_path, recs, generic):
    """A tiny limitmb makes the writer start new segments (Whoosh's small-segment merge then folds some of them
    into the last one through its own pool); the index holds and answers exactly what the one-segment one does."""
    bulk = tmp_path / "idx"
    build(bulk, recs, bulk=True, limitmb=1)
    with open_index(bulk).reader() as b, open_index(generic).reader() as g:
        assert len(b.leaf_readers()) > 2
        assert keyed_docs(b) == keyed_docs(g)
        assert keyed_postings(b, spell=True) == keyed_postings(g, spell=True)
        assert stats(b) == stats(g)
    # Whoosh scores each segment with that segment's average field lengths: same hits, nearly the same scores
    split, single = scored(bulk), scored(generic)
    assert [[k for k, _ in hits] for hits in split] == [[k for k, _ in hits] for hits in single]
    assert [[sc for _, sc in hits] for hits in split] == [pytest.approx([sc for _, sc in h], rel=0.02) for h in single]
    # Merging stores each document's field lengths as read back (quantized to a byte), so compare with the generic
    # index put through Whoosh's own merge too.
    merged = tmp_path / "generic-merged"
    shutil.copytree(generic, merged)
    with writing(open_index(merged), merged, bulk=False) as w:
        w.commit(optimize=True)
    index_records([], bulk, optimize=True)
    with open_index(bulk).reader() as b, open_index(merged).reader() as g:
        assert len(b.leaf_readers()) == 1
        assert keyed_docs(b) == keyed_docs(g)
        assert keyed_postings(b, spell=True) == keyed_postings(g, spell=True)
        assert stats(b) == stats(g)
        assert per_doc(b)[1] == per_doc(g)[1]  # field length totals
    assert scored(bulk) == scored(merged)


def stats(reader) -> dict:
    """Doc frequency and total weight of every term (the scoring statistics).  Each segment stores a term's total
    weight as a 32-bit float, so over several segments the sum is equal to float32 precision only."""
    return {
        (f, t): (reader.doc_frequency(f, t), pytest.approx(reader.frequency(f, t), rel=1e-6))
        for f, t in reader.all_terms()
    }


def keyed_postings(reader, spell: bool = False) -> dict:
    """Postings with document keys instead of numbers (segments can be listed in another order).  The spelling
    field is left out unless ``spell``: with worker processes each posts a word once, so the same words are
    carried by other documents."""
    keys = {d: reader.stored_fields(d)[S.KEY] for d in range(reader.doc_count_all()) if not reader.is_deleted(d)}
    out = {}
    for fieldname, tbytes in reader.all_terms():
        if fieldname == S.SPELL and not spell:
            continue
        m = reader.postings(fieldname, tbytes)
        rows = set()
        while m.is_active():
            if m.id() in keys:  # no value reads as None from a posting block, b"" from an inlined term
                rows.add((keys[m.id()], m.weight(), m.value() or b""))
            m.next()
        if rows:
            out[fieldname, tbytes] = rows
    return out


def keyed_docs(reader) -> dict:
    scorable = [name for name, f in reader.schema.items() if f.scorable]
    out = {}
    for d in range(reader.doc_count_all()):
        if reader.is_deleted(d):
            continue
        stored = reader.stored_fields(d)
        out[stored[S.KEY]] = (stored, {f: reader.doc_field_length(d, f) for f in scorable})
    return out


def scored(index_dir: Path) -> list:
    """Each query's (key, score) hits, sorted: equal scores may come in another order when documents are numbered
    differently."""
    return [sorted(hits) for hits in results(index_dir)[: len(QUERIES)]]


@pytest.mark.parametrize("procs", [1, 2])
def test_index_records_bulk_and_parallel_equal_generic_through_updates(tmp_path, recs, procs):
    """index_records end to end (bulk, then bulk with a worker process) against the generic writer: a build,
    then a run with changed, gone, unchanged and new records."""
    first, later = recs[:200], recs[200:]
    changed = [dict(r, text=r["text"] + " revised sciatica") for r in first[:20]]
    gone = [{"url": r["url"], "gone": True} for r in first[20:30]]
    second = changed + gone + first[30:60] + later
    dirs = {}
    for mode in ("generic", "bulk"):
        d = tmp_path / mode
        bulk = mode == "bulk"
        s1 = index_records(first, d, bulk=bulk, procs=procs if bulk else 1)
        s2 = index_records(second, d, bulk=bulk, procs=procs if bulk else 1)
        assert (s1.added, s2.added, s2.updated, s2.deleted, s2.unchanged) == (200, len(later), 20, 10, 30)
        dirs[mode] = d
    with open_index(dirs["bulk"]).reader() as b, open_index(dirs["generic"]).reader() as g:
        assert keyed_docs(b) == keyed_docs(g)
        assert keyed_postings(b) == keyed_postings(g)
        assert sorted(b.lexicon(S.SPELL)) == sorted(g.lexicon(S.SPELL))
    assert scored(dirs["bulk"]) == scored(dirs["generic"])


def test_small_update_goes_through_the_pool(tmp_path, recs):
    d = tmp_path / "idx"
    whoosh_internals.apply()
    ix, _ = create_or_open_for_writing(d, S.SCHEMA_VERSION)
    with writing(ix, d) as w:
        for rec in recs[:5]:
            w.add_document(**records.prepare(rec).fields)
        w.commit()
    assert isinstance(w, BulkSegmentWriter) and w.bulk_flushes == 0
    assert keys_of(d) == {records.prepare(r).key for r in recs[:5]}


def keys_of(index_dir: Path) -> set[str]:
    with open_index(index_dir).searcher() as s:
        return {doc[S.KEY] for doc in s.documents()}


def test_parallel_writer_uses_a_worker_and_keeps_every_document(tmp_path, recs):
    d = tmp_path / "idx"
    stats = index_records(recs, d, procs=2)
    assert stats.added == len(recs)
    with open_index(d).reader() as r:
        assert r.doc_count() == len(recs)
    ix = open_index(d)
    with ix.searcher() as s:
        q = QueryParser(S.TEXT, ix.schema).parse("identical words")
        assert {h[S.KEY] for h in s.search(q)} == {"same-text-1", "same-text-2"}
    assert not [n for n in os.listdir(d) if n.endswith(".tmp") or ".tmp." in n]


def test_self_check_falls_back_to_the_generic_writer_when_the_codec_differs(tmp_path, monkeypatch, recs, caplog):
    """If whoosh-ng's writers no longer produce what the bulk path writes, writers take Whoosh's generic path, and
    say so (the pinned whoosh-ng passes the check: this test fails loudly when it does not)."""
    import indexer.bulk as B

    assert B.self_check()
    monkeypatch.setattr(B, "_CHECKED", None)
    real = B._add_compact_term

    def off_by_one(tindex, key, ids, weights, values, lengths):
        real(tindex, key, ids, [w + 1 for w in weights], values, lengths)

    monkeypatch.setattr(B, "_add_compact_term", off_by_one)
    assert not B.self_check()
    assert "bulk segment writer off" in caplog.text
    d = tmp_path / "idx"
    whoosh_internals.apply()
    ix, _ = create_or_open_for_writing(d, S.SCHEMA_VERSION)
    with writing(ix, d) as w:
        for rec in recs:
            w.add_document(**records.prepare(rec).fields)
        w.commit()
    assert isinstance(w, BulkSegmentWriter) and w.bulk_flushes == 0
    with open_index(d).reader() as r:
        assert r.doc_count() == len(recs)
    monkeypatch.setattr(B, "_CHECKED", None)  # re-checked with the real functions by the next writer
