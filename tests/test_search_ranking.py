"""The ranking's mechanisms (search_cli.query.Ranking's defaults), each on a small hand-built collection indexed on
disk and searched through the library call behind ``healthdex search``: the ordering each mechanism is for, and
(where the mechanism is a setting) the other ordering with it turned off."""

from __future__ import annotations

import pytest

from indexer.build import index_records
from search_cli.query import Ranking
from search_cli.search import search

FILLER = [
    "Walking every day keeps the heart and the lungs strong",
    "Eat vegetables fruit and whole grains",
    "Sleep well and drink water during the day",
    "Vaccines protect children from measles",
    "Wash hands to stop the flu spreading",
    "Sunscreen lowers the risk of skin damage",
]


def _index(tmp_path, docs: list[tuple[str, str, str]]):
    """(key, title, text) documents beside six filler articles that all say "Health care daily"."""
    records = [{"id": key, "title": title, "text": text} for key, title, text in docs]
    records += [{"id": f"filler{i}", "title": f, "text": f + ". Health care daily."} for i, f in enumerate(FILLER)]
    index_records(records, tmp_path / "idx", procs=1)
    return tmp_path / "idx"


def _keys(index, query: str, **ranking) -> list[str]:
    res = search(index, query, ranking=Ranking(**ranking), limit=10, snippets=False, suggest_spelling=False)
    return [h.key for h in res.hits]


def _before(keys: list[str], first: str, second: str) -> bool:
    return first in keys and (second not in keys or keys.index(first) < keys.index(second))


def test_hyphenated_words_match_however_they_are_written(tmp_path):
    """The index splits words at hyphens and dots as the query always did (schema 1 indexed "tnf-alpha" as one
    word, which no query could produce: "TNF-alpha" and "TNF alpha" both searched "tnf" and "alpha")."""
    index = _index(
        tmp_path,
        [
            ("hyphen", "Sepsis markers", "TNF-alpha levels rise early in sepsis."),
            ("space", "Cytokines", "TNF alpha and IL-6 are cytokines."),
            ("neither", "Sepsis", "Sepsis is an emergency."),
        ],
    )
    for query in ("TNF-alpha", "tnf alpha", "TNF alpha levels"):
        keys = _keys(index, query)
        assert {"hyphen", "space"} <= set(keys[:2]), (query, keys)
    assert _keys(index, "IL-6")[0] == "space" and _keys(index, "il 6")[0] == "space"


def test_a_word_in_title_and_text_is_not_scored_twice(tmp_path):
    """BM25F: a document with both words outranks one with one word in its title and its text; per-field BM25
    added up (schema 1's ranking) put the latter first."""
    index = _index(
        tmp_path,
        [
            (
                "title-and-text",
                "Sciatica",
                "Sciatica is pain along the sciatic nerve, from the lower back down the leg.",
            ),
            ("both-words", "Nerve pain in the leg", "Gentle stretches ease sciatica for many people within weeks."),
        ],
    )
    assert _keys(index, "sciatica stretches")[0] == "both-words"
    assert _keys(index, "sciatica stretches", fields="sum")[0] == "title-and-text"


def test_words_in_nearly_every_document_do_not_outweigh_a_rare_one(tmp_path):
    """Lucene's idf: three words every filler article has weigh almost nothing beside one rare word; Whoosh's idf
    (at least 1 for any word) ranked the document with the three common words first."""
    index = _index(tmp_path, [("rare", "Notes", "Sciatica."), ("common", "Notes", "Health care daily.")])
    assert _keys(index, "health care daily sciatica")[0] == "rare"
    assert _keys(index, "health care daily sciatica", idf="whoosh", idf_power=1.0)[0] == "common"


