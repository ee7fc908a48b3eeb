"""The one place that defines the Whoosh schema: field names, field types and analyzers.

Everything else (the indexer's writer, ``search_cli``'s query parser, highlighter and spelling suggester) imports
the field names from here.  Field names are a stable contract; analyzers and boosts may be tuned for relevance,
but any change to how a field is analyzed needs a rebuild of existing indexes, so bump ``SCHEMA_VERSION`` with it
(an index records the version it was built with; ``healthdex index`` refuses to mix versions).

Stored fields are exactly what a result needs to display (title, url, site, dates, authors, categories,
description) plus ``text`` for highlighted snippets; see ``bench/index.py`` for what storing ``text`` costs.
"""

from __future__ import annotations

from whoosh import fields
from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemFilter, StopFilter

# Bump when analysis or field types change in a way that needs existing indexes rebuilt.
SCHEMA_VERSION = 1

# --- field names (the contract with search_cli) -----------------------------------------------------------------
KEY = "key"  # record id, else canonical URL; unique; stored
URL = "url"  # indexed as the canonical URL (for `similar URL`), stored as given
SITE = "site"  # host without www., e.g. "cdc.gov"
SITE_NAME = "site_name"  # display name, stored only
TITLE = "title"  # stemmed, boosted, stored
TEXT = "text"  # stemmed body, stored for highlighted snippets
SPELL = "spell_text"  # unstemmed words of `text`, for "did you mean" (Whoosh's spelling sub-field)
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
# Words: letters/digits with inner apostrophes, hyphens or dots kept together ("covid-19", "b12", "st.john's" is
# split at the dot only when it ends a word).
WORD_PATTERN = r"\w+(?:[.'’-]\w+)*"
MIN_WORD_LENGTH = 2
# A short English stop list: function words that never help a health query.
STOP_WORDS = frozenset(
    """a an and are as at be but by for from has have if in into is it its of on or such that the their then there
    these they this to was were will with""".split()
)


def text_analyzer(stem: bool = True):
    """Tokenizer + lowercase + stop words (+ Porter stemming).  ``no_morph=True`` at call time skips stemming,
    which is how Whoosh fills the unstemmed spelling sub-field from the same analyzer."""
    chain = RegexTokenizer(WORD_PATTERN) | LowercaseFilter() | StopFilter(stoplist=STOP_WORDS, minsize=MIN_WORD_LENGTH)
    if stem:
        chain = chain | StemFilter(cachesize=-1)
    return chain


def build_schema() -> fields.Schema:
    """A fresh Schema object for a new index."""
    stem = text_analyzer()
    keywords = dict(commas=True, lowercase=True, stored=True, scorable=True)
    return fields.Schema(
        **{
            KEY: fields.ID(unique=True, stored=True),
            URL: fields.ID(stored=True),
            SITE: fields.ID(stored=True),
            SITE_NAME: fields.STORED(),
            TITLE: fields.TEXT(analyzer=stem, stored=True, field_boost=2.0),
            TEXT: fields.TEXT(analyzer=stem, stored=True, spelling=True),
            DESCRIPTION: fields.TEXT(analyzer=stem, stored=True, field_boost=1.2),
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
