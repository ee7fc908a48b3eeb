"""One article's text to its postings in a few array operations: terms, frequencies and encoded positions.

The per-token Python of the analyzer (a dict lookup and a list append per word, a stemmer call per new word, a
varint loop per position) was the largest part of indexing an ~800-word article.  Here the text is tokenized by
one ``findall``, each word is mapped to a word id by one C-level ``map`` over a vocabulary that remembers every
word seen (and its stem), and grouping by term, renumbering after stop words and the positions' varint encoding
are numpy operations over the whole article.

``analyze`` gives exactly what the field's analyzer (RegexTokenizer | LowercaseFilter | StopFilter [| StemFilter],
see ``indexer.schema._fast_plan``) and ``formats.Positions.encode`` give token by token: the same terms, the same
positions (StopFilter's renumbering: the first kept word keeps its index, the next ones follow it), the same value
bytes.  tests/test_index_analysis.py compares it with Whoosh's own analysis on varied text.
"""

from __future__ import annotations

import struct
import weakref
from itertools import accumulate
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import numpy as np

# Below this many tokens the plain Python loop is cheaper than numpy's per-call overhead (titles, descriptions).
_NUMPY_MIN_TOKENS = 48


class DocTerms(NamedTuple):
    """One text's postings, one entry per term, in no particular order (the writer sorts terms at the flush)."""

    vocabulary: Vocabulary | None
    term_ids: np.ndarray  # int32 ids into ``vocabulary.terms``
    counts: np.ndarray  # int64 occurrences (= the weight before the field boost)
    values: bytes  # each term's ``formats.Positions.encode(positions)``, one after the other
    value_starts: np.ndarray  # where each term's value starts in ``values`` (it ends where the next starts)
    length: int  # kept tokens, the field length
    word_ids: np.ndarray  # the kept (unstemmed) words, when asked for (else empty)

    def value_list(self) -> list[bytes]:
        """Each term's value as a bytes object of its own."""
        starts = self.value_starts.tolist()
        return list(map(self.values.__getitem__, map(slice, starts, [*starts[1:], len(self.values)])))


def _empty() -> DocTerms:
    import numpy as np

    none = np.zeros(0, np.int64)
    return DocTerms(None, none, none, b"", none, 0, none)


_UINT = struct.Struct("!I")  # whoosh.system.pack_uint


