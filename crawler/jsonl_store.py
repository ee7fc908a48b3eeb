"""Append-only JSON Lines output that survives being killed: a torn last line is cut off on reopen."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from healthdex import faultpoints

# Fault point (tests/test_kill_crawl.py): half of a line on disk
MID_LINE = faultpoints.register("crawl.jsonl.mid_line", "crawler.jsonl_store.JsonLinesStore.write: half a line written")


def repair_tail(path: Path) -> int:
    """Truncate ``path`` after its last newline; return the number of bytes removed."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("r+b") as handle:
        block = 1 << 16
        pos = size
        while pos > 0:
            start = max(0, pos - block)
            handle.seek(start)
            chunk = handle.read(pos - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            pos = start
        else:
            keep = 0
        if keep < size:
            handle.truncate(keep)
        return size - keep


def read_records(path: Path) -> Iterator[dict]:
    """Every complete JSON object in ``path`` (a torn or malformed line is skipped)."""
    if not path.exists():
        return
    with path.open("rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                break
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record


class JsonLinesStore:
    """Appends one JSON object per line, flushed per line so a reader or a crash never sees half a record."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired_bytes = repair_tail(self.path)
        self._handle = self.path.open("ab")

    def write(self, record: dict) -> None:
        line = memoryview(json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n")
        half = len(line) // 2
        self._handle.write(line[:half])  # in two writes, so that a fault test can stop between them
        self._handle.flush()
        faultpoints.reach(MID_LINE)
        self._handle.write(line[half:])
        self._handle.flush()

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
