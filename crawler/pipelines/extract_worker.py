"""What an extraction worker process runs: the stripper's record of a page and the MinHash values of its text.

Free of Scrapy and datasketch on purpose.  A spawned worker imports the module of every function the pool sends it;
when these functions lived in ``crawler.pipelines`` each worker imported Scrapy (~0.4 s of CPU) and, for the first
page's MinHash, datasketch, which imports scipy (~0.75 s), while the crawl was already running: ~1.2 ms of CPU per
page of a 2,000-page crawl on two workers, and the first extractions waited for it.  Here a worker imports the
stripper and numpy, and computes the signature with numpy alone from the permutations the crawl process's datasketch
hands it (``MinHashSpec``); ``crawler.pipelines.duplicates`` turns the values back into a ``MinHash``.
"""

from __future__ import annotations

import atexit
import os
import re
import threading
import time
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

try:  # the C SHA-1 without OpenSSL's per-object set-up: the same digests, ~20% less time for short shingles
    from _sha1 import sha1 as _sha1
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import sha1 as _sha1

_WORD = re.compile(r"\w+", re.UNICODE)
SIGNATURE_KEY = "_minhash"  # a record's MinHash values computed by the worker (removed before writing)
_ROWS = 1024  # shingles per block of the signature's permutation matrix
_SCRATCH: dict[int, Any] = {}  # number of permutations -> a reusable (_ROWS, permutations) uint32 matrix
# datasketch's affine32 scheme pre-mixes each 32-bit hash with MurmurHash3's finalizer (datasketch.minhash._fmix).
_FMIX32 = (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)


def shingles(text: str, size: int) -> set[bytes]:
    """The UTF-8 bytes of every run of ``size`` consecutive words (lowercased, space-joined); one run when the text
    has no more words than that."""
    words = _WORD.findall(text.lower())
    if len(words) <= size:
        return {" ".join(words).encode()} if words else set()
    # slices of the whole text joined once, not a join and an encode per shingle
    joined = " ".join(words).encode()
    lengths = (
        map(len, words) if len(joined) == sum(map(len, words)) + len(words) - 1 else (len(w.encode()) for w in words)
    )
    ends = list(accumulate(n + 1 for n in lengths))  # just past each word's following space
    starts = [0, *ends[:-1]]
    return {joined[starts[i] : ends[i + size - 1] - 1] for i in range(len(words) - size + 1)}


def sha1_prefixes(grams: set[bytes]) -> bytes:
    """The first four bytes of each shingle's SHA-1, concatenated: datasketch's ``sha1_hash32`` values as
    little-endian uint32s."""
    sha1 = _sha1
    return b"".join([sha1(g).digest()[:4] for g in grams])


@dataclass(frozen=True)
class MinHashSpec:
    """What a worker needs to compute a datasketch ``affine32`` MinHash: the shingle size, and the permutations
    (``a``, ``b``) and initial values of an empty MinHash, as uint32 bytes."""

    shingle_size: int
    a: bytes
    b: bytes
    initial: bytes


def minhash_values(text: str, spec: MinHashSpec) -> Any:
    """The hash values (a uint32 numpy array) ``MinHash.update_batch`` would leave for ``text``'s shingles
    (tests/test_crawl_duplicates.py compares them), or None for a text without words."""
    import numpy as np

    grams = shingles(text, spec.shingle_size)
    if not grams:
        return None
    hv = np.frombuffer(sha1_prefixes(grams), dtype="<u4").astype(np.uint32).reshape(-1, 1)
    s1, m1, s2, m2, s3 = (np.uint32(c) for c in _FMIX32)
    hv = hv ^ (hv >> s1)
    hv = hv * m1
    hv = hv ^ (hv >> s2)
    hv = hv * m2
    hv = hv ^ (hv >> s3)
    a = np.frombuffer(spec.a, dtype=np.uint32)
    b = np.frombuffer(spec.b, dtype=np.uint32)
    values = np.frombuffer(spec.initial, dtype=np.uint32).copy()
    # (shingles x permutations) in blocks of _ROWS through one scratch matrix kept per process: a fresh ~0.6 MB
    # matrix per text (``hv * a + b``) is mapped and page-faulted anew each time, 1.1 of the signature's 2 ms.
    scratch = _SCRATCH.get(len(a))
    if scratch is None:
        scratch = _SCRATCH[len(a)] = np.empty((_ROWS, len(a)), dtype=np.uint32)
    for start in range(0, len(hv), _ROWS):
        block = hv[start : start + _ROWS]
        out = scratch[: len(block)]
        np.multiply(block, a, out=out)
        np.add(out, b, out=out)
        np.minimum(values, out.min(axis=0), out=values)
    return values


def extract(
    body: bytes, prov: dict, http_charset: str | None, selectors: dict, spec: MinHashSpec | None = None
) -> dict:
    """The page's article record (``healthdex.records.article_record``) and, with a ``spec``, its text's MinHash
    values under ``SIGNATURE_KEY``, so the crawl process does not shingle and hash every text."""
    from healthdex.records import article_record

    record = article_record(body, prov, http_charset=http_charset, selectors=selectors)
    if spec is not None and record.get("text") and "error" not in record:
        values = minhash_values(record["text"], spec)
        if values is not None:
            record[SIGNATURE_KEY] = values
    return record


def warm_up(parent: int | None = None, signatures: bool = False) -> None:
    """A worker's initializer: import the stripper (and numpy when it computes signatures) before the first page,
    and exit when process ``parent`` (the crawl) is gone."""
    import healthdex.records  # noqa: F401
    import stripper  # noqa: F401 - import BeautifulSoup and the rules once per worker, not per page

    if signatures:
        import numpy  # noqa: F401
    if parent is not None:
        threading.Thread(target=exit_with_parent, args=(parent,), name="healthdex-parent-watch", daemon=True).start()
    # A spawned worker ends through the interpreter's full finalization (a forked one skips it): ~0.2-0.3 s of
    # tearing down BeautifulSoup, lxml and numpy modules at every crawl's end.  The pool has all it needs from the
    # worker once it returns (its results go through a synchronous pipe), so leave at the first exit handler.
    atexit.register(os._exit, 0)


def exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """Exit this process once its parent is no longer ``parent`` (it died; the process was re-parented)."""
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)
