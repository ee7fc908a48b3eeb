"""A Whoosh segment writer whose new documents' postings bypass the posting pool.

Whoosh's ``SegmentWriter`` turns every posting of every document into a tuple, pushes it through an external sort
(``PostingPool``), then hands the sorted stream to the codec one posting at a time, looking up the document's field
length for each.  Profiled on ~800-word articles, that per-posting machinery was more than half of indexing.

``BulkSegmentWriter`` keeps the per-document work exactly as Whoosh does it (the same ``field.index`` terms,
weights and values; the same per-document writer calls for stored fields, field lengths and columns) but collects
each field's postings per term in arrays as documents arrive.  Documents are numbered in order, so each term's
postings are already sorted by document; at flush time the terms are sorted once, a term of up to 8 postings
is encoded straight into the term table (the inline form Whoosh gives it), and a longer one is written in whole
blocks through whoosh-ng's own W3 postings writer (its block and term-info encoding, unchanged).  The segment
files are byte-for-byte what the generic writer writes for the same documents (tests/test_index_bulk.py compares
them, and the postings, lengths, stored fields, columns and search results).

This relies on whoosh-ng 5.4 internals: the W3 postings writer's block state (``_ids``, ``_weights``,
``_values``, ``_maxweight``, ``_minlength``, ``_maxlength``, ``_write_block``), the W3 term-info layout, and the
term table's ``OrderedHashWriter`` state.  Nothing in whoosh is modified; ``self_check`` writes a small index both
ways in memory once per process and compares the bytes, and on any difference (or error) every writer takes
Whoosh's generic path.

Whoosh's generic path is still used where the bulk path has nothing to offer or cannot be exact: postings that
reach the pool from merged segments (``add_reader``: optimize and Whoosh's small-segment merges), fields with
term vectors or a separate spelling field, and codecs other than W3.  When a writer's collected postings would
exceed ``limitmb``, the current segment is finished and a new one started; the commit lists them all (merged
only by an optimize, since a merge re-reads field lengths quantized to a byte).
"""

from __future__ import annotations

import contextlib
import logging
import struct
from array import array
from bisect import bisect_right
from itertools import accumulate, chain, repeat, starmap
from operator import add, sub
from pickle import dumps

from whoosh import fields, formats
from whoosh.analysis import IDTokenizer
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3Codec, W3PostingsWriter, W3TermInfo
from whoosh.filedb.filetables import HashWriter, OrderedHashWriter
from whoosh.system import pack_int, pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter
from whoosh.writing.posting_pool import PostingPool

from indexer.schema import FastText
from indexer.whoosh_internals import INLINE_VALUE_MAX, compress_block

log = logging.getLogger(__name__)

# Below this estimate of collected postings (about 150 articles) a segment's postings go through Whoosh's pool:
# a small update gains nothing from the bulk path and skips its once-per-process self-check.
_BULK_MIN_BYTES = 2 * 1024 * 1024

# Rough bytes of memory per collected posting and per new term (list slots, a docnum int, a values bytes object
# when not shared; the term's key and containers); only used to decide when to start a new segment.  Calibrated on
# bench/index.py articles: 3,000 of them grew the process by 65 MB, and these give 64 MB.
_POSTING_BYTES = 32
_TERM_BYTES = 200


def bulk_supported(schema, codec) -> bool:
    """True when every document of ``schema`` can take the bulk path with ``codec``."""
    if type(codec) is not W3Codec or not codec.length_stats:
        return False
    for _name, field in schema.items():
        if field.vector or field.separate_spelling():
            return False
    return True


