"""Turn a user's query string into a Whoosh query.

Two paths:

* **Plain words** (no operators, quotes, brackets, wildcards or fuzzy marks; ``field:value`` filters allowed):
  ranked by :func:`free_text_query` — query-side stopwords for long questions, each word one BM25F score over the
  title, text and description (``search_cli.evaluate.FieldsTerm``), a small bonus for adjacent word pairs found as
  near-phrases, and health synonyms as lower-weighted alternatives (see :class:`Ranking`).
* **Query syntax** (AND/OR/NOT, "phrases", "a b"~3, wild*, fuzzy~, (grouping), ``field:`` anywhere): parsed
  by Whoosh's query parser with field aliases, GtLt and date plugins, words joined by OR.

Errors the user can fix (unknown field, unparseable date) raise :class:`healthdex.errors.UserError`.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field

from healthdex.errors import UserError

# Query field name -> schema field. The data the parser and the error messages both use.
FIELD_ALIASES: dict[str, str] = {
    "site": "site",
    "author": "authors",
    "authors": "authors",
    "reviewer": "reviewers",
    "reviewers": "reviewers",
    "category": "categories",
    "categories": "categories",
    "lang": "language",
    "language": "language",
    "published": "published",
    "updated": "updated",
    "reviewed": "last_reviewed",
    "last_reviewed": "last_reviewed",
    "title": "title",
    "text": "text",
    "description": "description",
    "url": "url",
    "key": "key",
    "id": "key",
}
DATE_FIELDS = ("published", "updated", "last_reviewed")
TEXT_FIELDS = ("title", "text", "description")  # searched by plain words (those present in the schema)
STOPWORDS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "query_stopwords.txt")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_FIELD_REF = re.compile(r"(?<![\w.@/-])([A-Za-z_][A-Za-z0-9_]*):(?=[^\s/])")
# A top-level filter clause: field:value, field:"quoted value", field:[a TO b], field:{a TO b]
_FILTER_CLAUSE = re.compile(r"""(?<!\S)([A-Za-z_]+):("[^"]*"|[\[{][^\]}]*[\]}]|\S+)(?=\s|$)""")
_SYNTAX_CHARS = re.compile(r"""["'()\[\]{}*~^:]|(?<!\S)[+-]\w|\?\S|\w\?\w""")
_OPERATORS = re.compile(r"(?<!\S)(AND|OR|NOT|ANDNOT|ANDMAYBE)(?!\S)")
_WORD = re.compile(r"\w+(?:['’]\w+)*")
# A plain-words query is cut to this many words (a pasted page would otherwise be hundreds of clauses).
MAX_QUERY_WORDS = int(os.environ.get("HEALTHDEX_MAX_QUERY_WORDS", "200"))
SYN_BAG_SHARE = 0.5  # of a multi-word synonym's weight given for all its words; the rest if they form the phrase


