"""Work around a whoosh-ng 5.4.0 bug in reading term positions (phrase / proximity queries).

``Positions.decode_positions`` (and ``Characters``'s decoders) treat any posting value ending in the byte ``.``
as the legacy pickle format. The current varint format ends in ``.`` whenever its last delta is 46, so phrase
queries on ordinary text crash with ``UnpicklingError: unpickling stack underflow``. Here the varint format is
tried first and accepted only when it consumes the value exactly; otherwise the legacy decoder runs.
Applied once, from :func:`search_cli.search.open_index`.
"""

from __future__ import annotations

import importlib.util
import sys

_APPLIED = False


def lazy_asyncio() -> None:
    """Make ``import asyncio`` lazy for this process (call before Whoosh is imported).

    whoosh-ng imports ``whoosh.util.async_utils`` (hence asyncio, ssl, concurrent.futures, logging) from
    ``whoosh.util``, though searching never runs a coroutine: ~60 ms of a ~250 ms cold ``healthdex search``.
    With :class:`importlib.util.LazyLoader` the module object exists at once and really loads on first use.
    """
    if "asyncio" in sys.modules:
        return
    spec = importlib.util.find_spec("asyncio")
    if spec is None or spec.loader is None:
        return
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["asyncio"] = module
    loader.exec_module(module)


def _varints(valuestring: bytes, per_item: int):
    from whoosh.system import _INT_SIZE, unpack_uint

    if len(valuestring) < _INT_SIZE:
        return None
    n = unpack_uint(valuestring[:_INT_SIZE])[0]
    pos = _INT_SIZE
    end = len(valuestring)
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
    return out if pos == end else None


def apply() -> None:
    global _APPLIED
    if _APPLIED:
        return
    from whoosh import formats

    pos_legacy = formats.Positions._decode_positions_legacy
    char_pos_legacy = formats.Characters._decode_positions_legacy
    char_legacy = formats.Characters._decode_characters_legacy

    def positions_decode(self, valuestring):
        codes = _varints(valuestring, 1)
        if codes is None:
            return pos_legacy(self, valuestring)
        position, out = 0, []
        for (d,) in codes:
            position += d
            out.append(position)
        return out

    def characters_decode_positions(self, valuestring):
        codes = _varints(valuestring, 3)
        if codes is None:
            return char_pos_legacy(self, valuestring)
        position, out = 0, []
        for d, _s, _e in codes:
            position += d
            out.append(position)
        return out

    def characters_decode(self, valuestring):
        codes = _varints(valuestring, 3)
        if codes is None:
            return char_legacy(self, valuestring)
        position = endchar = 0
        out = []
        for pd, sd, ed in codes:
            position += pd
            startchar = sd + endchar
            endchar = ed + startchar
            out.append((position, startchar, endchar))
        return out

    formats.Positions.decode_positions = positions_decode
    formats.Characters.decode_positions = characters_decode_positions
    formats.Characters.decode_characters = characters_decode
    _APPLIED = True
