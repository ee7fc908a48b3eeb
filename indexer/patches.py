"""Small, guarded fixes to whoosh-ng internals that cost the indexer time (each measured in bench/index.py).

whoosh-ng 5.4: ``W3PerDocReader._cached_reader`` caches a field's length column only when the column exists; for
every field without one (ID, KEYWORD, DATETIME and spelling fields) it calls ``has_column`` -- an ``os.stat`` -- for
every posting it writes.  Profiled on 2,000 articles that was ~400 stat calls per document and about a quarter of
the indexing time.  The patch remembers "no such column" per reader (a segment's files never change once written).

Compression: :func:`compress_block` (libdeflate) replaces ``zlib.compress`` for posting blocks and stored fields.
"""

from __future__ import annotations

import zlib

_APPLIED = False

# zlib level of posting blocks (the W3 codec healthdex's writers use: ``indexer.store.writer_codec``) and stored
# fields: with libdeflate, level 1 is both faster and smaller than zlib's level 3 (Whoosh's); see compress_block.
BLOCK_LEVEL = 1


def apply() -> None:
    global _APPLIED
    if _APPLIED:
        return
    _APPLIED = True
    _apply_positions_decode()
    _apply_validate_empty()
    _apply_keep_previous_generation()
    _apply_cached_reader()
    _apply_lengths()
    _apply_add_posting()
    _apply_block_compression()
    _apply_term_hash()


def decode_varints(valuestring: bytes, per_item: int) -> list[list[int]] | None:
    """The varint-encoded items of a posting value (a 4-byte big-endian count, then ``per_item`` varints per item:
    ``whoosh.formats``), or None unless the value is exactly that encoding.  (No Whoosh import: the one-query
    search reads positions with it too, ``search_cli.index_files``.)"""
    if len(valuestring) < 4:
        return None
    n = int.from_bytes(valuestring[:4], "big")
    pos = 4
    out = []
    try:
        for _ in range(n):
            vals = []
            for _ in range(per_item):
                b = valuestring[pos]
                pos += 1
                i = b & 0x7F
                shift = 7
                while b & 0x80:
                    b = valuestring[pos]
                    pos += 1
                    i |= (b & 0x7F) << shift
                    shift += 7
                vals.append(i)
            out.append(vals)
    except IndexError:
        return None
    return out if pos == len(valuestring) else None


def _apply_positions_decode() -> None:
    """whoosh-ng 5.4 bug: ``Positions`` and ``Characters`` decoders treat any value ending in ``b"."`` as a legacy
    pickle, but the varint encoding ends in 0x2E whenever the last delta is 46, so a phrase query (or a highlight)
    touching such a posting raised ``UnpicklingError``.  Decode as varints first and accept only when that consumes
    the value exactly, else fall back to the legacy decoder.  Used by indexing and searching alike."""
    try:
        from whoosh import formats
    except ImportError:
        return
    pos_legacy = formats.Positions._decode_positions_legacy
    char_pos_legacy = formats.Characters._decode_positions_legacy
    char_legacy = formats.Characters._decode_characters_legacy

    def positions_decode(self, valuestring):
        codes = decode_varints(valuestring, 1)
        if codes is None:
            return pos_legacy(self, valuestring)
        position, out = 0, []
        for (delta,) in codes:
            position += delta
            out.append(position)
        return out

    def characters_decode_positions(self, valuestring):
        codes = decode_varints(valuestring, 3)
        if codes is None:
            return char_pos_legacy(self, valuestring)
        position, out = 0, []
        for delta, _start, _end in codes:
            position += delta
            out.append(position)
        return out

    def characters_decode(self, valuestring):
        codes = decode_varints(valuestring, 3)
        if codes is None:
            return char_legacy(self, valuestring)
        position = endchar = 0
        out = []
        for pos_delta, start_delta, end_delta in codes:
            position += pos_delta
            startchar = start_delta + endchar
            endchar = end_delta + startchar
            out.append((position, startchar, endchar))
        return out

    formats.Positions.decode_positions = positions_decode
    formats.Characters.decode_positions = characters_decode_positions
    formats.Characters.decode_characters = characters_decode