@dataclass
class Ranking:
    """Knobs of the free-text ranking; the defaults are the shipped, benchmarked ones (bench/relevance.py: four
    health collections, tuned on the dev half of each, checked on the holdout half, beside plain BM25)."""

    profile: str = "healthdex"  # "whoosh": plain Whoosh BM25F + OR of the words, for comparison only
    k1: float = 1.2  # BM25 term-frequency saturation
    b: float = 0.75  # BM25 length normalisation (text field)
    title_b: float = 0.75  # ... for the short title field
    # Each word is one BM25F score over the title, text and description (search_cli.evaluate.FieldsTerm), not a
    # BM25 score per field added up ("sum", schema 1's ranking: a word in a title and a text was scored twice, and
    # a title word common in texts but rare in titles got a rare word's idf).
    fields: str = "bm25f"
    title_boost: float = 2.0  # a title occurrence counts as this many text occurrences
    title_alone: float = 0.5  # a title match also adds this share of the word's BM25 score in the title alone
    idf: str = "lucene"  # log(1 + (N - n + 0.5) / (n + 0.5)); "whoosh": log(N / (n + 1)) + 1, floored at 1
    # idf ** power: the common words of a long question weigh less beside its rare ones (Lucene's classic
    # similarity squares idf); 1.5 is ahead of 1 on every collection of the bench, dev and holdout halves
    idf_power: float = 1.5
    synonym_weight: float = 0.3  # an expanded name counts this much of the words the user typed
    # "max": a concept scores the better of the words typed and its other names (a page naming it twice gains
    # nothing over one naming it once); "add": both scores added
    synonym_mode: str = "max"
    stopword_min_words: int = 4  # query-side stopwords apply to plain queries with at least this many words
    pair_boost: float = 0.2  # weight of each adjacent-pair proximity bonus (0 disables)
    pair_slop: int = 2
    max_pairs: int = 8

    @classmethod
    def named(cls, name: str | None) -> Ranking:
        if not name or name in ("default", "healthdex"):
            return cls()
        if name in ("whoosh", "whoosh-defaults"):
            return cls(
                profile="whoosh",
                fields="sum",
                title_boost=1.0,
                idf="whoosh",
                idf_power=1.0,
                stopword_min_words=10**9,
                synonym_weight=0.0,
                pair_boost=0.0,
            )
        raise UserError(f"unknown ranking '{name}' (choose from: default, whoosh)")

    def weighting(self):
        from whoosh import scoring

        if self.profile == "whoosh":
            return scoring.BM25F()
        if self.idf == "whoosh":
            return scoring.BM25F(B=self.b, K1=self.k1, title_B=self.title_b)
        from search_cli.evaluate import BM25

        return BM25(B=self.b, K1=self.k1, title_B=self.title_b, idf_power=self.idf_power)

    def describe(self) -> str:
        """The scoring of plain words in one line (for ``--explain``)."""
        if self.profile == "whoosh":
            return "Whoosh's BM25F per field (B 0.75, K1 1.2), its idf, scores added"
        words = (
            f"BM25F per word over the fields (title x{self.title_boost:g}, title alone +{self.title_alone:g})"
            if self.fields == "bm25f"
            else f"BM25 per field added (title x{self.title_boost:g})"
        )
        idf = "Lucene's idf" if self.idf == "lucene" else "Whoosh's idf"
        return f"{words}, k1 {self.k1:g}, b {self.b:g}, title b {self.title_b:g}, {idf} ^ {self.idf_power:g}"




@dataclass
class BuiltQuery:
    """A parsed query and what ranking needs besides it (see ``search_cli.evaluate.Evaluation.top``)."""

    query: object  # whoosh.query.Query
    mode: str  # "plain", "syntax" or "filter"
    terms: list[str] = field(default_factory=list)  # the free-text words used for ranking (after stopwords)
    synonyms: list = field(default_factory=list)  # synonyms.Match objects that were expanded
    filters: list[str] = field(default_factory=list)
    filter: object = None  # whoosh.query.Query every hit must match (top-level field filters), or None
    rerank: list = field(default_factory=list)  # bonus queries: their scores are added where the query matches
    notes: list[str] = field(default_factory=list)  # what --explain should say about how the query was read