def test_idf_power_favours_one_rare_word_over_two_commoner_ones(tmp_path):
    """idf ** 1.5: a document with the rarest word of the query outranks one with two words each found in five
    documents, which plain idf (power 1) put first."""
    index = _index(
        tmp_path,
        [
            ("rare", "Notes", "Sciatica today."),
            ("rare-too", "Other notes", "Sciatica again."),
            ("two-medium", "Notes", "Stretches posture."),
            *[(f"medium{i}", "Other notes", "Stretches posture help.") for i in range(4)],
        ],
    )
    assert _before(_keys(index, "sciatica stretches posture"), "rare", "two-medium")
    assert _before(_keys(index, "sciatica stretches posture", idf_power=1.0), "two-medium", "rare")


def test_a_title_naming_the_query_counts_on_its_own(tmp_path):
    """The title-alone share: a page titled with the query's word outranks one whose short text repeats it;
    without it the repetitions won."""
    index = _index(
        tmp_path,
        [
            ("titled", "Shingles in older adults", "A rash along one nerve; shingles clears in weeks."),
            ("mentions", "Rashes", " ".join(["Shingles hurts."] * 6)),
        ],
    )
    assert _keys(index, "shingles")[0] == "titled"
    assert _keys(index, "shingles", title_alone=0.0)[0] == "mentions"


def test_a_concept_scores_the_better_of_its_names_not_both(tmp_path):
    """Synonyms as the better of the words typed and the other names: naming a concept twice ("heart attack, or
    myocardial infarction") gains nothing over a page matching more of the query; added up, it did."""
    index = _index(
        tmp_path,
        [
            ("both-names", "Notes", "Heart attack, or myocardial infarction."),
            ("with-care", "Notes", "Heart attack, and daily care."),
        ],
    )
    assert _keys(index, "heart attack daily care")[0] == "with-care"
    assert _keys(index, "heart attack daily care", synonym_mode="add")[0] == "both-names"
    # and a page with only the other name is still found, below one with the words typed
    assert _keys(index, "heart attack")[:2] == ["both-names", "with-care"]
    assert "both-names" in _keys(index, "myocardial infarction")


def test_a_concept_named_twice_in_a_query_is_expanded_once(tmp_path):
    """ "heart attack (MI)": both mentions are one concept, so its other names are searched once (twice, a page
    with only "myocardial infarction" outranked the one titled "Heart attack")."""
    index = _index(
        tmp_path,
        [
            ("heart-attack", "Heart attack", "A heart attack happens when blood flow to the heart is blocked."),
            ("mi", "Acute myocardial infarction", "Myocardial infarction is necrosis of the heart muscle."),
        ],
    )
    assert _keys(index, "heart attack (MI) symptoms")[0] == "heart-attack"


def test_everyday_words_do_not_pull_in_a_disease(tmp_path):
    """The shipped synonyms leave out names whose everyday sense is as common as the medical one: "alcohol
    consumption" finds nothing about tuberculosis (which an old name, consumption, once pulled in), while
    "tb" still finds it."""
    index = _index(
        tmp_path,
        [
            ("tb", "Tuberculosis", "Tuberculosis is a lung infection treated with antibiotics for months."),
            ("alcohol", "Alcohol", "Alcohol consumption raises blood pressure."),
            ("periods", "Menstruation", "Menstruation and cramps."),
        ],
    )
    assert _keys(index, "alcohol consumption") == ["alcohol"]
    assert _keys(index, "incubation period") == []
    assert "tb" in _keys(index, "tb") and "tb" in _keys(index, "tuberculosis")


@pytest.mark.parametrize("changes", [{}, {"fields": "sum"}, {"idf": "whoosh"}, {"synonym_mode": "add"}])
def test_every_setting_searches_the_same_documents(tmp_path, changes):
    """The settings change the order, not what matches: every document with a query word is found."""
    index = _index(tmp_path, [("a", "Sciatica", "Back pain."), ("b", "Notes", "Sciatic nerve pain.")])
    assert set(_keys(index, "sciatica pain", **changes)) == {"a", "b"}
