"""Whoosh's on-disk index formats, read without Whoosh: what a plain-words search needs from the last commit.

- the table of contents (``_MAIN_<generation>.toc``): its pickled schema and segment list are unpickled into plain
  records (:class:`_Record`), never into Whoosh's classes; text fields must have healthdex's standard analyzer
  (tokenizer, lowercase, stop words, optional Porter stemming: the shape ``indexer.schema._fast_plan`` checks),
  which :class:`Field` runs itself on query words;
- each segment's term table (``.trm``, Whoosh's hash file) and term infos, its ``.pst`` file (read at offsets; the
  postings are decoded by :mod:`search_cli.evaluate`), its length columns and its stored-fields column.

Anything else raises :class:`Unreadable` (or ``Unsupported`` while evaluating), and the caller reads the
index through Whoosh.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import struct
import zlib
from bisect import bisect_right

from search_cli.evaluate import Unsupported


class Unreadable(Exception):
    """The index has something this module does not read; Whoosh's reader will."""


# --- pickles without Whoosh's classes ---------------------------------------------------------------------------
class _Record:
    """What a pickled object of a Whoosh (or healthdex schema) class unpickles into here: its state, its class's
    module and name."""

    _module = _name = ""

    def __setstate__(self, state) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            merged = dict(state[0] or {})
            merged.update(state[1] or {})
            state = merged
        if not isinstance(state, dict):
            raise Unreadable(f"unexpected pickled state for {self._module}.{self._name}")
        self.__dict__.update(state)


_RECORD_CLASSES: dict[tuple[str, str], type] = {}
_PLAIN_GLOBALS = {("builtins", "int"), ("builtins", "set"), ("builtins", "frozenset"), ("collections", "defaultdict")}
_STEMMERS = {("whoosh.lang.porter", "stem")}


class _RecordUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _PLAIN_GLOBALS:
            return super().find_class(module, name)
        if (module, name) == ("re", "_compile"):
            return re.compile
        if (module, name) in _STEMMERS:
            return _porter_stem()
        if module == "datetime" and name in ("datetime", "date", "timedelta", "timezone"):
            return super().find_class(module, name)
        if module.startswith(("whoosh.", "indexer.schema")):
            key = (module, name)
            cls = _RECORD_CLASSES.get(key)
            if cls is None:
                cls = _RECORD_CLASSES[key] = type(name, (_Record,), {"_module": module, "_name": name})
            return cls
        raise Unreadable(f"unexpected class in the index: {module}.{name}")


def _unpickle(data: bytes):
    try:
        return _RecordUnpickler(io.BytesIO(data)).load()
    except Unreadable:
        raise
    except Exception as exc:  # a truncated or foreign pickle
        raise Unreadable(f"unreadable pickle: {exc}") from None


def _porter_stem():
    """``whoosh.lang.porter.stem`` (loaded without the packages above it)."""
    from search_cli._whoosh_compat import load_alone

    try:
        return load_alone("whoosh.lang.porter").stem
    except (ImportError, AttributeError):
        raise Unreadable("no Porter stemmer") from None


# --- the schema ---------------------------------------------------------------------------------------------------
_TEXT_TYPES = {("indexer.schema", "FastText"), ("indexer.schema", "SpellWords"), ("whoosh.fields.text", "TEXT")}


