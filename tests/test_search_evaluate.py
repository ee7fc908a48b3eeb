"""The term-at-a-time evaluator (search_cli.evaluate) against Whoosh's own matchers, on a real on-disk index with
several segments, deleted documents and posting lists longer than one 128-posting block.

Whoosh's full ranking (``limit=None``: every match scored by its matcher tree) is the reference: the evaluator must
return the same documents in the same order with the same scores, and the same match count."""

from __future__ import annotations

import random

import pytest

from indexer import sidecar
from indexer.build import index_records
from indexer.store import open_index
from search_cli import evaluate
from search_cli.query import build_query
from search_cli.search import _rerank, _weighting, load_synonyms
from search_cli.search import search as run_search

WORDS = (
    "heart attack blood pressure pain back lower sciatica sciatic nerve diabetes insulin glucose kidney disease "
    "chest stroke symptoms treatment risk high therapy physical exercise sleep apnea cancer lung breast"
).split()
FILLER = [f"w{i}" for i in range(300)]


def _doc(rng: random.Random, i: int, version: int = 0) -> dict:
    words = [rng.choice(WORDS) if rng.random() < 0.25 else rng.choice(FILLER) for _ in range(rng.randint(30, 160))]
    if i % 7 == 0:
        words[5:7] = ["blood", "pressure"]
    if i % 11 == 0:
        words[20:23] = ["high", "blood", "pressure"]
    return {
        "url": f"https://site{i % 3}.example.org/a/{i}",
        "title": " ".join(rng.choice(WORDS + FILLER[:20]) for _ in range(rng.randint(2, 7))),
        "description": " ".join(rng.choice(WORDS + FILLER) for _ in range(rng.randint(0, 12))),
        "text": " ".join(words) + (f" revision{version}" if version else ""),
        "language": "en",
        # from their own generator, so the words above stay what the other tests were written against
        "categories": random.Random(i).sample(["Heart", "Back Pain", "Diabetes", "Sleep", "Cancer"], i % 3),
        **({"published": f"{2010 + i % 15}-{1 + i % 12:02d}-01"} if i % 4 else {}),
    }


@pytest.fixture(scope="module", params=["w3-blocks", "sidecars"])
def ix(request, tmp_path_factory):
    """The index read two ways: postings decoded from Whoosh's W3 blocks, and from ``indexer.sidecar`` files
    holding every list longer than the inline limit (in real indexes only lists of 512+ postings)."""
    path = tmp_path_factory.mktemp("evaluate") / "idx"
    rng = random.Random(5)
    index_records([_doc(rng, i) for i in range(700)], path, procs=1)  # segment 1
    index_records([_doc(rng, i) for i in range(700, 900)], path, procs=1)  # segment 2
    # changed articles: their old versions are deleted documents in segment 1
    index_records([_doc(rng, i, version=1) for i in range(0, 120, 3)], path, procs=1)
    for f in path.glob("*" + sidecar.SUFFIX):
        f.unlink()
    ix = open_index(path)
    if request.param == "sidecars":
        for segment in ix._segments():
            assert sidecar.write_sidecar(ix.storage, segment, ix.schema, min_postings=3)
        ix = open_index(path)
    with ix.reader() as r:
        assert len(list(r.leaf_readers())) >= 2 and r.has_deletions()
        assert r.doc_frequency("text", "pain") > 128  # several posting blocks
    return ix


@pytest.fixture(autouse=True, params=["numpy", "lists"])
def kernel(request):
    """Every test with both dense accumulators: numpy arrays (library and batch use) and lists (one-query CLI)."""
    evaluate.set_vectorized(request.param == "numpy")
    yield request.param
    evaluate.set_vectorized(True)


def test_both_kernels_give_bit_identical_scores(ix, kernel):
    rng = random.Random(23)
    table = load_synonyms(True)
    compared = 0
    with ix.searcher(weighting=_weighting()) as s:
        for _ in range(60):
            built = build_query(ix.schema, _random_query(rng), synonyms=table)
            runs = []
            for vectorized in (True, False):
                evaluate.set_vectorized(vectorized)
                try:
                    top, total, exact, _ = evaluate.top_documents(s, built.query, 20)
                    matches = sorted(evaluate.all_matches(s, built.query))
                except evaluate.Unsupported:
                    break
                runs.append((top, total, exact, matches))
            if len(runs) == 2:
                assert runs[0] == runs[1]
                assert all(type(score) is float for score, _d in runs[0][0] + runs[0][3])
                compared += 1
    assert compared >= 30


def test_the_sidecar_variant_reads_its_postings_from_sidecars(ix):
    with ix.searcher(weighting=_weighting()) as s:
        seg = evaluate.segments(s)[0]
        seg.postings("text", b"pain")
        served = seg._shared.get("sidecar") is not None
    assert served == any(f.endswith(sidecar.SUFFIX) for f in ix.storage.list())


