"""The fused indexing analysis (indexer.schema.FastText / SpellWords) must equal Whoosh's generic analyzer path."""

from __future__ import annotations

import random

import pytest
from whoosh import fields

from indexer import schema as S

SAMPLES = [
    "",
    "the of and",
    "The patient's COVID-19 test was negative; 3.5 mg twice daily.",
    "Sciatica is pain along the sciatic nerve. Stretching, walking and physical therapy help. The the the pain.",
    "Über naïve café ÉCOLE 2nd-line therapy — O'Brien’s B12 levels",
    "a " * 50 + "end",
    # lowercasing that is not character by character (the fused path tokenizes token by token then)
    "ΟΔΟΣ ΑΣ:Β Σ. ΣΟΦΙΑ İstanbul İİ",
    "KELVIN Ω ǅungla ﬁnance ß SS ẞ \u212aelvin it's CO-OP e.g. 3.5",
    # positions past the varint table of the fused encoder
    " ".join(["pain", "the", "sciatica"] * 6000) + " nerve",
    # position deltas of one, two and three varint bytes in one value; a count above 255
    "pain " + "nerve " * 100 + "pain " + "nerve " * 20000 + "pain",
    # joiners at word edges, side by side and alone; underscores; numbers
    "e.g. ...pain... it's 'quoted' -dash- co--op a.-b x_y 3.5.1 .5 5. - . ' _ __init__ o'brien's",
]


def _random_texts(n=30, seed=5):
    rng = random.Random(seed)
    vocab = [
        "pain",
        "the",
        "of",
        "running",
        "runs",
        "ran",
        "X",
        "a1",
        "it's",
        "co-op",
        "e.g.",
        "Nerves",
        "nerve",
        "hypertension",
        "and",
        "is",
        "ÉTÉ",
        "3.14",
        "—",
        "...",
        "b",
        "HIV/AIDS",
    ]
    return [" ".join(rng.choices(vocab, k=rng.randint(1, 400))) for _ in range(n)]


@pytest.mark.parametrize("text", SAMPLES + _random_texts())
def test_fast_text_index_equals_generic_whoosh(text):
    schema = S.build_schema()
    fast = schema[S.TEXT]
    generic = fields.TEXT(analyzer=S.text_analyzer())
    assert sorted(fast.index(text)) == sorted(generic.index(text))
    # through the shared analysis (spelling field first, as Whoosh's add_document orders fields)
    S.SpellWords.seen = set()
    words = {w.decode() for w, *_ in schema[S.SPELL].index(text)}
    assert sorted(fast.index(text)) == sorted(generic.index(text))
    unstemmed = {t.text for t in S.text_analyzer(stem=False)(text)}
    assert words == {w for w in unstemmed if len(w) >= S.SPELL_MIN_LENGTH and w.isalpha()}


def test_changed_analyzer_falls_back_to_generic_path():
    from whoosh.analysis import StandardAnalyzer

    field = S.FastText(analyzer=StandardAnalyzer())
    text = SAMPLES[3]
    assert sorted(field.index(text)) == sorted(fields.TEXT(analyzer=StandardAnalyzer()).index(text))


def test_spell_words_posted_once_per_run():
    S.SpellWords.seen = set()
    spell = S.build_schema()[S.SPELL]
    first = [w for w, *_ in spell.index("sciatica nerve pain")]
    second = [w for w, *_ in spell.index("sciatica hypertension")]
    assert first == [b"nerve", b"pain", b"sciatica"] and second == [b"hypertension"]


def test_ascii_word_runs_equal_the_regex():
    """The byte-level ASCII tokenizer gives exactly WORD_PATTERN's matches, joiners anywhere included."""
    import re

    rng = random.Random(3)
    pattern = re.compile(S.WORD_PATTERN)
    for alphabet in ("ab1_.'- \n,;:!?\"()/\t\x00\x7f", "ab1 .'-"):
        for _ in range(20000):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
            assert S._ascii_words(text) == pattern.findall(text), text
