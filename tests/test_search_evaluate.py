"""The evaluator (search_cli.evaluate) on a real on-disk index with several segments, deleted documents and
posting lists longer than one 128-posting block.

Two references: Whoosh's own matchers (every match scored by its matcher tree, ``limit=None``) for the BM25F
arithmetic of terms, phrases and their combinations; and the evaluator's exhaustive mode (every candidate scored
one by one, nothing skipped) for the top hits of whole ranked queries (AND-leaning factor, proximity and synonym
bonuses), which the bounded search must equal."""

from __future__ import annotations

import random

import pytest
from whoosh import query as wq

from healthdex.errors import UserError
from indexer.build import index_records
from search_cli import evaluate
from search_cli.evaluate import Evaluation
from search_cli.query import Ranking, build_query
from search_cli.search import Index, load_synonyms

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
        "categories": random.Random(i).sample(["Heart", "Back Pain", "Diabetes", "Sleep", "Cancer"], i % 3),
        **({"published": f"{2010 + i % 15}-{1 + i % 12:02d}-01"} if i % 4 else {}),
    }


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    path = tmp_path_factory.mktemp("evaluate") / "idx"
    rng = random.Random(5)
    index_records([_doc(rng, i) for i in range(700)], path, procs=1)  # segment 1
    index_records([_doc(rng, i) for i in range(700, 900)], path, procs=1)  # segment 2
    # changed articles: their old versions are deleted documents in segment 1
    index_records([_doc(rng, i, version=1) for i in range(0, 120, 3)], path, procs=1)
    with Index(path) as opened:
        searcher, segs = opened.searcher()
        assert len(segs) >= 2 and searcher.reader().has_deletions()
        assert searcher.doc_frequency("text", "pain") > 128  # several posting blocks
        yield opened


def _evaluation(index: Index, ranking: Ranking | None = None) -> Evaluation:
    searcher, segs = index.searcher()
    return Evaluation(searcher, segs, (ranking or Ranking()).weighting())


def _whoosh_scores(index: Index, q, ranking: Ranking | None = None) -> dict[int, float]:
    with index.ix.searcher(weighting=(ranking or Ranking()).weighting()) as s:
        return {hit.docnum: hit.score for hit in s.search(q, limit=None)}


T = wq.Term
WHOOSH_SHAPES = [
    T("text", "pain"),
    wq.Or([T("text", "pain"), T("title", "pain", boost=1.5), T("text", "sciatica")]),
    wq.And([T("text", "blood"), T("text", "pressur")]),
    wq.Phrase("text", ["blood", "pressur"]),
    wq.Phrase("text", ["high", "blood", "pressur"], boost=0.7),
    wq.Phrase("text", ["blood", "pressur"], slop=3),
    wq.AndNot(wq.Or([T("text", "kidnei"), T("text", "diabet")]), T("text", "insulin")),
    wq.Or([wq.Phrase("text", ["blood", "pressur"]), T("title", "sleep")], boost=2.0),
    wq.AndMaybe(T("text", "sleep"), T("text", "apnea")),
]


@pytest.mark.parametrize("q", WHOOSH_SHAPES, ids=str)
def test_scores_and_matches_equal_whooshs_matchers(index, q):
    ref = _whoosh_scores(index, q)
    assert ref, "every shape matches something"
    ev = _evaluation(index)
    ranked = ev.top(q, len(ref) + 5)
    assert ranked.exact and ranked.total == len(ref)
    got = {d: s for s, d in ranked.hits}
    assert set(got) == set(ref)
    for d, s in ref.items():
        assert got[d] == pytest.approx(s, rel=1e-9, abs=1e-12)


def test_disjunction_max_is_the_best_child_plus_the_tiebreak_share_of_the_others(index):
    """(Whoosh's own DisjunctionMaxMatcher reports another document's score when its children are not on the same
    document, so the reference is built from Whoosh's scores of each child.)"""
    children = [T("text", "heart"), T("title", "heart", boost=1.5), T("text", "stroke")]
    per_child = [_whoosh_scores(index, c) for c in children]
    ranked = _evaluation(index).top(wq.DisjunctionMax(children, tiebreak=0.3), 5000)
    got = {d: s for s, d in ranked.hits}
    assert set(got) == set().union(*per_child) and ranked.total == len(got)
    for d, s in got.items():
        scores = [p[d] for p in per_child if d in p]
        assert s == pytest.approx(max(scores) + 0.3 * (sum(scores) - max(scores)), rel=1e-9)