class BulkSegmentWriter(SegmentWriter):
    """``SegmentWriter`` with per-term posting collection for added documents (see the module docstring)."""

    def __init__(self, ix, limitmb: int = 128, **kwargs):
        super().__init__(ix, limitmb=limitmb, **kwargs)
        self._bulk = bulk_supported(self.schema, self.codec)
        self.bulk_flushes = 0  # segments whose postings this writer wrote itself (the rest went through the pool)
        self._limitmb = limitmb
        self._bulk_limit = max(1, limitmb) * 1024 * 1024
        self._done: list = []  # segments this writer finished early to bound memory
        self._memo: dict[str, dict] = {}  # see _index_items
        self._reset_collected()

    def _reset_collected(self) -> None:
        # fieldname -> {term bytes: (docnums array('I'), weights array('d'), values list)}
        self._postings: dict[str, dict] = {}
        # fieldname -> the FastText fields' postings, document by document (sorted by term at the flush)
        self._columns: dict[str, _TermColumns] = {}
        # fieldname -> {docnum: length_to_byte(field length), as the length column keeps it}
        self._lengths: dict[str, dict[int, int]] = {}
        self._unordered: set[tuple[str, bytes]] = set()  # terms posted twice by one document
        self._collected = 0

    # -- adding documents ---------------------------------------------------------------------------------------
    def add_document(self, **fields) -> None:
        """Whoosh's ``SegmentWriter.add_document`` with the pool's ``add`` replaced by per-term collection."""
        if not self._bulk:
            super().add_document(**fields)
            return
        self._check_state()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        alllengths = self._lengths

        docboost = self._doc_boost(fields)
        fieldnames = sorted([name for name in fields if not name.startswith("_")])
        self._check_fields(schema, fieldnames)

        added = 0
        perdocwriter.start_doc(docnum)
        try:
            for fieldname in fieldnames:
                value = fields.get(fieldname)
                if value is None:
                    continue
                field = schema[fieldname]

                length = 0
                if field.indexed:
                    fieldboost = self._field_boost(fields, fieldname, docboost)
                    scorable = field.scorable
                    terms = None
                    if fieldboost == 1.0 and isinstance(field, FastText):
                        terms = field.doc_terms(value)
                    if terms is not None:
                        if terms.values:
                            columns = self._columns.get(fieldname)
                            if columns is None or columns.vocabulary is not terms.vocabulary:
                                columns = self._add_columns(fieldname, terms.vocabulary)
                            columns.add(docnum, terms)
                            added += len(terms.term_ids) * _POSTING_BYTES
                        if scorable:
                            length = terms.length
                    else:
                        length, n = self._add_items(fieldname, field, value, fieldboost, docnum)
                        added += n
                    if length:
                        lb = length_to_byte(length)
                        if lb:
                            lengths = alllengths.get(fieldname)
                            if lengths is None:
                                lengths = alllengths[fieldname] = {}
                            lengths[docnum] = lb

                customval = fields.get(f"_stored_{fieldname}", value)
                sv = customval if field.stored else None
                perdocwriter.add_field(fieldname, field, sv, length)

                column = field.column_type
                if column and customval is not None:
                    cv = self._column_value(fieldname, field, customval)
                    perdocwriter.add_column_value(fieldname, column, cv)
        except ValueError:
            perdocwriter.cancel_doc()
            raise

        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1
        self._collected += added
        if self._collected > self._bulk_limit:
            self._start_next_segment()

    def _index_items(self, fieldname: str, field, value):
        """``field.index(value)``, remembered per value for dates and keyword lists, whose values repeat across
        documents (a date is indexed as 8 trie terms, each converting the datetime again)."""
        if type(field) not in _MEMO_TYPES:
            if type(field) is fields.ID and isinstance(value, str) and _whole_value_id(field):
                # what ID.index yields: the value as its one term (IDTokenizer, Existence format)
                return ((value.encode("utf-8"), 1, field.format.field_boost, b""),)
            return field.index(value)
        memo = self._memo.get(fieldname)
        if memo is None:
            memo = self._memo[fieldname] = {}
        try:
            items = memo.get(value)
        except TypeError:  # unhashable value
            return field.index(value)
        if items is None:
            items = tuple(field.index(value))
            if len(memo) < _MEMO_MAX:
                memo[value] = items
        return items

    def _column_value(self, fieldname: str, field, value):
        if type(field) is not fields.DATETIME:
            return field.to_column_value(value)
        memo = self._memo.get("\0column " + fieldname)
        if memo is None:
            memo = self._memo["\0column " + fieldname] = {}
        try:
            cv = memo.get(value, _MISSING)
        except TypeError:
            return field.to_column_value(value)
        if cv is _MISSING:
            cv = field.to_column_value(value)
            if len(memo) < _MEMO_MAX:
                memo[value] = cv
        return cv

    def _add_items(self, fieldname: str, field, value, fieldboost: float, docnum: int) -> tuple[int, int]:
        """Collect ``field.index(value)`` (Whoosh's generic path); returns (field length, memory estimate)."""
        postings = self._postings.get(fieldname)
        if postings is None:
            postings = self._postings[fieldname] = {}
        before = len(postings)
        scorable = field.scorable
        length = n = 0
        for tbytes, freq, weight, vbytes in self._index_items(fieldname, field, value):
            weight *= fieldboost
            if scorable:
                length += freq
            n += 1
            entry = postings.get(tbytes)
            if entry is None:
                postings[tbytes] = (array("I", (docnum,)), array("d", (weight,)), [vbytes])
            else:
                ids = entry[0]
                if ids[-1] == docnum:
                    self._unordered.add((fieldname, tbytes))
                ids.append(docnum)
                entry[1].append(weight)
                entry[2].append(vbytes)
        return length, n * _POSTING_BYTES + (len(postings) - before) * _TERM_BYTES

    def _add_columns(self, fieldname: str, vocabulary) -> _TermColumns:
        """A new collector for a ``FastText`` field (one per field and vocabulary; should the field's analysis
        change mid-run, the earlier postings move to the generic per-term form first)."""
        if fieldname in self._columns:
            self._columns_to_postings(fieldname)
        columns = self._columns[fieldname] = _TermColumns(vocabulary)
        return columns

    # -- writing postings ---------------------------------------------------------------------------------------
    def _pool_has_postings(self) -> bool:
        return bool(self.pool.current or self.pool.runs)

    def _flush_segment(self) -> None:
        for fieldname in [f for f in self._columns if f in self._postings]:
            self._columns_to_postings(fieldname)  # the field also took the generic path for some documents
        if not self._postings and not self._columns:
            super()._flush_segment()
            return
        small = self._collected < min(_BULK_MIN_BYTES, self._bulk_limit) and not _CHECKING
        if small or self._pool_has_postings() or not (_CHECKING or self_check()):
            for fieldname in list(self._columns):
                self._columns_to_postings(fieldname)
            # Merged segments' postings are in the pool, or too few postings to be worth the self-check (a small
            # update), or the check failed: the pool sorts everything (Whoosh's generic path).
            add = self.pool.add
            for fieldname, terms in self._postings.items():
                for tbytes, (ids, weights, values) in terms.items():
                    for docnum, weight, vbytes in zip(ids, weights, values, strict=True):
                        add((fieldname, tbytes, docnum, weight, vbytes))
            self._reset_collected()
            super()._flush_segment()
            return
        self.perdocwriter.close()
        self._write_postings()
        self.fieldwriter.close()
        self.bulk_flushes += 1

    def _columns_to_postings(self, fieldname: str) -> None:
        """Move a ``FastText`` field's collected postings into the per-term form of the generic path."""
        columns = self._columns.pop(fieldname)
        terms = self._postings.get(fieldname)
        if terms is None:
            terms = self._postings[fieldname] = {}
        fb = self.schema[fieldname].format.field_boost
        for tbytes, ids, weights, values in columns.sorted_terms(fb):
            entry = (array("I", ids), array("d", weights), values)
            other = terms.get(tbytes)
            if other is None:
                terms[tbytes] = entry
            else:  # the field also took the generic path for some documents: order the union at the flush
                other[0].extend(entry[0])
                other[1].extend(entry[1])
                other[2].extend(entry[2])
                self._unordered.add((fieldname, tbytes))

    def _write_postings(self) -> None:
        """Every collected term in (field, term bytes) order, as ``FieldWriter.add_postings`` would write it."""
        fw = self.fieldwriter
        schema = self.schema
        for fieldname in sorted(set(self._postings) | set(self._columns)):
            field = schema[fieldname]
            columns = self._columns.get(fieldname)
            terms = self._postings.get(fieldname)
            if columns is not None:
                postings = columns.sorted_terms(field.format.field_boost)
            elif terms:
                unordered = self._unordered
                postings = (
                    (tbytes, *_sorted_postings(*terms[tbytes]))
                    if unordered and (fieldname, tbytes) in unordered
                    else (tbytes, *terms[tbytes])
                    for tbytes in sorted(terms)
                )
            else:
                continue
            fw.start_field(fieldname, field)
            if type(fw._postwriter) is W3PostingsWriter:
                fw._postwriter.__class__ = _BlockWriter
            lengths = self._lengths.get(fieldname)
            if lengths:  # docnum -> the length's byte (0: none), read for every posting below
                by_docnum = bytearray(self.docnum)
                for docnum, lb in lengths.items():
                    by_docnum[docnum] = lb
                lengths = by_docnum.__getitem__
            else:
                lengths = None
            prefix = pack_ushort(fw._fieldid)
            tindex = fw._tindex
            if _WRITE_HASHES_OK and type(tindex) is OrderedHashWriter:
                tindex.__class__ = _TermTableWriter
            compact = _COMPACT_MAX if fw._postwriter._blocklimit > _COMPACT_MAX else 0
            direct = type(fw._postwriter) is _BlockWriter and type(field.format) is formats.Positions
            rows = _TermRows(tindex)
            for tbytes, ids, weights, values in postings:
                if len(ids) <= compact and _add_compact_term(rows, prefix + tbytes, ids, weights, values, lengths):
                    continue
                if direct:
                    _write_blocks(fw, rows, prefix + tbytes, ids, weights, values, lengths)
                else:
                    rows.flush()  # Whoosh's own finish_term adds this term's row
                    _write_term(fw, tbytes, ids, weights, values, lengths)
            rows.flush()
            fw.finish_field()
        self._reset_collected()

    # -- segments -----------------------------------------------------------------------------------------------
    def _start_next_segment(self) -> None:
        """Finish the current segment (kept for the commit) and continue in a new one."""
        self._done.append(self._finalize_segment())
        newsegment = self.codec.new_segment(self.storage, self.indexname)
        self.newsegment = newsegment
        self.perdocwriter = self.codec.per_document_writer(self.storage, newsegment)
        self.fieldwriter = self.codec.field_writer(self.storage, newsegment)
        self.pool = PostingPool(self._tempstorage, newsegment, limitmb=self._limitmb)
        self.docnum = self.docbase = 0
        self._added = False

    def finish_segments(self) -> list:
        """Finish without committing (a worker process's end): the segments written, for the parent's TOC."""
        self._check_state()
        if self._added:
            self._done.append(self._finalize_segment())
        else:
            self._close_segment()
            for name in self.newsegment.list_files(self.storage):  # the empty segment's files
                with contextlib.suppress(OSError):
                    self.storage.delete_file(name)
        done, self._done = self._done, []
        self._finish()
        return done

    def cancel(self) -> None:
        """Whoosh's cancel, plus removing the files of segments finished early (never in a TOC)."""
        done, self._done = self._done, []
        super().cancel()
        for seg in done:
            for name in seg.list_files(self.storage):
                with contextlib.suppress(OSError):
                    self.storage.delete_file(name)

    def _merge_segments(self, mergetype, optimize, merge):
        # Segments finished early (and workers' segments) join the merge only when optimizing, so --optimize still
        # leaves one segment.  Otherwise they are listed as they are, before the current one: a merge re-reads
        # field lengths quantized to a byte, and they should be merged (like any Whoosh segment) at most once.
        # Nothing deletes from them: this run's deletions all precede its commit.
        done, self._done = self._done, []
        mergetype = mergetype if mergetype is not None else self.mergetype
        optimize = optimize if optimize is not None else self.optimize
        if done and not mergetype and optimize:
            self.segments = list(self.segments) + done
            done = []
        return super()._merge_segments(mergetype, optimize, merge) + done


