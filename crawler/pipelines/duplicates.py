"""Record exact and near-duplicate articles instead of emitting them twice.

- Exact: the same ``content_hash`` (SHA-256 of the clean text) under a different record id.
- Near: MinHash (datasketch, ``HEALTHDEX_MINHASH_PERMUTATIONS`` permutations) over word shingles
  (``HEALTHDEX_SHINGLE_SIZE`` words) of the clean text, candidates from an LSH index, kept when the estimated
  Jaccard similarity reaches ``HEALTHDEX_NEAR_DUPLICATE_THRESHOLD`` (0 turns near-duplicate detection off).
- Unchanged: the same id with the same content hash as a record written by an earlier run (a re-crawl of a
  server without ETag/Last-Modified): not a duplicate, just nothing new.
- Canonical: the same id (the page's same-site ``rel=canonical``) and content as a record of this run, reached
  under another URL (``/print/x`` pointing at ``/x``).

Each dropped record is a line in ``OUT/duplicates.jsonl`` (``id``, ``url``, ``duplicate_of``, ``kind``,
``similarity``, ``warc_record_id``) and a stat; ``healthdex clean`` over the WARC skips the same records.  The
indexes start from ``articles.jsonl``, so resumed and re-crawled runs compare against everything written.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from datasketch import MinHash, MinHashLSH
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.jsonl_store import JsonLinesStore, read_records
from crawler.pipelines.extract_worker import SIGNATURE_KEY, sha1_prefixes, shingles
from healthdex.records import DUPLICATES_FILE

__all__ = ["SIGNATURE_KEY", "DuplicatesPipeline", "empty_minhash", "shingles", "text_minhash"]


def _hashed(value: int) -> int:
    """The MinHash's hash function: its values arrive already hashed (see ``text_minhash``)."""
    return value


@cache
def empty_minhash(num_perm: int) -> MinHash:
    """The MinHash every signature starts from (its permutations are drawn once per process)."""
    return MinHash(num_perm=num_perm, hashfunc=_hashed)


def text_minhash(text: str, num_perm: int, size: int) -> MinHash | None:
    """The MinHash of ``text``'s word shingles (the extraction worker attaches it to a record).  The same values as
    ``MinHash(num_perm).update_batch(shingles)``: each shingle hashed as datasketch's default ``sha1_hash32`` does
    (the first four bytes of its SHA-1, little-endian), but in one pass, and the permutations copied from a
    MinHash made once instead of drawn again for every text (tests/test_crawl_duplicates.py compares them)."""
    grams = shingles(text, size)
    if not grams:
        return None
    minhash = empty_minhash(num_perm).copy()
    minhash.update_batch(np.frombuffer(sha1_prefixes(grams), dtype="<u4").tolist())
    return minhash