class Vocabulary:
    """Word ids, term ids and the one-position values for one analysis plan; grows for the life of the process.

    A word the stop filter drops has word id 0.  Memory is bounded by the distinct words seen (a few dozen bytes
    each, as the stemmer's own cache would hold)."""

    def __init__(self, plan) -> None:
        import numpy as np  # imported here: searching imports the schema, never this

        self.empty = _empty()
        self.expression, self.stops, self.minsize, self.maxsize, self.stemfn, _ = plan
        self.word_ids: dict[str, int] = {}
        self.words: list[str] = [""]
        self.term_of = np.zeros(1024, np.int32)  # word id -> term id (entry 0 unused)
        self.term_ids: dict[str, int] = {}
        self.terms: list[str] = []
        self.term_bytes: list[bytes] = []
        self._decided = np.zeros(0, bool)  # word id -> in ``_decided_for`` (see new_words)
        self._decided_for = None

    def _add_words(self, tokens: list[str]) -> None:
        word_ids, stops, minsize, maxsize, stemfn = self.word_ids, self.stops, self.minsize, self.maxsize, self.stemfn
        for w in tokens:
            if w in word_ids:
                continue
            n = len(w)
            if n < minsize or (maxsize is not None and n > maxsize) or w in stops:
                word_ids[w] = 0
                continue
            term = stemfn(w) if stemfn is not None else w
            tid = self.term_ids.get(term)
            if tid is None:
                tid = self.term_ids[term] = len(self.terms)
                self.terms.append(term)
                self.term_bytes.append(term.encode("utf-8"))
            wid = word_ids[w] = len(self.words)
            self.words.append(w)
            if wid >= len(self.term_of):
                import numpy as np

                self.term_of = np.concatenate([self.term_of, np.zeros(len(self.term_of), np.int32)])
            self.term_of[wid] = tid

    def analyze(self, tokens: list[str], want_words: bool) -> DocTerms:
        """The postings of a text from its lowercased tokens (in order, stop words included)."""
        import numpy as np

        n = len(tokens)
        if not n:
            return self.empty
        # Word ids by ``dict.__getitem__`` (half the time of ``get`` with a default); a new word raises KeyError,
        # and the text's new words are then added in token order (as they come) and the lookup repeated.
        getitem = self.word_ids.__getitem__
        if n < _NUMPY_MIN_TOKENS:
            try:
                wids = list(map(getitem, tokens))
            except KeyError:
                self._add_words(tokens)
                wids = list(map(getitem, tokens))
            return self._analyze_small(wids, want_words)
        try:
            wids = np.fromiter(map(getitem, tokens), np.int64, n)
        except KeyError:
            self._add_words(tokens)
            wids = np.fromiter(map(getitem, tokens), np.int64, n)
        keep = wids != 0
        kept = wids[keep]
        m = len(kept)
        if not m:
            return self.empty
        base = int(keep.argmax())  # StopFilter(renumber=True): the first kept token keeps its index
        tids = self.term_of[kept]
        order = np.argsort(tids, kind="stable")  # by term, positions ascending within a term
        sorted_tids = tids[order]
        first = np.empty(m, bool)
        first[0] = True
        np.not_equal(sorted_tids[1:], sorted_tids[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        counts = np.diff(np.append(starts, m))
        term_ids = sorted_tids[starts]
        encoded, value_starts = _encode_groups(order + base, first, counts)
        words = kept if want_words else self.empty.word_ids
        return DocTerms(self, term_ids, counts, encoded.tobytes(), value_starts, m, words)

    def _analyze_small(self, wids: list[int], want_words: bool) -> DocTerms:
        poses: dict[int, list[int]] = {}
        pos = None
        for i, wid in enumerate(wids):
            if not wid:
                continue
            pos = i if pos is None else pos + 1
            tid = int(self.term_of[wid])
            lst = poses.get(tid)
            if lst is None:
                poses[tid] = [pos]
            else:
                lst.append(pos)
        if pos is None:
            return self.empty
        import numpy as np

        counts = [len(p) for p in poses.values()]
        values = list(map(encode_positions, poses.values()))
        value_starts = np.fromiter(accumulate(map(len, values), initial=0), np.int64, len(values) + 1)[:-1]
        words = np.array([w for w in wids if w] if want_words else [], np.int64)
        term_ids = np.array(list(poses), np.int32)
        return DocTerms(self, term_ids, np.array(counts, np.int64), b"".join(values), value_starts, sum(counts), words)

    def new_words(self, word_ids: np.ndarray, seen: set[str]) -> set[str]:
        """The words of ``word_ids`` not in ``seen``, a set that only grows (the spelling field's words of a run).
        Word ids already checked against the same set are skipped without a lookup."""
        import numpy as np

        if self._decided_for is None or self._decided_for() is not seen:
            self._decided = np.zeros(len(self.words), bool)
            self._decided_for = weakref.ref(seen)
        elif len(self._decided) < len(self.words):
            self._decided = np.concatenate([self._decided, np.zeros(len(self.words) - len(self._decided), bool)])
        if not len(word_ids):
            return set()
        candidates = word_ids[~self._decided[word_ids]]
        if not len(candidates):
            return set()
        candidates = np.unique(candidates)
        self._decided[candidates] = True  # the caller adds what is not in ``seen`` yet
        return set(map(self.words.__getitem__, candidates.tolist())) - seen


def encode_positions(positions: list[int]) -> bytes:
    """``formats.Positions.encode(positions)`` for ascending positions: a 4-byte count, then varint deltas."""
    out = bytearray(_UINT.pack(len(positions)))
    previous = 0
    for p in positions:
        d = p - previous
        previous = p
        while d > 0x7F:
            out.append((d & 0x7F) | 0x80)
            d >>= 7
        out.append(d)
    return bytes(out)


def _encode_groups(positions: np.ndarray, first: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The concatenated ``Positions.encode`` values of consecutive groups of ascending positions (``first`` marks
    each group's first position; ``counts`` are the group sizes) and each value's start offset."""
    import numpy as np

    deltas = positions - np.concatenate(([0], positions[:-1]))
    deltas[first] = positions[first]
    group = np.cumsum(first)  # 1-based group of each position; each group starts with its 4-byte count
    if deltas.max() < 0x80:  # one byte each
        offsets = np.arange(len(deltas)) + 4 * group
        out = np.zeros(len(deltas) + 4 * len(counts), np.uint8)
        out[offsets] = deltas
    else:
        nbytes = np.ones(len(deltas), np.int64)  # varint length: 7 bits a byte
        for k in range(1, 5):  # up to 5 bytes: positions below 2**35
            more = deltas >= (1 << (7 * k))
            if not more.any():
                break
            nbytes += more
        offsets = np.cumsum(nbytes) - nbytes + 4 * group
        out = np.zeros(int(offsets[-1] + nbytes[-1]), np.uint8)
        for k in range(int(nbytes.max())):
            sel = nbytes > k if k else slice(None)
            cont = (nbytes[sel] > k + 1).astype(np.int64) << 7
            out[offsets[sel] + k] = ((deltas[sel] >> (7 * k)) & 0x7F) | cont
    group_starts = offsets[first] - 4
    if counts.max() < 0x100:
        out[group_starts + 3] = counts
    else:
        for k, shift in enumerate((24, 16, 8, 0)):  # the count, big-endian ("!I")
            out[group_starts + k] = (counts >> shift) & 0xFF
    return out, group_starts


_VOCABULARIES: dict[tuple, Vocabulary] = {}


def vocabulary(plan) -> Vocabulary:
    """The process's vocabulary for an analysis plan (by its signature)."""
    vocab = _VOCABULARIES.get(plan[5])
    if vocab is None:
        vocab = _VOCABULARIES[plan[5]] = Vocabulary(plan)
    return vocab