def _random_query(rng: random.Random) -> str:
    words = WORDS + ["high blood pressure", "heart attack", "back pain"]
    parts = []
    for _ in range(rng.randint(1, 9)):
        kind = rng.random()
        if kind < 0.65:
            parts.append(rng.choice(words))
        elif kind < 0.75:
            parts.append(f'"{rng.choice(words)} {rng.choice(words)}"')
        elif kind < 0.8:
            parts.append(f"site:site{rng.randint(0, 2)}.example.org")
        elif kind < 0.9:
            parts.append(f"({rng.choice(words)} OR {rng.choice(words)})")
        else:
            parts.append(f"{rng.choice(words)} AND NOT {rng.choice(words)}")
    return " ".join(parts)


# the shipped ranking, and one with synonyms added and per-field BM25 (schema 1's)
RANKINGS = [Ranking(), Ranking(synonym_mode="add", fields="sum")]


@pytest.mark.parametrize("ranking", RANKINGS, ids=["defaults", "per-field sums"])
def test_bounded_top_hits_equal_the_exhaustive_ranking(index, ranking):
    """200 generated queries (plain words as BM25F words or per-field sums, proximity and synonym bonuses;
    phrases, filters, OR/AND/NOT groups): the top 15 and their scores are those of scoring every
    candidate."""
    rng = random.Random(11)
    table = load_synonyms(True)
    searcher, _ = index.searcher()
    for _ in range(200):
        text = _random_query(rng)
        try:
            built = build_query(searcher.schema, text, synonyms=table, ranking=ranking)
        except UserError:
            continue
        args = dict(filter=built.filter, bonus=built.rerank)
        got = _evaluation(index, ranking).top(built.query, 15, **args)
        ref = _evaluation(index, ranking).top(built.query, 15, exhaustive=True, **args)
        assert [d for _, d in got.hits] == [d for _, d in ref.hits], text
        assert [s for s, _ in got.hits] == pytest.approx([s for s, _ in ref.hits], rel=1e-9), text
        if got.exact:
            assert got.total == len(_evaluation(index, ranking).matches(built.query, filter=built.filter)), text


def test_deleted_and_excluded_documents_never_come_back(index):
    searcher, _ = index.searcher()
    reader = searcher.reader()
    deleted = {d for d in range(reader.doc_count_all()) if reader.is_deleted(d)}
    assert deleted
    ranked = _evaluation(index).top(T("text", "revision1"), 1000)
    old_versions = _evaluation(index).top(T("text", "pain"), 2000)
    assert not deleted & {d for _s, d in ranked.hits} and not deleted & {d for _s, d in old_versions.hits}
    best = old_versions.hits[0][1]
    again = _evaluation(index).top(T("text", "pain"), 5, exclude=[best])
    assert best not in {d for _s, d in again.hits} and again.total == old_versions.total - 1


def test_phrase_count_is_exact_below_the_verify_limit_and_estimated_above(index, monkeypatch):
    q = wq.Phrase("text", ["blood", "pressur"])
    true_count = len(_evaluation(index).matches(q))
    ranked = _evaluation(index).top(q, 10)
    assert ranked.exact and ranked.total == true_count
    monkeypatch.setattr(evaluate, "VERIFY_ALL_LIMIT", 20)
    estimated = _evaluation(index).top(q, 10)
    assert not estimated.exact and 0.5 * true_count <= estimated.total <= 2 * true_count
    assert estimated.hits == ranked.hits  # the top hits stay exact


