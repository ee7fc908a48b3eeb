"""Array copies of a segment's long posting lists, written after each commit, read by the ranked-search evaluator.

Whoosh's W3 codec stores a posting list as blocks of 128 postings; each block pickles the ids, weights and
positions together and zlib-compresses them.  Ranking needs only ids and weights (positions for a few candidate
documents), yet reading a list costs a decompress + unpickle per block and a Python object per posting and per
position value: at 100,000 articles a two-word health query spent most of its time there.

A committed segment never changes (deletions live apart), so its lists can be copied once into a form that loads
with one ``array.frombytes`` each.  For every scorable field's term with at least :data:`MIN_POSTINGS` postings,
``MAIN_<segment>.hdx`` holds the document numbers (uint32); the weights (W3 keeps them as float32; here one byte
each when all are whole numbers below 256, as term frequencies are, and nothing when all are 1.0); and each W3
block's first posting and byte offset in the ``.pst`` file, so the positions of one document decode from its block
alone.  Terms are keyed by their postings' offset in the ``.pst`` file (from the term info the reader looks up
anyway).

The file is an accelerator, never the record: it is written to a hidden temporary name and renamed into place,
checked on open (magic, version, byte order, document count, ``.pst`` size), and a missing or mismatched file only
means the evaluator decodes W3 blocks.  Its name matches Whoosh's segment-file pattern, so Whoosh's own clean-up
deletes it with its segment.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate

SUFFIX = ".hdx"
MIN_POSTINGS = 512  # shorter lists decode from W3 blocks in well under a millisecond
_MAGIC = b"HDXPOST1"
_TRAILER = struct.Struct("<8sBxxxIIQQ")  # magic, little-endian flag, doc count, terms, table offset, .pst size
_W3_MAGIC = b"W3Bl"  # whoosh.codec.whoosh3.WHOOSH3_HEADER_MAGIC
_BLOCK_LENGTH = struct.Struct("!i")  # whoosh.system.write_int
# per-term weight encodings (the flags byte)
_WEIGHTS_NONE, _WEIGHTS_BYTE, _WEIGHTS_FLOAT = 0, 1, 2
_WEIGHT_CODES = {_WEIGHTS_NONE: None, _WEIGHTS_BYTE: "B", _WEIGHTS_FLOAT: "f"}


class MalformedPostings(Exception):
    """A W3 posting list this module does not understand."""


def iter_blocks(buf: bytes, base: int = 0) -> Iterator[tuple[int, list[int], list, object]]:
    """Decode a W3 posting list (``buf``: its whole extent in the ``.pst`` file, starting at offset ``base``):
    yields (offset of the block, ids, weights, values) per block: a weight per posting (W3 stores None for all
    1.0 and one number for all equal), and the block's tuple of encoded values (or None)."""
    if buf[:4] != _W3_MAGIC:
        raise MalformedPostings("unknown postings block header")
    f = io.BytesIO(buf)
    pos = 4
    unpack = _BLOCK_LENGTH.unpack_from
    load, loads, decompress = pickle.load, pickle.loads, zlib.decompress
    while True:
        (blocklength,) = unpack(buf, pos)
        end = pos + 4 + abs(blocklength)
        f.seek(pos + 4)
        _count, _maxid, _maxweight, comp, _mn, _mx = load(f)
        data = buf[f.tell() : end]
        if comp:
            data = decompress(data)
        id_deltas, weights, values = loads(data)
        ids = list(accumulate(id_deltas))  # the first delta is absolute
        if weights is None:
            weights = [1.0] * len(ids)
        elif isinstance(weights, float | int):
            weights = [weights] * len(ids)
        yield base + pos, ids, weights, values
        pos = end
        if blocklength < 0 or pos >= len(buf):
            return


def decode_block(postfile, offset: int, end: int) -> tuple[list[int], list, object]:
    """One W3 block at ``offset`` (its length word) of a ``.pst`` file, up to ``end`` at most."""
    buf = postfile.get(offset, end - offset)
    for _pos, ids, weights, values in iter_blocks(_W3_MAGIC + buf, offset - 4):
        return ids, weights, values
    raise MalformedPostings("empty block")


class Postings:
    """One term's postings from a sidecar: ids, weights (None: all 1.0), and the W3 blocks for positions."""

    __slots__ = ("ids", "weights", "block_starts", "block_offsets", "end")

    def __init__(self, ids: array, weights: array | None, block_starts: array, block_offsets: array, end: int):
        self.ids, self.weights = ids, weights
        self.block_starts, self.block_offsets, self.end = block_starts, block_offsets, end

    def block_extent(self, b: int) -> tuple[int, int]:
        """Where block ``b`` starts in the ``.pst`` file and where the next one (or the list) starts."""
        offsets = self.block_offsets
        return offsets[b], offsets[b + 1] if b + 1 < len(offsets) else self.end


