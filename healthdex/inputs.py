"""Reading a user's input file whole, never past a limit (``/dev/zero`` or a huge file is one line, not a hang)."""

from __future__ import annotations

import sys

from healthdex.errors import UserError


def read_bounded(path: str, what: str, limit: int, setting: str) -> bytes:
    """The bytes of ``path`` ('-': stdin); a ``UserError`` naming ``setting`` when longer than ``limit`` bytes,
    or when it cannot be read."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
    except OSError as exc:
        raise UserError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UserError(f"{what} {path} is longer than {limit:,} bytes (the limit is {setting})")
    return data
