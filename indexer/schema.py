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
from functools import cache
from operator import sub

from whoosh import fields, formats
from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.system import pack_uint

# Bump when analysis or field types change in a way that needs existing indexes rebuilt.
SCHEMA_VERSION = 1

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
# Words: letters/digits with inner apostrophes, hyphens or dots kept together ("covid-19", "b12", "o'brien").
WORD_PATTERN = r"\w+(?:[.'’-]\w+)*"
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
            TITLE: FastText(analyzer=text_analyzer(), stored=True, field_boost=2.0),
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
# first) runs the fused analysis, keeps the unstemmed words, and leaves the stemmed postings here for the text
# field to pick up by identity of the string.
_LAST_ANALYSIS: list = [None, None, None]  # [value, plan signature, {term: positions}]


def _fast_plan(analyzer):
    """(regex, stop words, minsize, maxsize, stem function or None) when ``analyzer`` is exactly
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


def _signature(plan) -> tuple:
    return plan[5]


def _analyze(value: str, plan, want_words: bool):
    """Fused tokenize/lowercase/stop/stem: {term: [positions]} and the set of unstemmed words."""
    expression, stops, minsize, maxsize, stemfn, _ = plan
    if expression.groups or not _lower_is_per_char(value):
        return _analyze_tokens(value, plan, want_words)
    # Lowercasing the whole text maps it character by character (checked above), so the tokens of the lowered
    # text are exactly the lowered tokens, and findall runs in C.
    lowered = value.lower()
    if expression.pattern == WORD_PATTERN and lowered.isascii():
        tokens = _ASCII_WORDS.findall(lowered)  # the same matches on ASCII text, without Unicode class lookups
    else:
        tokens = expression.findall(lowered)
    if maxsize is None:
        kept = [w for w in tokens if len(w) >= minsize and w not in stops]
    else:
        kept = [w for w in tokens if minsize <= len(w) <= maxsize and w not in stops]
    if not kept:
        return {}, (set() if want_words else None)
    # StopFilter(renumber=True): the first kept token keeps its index, the following ones are numbered on from it.
    first = kept[0]
    base = 0
    for base, w in enumerate(tokens):  # noqa: B007
        if w == first:
            break
    wordpos: dict[str, list[int]] = {}
    for k, w in enumerate(kept, base):
        lst = wordpos.get(w)
        if lst is None:
            wordpos[w] = [k]
        else:
            lst.append(k)
    words = set(wordpos) if want_words else None
    if stemfn is None:
        return wordpos, words
    cache = _STEMS.get(plan[5])
    if cache is None:
        cache = _STEMS[plan[5]] = {}
    poses: dict[str, list[int]] = {}
    for w, lst in wordpos.items():
        t = cache.get(w)
        if t is None:
            t = cache[w] = stemfn(w)
        cur = poses.get(t)
        if cur is None:
            poses[t] = lst
        else:  # two words with one stem ("pain", "pains"): positions are distinct, merge them in order
            poses[t] = sorted(cur + lst)
    return poses, words


def _analyze_tokens(value: str, plan, want_words: bool):
    """The token-at-a-time form of ``_analyze``, for texts whose lowercasing is not character by character."""
    expression, stops, minsize, maxsize, stemfn, _ = plan
    poses: dict[str, list[int]] = {}
    words: set[str] | None = set() if want_words else None
    pos = None
    i = -1
    for i, m in enumerate(expression.finditer(value)):  # noqa: B007
        w = m.group().lower()
        n = len(w)
        if n < minsize or (maxsize is not None and n > maxsize) or w in stops:
            continue
        pos = i if pos is None else pos + 1
        if words is not None:
            words.add(w)
        t = stemfn(w) if stemfn is not None else w
        lst = poses.get(t)
        if lst is None:
            poses[t] = [pos]
        else:
            lst.append(pos)
    return poses, words


_ASCII_WORDS = re.compile(r"[a-z0-9_]+(?:[.'-][a-z0-9_]+)*", re.ASCII)  # WORD_PATTERN on lowercase ASCII text
_STEMS: dict[tuple, dict[str, str]] = {}  # plan signature -> {word: stem}; the StemFilter's own cache is unbounded
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


@cache
def _varint_table() -> list[bytes]:
    """Varint bytes of every position delta below 2**14 (Positions.encode's encoding, one table lookup per delta).
    Built on first use: a search process imports this module (the schema's field types) but never encodes."""
    return [bytes([d]) if d < 0x80 else bytes([(d & 0x7F) | 0x80, d >> 7]) for d in range(1 << 14)]


def _encode_positions(plist: list[int], encode) -> bytes:
    """``formats.Positions.encode(plist)`` for sorted positions, with the varints from the table."""
    table = _varint_table()
    if plist[-1] >= len(table):
        return encode(plist)
    return pack_uint(len(plist)) + b"".join(map(table.__getitem__, map(sub, plist, [0, *plist])))


_ONE_POS_CACHE: dict[int, bytes] = {}


class FastText(fields.TEXT):
    """``TEXT`` whose indexing runs the analyzer as one fused loop when the analyzer has the standard shape (see
    ``_fast_plan``).  Terms, frequencies, weights and encoded positions are identical to Whoosh's generic path
    (tests/test_index_analysis.py checks this); anything else falls back to ``TEXT.index``."""

    def term_positions(self, value) -> dict[str, list[int]] | None:
        """{term: sorted positions} exactly as ``index`` posts them, or None when ``index`` takes Whoosh's generic
        path (the bulk writer then uses ``index``)."""
        if not isinstance(value, str) or type(self.format) is not formats.Positions:
            return None
        plan = _fast_plan(self.analyzer)
        if plan is None:
            return None
        last = _LAST_ANALYSIS
        if last[0] is value and last[1] == _signature(plan):
            poses = last[2]
        else:
            poses, _ = _analyze(value, plan, want_words=False)
        last[0] = last[2] = None
        return poses

    def index(self, value, **kwargs):
        poses = None if kwargs else self.term_positions(value)
        if poses is None:
            yield from super().index(value, **kwargs)
            return
        fb = self.format.field_boost
        encode = self.format.encode
        cache = _ONE_POS_CACHE
        for term, plist in poses.items():
            if len(plist) == 1:
                p0 = plist[0]
                vbytes = cache.get(p0)
                if vbytes is None:
                    vbytes = cache[p0] = encode(plist)
            else:
                vbytes = _encode_positions(plist, encode)
            yield term.encode("utf-8"), len(plist), float(len(plist)) * fb, vbytes


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

    seen: set[str] = set()  # words posted by this process in the current run (indexer.build resets it)

    def index(self, value, **kwargs):
        if isinstance(value, list | tuple):
            words = {w for w in value if isinstance(w, str)}
        else:
            plan = _fast_plan(getattr(self, "source_analyzer", None))
            if plan is not None and isinstance(value, str):
                poses, words = _analyze(value, plan, want_words=True)
                _LAST_ANALYSIS[0], _LAST_ANALYSIS[1], _LAST_ANALYSIS[2] = value, _signature(plan), poses
            else:
                words = {t.text for t in self.analyzer(value)}
        seen = SpellWords.seen
        for w in sorted(words):
            if w not in seen and len(w) >= SPELL_MIN_LENGTH and w.isalpha():
                seen.add(w)
                yield w.encode("utf-8"), 1, 1.0, b""
