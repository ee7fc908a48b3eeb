"""Plain-words searches that read the index files directly (search_cli.direct) against the same searches through
Whoosh's reader, on real on-disk indexes with several segments, deleted documents, inline and block postings, with
and without sidecars: the results must be identical, field for field."""

from __future__ import annotations

import random
import shutil

import pytest
from test_search_evaluate import WORDS, _doc

from indexer import sidecar
from indexer.build import index_records
from indexer.store import open_index
from search_cli import direct, evaluate, index_files
from search_cli import search as S


@pytest.fixture(scope="module", params=["w3-blocks", "sidecars"])
def index_dir(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("direct") / "idx"
    rng = random.Random(7)
    index_records([_doc(rng, i) for i in range(600)], path, procs=1)
    index_records([_doc(rng, i) for i in range(600, 800)], path, procs=1)
    index_records([_doc(rng, i, version=1) for i in range(0, 90, 3)], path, procs=1)  # deletions in segment 1
    for f in path.glob("*" + sidecar.SUFFIX):
        f.unlink()
    if request.param == "sidecars":
        ix = open_index(path)
        for segment in ix._segments():
            assert sidecar.write_sidecar(ix.storage, segment, ix.schema, min_postings=3)
    with open_index(path).reader() as r:
        assert len(list(r.leaf_readers())) >= 2 and r.has_deletions()
    return path


@pytest.fixture(autouse=True)
def lists_kernel():
    """The one-query command's kernel (the direct path runs there); numpy gives the same sums."""
    evaluate.set_vectorized(False)
    yield
    evaluate.set_vectorized(True)


def _both(index_dir, query: str, **kwargs):
    """(direct.search's results or None, search() through Whoosh's reader)."""
    options = dict(limit=10, offset=0, synonyms=True, plain=False, snippets=True, suggest_spelling=True, ranking=None)
    options.update(kwargs)
    got = direct.search(index_dir, query, **options)
    S.DIRECT_READS = False
    try:
        want = S.search(index_dir, query, **options)
    finally:
        S.DIRECT_READS = True
    return got, want


PLAIN = [
    "pain",
    "sciatica pain",
    "heart attack symptoms",
    "high blood pressure",
    "the risk of lung cancer",
    "diabetes insulin glucose kidney disease",
    "sleep apnea therapy",
    "w3 w7 pain",
    "revision1 heart",
]


@pytest.mark.parametrize("query", PLAIN)
def test_direct_reads_give_the_same_results_as_whoosh(index_dir, query):
    got, want = _both(index_dir, query)
    assert got is not None, "a plain query on a standard index reads directly"
    assert want.total > 0
    assert got.to_dict() == want.to_dict()


def test_random_plain_queries_with_offsets_and_without_snippets(index_dir):
    rng = random.Random(3)
    taken = 0
    for _ in range(40):
        query = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
        limit, offset = rng.choice([(10, 0), (5, 3), (0, 0), (25, 10)])
        got, want = _both(index_dir, query, limit=limit, offset=offset, snippets=rng.random() < 0.5)
        if got is None:
            continue
        taken += 1
        assert got.to_dict() == want.to_dict(), query
    assert taken >= 35


def test_ranking_profiles_and_no_synonyms(index_dir):
    from search_cli.query import Ranking

    for ranking in (Ranking.named("whoosh"), Ranking(title_b=0.3, k1=1.6)):
        got, want = _both(index_dir, "sciatica nerve pain", ranking=ranking, synonyms=False)
        assert got is not None and got.to_dict() == want.to_dict()


@pytest.mark.parametrize(
    "query, sort, facets",
    [
        ('"blood pressure"', "relevance", ()),
        ("heart AND attack", "relevance", ()),
        ("pain site:site1.example.org", "relevance", ()),
        ("pain", "published", ()),
        ("pain", "relevance", ("category",)),
    ],
)
def test_syntax_filters_sorting_and_facets_go_through_whoosh(index_dir, query, sort, facets):
    assert not direct.applies(query, sort=sort, facets=facets)
    res = S.search(index_dir, query, sort=sort, facets=facets)
    assert res.total > 0


def test_stop_words_are_not_corrected(index_dir):
    """A stop word is never in the spelling lexicon (its analyzer drops it) and is no typo: "the" once came back
    as "type" and "for" as "fours"."""
    got, want = _both(index_dir, "the risk for diabetes is high")
    assert want.suggestion is None
    assert got is not None and got.to_dict() == want.to_dict()


def test_an_unknown_word_goes_through_whoosh_for_its_correction(index_dir):
    got, want = _both(index_dir, "diabetis")
    assert got is None
    assert want.suggestion == "diabetes"


def test_an_index_it_does_not_read_is_left_to_whoosh(index_dir, tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(index_dir, copy)
    options = dict(limit=5, offset=0, synonyms=True, plain=False, snippets=True, suggest_spelling=True, ranking=None)
    assert direct.search(copy, "pain", **options) is not None
    monkeypatch.setattr(index_files, "_TOC_VERSION", -110)  # a table of contents of another version
    assert direct.search(copy, "pain", **options) is None
    monkeypatch.undo()
    for f in copy.glob("*._stored.col"):
        f.write_bytes(b"")  # a damaged stored-fields column
    assert direct.search(copy, "pain", **options) is None
    assert direct.search(tmp_path / "missing", "pain", **options) is None


def test_positions_with_multi_byte_deltas_decode_like_whoosh():
    from whoosh import formats

    from indexer import patches

    patches.apply()
    fmt = formats.Positions()
    # (10, 56: the last delta is 46, so the value ends in b"." like a legacy pickle)
    for positions in ([0], [1, 2, 3], [10, 56], [5, 46, 47], [0, 200, 20000, 20001], list(range(0, 5000, 131))):
        value = fmt.encode(positions)
        assert index_files.PositionsFormat().decode_positions(value) == fmt.decode_positions(value) == positions
    with pytest.raises(evaluate.Unsupported):
        index_files.PositionsFormat().decode_positions(b"\x00\x00\x00\x02\x81")


def test_an_analyzer_it_does_not_run_is_left_to_whoosh(index_dir, monkeypatch):
    options = dict(limit=5, offset=0, synonyms=True, plain=False, snippets=True, suggest_spelling=True, ranking=None)
    monkeypatch.setattr(index_files, "_plan", lambda analyzer: None)
    assert direct.search(index_dir, "pain", **options) is None
    assert S.search(index_dir, "pain").total > 0


def test_ranking_bm25_parameters_are_those_of_its_whoosh_model():
    from search_cli.query import Ranking

    for ranking in (Ranking(), Ranking.named("whoosh"), Ranking(b=0.5, title_b=0.2, k1=2.0)):
        model = ranking.weighting()
        for field in ("title", "text", "description"):
            assert ranking.bm25(field) == (model._field_B.get(field, model.B), model.K1)


@pytest.mark.parametrize("query", [*PLAIN, "heart attack and stroke risk", "sciatic nerve"])
def test_query_nodes_build_the_same_tree_as_whoosh_query(index_dir, query):
    from search_cli import qnodes
    from search_cli.query import build_query

    schema = open_index(index_dir).schema
    table = S.load_synonyms(True)
    ours = build_query(schema, query, synonyms=table, nodes=qnodes)
    theirs = build_query(schema, query, synonyms=table)
    assert qnodes.to_whoosh(ours.query) == theirs.query
    assert [qnodes.to_whoosh(c) for c in ours.rerank] == theirs.rerank
    assert ours.coord == theirs.coord and ours.mode == theirs.mode == "plain"
    assert list(ours.query.iter_all_terms()) == list(theirs.query.iter_all_terms())
    assert [evaluate.role(leaf) for leaf in ours.query.leaves()] == [
        evaluate.role(leaf) for leaf in theirs.query.leaves()
    ]


def test_query_nodes_serve_plain_words_only():
    from search_cli import qnodes
    from search_cli.query import build_query

    schema: dict = {}  # (the check comes before the schema is used)
    with pytest.raises(ValueError):
        build_query(schema, "pain site:example.org", nodes=qnodes)
    with pytest.raises(ValueError):
        build_query(schema, '"back pain"', nodes=qnodes)


def test_the_term_table_finds_every_term_whoosh_finds(index_dir):
    """Every key of every segment's term table (Whoosh's ordered hash file), and no absent one."""
    from whoosh.filedb.filetables import OrderedHashReader

    ix = open_index(index_dir)
    checked = 0
    for segment in ix._segments():
        name = segment.make_filename(".trm")
        ours = index_files.HashTable(index_files.OffsetFile(str(index_dir / name)))
        theirs = OrderedHashReader(ix.storage.open_file(name), ix.storage.file_length(name))
        for key, value in theirs.items():
            assert ours.get(key) == value, key
            assert ours.get(key + b"\x00absent") is None
            checked += 1
    assert checked > 1000