class Field:
    """One field of the schema, as a plain-words query uses it."""

    def __init__(self, name: str, record) -> None:
        self.name = name
        kind = (type(record)._module, type(record)._name) if isinstance(record, _Record) else ("", "")
        self.is_text = kind in _TEXT_TYPES
        self.scorable = bool(getattr(record, "scorable", False))
        self.spelling = bool(getattr(record, "spelling", False))
        self.plan = _plan(getattr(record, "analyzer", None)) if self.is_text else None
        # (query.analyze memoizes per analyzer; equal plans share one entry)
        self.analyzer = self.plan
        fmt = getattr(record, "format", None)
        fmt_name = type(fmt)._name if isinstance(fmt, _Record) else ""
        self.format = PositionsFormat() if fmt_name == "Positions" else _OtherFormat()

    def process_text(self, text: str, mode: str = "", **_kwargs) -> list[str]:
        """The index terms of ``text`` (the field's analyzer, in query mode)."""
        if self.plan is None:
            raise Unreadable(f"field {self.name} has an analyzer this module does not run")
        expression, stops, minsize, maxsize, stem = self.plan
        out = []
        for m in expression.finditer(text):
            t = m.group().lower()
            if len(t) < minsize or (maxsize is not None and len(t) > maxsize) or t in stops:
                continue
            out.append(stem(t) if stem is not None else t)
        return out

    def to_bytes(self, text: str) -> bytes:
        if not self.is_text:
            raise ValueError(f"field {self.name} is not a text field")
        return text.encode("utf-8")


def _plan(analyzer) -> tuple | None:
    """(regex, stop words, min size, max size, stem function or None) for RegexTokenizer | LowercaseFilter |
    StopFilter(renumber) [| StemFilter without ignored words], else None; as ``indexer.schema._fast_plan``."""
    items = getattr(analyzer, "items", None)
    if type(analyzer).__name__ != "CompositeAnalyzer" or not items or len(items) not in (3, 4):
        return None
    names = [type(i).__name__ for i in items]
    if names[:3] != ["RegexTokenizer", "LowercaseFilter", "StopFilter"]:
        return None
    tok, stop = items[0], items[2]
    expression = getattr(tok, "expression", None)
    if not isinstance(expression, re.Pattern) or getattr(tok, "gaps", True) or not getattr(stop, "renumber", False):
        return None
    stem = None
    if len(items) == 4:
        st = items[3]
        if names[3] != "StemFilter" or getattr(st, "ignore", None) or getattr(st, "lang", None):
            return None
        stem = getattr(st, "stemfn", None)
        if stem is not _porter_stem():
            return None
    stops = getattr(stop, "stops", None)
    minsize, maxsize = getattr(stop, "min", None), getattr(stop, "max", 0)
    if not isinstance(stops, frozenset) or not isinstance(minsize, int):
        return None
    return expression, stops, minsize, maxsize, stem


class PositionsFormat:
    """Whoosh's ``Positions`` format, decoding only (a 4-byte big-endian count, then varint deltas)."""

    def supports(self, name: str) -> bool:
        return name in ("frequency", "weight", "positions")

    def decode_positions(self, value: bytes) -> list[int]:
        from itertools import accumulate

        from indexer.patches import decode_varints

        codes = decode_varints(value, 1)
        if codes is None:
            raise Unsupported("legacy positions value")
        return list(accumulate(delta for (delta,) in codes))


class _OtherFormat:
    def supports(self, name: str) -> bool:
        return False


class Schema:
    """Field name -> :class:`Field`, the parts of Whoosh's ``Schema`` interface queries use."""

    def __init__(self, fields: dict[str, Field]) -> None:
        self._fields = fields

    def __contains__(self, name) -> bool:
        return name in self._fields

    def __getitem__(self, name: str) -> Field:
        return self._fields[name]

    def names(self) -> list[str]:
        return sorted(self._fields)

    def fields(self) -> list[Field]:
        return list(self._fields.values())


# --- files -------------------------------------------------------------------------------------------------------
class OffsetFile:
    """A file read at offsets (``os.pread``), Whoosh's ``StructFile.get`` interface."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self.size = os.fstat(self._fd).st_size

    def get(self, position: int, length: int) -> bytes:
        data = os.pread(self._fd, length, position)
        if len(data) != length:
            raise Unreadable("file shorter than its index says")
        return data

    def close(self) -> None:
        os.close(self._fd)


_LENGTHS = struct.Struct("!ii")  # whoosh.filedb.filetables: key and value lengths before each pair
_POINTER = struct.Struct("!Iq")  # a hash slot: key hash, position of the pair
_DIR_ENTRY = struct.Struct("!qi")  # one of 256 hash tables: position, number of slots
_SLOTS_PER_READ = 16


def _md5_hash(key: bytes) -> int:
    """``whoosh.filedb.filetables.md5_hash``: the digest's last four bytes."""
    try:
        from _md5 import md5
    except ImportError:  # an interpreter without the built-in module
        from hashlib import md5

    return int.from_bytes(md5(key).digest()[-4:], "big")


