"""The one place that defines the Whoosh schema: field names, field types and analyzers.

Everything else (the indexer's writer, ``search_cli``'s query parser, highlighter and spelling suggester) imports
the field names from here.  Field names are a stable contract; analyzers and boosts may be tuned for relevance,
but any change to how a field is analyzed needs a rebuild of existing indexes, so bump ``SCHEMA_VERSION`` with it
(an index records the version it was built with; ``healthdex index`` refuses to mix versions).

Stored fields are exactly what a result needs to display (title, url, site, dates, authors, categories,
description) plus ``text`` for highlighted snippets; see ``bench/index.py`` for what storing ``text`` costs.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from whoosh import fields, formats
from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemFilter, StopFilter

if TYPE_CHECKING:  # indexing needs it; searching imports this module too (a cold search: ~3 ms less without it)
    from indexer.analysis import DocTerms

# Bump when analysis or field types change in a way that needs existing indexes rebuilt.
SCHEMA_VERSION = 2

# --- field names (the contract with search_cli) -----------------------------------------------------------------
KEY = "key"  # record id, else canonical URL; unique; stored
URL = "url"  # indexed as the canonical URL (for `similar URL`), stored as given
SITE = "site"  # host without www., e.g. "cdc.gov"
SITE_NAME = "site_name"  # display name, stored only
TITLE = "title"  # stemmed, boosted, stored
TEXT = "text"  # stemmed body, stored for highlighted snippets
SPELL = "spell"  # unstemmed words of `text`, for "did you mean" (its lexicon is the spelling dictionary)
DESCRIPTION = "description"  # stemmed, stored
AUTHORS = "authors"  # comma-separated keywords, lowercase-matched, stored as given
REVIEWERS = "reviewers"
CATEGORIES = "categories"
LANGUAGE = "language"  # e.g. "en"
PAGE_TYPE = "page_type"
PUBLISHED = "published"  # DATETIME, stored, sortable
UPDATED = "updated"
LAST_REVIEWED = "last_reviewed"
CONTENT_HASH = "content_hash"  # "sha256:<hex>" of the text (from the record, else computed)
INDEX_HASH = "index_hash"  # fingerprint of everything indexed for the record; a column, never displayed

DATE_FIELDS = (PUBLISHED, UPDATED, LAST_REVIEWED)
LIST_FIELDS = (AUTHORS, REVIEWERS, CATEGORIES)

# --- analysis -----------------------------------------------------------------------------------------------------
# Words: runs of letters and digits, with inner apostrophes kept ("b12", "o'brien"), split at hyphens and dots as
# the query's words are (search_cli.query): "covid-19" is "covid" and "19", "TNF-alpha" "tnf" and "alpha", so a
# query written with a space or a hyphen finds both spellings (schema 1 kept "covid-19" as one word, which a query
# never produced: bench/relevance.py).
WORD_PATTERN = r"\w+(?:['’]\w+)*"
MIN_WORD_LENGTH = 2
# A short English stop list: function words that never help a health query.
STOP_WORDS = frozenset(
    """a an and are as at be but by for from has have if in into is it its of on or such that the their then there
    these they this to was were will with""".split()
)
# Spelling suggestions only come from words at least this long, made of letters.
SPELL_MIN_LENGTH = 3


def text_analyzer(stem: bool = True):
    """Tokenizer + lowercase + stop words (+ Porter stemming).  ``no_morph=True`` at call time skips stemming.

    Query parsing and highlighting use this analyzer as is.  Indexing produces exactly the same terms and positions
    through a fused fast path (``FastText``), used only while the analyzer has this exact shape."""
    chain = RegexTokenizer(WORD_PATTERN) | LowercaseFilter() | StopFilter(stoplist=STOP_WORDS, minsize=MIN_WORD_LENGTH)
    if stem:
        chain = chain | StemFilter(cachesize=-1)
    return chain


def build_schema() -> fields.Schema:
    """A fresh Schema object for a new index."""
    keywords = dict(commas=True, lowercase=True, stored=True, scorable=True)
    return fields.Schema(
        **{
            KEY: fields.ID(unique=True, stored=True),
            URL: fields.ID(stored=True),
            SITE: fields.ID(stored=True),
            SITE_NAME: fields.STORED(),
            TITLE: FastText(analyzer=text_analyzer(), stored=True),  # weighted at search time (query.Ranking)
            TEXT: FastText(analyzer=text_analyzer(), stored=True),
            SPELL: SpellWords(),
            DESCRIPTION: FastText(analyzer=text_analyzer(), stored=True, field_boost=1.2),
            AUTHORS: fields.KEYWORD(**keywords),
            REVIEWERS: fields.KEYWORD(**keywords),
            CATEGORIES: fields.KEYWORD(**keywords),
            LANGUAGE: fields.ID(stored=True),
            PAGE_TYPE: fields.ID(stored=True),
            PUBLISHED: fields.DATETIME(stored=True, sortable=True),
            UPDATED: fields.DATETIME(stored=True, sortable=True),
            LAST_REVIEWED: fields.DATETIME(stored=True, sortable=True),
            CONTENT_HASH: fields.ID(stored=True),
            INDEX_HASH: fields.ID(sortable=True),
        }
    )


# --- field types -------------------------------------------------------------------------------------------------
# Indexing one article analyzes its text once: the spelling field (sorted before "text", so Whoosh indexes it
# first) runs the analysis, keeps the unstemmed words, and leaves the stemmed postings here for the text field to
# pick up by identity of the string.
_LAST_ANALYSIS: list = [None, None, None]  # [value, plan signature, DocTerms]


def _fast_plan(analyzer):
    """(regex, stop words, minsize, maxsize, stem function or None, signature) when ``analyzer`` is exactly
    RegexTokenizer | LowercaseFilter | StopFilter [| StemFilter], else None (use Whoosh's generic path)."""
    items = getattr(analyzer, "items", None)
    if not items or len(items) not in (3, 4):
        return None
    tok, low, stop = items[:3]
    if type(tok) is not RegexTokenizer or tok.gaps or type(low) is not LowercaseFilter:
        return None
    if type(stop) is not StopFilter or not stop.renumber:
        return None
    stemfn, stem_id = None, None
    if len(items) == 4:
        st = items[3]
        if type(st) is not StemFilter or st.ignore:
            return None
        stemfn, stem_id = st._stem, (st.stemfn, getattr(st, "lang", None))
    signature = (tok.expression.pattern, stop.stops, stop.min, stop.max, stem_id)
    return tok.expression, stop.stops, stop.min, stop.max, stemfn, signature


def _tokens(value: str, expression) -> list[str]:
    """The lowercased tokens of ``value``, stop words included, as RegexTokenizer | LowercaseFilter gives them."""
    if expression.groups or not _lower_is_per_char(value):
        return [m.group().lower() for m in expression.finditer(value)]
    # Lowercasing the whole text maps it character by character (checked above), so the tokens of the lowered
    # text are exactly the lowered tokens, and findall runs in C.
    lowered = value.lower()
    if expression.pattern == WORD_PATTERN and lowered.isascii():
        return _ascii_words(lowered)
    return expression.findall(lowered)


def _ascii_words(lowered: str) -> list[str]:
    """``WORD_PATTERN``'s matches in lowercase ASCII text, by byte operations in C: every character that is
    neither a word character nor an apostrophe becomes a space.  When no apostrophe is left next to a space or
    another apostrophe (else the regex is used), the words are exactly the space-separated runs."""
    runs = b" " + lowered.encode("ascii").translate(_RUNS_TABLE) + b" "
    if b"' " in runs or b" '" in runs or b"''" in runs:
        return _ASCII_WORDS.findall(lowered)
    return runs.decode("ascii").split()


def analyze(value: str, plan, want_words: bool = False) -> DocTerms:
    """The postings a field with this analysis plan gives ``value`` (see ``indexer.analysis``)."""
    from indexer.analysis import vocabulary

    return vocabulary(plan).analyze(_tokens(value, plan[0]), want_words)


_ASCII_WORDS = re.compile(r"[a-z0-9_]+(?:'[a-z0-9_]+)*", re.ASCII)  # WORD_PATTERN on lowercase ASCII text
# bytes.translate table: every ASCII byte that is neither a word character nor an apostrophe becomes a space
_RUNS_TABLE = bytes(c if chr(c).isascii() and (chr(c).isalnum() or chr(c) in "_'") else 32 for c in range(256))
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_WORD_CHAR = re.compile(r"\w")
_LOWER_PER_CHAR: dict[str, bool] = {}


def _lower_is_per_char(value: str) -> bool:
    """True when ``value.lower()`` lowercases each character on its own into one character of the same regex
    class, so tokenizing the lowered text equals lowering each token.  Not so for e.g. "İ" (two characters
    lowered) or "Σ" (final sigma depends on the next character)."""
    if value.isascii():
        return True
    table = _LOWER_PER_CHAR
    for c in set(_NON_ASCII.findall(value)):
        ok = table.get(c)
        if ok is None:
            lc = c.lower()
            ok = table[c] = (
                len(lc) == 1 and c != "\u03a3" and (_WORD_CHAR.match(c) is None) == (_WORD_CHAR.match(lc) is None)
            )
        if not ok:
            return False
    return True


class FastText(fields.TEXT):
    """``TEXT`` whose indexing runs ``indexer.analysis`` when the analyzer has the standard shape (see
    ``_fast_plan``).  Terms, frequencies, weights and encoded positions are identical to Whoosh's generic path
    (tests/test_index_analysis.py checks this); anything else falls back to ``TEXT.index``."""

    def doc_terms(self, value) -> DocTerms | None:
        """The postings ``index`` gives ``value``, or None when ``index`` takes Whoosh's generic path (the bulk
        writer then uses ``index``)."""
        if not isinstance(value, str) or type(self.format) is not formats.Positions:
            return None
        plan = _fast_plan(self.analyzer)
        if plan is None:
            return None
        last = _LAST_ANALYSIS
        if last[0] is value and last[1] == plan[5]:
            terms = last[2]
        else:
            terms = analyze(value, plan)
        last[0] = last[2] = None
        return terms

    def index(self, value, **kwargs):
        terms = None if kwargs else self.doc_terms(value)
        if terms is None:
            yield from super().index(value, **kwargs)
            return
        fb = self.format.field_boost
        term_bytes = terms.vocabulary.term_bytes if terms.vocabulary else []
        for tid, count, vbytes in zip(terms.term_ids.tolist(), terms.counts.tolist(), terms.value_list(), strict=True):
            yield term_bytes[tid], count, float(count) * fb, vbytes


class SpellWords(fields.FieldType):
    """Unstemmed words for "did you mean" (``searcher.reader().corrector("spell")``; the lexicon of this field is
    the spelling dictionary).  Give it the same string as ``text``; each word is posted once per writer process
    per run (only a word's first article in a run carries it), so the field costs almost nothing to build.

    Limitation: a word whose only carrying articles are later deleted drops out of suggestions until they are
    re-indexed or the index is rebuilt."""

    spelling = True  # marks it as the spelling field for code that looks for one

    def __init__(self):
        self.analyzer = text_analyzer(stem=False)
        self.source_analyzer = text_analyzer()  # the text field's analysis, run once for both fields
        self.format = formats.Existence()
        self.scorable = False
        self.stored = False
        self.unique = False
        self.column_type = None
        self.vector = None

    # words this process has already decided on in the current run (posted, or not spelling words; indexer.build
    # resets it)
    seen: set[str] = set()

    def index(self, value, **kwargs):
        if isinstance(value, list | tuple):
            words = {w for w in value if isinstance(w, str)}
        else:
            plan = _fast_plan(getattr(self, "source_analyzer", None))
            if plan is not None and isinstance(value, str):
                terms = analyze(value, plan, want_words=True)
                _LAST_ANALYSIS[0], _LAST_ANALYSIS[1], _LAST_ANALYSIS[2] = value, plan[5], terms
                words = None
            else:
                words = {t.text for t in self.analyzer(value)}
        seen = SpellWords.seen
        if words is not None:
            new = words - seen
        elif terms.vocabulary is not None:
            new = terms.vocabulary.new_words(terms.word_ids, seen)
        else:
            return
        if not new:
            return
        seen |= new
        for w in sorted(new):
            if len(w) >= SPELL_MIN_LENGTH and w.isalpha():
                yield w.encode("utf-8"), 1, 1.0, b""