class _TermColumns:
    """A ``FastText`` field's postings as documents arrive: each document's term ids, counts and encoded values,
    kept as they come (no per-term work, no object per posting); the flush sorts them by term once."""

    def __init__(self, vocabulary) -> None:
        self.vocabulary = vocabulary
        self.docnums: list[int] = []
        self.term_ids: list = []  # one array per document
        self.counts: list = []
        self.values: list[bytes] = []  # one buffer per document
        self.value_starts: list = []

    def add(self, docnum: int, terms) -> None:
        self.docnums.append(docnum)
        self.term_ids.append(terms.term_ids)
        self.counts.append(terms.counts)
        self.values.append(terms.values)
        self.value_starts.append(terms.value_starts)

    def sorted_terms(self, field_boost: float, chunk: int = 1 << 16):
        """(term bytes, docnums, weights, values) for every term in term-bytes order, docnums ascending: what
        ``FastText.index`` would have posted (weight = count x field boost)."""
        import numpy as np

        if not self.docnums:
            return
        sizes = np.fromiter(map(len, self.term_ids), np.int64, len(self.term_ids))
        term_ids = np.concatenate(self.term_ids)
        counts = np.concatenate(self.counts)
        docnums = np.repeat(np.array(self.docnums, np.int64), sizes)
        buffer_starts = np.fromiter(accumulate(map(len, self.values), initial=0), np.int64, len(self.values) + 1)
        value_starts = np.concatenate(self.value_starts) + np.repeat(buffer_starts[:-1], sizes)
        value_ends = np.empty_like(value_starts)  # each value ends where the next one in its buffer starts
        value_ends[:-1] = value_starts[1:]
        value_ends[np.cumsum(sizes) - 1] = buffer_starts[1:]
        values = b"".join(self.values)
        term_bytes = self.vocabulary.term_bytes
        present = sorted(np.unique(term_ids).tolist(), key=term_bytes.__getitem__)
        rank = np.zeros(len(term_bytes), np.int64)
        rank[present] = np.arange(len(present))
        order = np.argsort(rank[term_ids], kind="stable")  # documents arrived in docnum order: stays so per term
        sorted_ids = term_ids[order]
        first = np.empty(len(order), bool)
        first[0] = True
        np.not_equal(sorted_ids[1:], sorted_ids[:-1], out=first[1:])
        starts = np.flatnonzero(first).tolist() + [len(order)]
        weights = counts[order].astype(np.float64)
        if field_boost != 1.0:
            weights *= field_boost
        docnums = docnums[order]
        value_starts = value_starts[order]
        value_ends = value_ends[order]
        nterm = 0
        while nterm < len(present):  # in chunks of about ``chunk`` postings (Python lists are 30+ bytes an item)
            lo = starts[nterm]
            last = min(len(present), max(nterm + 1, bisect_right(starts, lo + chunk) - 1))
            hi = starts[last]
            ids = docnums[lo:hi].tolist()
            ws = weights[lo:hi].tolist()
            vs = list(map(values.__getitem__, map(slice, value_starts[lo:hi].tolist(), value_ends[lo:hi].tolist())))
            for k in range(nterm, last):
                a, b = starts[k] - lo, starts[k + 1] - lo
                yield term_bytes[present[k]], ids[a:b], ws[a:b], vs[a:b]
            nterm = last