def _crc_hash(key: bytes) -> int:
    return zlib.crc32(key) & 0xFFFFFFFF


class HashTable:
    """Lookups in a Whoosh hash file (``HashWriter``/``OrderedHashWriter`` format ``HSH3``)."""

    def __init__(self, f: OffsetFile) -> None:
        self._f = f
        head = f.get(0, 13)
        if head[:4] != b"HSH3":
            raise Unreadable("unknown term table header")
        hashtype = head[4]
        if hashtype not in (0, 1):
            raise Unreadable(f"unknown term table hash {hashtype}")
        self._hash = _md5_hash if hashtype == 0 else _crc_hash
        end = f.size
        (exlen,) = struct.unpack("!i", f.get(end - 4, 4))
        expos = end - 4 - exlen
        self.extras = _unpickle(f.get(expos, exlen))
        if not isinstance(self.extras, dict):
            raise Unreadable("unknown term table extras")
        dirpos = expos - 256 * _DIR_ENTRY.size
        directory = f.get(dirpos, 256 * _DIR_ENTRY.size)
        self._tables = list(_DIR_ENTRY.iter_unpack(directory))

    def get(self, key: bytes) -> bytes | None:
        """The value stored for ``key``, or None.  Slots are read a few at a time from the key's own: a table has
        thousands of slots, and a key is almost always found (or known absent) within the first few."""
        keyhash = self._hash(key)
        tablestart, numslots = self._tables[keyhash & 255]
        if not numslots:
            return None
        get = self._f.get
        size = _POINTER.size
        slot = (keyhash >> 8) % numslots
        chunk, chunk_start = b"", 0
        for _ in range(numslots):
            at = (slot - chunk_start) * size
            if not 0 <= at < len(chunk):
                chunk_start = slot
                chunk = get(tablestart + slot * size, min(_SLOTS_PER_READ, numslots - slot) * size)
                at = 0
            slothash, itempos = _POINTER.unpack_from(chunk, at)
            if not itempos:
                return None
            if slothash == keyhash:
                keylen, datalen = _LENGTHS.unpack(get(itempos, _LENGTHS.size))
                if keylen == len(key):
                    pair = get(itempos + _LENGTHS.size, keylen + datalen)
                    if pair[:keylen] == key:
                        return pair[keylen:]
            slot = (slot + 1) % numslots
        return None


_TERM_INFO = struct.Struct("!BfIBBfII")  # whoosh.codec.whoosh3.W3TermInfo


class TermInfo:
    """The parts of ``W3TermInfo`` the evaluator uses (inline postings decoded when asked for)."""

    __slots__ = ("doc_freq", "_flags", "_body")

    def __init__(self, raw: bytes) -> None:
        self._flags, _weight, self.doc_freq, _mn, _mx, _maxw, _minid, _maxid = _TERM_INFO.unpack_from(raw)
        self._body = raw[_TERM_INFO.size :]

    def is_inlined(self) -> bool:
        return self._flags != 0

    def extent(self) -> tuple[int, int]:
        return struct.unpack_from("!qi", self._body)

    def inlined_postings(self) -> tuple[list, list, list]:
        body, flags = self._body, self._flags
        if flags == 3:  # compact: up to a few postings
            count = body[0]
            pos = 1
            ids = list(struct.unpack_from(f"!{count}I", body, pos))
            pos += 4 * count
            weights = list(struct.unpack_from(f"!{count}f", body, pos))
            pos += 4 * count
            lengths = struct.unpack_from(f"!{count}H", body, pos)
            pos += 2 * count
            values = []
            for n in lengths:
                values.append(body[pos : pos + n])
                pos += n
            return ids, weights, values
        if flags == 2:  # compact: one posting
            id_, weight, n = struct.unpack_from("!IfH", body)
            return [id_], [weight], [body[10 : 10 + n]]
        if flags == 1:  # pickled (ids, weights, values)
            got = _unpickle(body)
            if not (isinstance(got, tuple) and len(got) == 3):
                raise Unsupported("unknown inline postings")
            return got
        raise Unsupported(f"unknown term info flags {flags}")


