"""A copy of each segment's long posting lists as plain arrays: healthdex's own file beside the segment's files
(``<segment id>.hdx``), read by the evaluator with numpy.

Whoosh keeps postings as pickled, compressed blocks of 128; decoding them costs about 0.6 us a posting, most of a
query's time at 100,000 articles (a common word has tens of thousands of postings).  The sidecar holds each list
of at least :data:`MIN_POSTINGS` postings as 32-bit document numbers and weights (the weights Whoosh stores, so
the scores are the same to the bit), and where each of its Whoosh blocks starts, so that word positions, which
stay in Whoosh's blocks, are read only for the blocks of the documents a phrase check looks at.

It is written from the segment itself through Whoosh's reader (``indexer.whoosh_internals.read_postings``):
after a commit for each segment that has none, or by the multi-process writer before its commit.  A segment's
files never change, so a sidecar cannot go stale; it records the segment's document count, and the evaluator
checks each list's length against Whoosh's term info before using it.  Its name matches Whoosh's segment file
pattern, so Whoosh deletes it with its segment.  A missing or damaged sidecar only costs speed: the lists are
read from Whoosh's blocks (tests compare the two).

Layout (native byte order, each array 8-byte aligned): magic, then int64 doc count, terms, postings, blocks;
uint64 term keys (sorted), int64 posting starts (terms + 1), int64 block starts (terms + 1), uint32 document
numbers, float32 weights, int64 first posting of each block, int64 each block's position in the ``.pst`` file.
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import os

import numpy as np

from indexer import whoosh_internals

log = logging.getLogger(__name__)

SUFFIX = ".hdx"
MAGIC = b"HDXPOST1"
MIN_POSTINGS = 512


def term_key(fieldname: str, btext: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(fieldname.encode() + b"\0" + btext, digest_size=8).digest(), "little")


def sidecar_path(reader) -> str | None:
    folder, segment_id = whoosh_internals.segment_files(reader)
    return None if folder is None else os.path.join(folder, segment_id + SUFFIX)


def write_sidecar(reader, path: str) -> int:
    """Write the sidecar of a segment reader's long lists to ``path`` (atomically); returns how many lists."""
    lists = []
    for fieldname, field in reader.schema.items():
        if not field.scorable:
            continue
        for btext, info in reader.iter_field(fieldname):
            if info.doc_frequency() >= MIN_POSTINGS:
                ids, weights, _values, starts, positions = whoosh_internals.read_postings(
                    reader, fieldname, btext, blocks=True
                )
                lists.append((term_key(fieldname, btext), ids, weights, starts, positions))
    lists.sort(key=lambda t: t[0])
    sizes = np.array([len(t[1]) for t in lists], dtype=np.int64)
    nblocks = np.array([len(t[3]) for t in lists], dtype=np.int64)
    parts = [
        np.array([reader.doc_count_all(), len(lists), sizes.sum(), nblocks.sum()], dtype=np.int64),
        np.array([t[0] for t in lists], dtype=np.uint64),
        np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        np.concatenate([[0], np.cumsum(nblocks)]).astype(np.int64),
        np.concatenate([t[1] for t in lists] or [[]]).astype(np.uint32),
        np.concatenate([t[2] for t in lists] or [[]]).astype(np.float32),
        np.concatenate([t[3] for t in lists] or [[]]).astype(np.int64),
        np.concatenate([t[4] for t in lists] or [[]]).astype(np.int64),
    ]
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(MAGIC)
        for array in parts:
            data = array.tobytes()
            fh.write(data + b"\0" * (-len(data) % 8))
    os.replace(tmp, path)
    return len(lists)


def write_before_commit(storage, schema, segments) -> None:
    """Write the sidecars of finished, not yet committed segments: each process of the multi-process writer writes
    its own side by side (after the commit, :func:`ensure_sidecars` would write them one after the other).  A
    commit that never comes leaves them as orphans of their segments, removed with them."""
    from whoosh.reading import SegmentReader

    for segment in segments:
        with SegmentReader(storage, schema, segment) as reader:
            _ensure(reader)


def ensure_sidecars(ix) -> None:
    """Write the missing sidecars of an index's committed segments."""
    with ix.reader() as top:
        for reader, _offset in top.leaf_readers():
            _ensure(reader)


def _ensure(reader) -> None:
    """Write a segment reader's sidecar unless it has one.  Failing only costs search speed: logged."""
    path = sidecar_path(reader)
    if path is None or os.path.exists(path):
        return
    try:
        write_sidecar(reader, path)
    except OSError as exc:
        log.warning("no posting sidecar for %s: %s", path, exc)


class Sidecar:
    """An open sidecar: :meth:`lookup` gives a term's lists as numpy arrays over the mapped file."""

    def __init__(self, buf, doc_count: int) -> None:
        if buf[: len(MAGIC)] != MAGIC:
            raise ValueError("not a healthdex posting sidecar")
        at = len(MAGIC)

        def take(dtype, count: int) -> np.ndarray:
            nonlocal at
            array = np.frombuffer(buf, dtype=dtype, count=count, offset=at)
            at += -(-array.nbytes // 8) * 8
            return array

        docs, terms, postings, blocks = take(np.int64, 4).tolist()
        if docs != doc_count:
            raise ValueError(f"made for {docs} documents, the segment has {doc_count}")
        self.keys = take(np.uint64, terms)
        self.starts, self.block_starts = take(np.int64, terms + 1), take(np.int64, terms + 1)
        self.ids, self.weights = take(np.uint32, postings), take(np.float32, postings)
        self.block_first, self.block_positions = take(np.int64, blocks), take(np.int64, blocks)

    def lookup(self, fieldname: str, btext: bytes):
        """(ids, weights, first posting of each block, each block's position) of a term, or None."""
        key = term_key(fieldname, btext)
        i = int(np.searchsorted(self.keys, np.uint64(key)))
        if i == len(self.keys) or int(self.keys[i]) != key:
            return None
        lo, hi = self.starts[i], self.starts[i + 1]
        blo, bhi = self.block_starts[i], self.block_starts[i + 1]
        return (
            self.ids[lo:hi].astype(np.int64),
            self.weights[lo:hi].astype(np.float64),
            self.block_first[blo:bhi],
            self.block_positions[blo:bhi],
        )


def open_sidecar(reader) -> Sidecar | None:
    """The sidecar of a segment reader, or None (none written, or not readable: then Whoosh's blocks are read)."""
    path = sidecar_path(reader)
    if path is None or not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as fh:
            buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        return Sidecar(buf, reader.doc_count_all())
    except (OSError, ValueError) as exc:
        log.debug("posting sidecar %s not used: %s", path, exc)
        return None