def test_date_sort_is_newest_first_over_every_match(index):
    searcher, _ = index.searcher()
    q = wq.Phrase("text", ["blood", "pressur"])
    docs = _evaluation(index).matches(q)
    ranked = _evaluation(index).top(q, 12, sort="published")

    def key(d: int):
        published = searcher.stored_fields(d).get("published")
        return (published is not None, published.timestamp() if published else 0, d)

    assert [d for _s, d in ranked.hits] == sorted(docs, key=key, reverse=True)[:12]


def test_facet_counts_equal_counting_stored_fields(index):
    searcher, _ = index.searcher()
    ev = _evaluation(index)
    docs = ev.matches(T("text", "sciatica"))
    counts = ev.facet_counts(docs, "categories")
    expected: dict[str, int] = {}
    for d in docs:
        for c in {c.strip().lower() for c in (searcher.stored_fields(d).get("categories") or "").split(",")} - {""}:
            expected[c] = expected.get(c, 0) + 1
    assert counts == expected and counts


def test_expansions_are_capped_with_a_clear_message(index, monkeypatch):
    assert _evaluation(index).top(wq.Prefix("text", "w1"), 5).total > 0  # w1, w10..w19, w100..w199
    monkeypatch.setattr(evaluate, "MAX_EXPANSIONS", 50)
    with pytest.raises(UserError, match="matches more than 50 words"):
        _evaluation(index).top(wq.Prefix("text", "w1"), 5)
    monkeypatch.setattr(evaluate, "EXPANSION_SECONDS", 0.0)
    with pytest.raises(UserError, match="past 0 s of looking up words"):
        _evaluation(index).top(wq.Wildcard("text", "*x*"), 5)


def test_the_explained_terms_are_the_terms_scored(index):
    searcher, _ = index.searcher()
    built = build_query(searcher.schema, "kidney disease", synonyms=None)
    ev = _evaluation(index)
    ev.top(built.query, 10, bonus=built.rerank)
    assert {("text", "kidnei"), ("text", "diseas"), ("title", "kidnei")} <= set(ev.terms)
    assert all(v["idf"] > 0 and v["docs"] > 0 for v in ev.terms.values())


def test_a_fields_term_is_bm25f_over_its_fields(tmp_path):
    """FieldsTerm's score, recomputed from Whoosh's public statistics: per field, the word's frequency times the
    field's weight over (1 - B) + B x length / average length, summed, saturated by K1, times the idf of the
    documents having the word in any field; plus the title-alone share of the word's BM25 in the title."""
    rng = random.Random(8)
    docs = [_doc(rng, i) for i in range(60)]
    index_records(docs, tmp_path / "idx", procs=1)
    ranking = Ranking()
    weighting = ranking.weighting()
    fields = {"title": ranking.title_boost, "text": 1.0, "description": 1.0}
    q = evaluate.FieldsTerm([T(f, "pain", boost=w) for f, w in fields.items()], alone=ranking.title_alone)
    with Index(tmp_path / "idx") as opened:
        searcher, segs = opened.searcher()
        got = {d: s for s, d in Evaluation(searcher, segs, weighting).top(q, 100).hits}
        tf: dict[int, dict[str, float]] = {}
        for f in fields:
            m = searcher.postings(f, "pain")
            while m.is_active():
                tf.setdefault(m.id(), {})[f] = m.weight()
                m.next()
        k1, idf = ranking.k1, weighting.idf_of(searcher.doc_count_all(), len(tf))
        expected = {}
        for d, by_field in tf.items():
            norm = {}
            for f in by_field:
                b = ranking.title_b if f == "title" else ranking.b
                norm[f] = (1 - b) + b * searcher.doc_field_length(d, f) / searcher.avg_field_length(f)
            pooled = sum(fields[f] * w / norm[f] for f, w in by_field.items())
            score = pooled * (k1 + 1) / (pooled + k1)
            if "title" in by_field:
                w = by_field["title"]
                score += ranking.title_alone * w * (k1 + 1) / (w + k1 * norm["title"])
            expected[d] = idf * score
    assert len(expected) > 10 and any("title" in f for f in tf.values()) and any(len(f) > 1 for f in tf.values())
    assert set(got) == set(expected)
    for d, s in expected.items():
        assert got[d] == pytest.approx(s, rel=1e-9)