class Sidecar:
    """A segment's ``.hdx`` file, open for lookups."""

    def __init__(self, f, keys: array, starts: array, counts: array, nblocks: array, flags: bytes, swap: bool):
        self._f = f
        self._keys, self._starts, self._counts, self._nblocks, self._flags = keys, starts, counts, nblocks, flags
        self._swap = swap

    def close(self) -> None:
        self._f.close()

    def lookup(self, pst_offset: int, pst_length: int) -> Postings | None:
        """The postings whose W3 list starts at ``pst_offset``, or None when the sidecar does not have them."""
        keys = self._keys
        i = bisect_left(keys, pst_offset)
        if i == len(keys) or keys[i] != pst_offset:
            return None
        n, nb = self._counts[i], self._nblocks[i]
        wcode = _WEIGHT_CODES.get(self._flags[i], "?")
        if wcode == "?":
            return None
        layout = [("I", n), (wcode or "B", n if wcode else 0), ("I", nb), ("Q", nb)]
        size = sum(array(code).itemsize * count for code, count in layout)
        self._f.seek(self._starts[i])
        data = self._f.read(size)
        if len(data) != size:
            return None
        parts = []
        pos = 0
        for code, count in layout:
            a = array(code)
            a.frombytes(data[pos : pos + count * a.itemsize])
            pos += count * a.itemsize
            if self._swap:
                a.byteswap()
            parts.append(a)
        ids, weights, block_starts, block_offsets = parts
        return Postings(ids, weights if wcode else None, block_starts, block_offsets, pst_offset + pst_length)


def sidecar_name(segment) -> str:
    return segment.make_filename(SUFFIX)


def open_sidecar(storage, segment, doc_count_all: int, pst_size: int) -> Sidecar | None:
    """The segment's sidecar, or None when it is missing or does not belong to this segment as it is."""
    name = sidecar_name(segment)
    try:
        if not storage.file_exists(name):
            return None
        f = open(os.path.join(storage.folder, name), "rb")  # noqa: SIM115 (kept open with the Sidecar)
    except (OSError, AttributeError):
        return None
    try:
        f.seek(-_TRAILER.size, os.SEEK_END)
        magic, little, docs, nterms, table_at, pst = _TRAILER.unpack(f.read(_TRAILER.size))
        if magic != _MAGIC or docs != doc_count_all or pst != pst_size:
            raise ValueError("not this segment's sidecar")
        f.seek(table_at)
        table = f.read(nterms * 25)
        arrays = []
        pos = 0
        for code in ("Q", "Q", "I", "I"):
            a = array(code)
            a.frombytes(table[pos : pos + nterms * a.itemsize])
            pos += nterms * a.itemsize
            arrays.append(a)
        flags = table[pos : pos + nterms]
        swap = bool(little) != (sys.byteorder == "little")
        if swap:
            for a in arrays:
                a.byteswap()
        if len(flags) != nterms:
            raise ValueError("truncated")
        return Sidecar(f, *arrays, flags, swap)
    except (OSError, ValueError, struct.error):
        f.close()
        return None


