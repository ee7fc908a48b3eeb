"""Exact and near-duplicate detection for the whole distributed crawl, not per worker.

``crawler.pipelines.duplicates.DuplicatesPipeline`` keeps its indexes in the process, so two workers that get the
same article under two URLs would each keep their copy.  This subclass (switched in by
:func:`crawler.distributed.enable` in place of it, at the same priority) keeps them in Redis under the crawl's keys
and decides each record with one Lua script (``scripts.DECIDE_DUPLICATE``), atomic on the server:

- exact: ``dupes:hashes`` maps a content hash to the first ``id`` and URL that had it; a record with that hash and
  another id is an ``exact`` duplicate, one with the same id under another URL a ``canonical`` one.  The same id
  under the same URL is the same request again (redone after its worker died): not a duplicate of itself, so
  :mod:`crawler.distributed.emit_once` decides whether it is written;
- near: MinHash signatures (``dupes:minhash``, id -> 4 bytes per permutation) and LSH bands
  (``dupes:band:<i>:<band hash>`` sets of ids, the banding of datasketch's ``MinHashLSH`` for the same threshold
  and permutations): the candidates sharing a band are compared in the script, estimated Jaccard =
  equal permutations / permutations, as ``MinHash.jaccard`` computes it.

A record that is not a duplicate is registered in the same step, so of two near-identical pages decided at the same
moment on two workers, the second always sees the first.  Records dropped as duplicates are not registered (as in
the single-process pipeline).

Each duplicate is recorded once in the union of the workers' ``duplicates.jsonl``: before writing its line the
worker claims ``dupes:recorded`` for the duplicate's URL with the emit-once claim (``scripts.CLAIM_ARTICLE``) and
marks it done right after the line is flushed; a worker redoing the request of a dead worker that had recorded it
drops it without a second line.  A worker's own earlier records (``articles.jsonl`` of its folder, e.g. after a
restart) are registered when it opens.  ``HEALTHDEX_REDIS_SHARED_DUPLICATES = False`` keeps per-worker detection.
Stats: as the single-process pipeline, plus ``distributed/duplicates_recorded_elsewhere``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from crawler.distributed import scripts
from crawler.distributed.emit_once import claim_args
from crawler.distributed.keys import CrawlKeys, crawl_id, redis_from_settings, worker_id
from crawler.pipelines.duplicates import DuplicatesPipeline

# Earlier records registered per Redis round trip when a worker opens.
_SEED_BATCH = 500


def signature_bytes(minhash: MinHash) -> bytes:
    """A MinHash's hash values as 4 little-endian bytes each (datasketch keeps them below 2**32)."""
    return np.asarray(minhash.hashvalues, dtype=np.uint64).astype("<u4").tobytes()


class SharedDuplicatesPipeline(DuplicatesPipeline):
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not settings.get("HEALTHDEX_REDIS_URL"):
            raise NotConfigured("HEALTHDEX_REDIS_URL is not set")
        self.crawler = crawler
        self.worker = worker_id(settings)
        self.server = redis_from_settings(settings)
        self._decide = self.server.register_script(scripts.DECIDE_DUPLICATE)
        self._claim = self.server.register_script(scripts.CLAIM_ARTICLE)
        self.lease_ms = int(settings.getfloat("HEALTHDEX_REDIS_WORKER_TIMEOUT") * 1000)
        self.keys: CrawlKeys | None = None
        self._seeds: list[tuple[dict, MinHash | None]] = []
        super().__init__(crawler)  # reads this worker's articles.jsonl through _add (kept in _seeds)
        # The banding of datasketch's MinHashLSH for this threshold and number of permutations.
        self.bands = (
            MinHashLSH(threshold=self.threshold, num_perm=self.num_perm).hashranges if self.threshold > 0 else []
        )
        self.lsh = None  # no in-process index: Redis has it
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedDuplicatesPipeline:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        self.keys = CrawlKeys(crawl_id(self.crawler.settings, spider))
        seeds, self._seeds = self._seeds, []
        for start in range(0, len(seeds), _SEED_BATCH):
            pipe = self.server.pipeline(transaction=False)
            for record, minhash in seeds[start : start + _SEED_BATCH]:
                keys, args = self._script_args(record, minhash, mode="add")
                self._decide(keys=keys, args=args, client=pipe)
            pipe.execute()

    def _add(self, record: dict, minhash: MinHash | None = None) -> None:
        """An earlier record of this worker: known locally (``unchanged``), registered crawl-wide on open."""
        if not record.get("content_hash") or not (record.get("text") or "").strip():
            return
        self.by_hash.setdefault(record["content_hash"], record["id"])
        self.hash_of[record["id"]] = record["content_hash"]
        if self.threshold > 0 and minhash is None:
            minhash = self._minhash(record["text"])
        self._seeds.append(({k: record.get(k) for k in ("id", "url", "final_url", "content_hash")}, minhash))

    def _script_args(self, record: dict, minhash: MinHash | None, *, mode: str) -> tuple[list[str], list[Any]]:
        assert self.keys is not None
        signature = signature_bytes(minhash) if minhash is not None and self.bands else b""
        bands = []
        if signature:
            for i, (start, end) in enumerate(self.bands):
                digest = hashlib.blake2b(signature[start * 4 : end * 4], digest_size=8).hexdigest()
                bands.append(self.keys.duplicate_band(i, digest))
        url = record.get("final_url") or record.get("url") or ""
        keys = [self.keys.duplicate_hashes, self.keys.duplicate_signatures, *bands]
        args = [
            record["id"],
            url,
            record.get("content_hash") or "",
            signature,
            repr(float(self.threshold)),
            self.num_perm,
            mode,
        ]
        return keys, args

    def find_original(self, item: dict, minhash: MinHash | None) -> tuple[str, str, float] | None:
        if self.keys is None:  # not opened (cannot happen in a crawl); decide in the process
            return super().find_original(item, minhash)
        if minhash is None and self.bands:
            minhash = self._minhash(item.get("text") or "")
        keys, args = self._script_args(item, minhash, mode="decide")
        kind, original, equal = self._decide(keys=keys, args=args)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        original = original.decode() if isinstance(original, bytes) else original
        if kind == "new":
            if item.get("content_hash"):
                self.hash_of[item["id"]] = item["content_hash"]
            return None
        return kind, original, (int(equal) / self.num_perm if kind == "near" else 1.0)

    def _drop(self, item: dict, kind: str, original: str, similarity: float) -> None:
        """Record the duplicate unless another worker of the crawl has (or is recording it now)."""
        if self.keys is None:
            super()._drop(item, kind, original, similarity)
        key = item.get("final_url") or item.get("url") or item["id"]
        keys = [self.keys.duplicates_recorded, self.keys.heartbeat_prefix]
        claimed = int(self._claim(keys=keys, args=claim_args(key, self.worker, self.lease_ms)))
        if claimed == 0:
            self.stats.inc_value("distributed/duplicates_recorded_elsewhere")
            raise DropItem(
                f"{item.get('url')}: {kind} duplicate of {original}, recorded by another worker", log_level="DEBUG"
            )
        self._record(item, kind, original, similarity)
        self.server.hset(self.keys.duplicates_recorded, key, f"done:{self.worker}")
        raise DropItem(f"{item.get('url')}: {kind} duplicate of {original}", log_level="DEBUG")