class _BlockWriter(W3PostingsWriter):
    """W3PostingsWriter whose block minifiers run in C: ``_mini_ids`` (delta-encoded docnums) and ``_mini_weights``
    (None when all are 1.0, the one value when all are equal, else the tuple) return what Whoosh's do."""

    def _mini_ids(self):
        ids = self._ids
        if self._byteids:
            return tuple(ids)
        return tuple(map(sub, ids, chain((0,), ids)))

    def _mini_weights(self):
        weights = self._weights
        n = len(weights)
        if weights.count(1.0) == n:
            return None
        first = weights[0]
        if weights.count(first) == n:
            return first
        return tuple(weights)


def _sorted_postings(ids, weights, values):
    """Postings in the pool's order, (docnum, weight, value), for a term some document posted twice."""
    rows = sorted(zip(ids, weights, values, strict=True), key=lambda r: (r[0], r[1], r[2] or b""))
    return (
        array("I", (r[0] for r in rows)),
        array("d", (r[1] for r in rows)),
        [r[2] for r in rows],
    )


def _write_term(fw, tbytes: bytes, ids, weights, values, lengths) -> None:
    """One term through W3FieldWriter/W3PostingsWriter with whole blocks set at once: the same state that
    ``add_posting`` would build one posting at a time (block limit, max weight, the non-empty values, min/max
    field length), then Whoosh's own block writing and ``finish_postings``.  ``lengths``: docnum ->
    ``length_to_byte`` of the field length (0: none), or None (here and in ``_write_blocks``,
    ``_add_compact_term``); lengths are quantized to bytes when collected, so the byte of the min/max length is
    the min/max byte."""
    fw.start_term(tbytes)
    pw = fw._postwriter
    limit = pw._blocklimit
    n = len(ids)
    for start in range(0, n, limit):
        if start:
            pw._write_block()
        end = start + limit
        block_ids = ids[start:end] if n > limit else ids
        block_weights = weights[start:end] if n > limit else weights
        block_values = values[start:end] if n > limit else values
        pw._ids = array("I", block_ids)
        pw._weights = array("f", block_weights)
        top = max(block_weights)
        pw._maxweight = top if top > 0 else 0
        pw._values = list(filter(None, block_values))
        if lengths:
            ls = list(filter(None, map(lengths, block_ids)))
            pw._minlength = byte_to_length(min(ls)) if ls else None
            pw._maxlength = byte_to_length(max(ls)) if ls else 0
    fw.finish_term()