def clean(text: str) -> str:
    """Normalise a raw query: NFKC, control characters to spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    return " ".join(text.split())


_STOPWORDS: frozenset[str] | None = None


def query_stopwords() -> frozenset[str]:
    global _STOPWORDS
    if _STOPWORDS is None:
        with open(STOPWORDS_PATH, encoding="utf-8") as fh:
            _STOPWORDS = frozenset(
                line.strip().lower() for line in fh if line.strip() and not line.lstrip().startswith("#")
            )
    return _STOPWORDS


def check_fields(text: str, schema) -> None:
    """Reject ``name:value`` references to fields that do not exist (Whoosh would silently search them as text)."""
    outside_quotes = re.sub(r'"[^"]*"', " ", text)
    for m in _FIELD_REF.finditer(outside_quotes):
        name = m.group(1)
        if name.lower() in ("http", "https", "ftp", "mailto"):
            continue
        target = FIELD_ALIASES.get(name.lower())
        if target is None or target not in schema:
            known = ", ".join(sorted(a for a, f in FIELD_ALIASES.items() if f in schema))
            raise UserError(f"unknown field '{name}:' in query (known fields: {known})")


def is_plain(text: str) -> bool:
    """True when ``text`` (filters already removed) uses no query syntax at all."""
    # A question mark ending a word is punctuation, not a one-letter wildcard.
    probe = re.sub(r"\?+(?=\s|$)", " ", text)
    return not (_SYNTAX_CHARS.search(probe) or _OPERATORS.search(probe))


def split_filters(text: str) -> tuple[list[str], str]:
    """Pull top-level ``field:value`` filter clauses (not on title/text) out of the query string."""
    filters: list[str] = []
    depth, in_quote, depths = 0, False, []
    for ch in text:
        depths.append(depth if not in_quote else -1)
        if ch == '"':
            in_quote = not in_quote
        elif not in_quote and ch == "(":
            depth += 1
        elif not in_quote and ch == ")":
            depth = max(0, depth - 1)

    def take(m: re.Match) -> str:
        if depths[m.start()] != 0 or m.group(2).endswith(")"):
            return m.group(0)  # inside a group or quotes: the Whoosh parser handles it
        name = m.group(1).lower()
        if FIELD_ALIASES.get(name) in (None, "title", "text", "description"):
            return m.group(0)
        filters.append(m.group(0))
        return " "

    rest = _FILTER_CLAUSE.sub(take, text)
    return filters, " ".join(rest.split())


def make_parser(schema, title_boost: float = Ranking.title_boost):
    """The Whoosh parser for query syntax: title+text by default (a title match weighted ``title_boost``),
    aliases, fuzzy, GtLt and dates; words joined by OR (scored as written: no AND-leaning factor on this path)."""
    from whoosh.qparser import (
        FieldAliasPlugin,
        FuzzyTermPlugin,
        GtLtPlugin,
        MultifieldParser,
        OrGroup,
    )
    from whoosh.qparser.dateparse import DateParserPlugin

    fields = [f for f in TEXT_FIELDS if f in schema]
    parser = MultifieldParser(fields, schema, fieldboosts={"title": title_boost}, group=OrGroup)
    aliases: dict[str, list[str]] = {}
    for alias, target in FIELD_ALIASES.items():
        if alias != target and target in schema:
            aliases.setdefault(target, []).append(alias)
    parser.add_plugin(FieldAliasPlugin(aliases))
    parser.add_plugin(FuzzyTermPlugin())
    parser.add_plugin(GtLtPlugin())
    errors: list[str] = []
    parser.add_plugin(DateParserPlugin(callback=errors.append))
    return parser, errors


def _check_parsed(q) -> None:
    """Whoosh marks what it could not parse with an ``error`` attribute instead of raising."""
    for node in _walk(q):
        message = getattr(node, "error", None)
        if message:
            raise UserError(f"cannot parse query: {message}")


def _walk(q):
    yield q
    children = getattr(q, "children", None)
    if callable(children):
        for c in children():
            yield from _walk(c)


def parse_syntax(schema, text: str, title_boost: float = Ranking.title_boost):
    """Parse ``text`` with the Whoosh parser; date and range errors become UserError."""
    parser, errors = make_parser(schema, title_boost)
    try:
        q = parser.parse(text)
    except UserError:
        raise
    except Exception as exc:  # the parser's own failures on odd input (e.g. int() on a bad date bound)
        if any(re.search(rf"\b{a}:", text) for a, f in FIELD_ALIASES.items() if f in DATE_FIELDS):
            raise UserError(
                f"cannot parse date in query {text!r} (use e.g. published:>2020, "
                "updated:[2023 TO 2024], published:2021-06)"
            ) from None
        raise UserError(f"cannot parse query: {exc}") from None
    if errors:
        raise UserError(f"cannot parse date in query: {errors[0]}")
    _check_parsed(q)
    _check_ranges(q)
    _clamp_fuzzy(q)
    return _hoist_nots(q)


def _clamp_fuzzy(q) -> None:
    """``word~N`` builds an edit-distance automaton that grows with N and the word's length ("x5~68546" took
    13 s): at most 2 edits (Whoosh's own advice), and none for words over 40 characters."""
    from whoosh.query import FuzzyTerm

    for node in _walk(q):
        if isinstance(node, FuzzyTerm):
            node.maxdist = 0 if len(node.text) > 40 else min(node.maxdist, 2)


def _hoist_nots(q):
    """With an OR default group, ``asthma NOT children`` parses as Or([asthma, Not(children)]), which matches
    every document without "children". Rewrite each such Or as AndNot(Or(positives), Or(negatives))."""
    from whoosh import query as wq

    if isinstance(q, wq.compound.CompoundQuery):
        subs = [_hoist_nots(c) for c in q.subqueries]
        if isinstance(q, wq.Or):
            neg = [c.query for c in subs if isinstance(c, wq.Not)]
            pos = [c for c in subs if not isinstance(c, wq.Not)]
            if neg and pos:
                keep = wq.Or(pos, boost=q.boost) if len(pos) > 1 else pos[0]
                drop = wq.Or(neg) if len(neg) > 1 else neg[0]
                return wq.AndNot(keep, drop)
        import copy

        q = copy.copy(q)
        q.subqueries = subs
        return q
    if isinstance(q, wq.Not):
        import copy

        q = copy.copy(q)
        q.query = _hoist_nots(q.query)
    return q


def _check_ranges(q) -> None:
    """A range on a date field whose bounds did not parse comes back as a text range; reject it."""
    from whoosh import query as wq

    for node in _walk(q):
        fieldname = getattr(node, "fieldname", None)
        if fieldname in DATE_FIELDS and isinstance(node, wq.TermRange):
            raise UserError(f"cannot parse date range in query: {node}")
        if fieldname in DATE_FIELDS and isinstance(node, (wq.Term, wq.Prefix, wq.Wildcard)):
            raise UserError(f"cannot parse date in query: {fieldname}:{node.text}")


# (patterns compiled on first use, through re's cache: most queries have no date)
_DATE_VALUE = r"^(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?$"
_RANGE = r"^([\[{])\s*(.*?)\s+TO\s*(.*?)\s*([\]}])$|^([\[{])\s*TO\s+(.*?)\s*([\]}])$"
DATE_HELP = "use e.g. published:>2020, published:2021-06, updated:[2023 TO 2024], published:<=2019-05-31"


def date_span(text: str):
    """(first, last) instant of a date written as YYYY, YYYY-MM, YYYY-MM-DD or in English ("june 2020")."""
    import calendar
    from datetime import UTC, datetime, timedelta

    text = text.strip().strip('"').strip("'")
    m = re.match(_DATE_VALUE, text)
    try:
        if m:
            y, mo, d = int(m.group(1)), m.group(2), m.group(3)
            if d:
                lo = datetime(y, int(mo), int(d), tzinfo=UTC)
                return lo, lo + timedelta(days=1) - timedelta(microseconds=1)
            if mo:
                last = calendar.monthrange(y, int(mo))[1]
                return datetime(y, int(mo), 1, tzinfo=UTC), datetime(y, int(mo), last, 23, 59, 59, 999999, tzinfo=UTC)
            return datetime(y, 1, 1, tzinfo=UTC), datetime(y, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    except ValueError:
        return None
    from whoosh.qparser.dateparse import English
    from whoosh.util.times import adatetime, timespan

    try:
        d = English().date_from(text, datetime.now(UTC))
    except Exception:
        return None
    if isinstance(d, timespan):
        d = d.disambiguated(datetime.now(UTC))
        return d.start, d.end
    if isinstance(d, adatetime):
        return d.floor(), d.ceil()
    if isinstance(d, datetime):
        return d, d
    return None


def date_filter(fieldname: str, value: str, original: str):
    """The DateRange for a date clause value: X, >X, >=X, <X, <=X, [A TO B], {A TO B}, [A TO], [TO B]."""
    from datetime import timedelta

    from whoosh import query as wq

    tick = timedelta(microseconds=1)

    def span(text):
        sp = date_span(text)
        if sp is None:
            raise UserError(f"cannot parse date {text!r} in {original!r} ({DATE_HELP})")
        return sp

    value = value.strip()
    for op in (">=", "<=", ">", "<"):
        if value.startswith(op):
            lo, hi = span(value[len(op) :])
            return {
                ">": wq.DateRange(fieldname, hi + tick, None),
                ">=": wq.DateRange(fieldname, lo, None),
                "<": wq.DateRange(fieldname, None, lo - tick),
                "<=": wq.DateRange(fieldname, None, hi),
            }[op]
    if value[:1] in "[{":
        m = re.match(_RANGE, value, re.I)
        if not m:
            raise UserError(f"cannot parse date range {original!r} ({DATE_HELP})")
        if m.group(1):
            open_, a, b, close = m.group(1), m.group(2), m.group(3), m.group(4)
        else:
            open_, a, b, close = m.group(5), "", m.group(6), m.group(7)
        start = end = None
        if a:
            lo, hi = span(a)
            start = hi + tick if open_ == "{" else lo
        if b:
            lo, hi = span(b)
            end = lo - tick if close == "}" else hi
        if start is None and end is None:
            raise UserError(f"empty date range {original!r} ({DATE_HELP})")
        return wq.DateRange(fieldname, start, end)
    lo, hi = span(value)
    return wq.DateRange(fieldname, lo, hi)


def filter_query(schema, clause: str):
    """A top-level ``field:value`` filter: dates by :func:`date_filter`, names and categories by whole words."""
    from whoosh import query as wq

    name, _, value = clause.partition(":")
    fieldname = FIELD_ALIASES[name.lower()]
    if fieldname in DATE_FIELDS:
        try:
            return date_filter(fieldname, value, clause)
        except OverflowError:  # e.g. [2020 TO 9999-12-31]: the day's end is past datetime.max
            raise UserError(f"date out of range in {clause!r} ({DATE_HELP})") from None
    bare = value.strip('"').strip().lower()
    if fieldname in ("authors", "reviewers", "categories") and bare and not any(c in bare for c in "*?[]{}"):
        # Keywords are whole names ("jane smith", "back pain"); let author:smith or category:pain match a word of one.
        bare = " ".join(bare.replace(",", " ").split())
        return wq.Or(
            [
                wq.Term(fieldname, bare),
                wq.Wildcard(fieldname, f"{bare} *"),
                wq.Wildcard(fieldname, f"* {bare}"),
                wq.Wildcard(fieldname, f"* {bare} *"),
            ]
        )
    if fieldname == "site" and bare:
        # site:nih.gov also matches subdomains (www.nhlbi.nih.gov is stored as nhlbi.nih.gov)
        bare = bare.removeprefix("www.")
        return wq.Or([wq.Term(fieldname, bare), wq.Wildcard(fieldname, f"*.{bare}")])
    return parse_syntax(schema, clause)


def analyze(schema, fieldname: str, word: str) -> list[str]:
    """The index terms ``word`` becomes in ``fieldname`` (stemmed, stopwords dropped by the field's analyzer)."""
    if fieldname not in schema:
        return []
    return [t for t in schema[fieldname].process_text(word, mode="query") if t]


def free_text_query(schema, text: str, *, synonyms=None, ranking: Ranking | None = None) -> BuiltQuery:
    """Ranked query for plain words: see the module docstring."""
    from whoosh import query as wq

    ranking = ranking or Ranking()
    fields = [f for f in TEXT_FIELDS if f in schema]
    raw_words = [w.lower().replace("’", "'") for w in _WORD.findall(text)]
    notes = []
    if len(raw_words) > MAX_QUERY_WORDS:
        notes.append(f"only the first {MAX_QUERY_WORDS} of {len(raw_words)} words searched (HEALTHDEX_MAX_QUERY_WORDS)")
        raw_words = raw_words[:MAX_QUERY_WORDS]
    use_stop = len(raw_words) >= ranking.stopword_min_words
    stop = query_stopwords() if use_stop else frozenset()
    kept = [w for w in raw_words if w not in stop] or raw_words

    # term -> query-term frequency, in first-seen order (a repeated word is a stronger signal, sublinearly)
    qtf: dict[str, int] = {}
    for w in kept:
        for t in analyze(schema, "text", w):
            qtf[t] = qtf.get(t, 0) + 1

    def term_clause(t: str, boost: float = 1.0):
        # the schema's title/description analyzers are the text analyzer, so one term serves every field
        if ranking.fields == "bm25f":
            from search_cli.evaluate import FieldsTerm

            subs = [wq.Term(f, t, boost=ranking.title_boost if f == "title" else 1.0) for f in fields]
            return FieldsTerm(subs, boost=boost, alone=ranking.title_alone if fields[0] == "title" else 0.0)
        subs = [wq.Term(f, t, boost=(ranking.title_boost if f == "title" else 1.0) * boost) for f in fields]
        return wq.Or(subs) if len(subs) > 1 else subs[0]

    def phrase_clause(words: list[str], boost: float, slop: int = 1, positional: bool = True):
        """The words as a phrase in each field; ``positional=False``: all of them anywhere in the field.  A name
        of one word is that word's :func:`term_clause`."""
        toks = [t for w in words for t in analyze(schema, "text", w)]
        if len(toks) == 1:
            return term_clause(toks[0], boost)
        per_field = []
        for f in fields:
            toks = []
            for w in words:
                toks.extend(analyze(schema, f, w))
            if not toks:
                continue
            fb = ranking.title_boost if f == "title" else 1.0
            if len(toks) == 1:
                per_field.append(wq.Term(f, toks[0], boost=fb * boost))
            elif positional:
                per_field.append(wq.Phrase(f, toks, slop=slop, boost=fb * boost))
            else:
                per_field.append(wq.And([wq.Term(f, t) for t in toks], boost=fb * boost))
        if not per_field:
            return None
        return wq.Or(per_field) if len(per_field) > 1 else per_field[0]

    clauses = []
    term_ids = {t: i for i, t in enumerate(qtf)}
    for t, n in qtf.items():
        if ranking.profile == "whoosh":
            clauses.append(term_clause(t))
        else:
            clauses.append(term_clause(t, 1.0 + 0.5 * (n - 1) ** 0.5 if n > 1 else 1.0))

    expanded = []
    later = []  # synonym phrases that only re-rank (see below)
    concepts_seen: set[frozenset[str]] = set()
    if synonyms is not None and len(synonyms) and ranking.synonym_weight > 0:
        for m in synonyms.find(raw_words):
            names = frozenset((m.matched, *m.alternatives))
            if names in concepts_seen:  # "heart attack (MI)": one concept, expanded once
                continue
            concepts_seen.add(names)
            alts = []
            n_later = len(later)
            typed = {t for w in m.matched.split() for t in analyze(schema, "text", w)}
            for alt in m.alternatives:
                toks = [t for w in alt.split() for t in analyze(schema, "text", w)]
                if not toks:
                    continue
                # a name longer than the words typed weighs no more than they do in all ("heart attack" ->
                # "acute myocardial infarction": each of its three words counts two thirds)
                weight = ranking.synonym_weight * min(1.0, max(1, len(typed)) / len(toks))
                if typed and typed <= set(toks):
                    # "diabetes" -> "diabetes mellitus": finds nothing new, only ranks; scored on the top candidates
                    later.append(phrase_clause(alt.split(), weight))
                elif len(toks) > 1 and ranking.synonym_mode == "max":
                    # A multi-word name: all its words in a field (a phrase bonus would be added beside the max)
                    alts.append(phrase_clause(alt.split(), weight, positional=False))
                elif len(toks) > 1:
                    # A multi-word name finds documents by all its words; being an exact phrase adds the rest of
                    # its weight (positions are checked only for candidates that can reach the top hits).
                    alts.append(phrase_clause(alt.split(), weight * SYN_BAG_SHARE, positional=False))
                    later.append(phrase_clause(alt.split(), weight * (1 - SYN_BAG_SHARE)))
                else:
                    alts.append(term_clause(toks[0], weight))
            if len(later) > n_later and not alts:
                expanded.append(m)
            if alts:
                span_terms = set()
                for w in raw_words[m.start : m.end]:
                    span_terms.update(term_ids[t] for t in analyze(schema, "text", w) if t in term_ids)
                typed_clauses = [i for i in sorted(span_terms) if clauses[i] is not None]
                if ranking.synonym_mode == "max" and typed_clauses:
                    # the concept scores the better of the words typed and each other name
                    group = [clauses[i] for i in typed_clauses]
                    for i in typed_clauses:
                        clauses[i] = None
                    alts.insert(0, wq.Or(group) if len(group) > 1 else group[0])
                clauses.append(wq.DisjunctionMax(alts) if len(alts) > 1 else alts[0])
                expanded.append(m)

    # Proximity bonus for adjacent word pairs (their positions are checked only for the candidates that can still
    # reach the top hits: search_cli.evaluate).
    rerank = list(later)
    if ranking.pair_boost > 0 and len(kept) >= 2:
        seen = set()
        for a, b in zip(kept, kept[1:], strict=False):
            if (a, b) in seen or len(seen) >= ranking.max_pairs:
                continue
            seen.add((a, b))
            if len([t for w in (a, b) for t in analyze(schema, "text", w)]) == 2:
                rerank.append(phrase_clause([a, b], ranking.pair_boost, slop=ranking.pair_slop))

    clauses = [c for c in clauses if c is not None]
    if not clauses:
        return BuiltQuery(wq.NullQuery, "plain", [], [], notes=notes)
    q = wq.Or(clauses) if len(clauses) > 1 else clauses[0]
    return BuiltQuery(q, "plain", list(qtf), expanded, rerank=rerank, notes=notes)


def build_query(schema, text: str, *, synonyms=None, ranking: Ranking | None = None, plain: bool = False) -> BuiltQuery:
    """The query for a user's string. ``plain=True`` treats the whole string as words (batch topics)."""
    from whoosh import query as wq

    ranking = ranking or Ranking()
    text = clean(text)
    if not text:
        raise UserError("empty query")
    if plain:
        built = free_text_query(schema, text, synonyms=synonyms, ranking=ranking)
        if built.query is wq.NullQuery:
            raise UserError("query has no searchable words")
        return built

    check_fields(text, schema)
    filters, rest = split_filters(text)
    filter_qs = [filter_query(schema, f) for f in filters]
    if rest and is_plain(rest):
        built = free_text_query(schema, rest, synonyms=synonyms, ranking=ranking)
        if built.query is wq.NullQuery and not filter_qs:
            raise UserError("query has no searchable words")
    elif rest:
        q = parse_syntax(schema, rest, ranking.title_boost)
        built = BuiltQuery(q, "syntax", [], [])
    else:
        built = BuiltQuery(wq.Every(), "filter", [], [])
    if filter_qs:
        built.filter = wq.And(filter_qs) if len(filter_qs) > 1 else filter_qs[0]
        built.filters = filters
        if built.query is wq.NullQuery:
            built.query = wq.Every()
    if built.query is wq.NullQuery:
        raise UserError("query has no searchable words")
    return built