def _apply_validate_empty() -> None:
    """whoosh-ng 5.4 checks every file of a (non-compound) segment when a reader opens and calls an empty file
    corruption.  A small segment whose postings are all inlined in the term table has a legitimately empty
    ``.pst`` file (and a column can be empty), so such an index could never be opened.  Empty ``.pst``/``.col``
    files pass; a missing file, an empty term table, or an unreadable file still raise IndexCorruptedError."""
    try:
        from whoosh.codec.base import Segment
    except ImportError:
        return
    original = getattr(Segment, "_validate_named", None)
    if original is None or getattr(original, "_healthdex_patched", False):
        return

    def _validate_named(self, storage, fname):
        if fname.endswith((".pst", ".col")):
            try:
                if storage.file_exists(fname) and storage.file_length(fname) == 0:
                    return
            except Exception:
                pass
        return original(self, storage, fname)

    _validate_named._healthdex_patched = True
    Segment._validate_named = _validate_named


def _apply_keep_previous_generation() -> None:
    """A reader opens a segment's files lazily (stored fields, columns, lengths on first use), and Whoosh's
    ``clean_files`` deletes the replaced generation's files as soon as a commit lands.  A search that opened the
    index just before an ``index`` commit could then fail on its first stored-field or column access.  Keep the
    previous generation's TOC and segment files until the next commit (they cost disk space until then)."""
    try:
        import whoosh.index as windex
    except ImportError:
        return
    if getattr(windex.clean_files, "_healthdex_patched", False):
        return
    TOC = windex.TOC

    def clean_files(storage, indexname, gen, segments):
        tocpattern = TOC._pattern(indexname)
        segpattern = TOC._segment_pattern(indexname)
        names = list(storage)
        gens = sorted(int(m.group(1)) for n in names if (m := tocpattern.match(n)))
        keep_gens = {gen}
        keep_segs = {s.segment_id() for s in segments}
        older = [g for g in gens if g < gen]
        if older:
            try:
                prev = TOC.read(storage, indexname, older[-1])
                keep_segs |= {s.segment_id() for s in prev.segments}
                keep_gens.add(older[-1])
            except Exception:
                pass
        for name in names:
            if name.startswith("."):
                continue
            m = tocpattern.match(name)
            if m:
                doomed = int(m.group(1)) not in keep_gens
            else:
                m = segpattern.match(name)
                doomed = bool(m) and m.group(1) not in keep_segs
            if doomed:
                try:
                    storage.delete_file(name)
                except OSError:
                    pass

    clean_files._healthdex_patched = True
    windex.clean_files = clean_files


def _apply_cached_reader() -> None:
    try:
        from whoosh.codec.whoosh3 import W3PerDocReader
    except ImportError:  # another codec layout: nothing to patch
        return
    original = getattr(W3PerDocReader, "_cached_reader", None)
    if original is None or getattr(original, "_healthdex_patched", False):
        return

    _missing = object()

    def _cached_reader(self, fieldname, column):
        readers = self._readers
        reader = readers.get(fieldname, _missing)
        if reader is _missing:
            reader = original(self, fieldname, column)
            readers[fieldname] = reader  # None too: the column will not appear later
        return reader

    _cached_reader._healthdex_patched = True
    W3PerDocReader._cached_reader = _cached_reader


def _apply_lengths() -> None:
    """``doc_field_length`` reads one byte through three layers of Python per call (once per posting written, and
    once per document scored by BM25F).  Load a segment's length column once and index into it; same values
    (including Whoosh's ``None`` for a zero length byte)."""
    try:
        from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3PerDocReader, _lenfield
        from whoosh.util.numeric import byte_to_length
    except ImportError:
        return
    original = W3PerDocReader.doc_field_length
    if getattr(original, "_healthdex_patched", False):
        return
    table = [None] + [byte_to_length(i) for i in range(1, 256)]
    _missing = object()

    def doc_field_length(self, docnum, fieldname, default=0):
        cache = self.__dict__.get("_hd_lengths")
        if cache is None:
            cache = self.__dict__["_hd_lengths"] = {}
        lengths = cache.get(fieldname, _missing)
        if lengths is _missing:
            lengths = None
            reader = self._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
            if reader is not None:
                try:
                    raw = reader._dbfile.get(reader._basepos, reader._count * reader._fixedlen)
                    if reader._fixedlen == 1 and len(raw) == reader._count:
                        lengths = [table[b] for b in raw]
                except Exception:
                    lengths = None
                if lengths is None:
                    lengths = False  # unusual column: use Whoosh's own lookup
            cache[fieldname] = lengths
        if lengths is None:
            return default
        if lengths is False or docnum > self._doccount:
            return original(self, docnum, fieldname, default)
        if docnum < len(lengths):
            return lengths[docnum]
        return None

    doc_field_length._healthdex_patched = True
    W3PerDocReader.doc_field_length = doc_field_length


