"""Stage 1, decode: bytes of a page -> str, without mojibake and without raising on garbage."""

from __future__ import annotations

import codecs
import re

# Byte order marks, longest first (UTF-32 LE starts with the UTF-16 LE mark).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET_RE = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.I
)
_XML_DECL_RE = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_\-.]+)""", re.I)
# WHATWG: these labels mean windows-1252 in browsers (it is a superset that maps 0x80-0x9F to printable text).
_WINDOWS_1252_ALIASES = frozenset({"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "ascii", "us-ascii",
                                   "iso_8859-1", "cp819", "ibm819", "iso-ir-100", "csisolatin1", "x-cp1252"})
_SINGLE_BYTE_WESTERN = _WINDOWS_1252_ALIASES | {"windows-1252", "cp1252", "iso-8859-15", "latin-9"}
_META_SCAN_BYTES = 4096 * 4


def normalize_charset(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None when the label is unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _WINDOWS_1252_ALIASES:
        return "windows-1252"
    if label in ("utf8", "unicode-1-1-utf-8", "unicode"):
        label = "utf-8"
    if label in ("gb2312", "gbk", "x-gbk"):
        return "gb18030"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def sniff_meta_charset(data: bytes) -> str | None:
    """The charset declared in the document itself (<meta charset>, http-equiv, or an XML declaration)."""
    head = data[:_META_SCAN_BYTES]
    match = _XML_DECL_RE.match(head) or _META_CHARSET_RE.search(head)
    if match is None:
        return None
    return normalize_charset(match.group(1).decode("ascii", "replace"))


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _detect(data: bytes) -> str:
    """Last resort: statistical detection by charset-normalizer, then windows-1252 with replacement."""
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    if best is not None and best.encoding:
        codec = normalize_charset(best.encoding) or best.encoding
        text = _strict(data, codec)
        if text is not None:
            return text
        return data.decode(codec, "replace")
    return data.decode("windows-1252", "replace")


def decode_html(data: bytes, http_charset: str | None = None) -> str:
    """Decode page bytes: BOM, then the HTTP charset, then the document's own declaration, then detection.

    A declared single-byte Western charset is overridden by UTF-8 when the bytes are valid UTF-8 with
    multi-byte sequences (a common mislabelling that would otherwise produce mojibake).  Never raises: bytes
    that fit no charset are decoded with replacement characters.  NUL characters are dropped.
    """
    if isinstance(data, str):
        return data.replace("\x00", "")
    data = bytes(data)
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(codec, "replace").replace("\x00", "")

    for label in (http_charset, None):
        codec = normalize_charset(label) if label is not None else sniff_meta_charset(data)
        if codec is None:
            continue
        if codec in _SINGLE_BYTE_WESTERN or codec == "utf-8":
            if data.isascii():
                return data.decode("ascii").replace("\x00", "")
            text = _strict(data, "utf-8")
            if text is not None:
                return text.replace("\x00", "")
            if codec == "utf-8":
                continue  # mislabelled: try the next declaration, then detection
            return data.decode(codec, "replace").replace("\x00", "")
        text = _strict(data, codec)
        if text is not None:
            return text.replace("\x00", "")
    if data.isascii():
        return data.decode("ascii").replace("\x00", "")
    text = _strict(data, "utf-8")
    if text is None:
        text = _detect(data)
    return text.replace("\x00", "")