QUERIES = [
    "pain",
    "back pain",
    "sciatica pain",
    "heart attack symptoms",
    "high blood pressure treatment",
    "w3 w7 kidney",
    '"blood pressure"',
    '"high blood pressure"',
    '"lower back" OR "sciatic nerve"',
    "title:diabetes OR title:insulin",
    "diabetes AND insulin",
    "w3 AND w7 AND w11 AND pain",  # few candidates left for the long list: looked up, not intersected whole
    "title:diabetes",
    "heart attack site:site1.example.org",
]


def _reference(searcher, built):
    """Every match of Whoosh's matcher tree, stepped with ``next()`` and scored, ranked (ties by document number),
    and the match count.  (Not ``searcher.search``: its collector calls ``replace()`` as posting lists run out,
    and a CoordMatcher rebuilt that way re-counts its terms, so the same document's score depends on where the
    other lists ended; the evaluator counts the terms present in the segment, as the matcher is first built.)"""
    allowed = set(searcher._filter_to_comb(built.filter)) if built.filter is not None else None
    ranked = []
    for sub, offset in searcher.leaf_searchers():
        m = built.query.matcher(sub, searcher.context())
        while m.is_active():
            d = m.id() + offset
            if allowed is None or d in allowed:
                ranked.append((m.score(), d))
            m.next()
    ranked.sort(key=lambda t: (-t[0], t[1]))
    return ranked, len(ranked)


def _assert_same_ranking(ref, got, depth):
    assert [d for _, d in got] == [d for _, d in ref[:depth]]
    for (a, _), (b, _) in zip(ref, got, strict=False):
        assert a == pytest.approx(b, rel=1e-9)


@pytest.mark.parametrize("text", QUERIES)
def test_top_documents_equal_whoosh_full_ranking(ix, text):
    built = build_query(ix.schema, text, synonyms=load_synonyms(True))
    with ix.searcher(weighting=_weighting()) as s:
        ref, count = _reference(s, built)
        assert count > 0, "every test query matches something"
        allowed = None
        if built.filter is not None:
            allowed = set(s._filter_to_comb(built.filter))
        got, total, exact, _segs = evaluate.top_documents(s, built.query, 25, allowed=allowed)
        _assert_same_ranking(ref, got, 25)
        if exact:
            assert total == count
        else:  # phrase queries over many candidates estimate the count from the verified share
            assert 0.5 * count <= total <= 2 * count


def test_phrase_count_is_exact_below_the_verify_limit_and_estimated_above(ix, monkeypatch):
    built = build_query(ix.schema, '"blood pressure"', synonyms=None)
    with ix.searcher(weighting=_weighting()) as s:
        ref, count = _reference(s, built)
        monkeypatch.setattr(evaluate, "VERIFY_ALL_LIMIT", 10**6)
        got, total, exact, _ = evaluate.top_documents(s, built.query, 10)
        assert exact and total == count
        _assert_same_ranking(ref, got, 10)
        monkeypatch.setattr(evaluate, "VERIFY_ALL_LIMIT", 5)
        got, total, exact, _ = evaluate.top_documents(s, built.query, 10)
        assert not exact
        _assert_same_ranking(ref, got, 10)


def test_an_and_with_a_word_the_index_lacks_matches_nothing_like_whoosh(ix):
    built = build_query(ix.schema, "pain AND zzzunknownword", synonyms=False)
    with ix.searcher(weighting=_weighting()) as s:
        ref, count = _reference(s, built)
        got, total, exact, _segs = evaluate.top_documents(s, built.query, 10)
    assert count == 0 and got == [] and total == 0 and exact


@pytest.mark.parametrize("text", ["heart attack symptoms", "high blood pressure treatment", "back pain"])
def test_rerank_equals_the_whoosh_matcher_rerank(ix, text):
    built = build_query(ix.schema, text, synonyms=load_synonyms(True))
    assert built.rerank
    with ix.searcher(weighting=_weighting()) as s:
        top, _total, _exact, segs = evaluate.top_documents(s, built.query, 30)
        results = s.search(built.query, limit=1)
        results.top_n = list(top)
        _rerank(s, results, built.rerank, 30, built.coord)
        got = evaluate.rerank(segs, top, built.rerank, built.coord)
        assert [d for _, d in got] == [d for _, d in results.top_n]
        assert [a for a, _ in got] == pytest.approx([a for a, _ in results.top_n], rel=1e-9)
        assert got != top  # the bonuses changed something, so the comparison means something