def _write_blocks(
    fw, rows: _TermRows, key: bytes, ids: list[int], weights: list[float], values: list[bytes], lengths
) -> None:
    """A term of a Positions field with more than 8 postings, written as ``_write_term`` writes it (W3 blocks in the
    postings file, then the term info) but without the postings writer's per-block objects and method calls:
    each block is the same pickle, zlib level and block header ``W3PostingsWriter._write_block`` writes, and the
    term info adds up the blocks as ``W3TermInfo.add_block`` does; the term's row goes to ``rows``."""
    pw = fw._postwriter
    limit = pw._blocklimit
    comp = pw._compression
    postfile = fw._postfile
    start = postfile.tell()
    out = [WHOOSH3_HEADER_MAGIC]
    n = len(ids)
    total = 0
    minlength, maxlength, maxweight = None, 0, 0
    get = lengths
    for lo in range(0, n, limit):
        block_ids = ids[lo : lo + limit]
        block_weights = weights[lo : lo + limit]
        w32 = array("f", block_weights)
        total += sum(w32)
        top = max(block_weights)
        block_maxweight = top if top > 0 else 0
        if get is not None:
            ls = list(filter(None, map(get, block_ids)))
            block_min = min(ls) if ls else None
            block_max = max(ls) if ls else 0
        else:
            block_min, block_max = None, 0
        minlength = block_min if minlength is None else min(minlength, block_min)
        maxlength = max(maxlength, block_max)
        maxweight = max(maxweight, block_maxweight)
        count = len(block_ids)
        if w32.count(1.0) == count:
            mini_weights = None
        elif w32.count(w32[0]) == count:
            mini_weights = w32[0]
        else:
            mini_weights = tuple(w32)
        mini_ids = tuple(map(sub, block_ids, chain((0,), block_ids)))
        data = compress_block(dumps((mini_ids, mini_weights, tuple(filter(None, values[lo : lo + limit])))), comp)
        info = dumps((count, block_ids[-1], block_maxweight, comp, block_min or 0, block_max))
        size = len(info) + len(data)
        out.append(pack_int(-size if lo + limit >= n else size))
        out.append(info)
        out.append(data)
    postfile.write(b"".join(out))
    value = _TERMINFO.pack(
        W3TermInfo._FLAG_OFFSET,
        total,
        n,
        minlength or 0,
        maxlength,
        maxweight,
        ids[0],
        ids[-1],
    ) + _OFFSET.pack(start, postfile.tell() - start)
    rows.add(key, value)


