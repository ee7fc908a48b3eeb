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
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.I)
_XML_DECL_RE = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_\-.]+)""", re.I)
# WHATWG: these labels mean windows-1252 in browsers (it is a superset that maps 0x80-0x9F to printable text).
_WINDOWS_1252_ALIASES = frozenset(
    {
        "iso-8859-1",
        "iso8859-1",
        "latin-1",
        "latin1",
        "l1",
        "ascii",
        "us-ascii",
        "iso_8859-1",
        "cp819",
        "ibm819",
        "iso-ir-100",
        "csisolatin1",
        "x-cp1252",
    }
)
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


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with a few damaged bytes (truncated or spliced pages) decodes as UTF-8 with replacement characters."""
    text = data.decode("utf-8", "replace")
    errors = text.count("\ufffd")
    multibyte = len(text) - len(text.encode("ascii", "ignore")) - errors  # characters beyond ASCII
    return text if multibyte > 0 and errors <= 2 + 0.05 * multibyte else None


def _detect(data: bytes) -> str:
    """Last resort: statistical detection by charset-normalizer, then windows-1252 with replacement."""
    from charset_normalizer import from_bytes

    results = from_bytes(data[:200_000])
    best = results.best()
    if best is not None:
        # windows-1252 is the web's default for undeclared pages; prefer it when detection finds it as good
        for match in results:
            if (
                match.encoding == "cp1252"
                and match.chaos <= best.chaos + 0.01
                and match.coherence >= best.coherence - 0.05
            ):
                best = match
                break
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
            return data[len(bom) :].decode(codec, "replace").replace("\x00", "")

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
                text = _mostly_utf8(data)
                if text is not None:
                    return text.replace("\x00", "")
                continue  # mislabelled: try the next declaration, then detection
            return data.decode(codec, "replace").replace("\x00", "")
        text = _strict(data, codec)
        if text is not None:
            return text.replace("\x00", "")
    if data.isascii():
        return data.decode("ascii").replace("\x00", "")
    text = _strict(data, "utf-8") or _mostly_utf8(data)
    if text is None:
        text = _detect(data)
    return text.replace("\x00", "")


# UTF-8 bytes that were decoded as windows-1252 somewhere upstream (often baked into the page as entities):
# a lead byte char (Â..ô) followed by 1-3 continuation-byte chars as windows-1252 shows them.
_CP1252_HIGH = (
    "\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018\u2019\u201a\u201c"
    "\u201d\u201e\u2020\u2021\u2022\u2026\u2030\u2039\u203a\u20ac\u2122"
)
_MOJIBAKE_RE = re.compile(f"[\u00c2-\u00f4][\u0080-\u00bf{_CP1252_HIGH}]{{1,3}}")


def _unmangle(match: re.Match[str]) -> str:
    chunk = match.group(0)
    try:
        raw = bytes(ord(c) if ord(c) < 256 else c.encode("cp1252")[0] for c in chunk)
        fixed = raw.decode("utf-8")
    except (UnicodeError, ValueError):
        return chunk
    return fixed if len(fixed) == 1 else chunk


def fix_mojibake(text: str) -> str:
    """Repair UTF-8-read-as-windows-1252 sequences ("GuillainBarrÃ©" -> "Barré", "itâ€™s" -> "it’s")."""
    if "\u00c3" not in text and "\u00e2" not in text and "\u00c2" not in text:
        return text
    return _MOJIBAKE_RE.sub(_unmangle, text)
