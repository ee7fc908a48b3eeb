"""Names of everything a distributed crawl keeps in Redis, the crawl and worker identities, and the connection.

Every key of one crawl starts with ``healthdex:<crawl-id>:``; the per-host politeness slots are shared by all
crawls on the same Redis (``healthdex:host:<host>``), so two crawls of one site do not double its load either.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass

from scrapy.settings import BaseSettings

PREFIX = "healthdex"


@dataclass(frozen=True)
class CrawlKeys:
    crawl_id: str

    @property
    def base(self) -> str:
        return f"{PREFIX}:{self.crawl_id}"

    @property
    def queue(self) -> str:
        """Sorted set: the shared frontier (scrapy-redis PriorityQueue layout: member = serialized request)."""
        return f"{self.base}:requests"

    @property
    def dupefilter(self) -> str:
        """Set: fingerprints of every request ever enqueued (scrapy-redis RFPDupeFilter layout)."""
        return f"{self.base}:dupefilter"

    @property
    def seeded(self) -> str:
        """String: ``seeding:<worker>`` while a worker enqueues the start requests, then ``done``."""
        return f"{self.base}:seeded"

    @property
    def workers(self) -> str:
        """Set: ids of workers that joined (their heartbeat says whether they are alive)."""
        return f"{self.base}:workers"

    @property
    def heartbeat_prefix(self) -> str:
        return f"{self.base}:heartbeat:"

    def heartbeat(self, worker: str) -> str:
        """String with a TTL, refreshed by a live worker; its expiry declares the worker dead."""
        return self.heartbeat_prefix + worker

    def inflight(self, worker: str) -> str:
        """Hash: requests ``worker`` popped and has not finished (member -> score), put back if it dies."""
        return f"{self.base}:inflight:{worker}"

    @property
    def emitted(self) -> str:
        """Hash: article key -> ``pending:<worker>`` / ``done:<worker>``: which worker writes each article."""
        return f"{self.base}:emitted"

    @property
    def duplicate_hashes(self) -> str:
        """Hash: content hash -> ``<id>\\n<url>`` of the first record kept with it (distributed.duplicates)."""
        return f"{self.base}:dupes:hashes"

    @property
    def duplicate_signatures(self) -> str:
        """Hash: record id -> its MinHash signature (4 bytes per permutation)."""
        return f"{self.base}:dupes:minhash"

    def duplicate_band(self, band: int, digest: str) -> str:
        """Set: ids of the records whose signature has this hash in LSH band ``band``."""
        return f"{self.base}:dupes:band:{band}:{digest}"

    @property
    def duplicates_recorded(self) -> str:
        """Hash: duplicate's URL -> ``pending:<worker>`` / ``done:<worker>``: which worker records it."""
        return f"{self.base}:dupes:recorded"

    @property
    def pages(self) -> str:
        """Hash: pages sent by all workers (``total``, ``site:<profile>``), against the page limits."""
        return f"{self.base}:pages"

    @property
    def parked(self) -> str:
        """Sorted set: requests held back by a page limit (frontier layout), put back when a worker starts."""
        return f"{self.base}:parked"

    @property
    def counters(self) -> str:
        """Hash: crawl-wide counters (requests reclaimed from dead workers, seeds, ...)."""
        return f"{self.base}:counters"

    def reclaim(self, worker: str) -> list[str]:
        """The keys ``scripts.RECLAIM_INFLIGHT`` takes to put ``worker``'s in-flight requests back."""
        return [self.heartbeat(worker), self.inflight(worker), self.queue, self.workers, self.counters]

    def all_keys_pattern(self) -> str:
        return f"{self.base}:*"


def host_key(host: str) -> str:
    """Hash: ``host``'s reservations, holder and last end on the Redis clock (crawler.distributed.politeness)."""
    return f"{PREFIX}:host:{host.lower()}"


def crawl_id(settings: BaseSettings, spider) -> str:
    """``HEALTHDEX_REDIS_CRAWL_ID``, else the spider's profile names sorted (``cdc,webmd``), else its name."""
    explicit = (settings.get("HEALTHDEX_REDIS_CRAWL_ID") or "").strip()
    if explicit:
        return explicit
    names = [n for n in (getattr(spider, "profile_names", "") or "").split(",") if n]
    return ",".join(sorted(names)) or spider.name


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def worker_id(settings: BaseSettings) -> str:
    """``HEALTHDEX_REDIS_WORKER_ID``, else ``<hostname>-<pid>`` (the same for every component of one process)."""
    return (settings.get("HEALTHDEX_REDIS_WORKER_ID") or "").strip() or default_worker_id()


def safe_name(worker: str) -> str:
    """``worker`` as a folder name (``OUT/worker-<id>``); a very long id is cut and given a hash of the whole
    (folder names longer than 255 bytes cannot be created)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", worker) or "worker"
    if len(name) > 120:
        import hashlib

        name = name[:100] + "-" + hashlib.sha256(worker.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return name


def redis_from_settings(settings: BaseSettings):
    """A redis-py client for ``HEALTHDEX_REDIS_URL`` with scrapy-redis's connection defaults."""
    from scrapy_redis import defaults
    from scrapy_redis.connection import get_redis

    url = settings.get("HEALTHDEX_REDIS_URL")
    if not url:
        raise ValueError("HEALTHDEX_REDIS_URL is not set")
    params = dict(defaults.REDIS_PARAMS)
    params.update(settings.getdict("REDIS_PARAMS"))
    return get_redis(url=url, **params)


def forget_crawl(server, crawl_id: str) -> int:
    """Delete every Redis key of ``crawl_id`` (frontier, fingerprints, seeds, workers, emitted); returns how many.
    The per-host politeness keys are shared by all crawls and expire by themselves."""
    keys = list(server.scan_iter(match=CrawlKeys(crawl_id).all_keys_pattern(), count=1000))
    return server.delete(*keys) if keys else 0