class SegmentFiles:
    """One W3 segment's files (separate files, not compound)."""

    def __init__(self, folder: str, record) -> None:
        state = record.__dict__
        self.name = f"{state.get('indexname')}_{state.get('segid')}"
        self.doc_count_all = state.get("_doccount")
        if not isinstance(self.doc_count_all, int) or state.get("compound"):
            raise Unreadable("compound or unknown segment")
        deleted = state.get("_deleted")
        self.deleted = frozenset(deleted) if deleted else frozenset()
        self.field_lengths = dict(state.get("_fieldlengths") or {})
        self.folder = folder
        self._files: dict[str, OffsetFile] = {}
        self.terms = HashTable(self._open(".trm"))
        fieldmap = self.terms.extras.get("fieldmap")
        if not isinstance(fieldmap, dict):
            raise Unreadable("term table without a field map")
        self._prefix = {name: struct.pack("!H", num) for name, num in fieldmap.items()}
        self._postfile: OffsetFile | None = None
        self._stored = None

    def make_filename(self, ext: str) -> str:
        return f"{self.name}{ext}"

    def _open(self, ext: str) -> OffsetFile:
        f = self._files.get(ext)
        if f is None:
            try:
                f = self._files[ext] = OffsetFile(os.path.join(self.folder, self.make_filename(ext)))
            except OSError as exc:
                raise Unreadable(f"cannot read {self.make_filename(ext)}: {exc}") from None
        return f

    @property
    def postfile(self) -> OffsetFile:
        return self._open(".pst")

    def term_info(self, fieldname: str, btext: bytes) -> TermInfo | None:
        prefix = self._prefix.get(fieldname)
        if prefix is None:
            return None
        raw = self.terms.get(prefix + btext)
        return TermInfo(raw) if raw is not None else None

    def lengths(self, fieldname: str) -> bytes | None:
        try:
            f = self._open(f"._{fieldname}_len.col")
        except Unreadable:
            return None
        return f.get(0, f.size)

    def stored_fields(self, docnum: int) -> dict:
        if self._stored is None:
            self._stored = _StoredColumn(self._open("._stored.col"), self.doc_count_all)
        return self._stored.get(docnum)

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


class _StoredColumn:
    """``PickleColumn(CompressedBytesColumn())``: per document a zlib-compressed pickle of its stored fields."""

    def __init__(self, f: OffsetFile, doccount: int) -> None:
        self._f = f
        last = f.size - 1
        code = chr(f.get(last, 1)[0])
        offsets = None
        if code == "X":
            code = chr(f.get(last - 2, 1)[0])
            offcode = chr(f.get(last - 1, 1)[0])
            size = struct.calcsize(offcode)
            start = (last - 2) - doccount * size
            offsets = _big_endian_array(offcode, f.get(start, doccount * size))
            last = start
        size = struct.calcsize(code)
        start = last - size * doccount
        self._lengths = _big_endian_array(code, f.get(start, size * doccount))
        if offsets is None:
            from itertools import accumulate

            offsets = [0, *accumulate(self._lengths)][:-1]
        self._offsets = offsets

    def get(self, docnum: int) -> dict:
        n = self._lengths[docnum]
        if not n:
            return {}
        value = _unpickle(zlib.decompress(self._f.get(self._offsets[docnum], n)))
        return value if isinstance(value, dict) else {}