def _apply_add_posting() -> None:
    """``W3PostingsWriter.add_posting`` type-asserts every posting; the writer only ever passes it ints, floats
    and bytes.  Same logic without the asserts."""
    try:
        from whoosh.codec.whoosh3 import W3PostingsWriter
    except ImportError:
        return
    if getattr(W3PostingsWriter.add_posting, "_healthdex_patched", False):
        return

    def add_posting(self, id_, weight, vbytes, length=None):
        if len(self._ids) >= self._blocklimit:
            self._write_block()
        self._ids.append(id_)
        self._weights.append(weight)
        if weight > self._maxweight:
            self._maxweight = weight
        if vbytes:
            self._values.append(vbytes)
        if length:
            minlength = self._minlength
            if minlength is None or length < minlength:
                self._minlength = length
            if length > self._maxlength:
                self._maxlength = length

    add_posting._healthdex_patched = True
    W3PostingsWriter.add_posting = add_posting


def compress_block(data: bytes, level: int) -> bytes:
    """Bytes compressed into the zlib format (what W3 readers ``zlib.decompress``), by libdeflate when the
    ``deflate`` package is installed, else by zlib.  zlib allocates and clears about 256 KB of state per call,
    which dominated for the small posting blocks of an index (a few hundred bytes to 3 KB): measured on
    bench/index.py blocks, libdeflate at level 1 took 12-19 us against zlib's 20-70 us at level 3, for 1-3% fewer
    bytes."""
    return _compressor()(data, level)


_COMPRESS = None


def _compressor():
    global _COMPRESS
    if _COMPRESS is None:
        try:
            from deflate import zlib_compress
        except ImportError:
            zlib_compress = zlib.compress
        _COMPRESS = zlib_compress
    return _COMPRESS


def _apply_block_compression() -> None:
    """whoosh.codec.whoosh3 compresses each posting block, and each document's stored fields, with
    ``zlib.compress``; give both :func:`compress_block` (the same format).  Whoosh's own writers (optimize's merge,
    small updates) and ``indexer.bulk`` then write the same bytes.  Decompression is zlib's, unchanged.  Stored
    fields are compressed at ``BLOCK_LEVEL`` too: for a bench/index.py article libdeflate's level 1 gives 2.5% fewer
    bytes than zlib's level 3 (Whoosh's) in a third of the time (64 against 190 us)."""
    import types

    try:
        from whoosh import columns
        from whoosh.codec import whoosh3
    except ImportError:
        return
    if getattr(whoosh3, "zlib", None) is zlib:  # (else already done, or a codec without zlib)
        shim = types.SimpleNamespace(**{k: v for k, v in vars(zlib).items() if not k.startswith("__")})
        shim.compress = compress_block
        whoosh3.zlib = shim
    stored = getattr(whoosh3, "STORED_COLUMN", None)
    inner = getattr(stored, "_child", None)
    if type(stored) is columns.PickleColumn and type(inner) is columns.CompressedBytesColumn:
        if getattr(inner, "_module", None) == "zlib":
            whoosh3.STORED_COLUMN = columns.PickleColumn(_stored_bytes_column()(BLOCK_LEVEL))


def _stored_bytes_column() -> type:
    from whoosh import columns

    class StoredBytesColumn(columns.CompressedBytesColumn):
        """Whoosh's compressed stored-fields column, compressing through :func:`compress_block`."""

        def writer(self, dbfile):
            w = self.Writer(dbfile, self._level, "zlib")
            w._compress = compress_block
            return w

    return StoredBytesColumn


def _apply_term_hash() -> None:
    """Whoosh's term tables are hash tables keyed by the last four bytes of each key's md5, computed as
    ``int(hashlib.md5(key).hexdigest(), 16)``: OpenSSL's per-call set-up, a hex string and its parsing, 1.3 us a
    key.  The interpreter's built-in ``_md5`` and ``int.from_bytes`` give the same number in 0.4 us, for every
    term written (an article brings dozens of new ones) and looked up.  Checked against Whoosh's function on a few
    keys before it is swapped in."""
    try:
        from _md5 import md5

        from whoosh.filedb import filetables
    except ImportError:
        return
    original = getattr(filetables, "md5_hash", None)
    table = getattr(filetables, "_hash_functions", None)
    if original is None or not isinstance(table, tuple) or not table or table[0] is not original:
        return

    def md5_hash(key, _md5=md5, _from_bytes=int.from_bytes):
        return _from_bytes(_md5(key).digest()[12:], "big")

    if all(md5_hash(k) == original(k) for k in (b"", b"text\x00pain", b"sciatica", bytes(range(256)))):
        filetables.md5_hash = md5_hash
        filetables._hash_functions = (md5_hash, *table[1:])