def _whole_value_id(field) -> bool:
    """The ID field indexes its value as one untouched term (no lowercasing or other filter)."""
    return type(field.analyzer) is IDTokenizer and type(field.format) is formats.Existence


# Field types whose index terms are a pure function of the value and worth remembering per value (see
# BulkSegmentWriter._index_items), and how many values per field to remember.
_MEMO_TYPES = (fields.DATETIME, fields.KEYWORD)
_MEMO_MAX = 100_000
_MISSING = object()

# Terms with at most this many postings are stored inline in the term table ("compact" W3 term infos).
_COMPACT_MAX = 8
_TERMINFO = W3TermInfo._struct
_OFFSET = struct.Struct("!qi")  # pack_long(offset) + pack_int(length)
_KV_LENGTHS = struct.Struct("!II")
# A compact term info as one struct ("!" formats have no padding, so these are the parts' bytes one after the
# other): the term info; then one posting (docnum, weight) and its value's length; or the posting count, the
# docnums, the weights and the values' lengths.
_FLAG_ONE = W3TermInfo._FLAG_INLINE_COMPACT
_FLAG_SHORT = W3TermInfo._FLAG_INLINE_COMPACT_SHORT
_TERMINFO_FORMAT = _TERMINFO.format.lstrip("!")
_COMPACT_ONE = struct.Struct(f"!{_TERMINFO_FORMAT}IfH")
_COMPACT_SHORT = [struct.Struct(f"!{_TERMINFO_FORMAT}B{n}I{n}f{n}H") for n in range(_COMPACT_MAX + 1)]