@pytest.mark.parametrize(
    "text",
    [
        "diab*",
        "diabetes~",
        "diabetes NOT insulin",
        "published:>2020",
        "pain^2 back",
        "diabetes OR (lung AND cancer)",
        '"lower back" OR sciatica',
    ],
)
def test_other_query_shapes_fall_back_to_whoosh(ix, text):
    built = build_query(ix.schema, text, synonyms=None)
    with ix.searcher(weighting=_weighting()) as s:
        try:
            got, total, _exact, _ = evaluate.top_documents(s, built.query, 10)
        except evaluate.Unsupported:
            return
        ref, count = _reference(s, built)  # handled after all: then it must be right
        _assert_same_ranking(ref, got, 10)
        assert total == count


@pytest.mark.parametrize("text", ["diab*", "diabetes OR (lung AND cancer)", '"lower back" OR sciatica'])
def test_search_answers_fallback_shapes_through_whoosh(ix, text):
    res = run_search(ix.storage.folder, text, limit=5, snippets=True, ix=ix)
    assert res.total > 0 and res.hits


def test_search_reports_exact_totals_on_the_fast_path(ix):
    path = ix.storage.folder
    res = run_search(path, "sciatica pain", limit=5, snippets=True, ix=ix)
    built = build_query(ix.schema, "sciatica pain", synonyms=load_synonyms(True))
    with ix.searcher(weighting=_weighting()) as s:
        _ref, count = _reference(s, built)
    assert res.total_exact and res.total == count
    assert len(res.hits) == 5 and all("\ue000" in h.snippet for h in res.hits)


def _random_query(rng: random.Random) -> str:
    words = WORDS + FILLER[:10]
    parts = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        if kind < 0.5:
            parts.append(rng.choice(words))
        elif kind < 0.7:
            parts.append('"' + " ".join(rng.choice(words) for _ in range(rng.randint(2, 3))) + '"')
        elif kind < 0.8:
            parts.append(f"{rng.choice(['title', 'text', 'description'])}:{rng.choice(words)}")
        elif kind < 0.9:
            parts.append(f"({rng.choice(words)} OR {rng.choice(words)})")
        else:
            parts.append(f"{rng.choice(words)} AND {rng.choice(words)}")
    return " ".join(parts)


def test_random_queries_rank_like_whoosh(ix):
    """200 generated queries (plain words, phrases, fields, OR/AND groups): wherever the evaluator takes a query,
    its top 15 and its count equal Whoosh's matcher tree's; it must take most of them."""
    rng = random.Random(11)
    table = load_synonyms(True)
    taken = 0
    with ix.searcher(weighting=_weighting()) as s:
        for _ in range(200):
            text = _random_query(rng)
            built = build_query(ix.schema, text, synonyms=table)
            try:
                got, total, exact, _ = evaluate.top_documents(s, built.query, 15)
            except evaluate.Unsupported:
                continue
            taken += 1
            ref, count = _reference(s, built)
            try:
                _assert_same_ranking(ref, got, 15)
            except AssertionError as exc:
                raise AssertionError(f"query {text!r}: {exc}") from None
            if exact:
                assert total == count, text
    assert taken >= 120


@pytest.mark.parametrize("text", ["pain", '"blood pressure"', "heart attack site:site1.example.org"])
def test_date_sort_and_facets_equal_whoosh(ix, text, monkeypatch):
    from search_cli import search as S

    built = build_query(ix.schema, text, synonyms=load_synonyms(True))
    with ix.searcher(weighting=_weighting()) as s:
        whoosh_sorted, total_w, _ = S._run(s, built, 40, 0, "published", fast=False)
        fast_sorted, total_f, exact = S._run(s, built, 40, 0, "published", fast=True)
        assert [d for _, d in fast_sorted.top_n] == [d for _, d in whoosh_sorted.top_n]
        assert exact and total_f == len(s.search(built.query, filter=built.filter, limit=None))
        fast_facets = S._facet_counts(s, built.query, built.filter, ["site", "category"])
        monkeypatch.setattr(S, "_fast_facets", lambda *a: None)
        whoosh_facets = S._facet_counts(s, built.query, built.filter, ["site", "category"])
    assert fast_facets == whoosh_facets and sum(fast_facets["category"].values()) > 0


def test_the_collector_is_paused_only_while_evaluating(ix):
    import gc

    from search_cli import search as S

    built = build_query(ix.schema, "pain", synonyms=None)
    seen = []
    real = evaluate.top_documents

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    with ix.searcher(weighting=_weighting()) as s:
        try:
            evaluate.top_documents = spy
            assert gc.isenabled()
            S._run(s, built, 10, 0, "relevance")
        finally:
            evaluate.top_documents = real
    assert seen == [False] and gc.isenabled()


