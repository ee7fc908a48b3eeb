"""search_cli.snippets: passages with the query's terms marked, matched through the field's own analysis."""

from __future__ import annotations

from indexer import schema as S
from indexer.schema import _fast_plan
from search_cli.snippets import snippet

PLAN = _fast_plan(S.text_analyzer())


def snip(text: str, terms: set[str], **kw) -> str:
    expression, stops, minsize, _maxsize, stem, _sig = PLAN
    return snippet(
        text,
        terms,
        word_pattern=expression.pattern,
        stopwords=stops,
        stem=stem,
        marks=("[", "]"),
        minsize=minsize,
        **kw,
    )


def test_inflected_words_are_marked_through_the_stemmer():
    out = snip("Her legs were aching. Sciatic pains run down the leg.", {"pain", "sciatic"})
    assert "[Sciatic] [pains]" in out
    assert "[aching]" not in out


def test_no_match_gives_empty_and_stop_words_never_match():
    assert snip("Nothing relevant here at all.", {"pain"}) == ""
    assert "[the]" not in snip("the pain", {"the", "pain"})


def test_best_passages_first_by_distinct_terms_then_shown_in_text_order():
    filler = " ".join(f"word{i}" for i in range(60))
    text = f"pain once. {filler} back pain and sciatica together. {filler} pain again {filler}"
    out = snip(text, {"pain", "back", "sciatica"}, top=1)
    assert "[back] [pain] and [sciatica]" in out and "once" not in out
    two = snip(text, {"pain", "back", "sciatica"}, top=2)
    parts = two.split(" … ")
    assert len(parts) == 2 and "[sciatica]" in parts[0 if "once" not in parts[0] else 1]
    assert two.index("[back]") > two.find("once") if "once" in two else True


def test_matches_beyond_the_first_window_are_found():
    text = "x " * 3000 + "rare sciatica mention"
    assert "[sciatica]" in snip(text, {"sciatica"})


def test_the_candidate_regex_finds_exactly_the_words_the_plain_scan_finds(monkeypatch):
    """Tokens starting with a query term's first letters are found by the regex engine; the result must be the
    plain word-by-word scan's, joiners (e.g. "a.b", "x-ray", "it's"), case and non-ASCII text included."""
    import random

    from search_cli import snippets

    expression, stops, minsize, _maxsize, stem, _sig = PLAN
    assert snippets._candidates(expression, frozenset({"pa"})) is not None  # the index's pattern has the shape
    rng = random.Random(7)
    pieces = [
        "Pain",
        "pains",
        "a.pain",
        "scar-pain",
        "SCIATICA's",
        "e.g.",
        "x'sc",
        "pa-in",
        "Σpain",
        "paﬁn",
        "nerves",
        "Nerve-pain",
        "lumbar",
        "radiculopathy",
        "sciatic",
        "the",
        "of",
        "ΠΑΙΝ",
        "İpain",
        "a",
        "pain—back",
        "..pain",
        "-pain",
        "ne",
        "x",
        "12pain",
        "pain_12",
        "café",
        "naïve",
    ]
    seps = [" ", "  ", ", ", ". ", "\n", "-", "'", "’", ".", "/", ""]
    term_sets = [
        {"pain"},
        {"sciatica", "pain", "sciatic", "nerv", "lumbar", "radiculopathi"},
        {"x", "pain"},
        {"caf", "naïv", "12pain"},
        {"e.g", "pa-in"},
    ]
    for _ in range(300):
        text = "".join(rng.choice(pieces) + rng.choice(seps) for _ in range(rng.randint(1, 40)))
        for terms in term_sets:
            fast = snippets._matches(text, terms, expression, stops, stem, minsize)
            monkeypatch.setattr(snippets, "_candidates", lambda pattern, heads: None)
            plain = snippets._matches(text, terms, expression, stops, stem, minsize)
            monkeypatch.undo()
            assert fast == plain, (text, terms)