def _add_compact_term(rows: _TermRows, key: bytes, ids, weights, values, lengths) -> bool:
    """A term of 1-8 postings straight into the term table: the bytes ``W3PostingsWriter.finish_postings`` and
    ``W3TermInfo.to_bytes`` produce for it (flags 2 or 3, postings inline), as a row of ``rows``.  False (nothing
    written) when a value is too long for the inline form: the term goes to the postings file, as in
    :func:`indexer.whoosh_internals._fix_long_inline_values`."""
    n = len(ids)
    w32 = array("f", weights).tolist()  # the postings writer keeps weights as 32-bit floats
    if n == 1:  # most terms: one struct for the term info, the posting and its value's length
        w = w32[0]
        v = values[0] or b""
        if len(v) > INLINE_VALUE_MAX:
            return False
        docnum = ids[0]
        lb = lengths(docnum) if lengths else 0
        rows.add(key, _COMPACT_ONE.pack(_FLAG_ONE, 0 + w, 1, lb, lb, max(0, w), docnum, docnum, docnum, w, len(v)) + v)
        return True
    vals = list(filter(None, values))
    if vals and max(map(len, vals)) > INLINE_VALUE_MAX:
        return False
    if lengths:
        ls = list(filter(None, map(lengths, ids)))
        minb = min(ls) if ls else 0
        maxb = max(ls) if ls else 0
    else:
        minb = maxb = 0
    if len(vals) < n:
        vals += [b""] * (n - len(vals))
    head = _COMPACT_SHORT[n].pack(
        _FLAG_SHORT, 0 + sum(w32), n, minb, maxb, max(0, max(w32)), ids[0], ids[-1], n, *ids, *w32, *map(len, vals)
    )
    rows.add(key, head + b"".join(vals))
    return True


class _TermRows:
    """Term-table rows (key, term info) of one field, in key order, written to the term table a few thousand at a
    time: what ``OrderedHashWriter.add`` does row by row (the row, its position in the index array and in its hash
    bucket, the last key) in one write, with the positions added up here instead of asking the file for each.
    Keys arrive sorted, so the writer's order check is skipped.  Where the term table writer does not have the
    expected shape (``_HASH_ADD_OK``), each row goes through its own ``add``."""

    LIMIT = 4096  # rows held before a write

    def __init__(self, tindex) -> None:
        self.tindex = tindex
        self.keys: list[bytes] = []
        self.values: list[bytes] = []
        if not _HASH_ADD_OK:
            self.add = tindex.add

    def add(self, key: bytes, value: bytes) -> None:
        self.keys.append(key)
        self.values.append(value)
        if len(self.keys) >= self.LIMIT:
            self.flush()

    def flush(self) -> None:
        """Write the held rows (before anything else adds to the term table, and at the end of the field)."""
        keys, values = self.keys, self.values
        if not keys:
            return
        self.keys, self.values = [], []
        tindex = self.tindex
        dbfile = tindex.dbfile
        key_lengths = list(map(len, keys))
        value_lengths = list(map(len, values))
        heads = list(map(_KV_LENGTHS.pack, key_lengths, value_lengths))
        sizes = map(add, map(add, key_lengths, value_lengths), repeat(_KV_LENGTHS.size))
        positions = list(accumulate(sizes, initial=dbfile.tell()))
        positions.pop()  # where the next row would start
        dbfile.write(b"".join(chain.from_iterable(zip(heads, keys, values, strict=True))))
        index = tindex.index
        try:
            index.array.extend(array(index.array.typecode, positions))  # no overflow: the array keeps its type
        except (OverflowError, AttributeError):
            index.extend(positions)  # Whoosh's own growth to a wider type
        buckets = tindex.buckets
        for h, pos in zip(map(tindex.hashfn, keys), positions, strict=True):
            buckets[h & 255].append((h, pos))
        tindex.lastkey = keys[-1]


def _source_has(functions, parts: tuple[str, ...]) -> bool:
    """Whether the source of Whoosh's ``functions`` still contains each of ``parts``: the shape a replacement in
    this module relies on (else Whoosh's own code is used)."""
    import inspect

    try:
        src = "".join(inspect.getsource(f) for f in functions)
    except (OSError, TypeError):
        return False
    return all(part in src for part in parts)


# The term table writer's ``add`` (used by ``_TermRows``).
_HASH_ADD_OK = _source_has(
    (OrderedHashWriter.add, HashWriter.add),
    (
        "self.index.append(self.dbfile.tell())",
        "_lengths.pack(len(key), len(value))",
        "self.buckets[h & 255].append((h, pos))",
        "self.lastkey = key",
    ),
)