@pytest.mark.parametrize("nonzero", [0, 3, 10, 40])
def test_best_takes_every_matched_document_when_few_scores_are_non_zero(nonzero):
    """A coordinated OR can score matched documents 0.0 (Whoosh's CoordMatcher when termcount == scale): the top
    hits then still come from every matched document, in score order, ties by document number."""
    scores = [0.0] * 400
    docs = list(range(0, 400, 3))  # 134 matched documents, more than 4 x depth
    for i, d in enumerate(docs[:nonzero]):
        scores[d] = 1.0 + (i % 7)
    want = sorted(((scores[d], d + 5) for d in docs), key=lambda t: (-t[0], t[1]))[:10]
    assert evaluate._best(scores, docs, 10, 5, dense=True) == want
    assert evaluate._best(scores, docs, 10, 5, dense=False) == want


@pytest.mark.parametrize("seed", range(6))
def test_best_dense_equals_best_over_the_listed_matches(seed):
    """``_best_dense`` (no list of matches: the non-zero entries are the matches) picks exactly what ``_best``
    picks from the listed matches, ties at the threshold included, with fewer or more matches than the depth, and
    whatever documents it probes for its threshold."""
    import random

    rng = random.Random(seed)
    n = rng.choice([50, 400, 3000])
    scores = [0.0] * n
    for d in rng.sample(range(n), rng.choice([0, 5, 29, 30, 31, n // 3])):
        scores[d] = float(rng.randint(1, 12)) / 4  # few distinct values: many ties
    docs = [d for d in range(n) if scores[d]]
    probes = [None, sorted(rng.sample(range(n), n // 10)), docs[: len(docs) // 2], list(range(n))]
    for depth in (1, 10, 30, 100):
        want = evaluate._best(scores, docs, depth, 7, dense=True)
        for probe in probes:  # any probe documents give a lower bound: same top hits, only the work differs
            assert evaluate._best_dense(scores, depth, 7, probe) == want
    assert evaluate._best_dense(scores, 0, 7) == []


@pytest.mark.parametrize("n", [0, 1, 255, 256, 257, 1000])
def test_positions_at_least_finds_every_value_at_or_above_the_threshold(n):
    """The run-skipping scan finds what comparing every value finds, across run boundaries and a short last run."""
    import random

    rng = random.Random(n)
    values = [0.0] * n
    for d in rng.sample(range(n), min(n, 12)):
        values[d] = float(rng.randint(1, 6))
    for threshold in (0.5, 3.0, 6.0, 7.0):
        want = [i for i, v in enumerate(values) if v >= threshold]
        assert evaluate._positions_at_least(values, threshold) == want


def test_every_node_scores_one_document_as_its_bound_does(ix):
    """``exact(d)`` of each compiled node (the synonyms' DisMax included) equals its ``bound()`` at documents it
    matches and is None elsewhere; ``matching`` counts leaves only where it matches."""
    table = load_synonyms(True)
    checked = set()
    with ix.searcher(weighting=_weighting()) as s:
        seg = evaluate.segments(s)[0]
        for text in ("sciatica pain", "heart attack", "high blood pressure kidney"):
            stack = [seg.compile(build_query(ix.schema, text, synonyms=table).query)]
            while stack:
                node = stack.pop()
                stack.extend(getattr(node, "children", ()))
                bound = node.bound()
                docs = sorted(bound)[:40] + [d for d in range(0, seg.doc_count_all, 37) if d not in bound][:10]
                for d in docs:
                    if d in bound and d not in seg.deleted:
                        assert node.exact(d) == pytest.approx(bound[d], rel=1e-12), (type(node).__name__, d)
                        assert node.matching(d) >= 1
                    elif d not in bound:
                        assert node.exact(d) is None and node.matching(d) == 0
                checked.add(type(node).__name__)
    assert {"MaxNode", "AndNode", "OrNode", "TermNode"} <= checked


def test_contenders_give_the_same_top_hits_as_scanning_every_score(ix, monkeypatch):
    """The list kernel's top hits looked for among an OR's contenders (children whose ceilings add up to less than
    the threshold left out) are those of scanning every score, and the shortcut does get taken."""
    evaluate.set_vectorized(False)
    monkeypatch.setattr(evaluate, "CONTENDERS_MAX_SHARE", 1)  # a small index: allow contenders up to all of it
    real = evaluate._contenders
    taken = []

    def watched(node, n):
        find = real(node, n)
        if find is None:
            return None

        def wrapped(threshold):
            found = find(threshold)
            taken.append(found is not None)
            return found

        return wrapped

    rng = random.Random(31)
    table = load_synonyms(True)
    with ix.searcher(weighting=_weighting()) as s:
        for _ in range(80):
            text = _random_query(rng)
            built = build_query(ix.schema, text, synonyms=table)
            monkeypatch.setattr(evaluate, "_contenders", watched)
            try:
                got = evaluate.top_documents(s, built.query, 10)[:3]
            except evaluate.Unsupported:
                continue
            monkeypatch.setattr(evaluate, "_contenders", lambda node, n: None)
            assert evaluate.top_documents(s, built.query, 10)[:3] == got, text
    assert sum(taken) >= 10