def _big_endian_array(code: str, data: bytes):
    from array import array

    a = array(code)
    a.frombytes(data)
    if a.itemsize > 1 and struct.pack("=H", 1) != struct.pack("!H", 1):
        a.byteswap()
    return a


# --- the index -------------------------------------------------------------------------------------------------------
_TOC_VERSION = -111


class DirectIndex:
    """The last commit of an index directory."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        try:
            names = os.listdir(folder)
        except OSError as exc:
            raise Unreadable(str(exc)) from None
        from indexer.store import INDEX_NAME

        prefix = f"_{INDEX_NAME}_"  # whoosh.index.TOC's file names: _<index name>_<generation>.toc
        middles = (n[len(prefix) : -len(".toc")] for n in names if n.startswith(prefix) and n.endswith(".toc"))
        generations = [int(g) for g in middles if g.isdigit()]
        if not generations:
            raise Unreadable("no table of contents")
        self.generation = max(generations)
        try:
            with open(os.path.join(folder, f"{prefix}{self.generation}.toc"), "rb") as f:
                data = f.read()
        except OSError as exc:  # a writer removed it since: Whoosh's open retries
            raise Unreadable(str(exc)) from None
        schema_record, segment_records = _read_toc(data, self.generation)
        fields = getattr(schema_record, "_fields", None)
        if not isinstance(fields, dict):
            raise Unreadable("unknown schema")
        self.schema = Schema({name: Field(name, rec) for name, rec in fields.items()})
        if not isinstance(segment_records, list):
            raise Unreadable("unknown segment list")
        self.segments: list[SegmentFiles] = []
        try:
            for rec in segment_records:
                if type(rec).__name__ != "W3Segment" or not isinstance(rec, _Record):
                    raise Unreadable("not a W3 segment")
                self.segments.append(SegmentFiles(folder, rec))
        except BaseException:
            self.close()
            raise
        self.offsets = []
        total = 0
        for seg in self.segments:
            self.offsets.append(total)
            total += seg.doc_count_all
        self.doc_count_all = total
        self._field_length: dict[str, int] = {}

    def field_length(self, fieldname: str) -> int:
        got = self._field_length.get(fieldname)
        if got is None:
            got = self._field_length[fieldname] = sum(s.field_lengths.get(fieldname, 0) for s in self.segments)
        return got

    def doc_frequency(self, fieldname: str, btext: bytes) -> int:
        total = 0
        for seg in self.segments:
            info = seg.term_info(fieldname, btext)
            if info is not None:
                total += info.doc_freq
        return total

    def stored_fields(self, docnum: int) -> dict:
        i = bisect_right(self.offsets, docnum) - 1
        return self.segments[i].stored_fields(docnum - self.offsets[i])

    def close(self) -> None:
        for seg in self.segments:
            seg.close()


def _read_toc(data: bytes, generation: int):
    """(schema record, segment records) of a TOC file (``whoosh.index.TOC.read``, current version only)."""
    pos = 0

    def varint() -> int:
        nonlocal pos
        i = shift = 0
        while True:
            b = data[pos]
            pos += 1
            i |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return i

    try:
        if (varint(), varint(), varint()) != (4, 8, 4):
            raise Unreadable("index from another architecture")
        magic, version = struct.unpack_from("!ii", data, pos)
        pos += 8
        if magic != -12345 or version != _TOC_VERSION:
            raise Unreadable(f"table of contents version {version}")
        varint(), varint(), varint()  # the Whoosh release that wrote it
        n = varint()
        schema = _unpickle(data[pos : pos + n])
        pos += n
        gen, _unused = struct.unpack_from("!ii", data, pos)
        pos += 8
    except (IndexError, struct.error):
        raise Unreadable("truncated table of contents") from None
    if gen != generation:
        raise Unreadable("table of contents of another generation")
    return schema, _unpickle(data[pos:])