class _TermTableWriter(OrderedHashWriter):
    """``OrderedHashWriter`` whose 256 hash tables are each packed and written at once (Whoosh writes every slot,
    two per term, with a call of its own): the slots are filled exactly as ``HashWriter._write_hashes`` fills them
    (an entry's position is never 0, so only empty slots are the null pair)."""

    def _write_hashes(self) -> None:
        dbfile = self.dbfile
        pos = dbfile.tell()
        null = (0, 0)
        pack = _POINTER.pack
        directory = self.directory
        for entries in self.buckets:
            numslots = 2 * len(entries)
            directory.append((pos, numslots))
            if not numslots:
                continue
            table = [null] * numslots
            for entry in entries:
                slot = (entry[0] >> 8) % numslots
                while table[slot] is not null:
                    slot = (slot + 1) % numslots
                table[slot] = entry
            data = b"".join(starmap(pack, table))
            dbfile.write(data)
            pos += len(data)


_POINTER = struct.Struct("!Iq")  # a hash table slot: hash value, position of the row


# How ``HashWriter`` fills and writes its tables (as ``_TermTableWriter`` does).
_WRITE_HASHES_OK = _source_has(
    (HashWriter._write_hashes, HashWriter.close),
    (
        "numslots = 2 * len(entries)",
        "self.directory.append((pos, numslots))",
        "slot = (hashval >> 8) % numslots",
        "slot = (slot + 1) % numslots",
        "dbfile.write(_pointer.pack(hashval, position))",
        "self._write_hashes()",
    ),
)


# --- guard: the W3 internals used above still behave as this module assumes ------------------------------------
_CHECKING = False
_CHECKED: bool | None = None


def self_check() -> bool:
    """Index a few documents into memory through Whoosh's generic writer and through the bulk path and compare the
    segment files byte for byte, once per process.  Should a whoosh-ng release change its postings or term-table
    writers, the check fails and every writer falls back to Whoosh's generic path (slower, never wrong)."""
    global _CHECKING, _CHECKED
    if _CHECKED is None:
        from indexer import whoosh_internals

        whoosh_internals.apply()  # both ways compress posting blocks the same way (compress_block)
        _CHECKING = True
        try:
            _CHECKED = _segment_bytes(bulk=True) == _segment_bytes(bulk=False)
        except Exception as exc:  # any failure of the bulk path on whoosh-ng's internals: the generic path
            log.warning("bulk segment writer off: its self-check failed (%s: %s)", type(exc).__name__, exc)
            _CHECKED = False
        finally:
            _CHECKING = False
        if _CHECKED is False:
            log.warning("bulk segment writer off: whoosh-ng writes other bytes than it does; Whoosh's writer is used")
    return _CHECKED


def _segment_bytes(bulk: bool) -> dict[str, bytes]:
    import random

    from whoosh.filedb.filestore import RamStorage

    schema = fields.Schema(
        key=fields.ID(unique=True, stored=True),
        body=FastText(stored=True),
        title=FastText(field_boost=1.5),
        tags=fields.KEYWORD(commas=True, scorable=True),
        when=fields.DATETIME(sortable=True),
        plain=fields.TEXT(),
    )
    rng = random.Random(5)
    words = [f"w{i}" for i in range(60)] + ["common"] * 40
    storage = RamStorage()
    ix = storage.create_index(schema, indexname="CHECK")
    writer = (BulkSegmentWriter if bulk else SegmentWriter)(ix, compound=False)
    from datetime import datetime

    for i in range(160):  # "common" is in more than one posting block; most words are in 1-8 or 9-128 documents
        body = " ".join(rng.choices(words, k=rng.randint(1, 40)))
        writer.add_document(
            key=f"k{i}",
            body=body,
            title=" ".join(rng.choices(words, k=3)),
            tags=", ".join(rng.sample(["a", "b", "c d"], 2)),
            when=datetime(2000 + i % 7, 1 + i % 12, 1),
            plain=body if i % 3 else "",
        )
    writer.commit()
    # the segment's files by extension (the TOC names the random segment id)
    return {n.split(".", 1)[1]: bytes(storage.files[n]) for n in storage.list() if "." in n and not n.endswith(".toc")}
