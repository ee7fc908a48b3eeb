"""Health synonyms: load the curated TSV (or a user's own file) and find concepts in a query's words.

The data lives in ``synonyms.tsv`` next to this module (data only, one concept a line:
``terms separated by |<TAB>source``). A user file in the same format replaces it via ``--synonyms FILE`` or the
``HEALTHDEX_SYNONYMS`` environment variable. Matching is on lowercased word sequences, longest match first, so
"high blood pressure" wins over "blood pressure".  A synonym file may be at most ``MAX_FILE_BYTES``
(``HEALTHDEX_SYNONYMS_MAX_BYTES``) long.
"""

from __future__ import annotations

import os
import re

from healthdex.errors import UserError

DEFAULT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "synonyms.tsv")
ENV_VAR = "HEALTHDEX_SYNONYMS"
MAX_FILE_BYTES = int(os.environ.get("HEALTHDEX_SYNONYMS_MAX_BYTES", str(16 * 1024 * 1024)))
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    """Lowercased word tokens, the unit synonym matching works on."""
    return _WORD.findall(text.lower())


class Concept:
    __slots__ = ("terms", "source")

    def __init__(self, terms: tuple[str, ...], source: str) -> None:
        self.terms = terms  # every name of the concept, normalised to space-joined words
        self.source = source

    def __repr__(self) -> str:
        return f"Concept({self.terms!r}, {self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Concept) and (self.terms, self.source) == (other.terms, other.source)


class Match:
    __slots__ = ("start", "end", "matched", "alternatives", "source")

    def __init__(self, start: int, end: int, matched: str, alternatives: tuple[str, ...], source: str) -> None:
        self.start, self.end = start, end  # word offsets into the query's word list
        self.matched, self.alternatives, self.source = matched, alternatives, source

    def __repr__(self) -> str:
        return (
            f"Match(start={self.start!r}, end={self.end!r}, matched={self.matched!r}, "
            f"alternatives={self.alternatives!r}, source={self.source!r})"
        )


class SynonymTable:
    def __init__(self, path: str) -> None:
        self.path = path
        self.concepts: list[Concept] = []
        self._index: dict[tuple[str, ...], list[int]] = {}
        self._longest = 1

    def add(self, concept: Concept) -> None:
        n = len(self.concepts)
        self.concepts.append(concept)
        for term in concept.terms:
            key = tuple(term.split())
            self._index.setdefault(key, []).append(n)
            self._longest = max(self._longest, len(key))

    def __len__(self) -> int:
        return len(self.concepts)

    def find(self, tokens: list[str]) -> list[Match]:
        """Non-overlapping concept mentions in ``tokens`` (lowercased words), longest first, left to right."""
        found: list[Match] = []
        i = 0
        while i < len(tokens):
            for n in range(min(self._longest, len(tokens) - i), 0, -1):
                key = tuple(tokens[i : i + n])
                ids = self._index.get(key)
                if not ids:
                    continue
                matched = " ".join(key)
                alts: list[str] = []
                sources: list[str] = []
                for cid in ids:
                    c = self.concepts[cid]
                    sources.append(c.source)
                    alts.extend(t for t in c.terms if t != matched and t not in alts)
                found.append(Match(i, i + n, matched, tuple(alts), "; ".join(dict.fromkeys(sources))))
                i += n
                break
            else:
                i += 1
        return found


def parse_lines(lines, path: str = "<synonyms>") -> SynonymTable:
    """The table of a synonym file's lines; a line with fewer than two distinct names is a ``UserError``.
    (Read on every cold ``healthdex search``: one pass, names lowercased once per line.)"""
    table = SynonymTable(path=path)
    concepts, index, longest = table.concepts, table._index, 1
    findall = _WORD.findall
    for lineno, raw in enumerate(lines, 1):
        head, _tab, rest = raw.partition("\t")
        start = head.lstrip()
        if not start or start[0] == "#":
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
        terms: list[str] = []
        for name in head.lower().split("|"):
            norm = " ".join(findall(name))
            if norm and norm not in terms:
                terms.append(norm)
        if len(terms) < 2:
            raise UserError(f"{path}:{lineno}: a synonym line needs at least two terms separated by '|'")
        n = len(concepts)
        concepts.append(Concept(tuple(terms), rest.rstrip("\n").split("\t", 1)[0].strip()))
        for term in terms:
            key = tuple(term.split(" "))
            ids = index.get(key)
            if ids is None:
                index[key] = [n]
            else:
                ids.append(n)
            if len(key) > longest:
                longest = len(key)
    table._longest = max(table._longest, longest)
    return table


_CACHE: dict[str, SynonymTable] = {}


def resolve_path(path: str | os.PathLike | None = None) -> str:
    """The synonym file in effect: an explicit path, else $HEALTHDEX_SYNONYMS, else the shipped file."""
    if path:
        return os.fspath(path)
    env = os.environ.get(ENV_VAR)
    return env if env else DEFAULT_PATH


def load(path: str | os.PathLike | None = None) -> SynonymTable:
    """The synonym table of ``path`` (see :func:`resolve_path`), parsed once per process."""
    p = resolve_path(path)
    key = str(p)
    if key not in _CACHE:
        from healthdex.inputs import read_bounded

        data = read_bounded(key, "synonyms file", MAX_FILE_BYTES, "HEALTHDEX_SYNONYMS_MAX_BYTES")
        try:
            _CACHE[key] = parse_lines(data.decode("utf-8").splitlines(), key)
        except UnicodeDecodeError:
            raise UserError(f"synonyms file {p} is not UTF-8 text") from None
    return _CACHE[key]