class SidecarWriter:
    """Builds one segment's sidecar from the long lists it is given, then writes it under its final name."""

    def __init__(self, folder: str, segment) -> None:
        self.folder, self.segment = folder, segment
        self.name = sidecar_name(segment)
        # hidden, and not under the segment's prefix: whoosh-ng checks every file of a segment on open (an empty
        # one is "corruption"), so a file still being written, or left by a kill, must not look like one of them
        self._tmp = os.path.join(folder, f".{self.name}.{os.getpid()}.tmp")
        self._out = open(self._tmp, "wb")  # noqa: SIM115 (closed by finish/abandon)
        self._keys, self._starts, self._counts, self._nblocks = array("Q"), array("Q"), array("I"), array("I")
        self._flags = bytearray()

    def add(self, pst_offset: int, ids: array, weights, block_starts: array, block_offsets: array) -> None:
        """One posting list: its extent's offset in the ``.pst`` file, ids (uint32 array), weights (a sequence of
        numbers), each block's first posting and offset."""
        if len(ids) != len(weights):
            raise MalformedPostings("ids and weights differ in length")
        # the encoding tests run in C (array conversions and comparisons), not a Python step per weight
        exact = weights if isinstance(weights, array) and weights.typecode == "d" else array("d", weights)
        as_bytes = None
        if exact.count(1.0) != len(exact):
            try:
                as_bytes = array("B", map(int, exact))  # OverflowError outside 0..255
            except (OverflowError, ValueError):
                as_bytes = None
            if as_bytes is not None and array("d", as_bytes) != exact:  # not whole numbers
                as_bytes = None
        if exact.count(1.0) == len(exact):
            wcode, wbytes = _WEIGHTS_NONE, b""
        elif as_bytes is not None:
            wcode, wbytes = _WEIGHTS_BYTE, as_bytes.tobytes()
        else:
            wcode, wbytes = _WEIGHTS_FLOAT, array("f", exact).tobytes()
        out = self._out
        self._keys.append(pst_offset)
        self._starts.append(out.tell())
        self._counts.append(len(ids))
        self._nblocks.append(len(block_starts))
        self._flags.append(wcode)
        out.write(ids.tobytes())
        out.write(wbytes)
        out.write(block_starts.tobytes())
        out.write(block_offsets.tobytes())

    def finish(self, pst_size: int) -> None:
        out = self._out
        try:
            table_at = out.tell()
            keys = self._keys
            order = sorted(range(len(keys)), key=keys.__getitem__)  # .pst offsets follow term order; be sure
            for a in (keys, self._starts, self._counts, self._nblocks):
                out.write(array(a.typecode, [a[i] for i in order]).tobytes())
            out.write(bytes(self._flags[i] for i in order))
            out.write(
                _TRAILER.pack(
                    _MAGIC, sys.byteorder == "little", self.segment.doc_count_all(), len(keys), table_at, pst_size
                )
            )
            out.flush()
            os.fsync(out.fileno())
        finally:
            out.close()
        os.replace(self._tmp, os.path.join(self.folder, self.name))

    def abandon(self) -> None:
        self._out.close()
        try:
            os.remove(self._tmp)
        except OSError:
            pass


def write_sidecar(storage, segment, schema, min_postings: int | None = None) -> bool:
    """Write ``segment``'s sidecar (replacing any) for its lists of ``min_postings`` (default
    :data:`MIN_POSTINGS`) or more, decoded from its W3 blocks; False when the segment is not a separate-file W3
    segment."""
    if min_postings is None:
        min_postings = MIN_POSTINGS
    from whoosh.codec.whoosh3 import W3Codec

    codec = segment.codec()
    if not isinstance(codec, W3Codec) or segment.is_compound():
        return False
    terms = codec.terms_reader(storage, segment)
    writer = SidecarWriter(storage.folder, segment)
    try:
        postfile = terms._postfile
        scored = {name for name in schema.names() if getattr(schema[name], "scorable", False)}
        for (fieldname, _btext), info in terms.items():
            if fieldname not in scored or info.is_inlined() or info.doc_frequency() < min_postings:
                continue
            offset, length = info.extent()
            if isinstance(length, tuple):  # whoosh-ng 5.4 keeps struct.unpack's 1-tuple
                length = length[0]
            if not length:
                continue
            ids, weights, block_starts, block_offsets = array("I"), [], array("I"), array("Q")
            for block_at, block_ids, block_weights, _values in iter_blocks(postfile.get(offset, length), offset):
                block_starts.append(len(ids))
                block_offsets.append(block_at)
                ids.extend(block_ids)
                weights.extend(block_weights)
            writer.add(offset, ids, weights, block_starts, block_offsets)
        writer.finish(storage.file_length(segment.make_filename(W3Codec.POSTS_EXT)))
        return True
    except BaseException:
        writer.abandon()
        raise
    finally:
        terms.close()


def ensure_sidecars(index_dir: str | os.PathLike) -> int:
    """Write the missing sidecars of the index's current segments; returns how many were written.  Safe to run
    while others search (files appear by rename) and to interrupt (a ``.tmp`` left behind is replaced next time
    and removed by Whoosh with its segment)."""
    from whoosh.filedb.filestore import FileStorage

    from indexer.store import INDEX_NAME

    storage = FileStorage(str(index_dir))
    _remove_dead_temporaries(storage.folder)
    ix = storage.open_index(INDEX_NAME)
    written = 0
    for segment in ix._segments():
        if storage.file_exists(sidecar_name(segment)):
            continue
        if write_sidecar(storage, segment, ix.schema):
            written += 1
    return written


def _remove_dead_temporaries(folder: str) -> None:
    """Delete sidecars half-written by processes that are gone (killed while writing)."""
    from healthdex.processes import pid_alive

    for name in os.listdir(folder):
        if name.startswith(".") and name.endswith(".tmp") and SUFFIX + "." in name:
            pid = name.rsplit(".", 2)[-2]
            if pid.isdigit() and not pid_alive(int(pid)):
                try:
                    os.remove(os.path.join(folder, name))
                except OSError:
                    pass