class DuplicatesPipeline:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.stats = crawler.stats
        self.out_dir = Path(settings.get("HEALTHDEX_OUT_DIR"))
        self.threshold = settings.getfloat("HEALTHDEX_NEAR_DUPLICATE_THRESHOLD")
        self.num_perm = settings.getint("HEALTHDEX_MINHASH_PERMUTATIONS")
        self.shingle_size = settings.getint("HEALTHDEX_SHINGLE_SIZE")
        self.by_hash: dict[str, str] = {}  # content_hash -> id of the record that has it
        self.hash_of: dict[str, str] = {}  # id -> its latest content_hash
        self.minhashes: dict[str, MinHash] = {}
        self.lsh = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm) if self.threshold > 0 else None
        self.decided: set[str] = set()  # warc_record_ids already in duplicates.jsonl (resume)
        self.earlier_ids: set[str] = set()  # ids written by earlier runs
        self.store: JsonLinesStore | None = None
        for record in read_records(self.out_dir / "articles.jsonl"):
            if record.get("id") and "error" not in record and not record.get("gone"):
                self._add(record)
                self.earlier_ids.add(record["id"])
        for entry in read_records(self.out_dir / DUPLICATES_FILE):
            if entry.get("warc_record_id"):
                self.decided.add(entry["warc_record_id"])
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DuplicatesPipeline:
        return cls(crawler)

    def _minhash(self, text: str, precomputed: MinHash | np.ndarray | None = None) -> MinHash | None:
        """``text``'s MinHash: ``precomputed`` by the extraction worker (its hash values, see
        ``crawler.pipelines.extract_worker.minhash_values``) when it has one, else computed here."""
        if isinstance(precomputed, np.ndarray) and precomputed.shape == (self.num_perm,):
            minhash = empty_minhash(self.num_perm).copy()
            minhash.hashvalues = precomputed.astype(minhash.hashvalues.dtype, copy=False)
            return minhash
        if isinstance(precomputed, MinHash) and len(precomputed) == self.num_perm:
            return precomputed
        return text_minhash(text, self.num_perm, self.shingle_size)

    def _add(self, record: dict, minhash: MinHash | None = None) -> None:
        record_id, content_hash = record["id"], record.get("content_hash")
        if not content_hash or not (record.get("text") or "").strip():
            return
        self.by_hash.setdefault(content_hash, record_id)
        self.hash_of[record_id] = content_hash
        if self.lsh is None:
            return
        minhash = minhash or self._minhash(record["text"])
        if minhash is None:
            return
        if record_id in self.minhashes:
            self.lsh.remove(record_id)
        self.minhashes[record_id] = minhash
        self.lsh.insert(record_id, minhash)

    def process_item(self, item, spider: Spider | None = None):
        if not isinstance(item, dict):
            return item
        precomputed = item.pop(SIGNATURE_KEY, None)
        if item.get("gone") or "error" in item or not item.get("id"):
            return item
        if item.get("warc_record_id") in self.decided:
            self.stats.inc_value("healthdex/resume/duplicate_again")
            raise DropItem(f"{item.get('url')}: duplicate (decided before resuming)", log_level="DEBUG")
        text = item.get("text") or ""
        if not text.strip():
            return item
        record_id, content_hash = item["id"], item.get("content_hash")
        if content_hash and self.hash_of.get(record_id) == content_hash:
            self._drop(item, "unchanged" if record_id in self.earlier_ids else "canonical", record_id, 1.0)
        minhash = self._minhash(text, precomputed) if self.threshold > 0 else None
        verdict = self.find_original(item, minhash)
        if verdict is not None:
            self._drop(item, *verdict)
        return item

    def find_original(self, item: dict, minhash: MinHash | None) -> tuple[str, str, float] | None:
        """``(kind, id of the original, similarity)`` when ``item`` duplicates a record already kept, else None
        (and ``item`` is added to the indexes).  This process's indexes; crawler.distributed.duplicates keeps
        them in Redis for all workers of a crawl."""
        record_id, content_hash = item["id"], item.get("content_hash")
        original = self.by_hash.get(content_hash) if content_hash else None
        if original is not None and original != record_id:
            return "exact", original, 1.0
        if self.lsh is not None and minhash is not None:
            best, similarity = None, 0.0
            for candidate in self.lsh.query(minhash):
                if candidate == record_id:
                    continue
                estimate = minhash.jaccard(self.minhashes[candidate])
                if estimate >= self.threshold and estimate > similarity:
                    best, similarity = candidate, estimate
            if best is not None:
                return "near", best, similarity
        self._add(item, minhash)
        return None

    def _drop(self, item: dict, kind: str, original: str, similarity: float) -> None:
        self._record(item, kind, original, similarity)
        raise DropItem(f"{item.get('url')}: {kind} duplicate of {original}", log_level="DEBUG")

    def _record(self, item: dict, kind: str, original: str, similarity: float) -> None:
        """A line in duplicates.jsonl and a stat for a duplicate not emitted."""
        if self.store is None:
            self.store = JsonLinesStore(self.out_dir / DUPLICATES_FILE)
        entry = {
            "id": item["id"],
            "url": item.get("url"),
            "duplicate_of": original,
            "kind": kind,
            "similarity": round(similarity, 4),
            "warc_record_id": item.get("warc_record_id"),
            "content_hash": item.get("content_hash"),
            "fetched_at": item.get("fetched_at"),
        }
        self.store.write(entry)
        self.decided.add(item.get("warc_record_id"))
        self.stats.inc_value("healthdex/unchanged" if kind == "unchanged" else f"healthdex/duplicates/{kind}")
        if kind != "unchanged":
            self.stats.inc_value(f"healthdex/site/{item.get('profile')}/duplicates")

    def spider_closed(self, spider: Spider) -> None:
        if self.store is not None:
            self.store.close()
