"""Distributed crawling on scrapy-redis: any number of ``healthdex crawl --redis URL`` workers, on any machines,
share one frontier and one duplicate filter and keep per-host politeness for the crawl as a whole.

Components (each its own module, built with ``from_crawler``, switched on by :func:`enable`):

- ``scheduler.RedisFrontierScheduler``: scrapy-redis's scheduler with a crash-safe pop (request parked in the
  worker's in-flight hash), always-persistent state and the crawler's request fingerprinter;
- ``seed.SeedOnceMiddleware``: only the first worker enqueues the spider's start requests;
- ``politeness.RedisHosts``: per-host spacing crawl-wide (``crawler.politeness``'s download handler uses it);
- in place of per-process components: ``emit_once.EmitOnceWriterPipeline`` (each article written by one worker),
  ``page_limit.SharedPageLimitMiddleware`` (page limits for all workers together) and
  ``duplicates.SharedDuplicatesPipeline`` (exact and near duplicates detected crawl-wide, each recorded once);
- ``worker.WorkerLifecycle``: heartbeat (off the reactor thread), acknowledgement of finished requests, rescue of
  dead workers' requests, and closing once the whole crawl has had no work for ``HEALTHDEX_REDIS_IDLE_TIMEOUT``.

Redis keys (``keys.CrawlKeys``; crawl id = ``--crawl-id`` or the sorted profile names)::

    healthdex:<crawl>:requests          zset   shared frontier (scrapy-redis PriorityQueue layout)
    healthdex:<crawl>:dupefilter        set    request fingerprints
    healthdex:<crawl>:seeded            string seeding:<worker> | done
    healthdex:<crawl>:workers           set    registered worker ids
    healthdex:<crawl>:heartbeat:<w>     string TTL = HEALTHDEX_REDIS_WORKER_TIMEOUT, refreshed every beat
    healthdex:<crawl>:inflight:<w>      hash   request member -> priority score, popped and not finished
    healthdex:<crawl>:emitted           hash   article key -> pending:<w> | done:<w>
    healthdex:<crawl>:pages             hash   pages sent by all workers: total, site:<profile>
    healthdex:<crawl>:parked            zset   requests held back by a page limit (back on the frontier at start)
    healthdex:<crawl>:counters          hash   reclaimed, seedings
    healthdex:<crawl>:dupes:hashes      hash   content hash -> id and URL of the first record kept with it
    healthdex:<crawl>:dupes:minhash     hash   record id -> MinHash signature
    healthdex:<crawl>:dupes:band:<i>:<h> set   ids whose signature hashes to <h> in LSH band <i>
    healthdex:<crawl>:dupes:recorded    hash   duplicate's URL -> pending:<w> | done:<w>
    healthdex:host:<host>               hash   reservations, holder and last end (Redis clock), shared by all crawls

Guarantees, with workers killed by SIGKILL at any moment (Redis itself assumed to stay up):

- No request is lost: the pop and the in-flight record are one Lua step; the record is removed only after
  Scrapy has finished the request (its links are in the frontier, its article line is written and flushed); the
  requests of a worker whose heartbeat expired go back on the frontier and another worker does them.
- Requests are at-least-once: a request reclaimed from a dead worker may be fetched twice (once by the dead
  worker, whose WARC may hold that response); a worker that is only slow keeps its requests (``worker``).
  Articles are written once in the union of the workers' JSONL files, claimed at write time (``emit_once``),
  except in one window: a worker killed after writing a line and before marking it ``done`` (one Redis round
  trip).  Duplicates are recorded once in the union of the workers' ``duplicates.jsonl``, with the same window.
- Page limits count all workers' pages; what a limit holds back stays in Redis for the next run (``page_limit``).
- Politeness: a request to a host starts at least its delay after the previous one to it ended, crawl-wide.
- The state persists in Redis after the crawl (a re-run with the same crawl id finds everything seen); use a new
  ``--crawl-id`` or :func:`crawler.distributed.keys.forget_crawl` to start afresh.
"""

from __future__ import annotations

from pathlib import Path

from scrapy.settings import Settings

from crawler.distributed.keys import default_worker_id, safe_name
from healthdex.processes import pid_alive

SCHEDULER = "crawler.distributed.scheduler.RedisFrontierScheduler"
EMIT_ONCE = "crawler.distributed.emit_once.EmitOnceWriterPipeline"
SHARED_DUPLICATES = "crawler.distributed.duplicates.SharedDuplicatesPipeline"  # HEALTHDEX_REDIS_SHARED_DUPLICATES
# Per-process component -> its crawl-wide replacement (same priority).
REPLACED = {
    "ITEM_PIPELINES": {
        "crawler.pipelines.jsonl_writer.JsonLinesWriterPipeline": EMIT_ONCE,
        "crawler.pipelines.duplicates.DuplicatesPipeline": SHARED_DUPLICATES,
    },
    "DOWNLOADER_MIDDLEWARES": {
        "crawler.middlewares.page_limit.PageLimitMiddleware": "crawler.distributed.page_limit.SharedPageLimitMiddleware"
    },
}
COMPONENTS = {
    # Closest to the engine, so ``seeded`` becomes ``done`` only after every start request went out.
    "SPIDER_MIDDLEWARES": {"crawler.distributed.seed.SeedOnceMiddleware": 25},
    "EXTENSIONS": {"crawler.distributed.worker.WorkerLifecycle": 600},
}


def enable(
    settings: Settings, redis_url: str, *, crawl_id: str | None = None, worker_id: str | None = None, check: bool = True
) -> Path:
    """Switch ``settings`` to a distributed crawl on ``redis_url``; returns this worker's output folder
    (``HEALTHDEX_OUT_DIR/worker-<id>``), which it also sets.  With ``check`` (and a ``crawl_id``), first makes
    sure Redis answers and no other live process is this worker (:func:`preflight`)."""
    worker = worker_id or settings.get("HEALTHDEX_REDIS_WORKER_ID") or default_worker_id()
    crawl_id = crawl_id or settings.get("HEALTHDEX_REDIS_CRAWL_ID") or None
    if check and crawl_id:
        preflight(redis_url, crawl_id, worker)
    out_dir = Path(settings.get("HEALTHDEX_OUT_DIR")) / f"worker-{safe_name(worker)}"
    values = {
        "HEALTHDEX_REDIS_URL": redis_url,
        "HEALTHDEX_REDIS_WORKER_ID": worker,
        "HEALTHDEX_OUT_DIR": str(out_dir),
        "SCHEDULER": SCHEDULER,
    }
    if crawl_id:
        values["HEALTHDEX_REDIS_CRAWL_ID"] = crawl_id
    for name, entries in COMPONENTS.items():
        merged = settings.getdict(name)
        merged.update(entries)
        values[name] = merged
    shared_duplicates = settings.getbool("HEALTHDEX_REDIS_SHARED_DUPLICATES", True)
    for name, entries in REPLACED.items():
        components = values.setdefault(name, settings.getdict(name))
        for local, shared in entries.items():
            if components.get(local) is not None and (shared_duplicates or shared != SHARED_DUPLICATES):
                components[shared], components[local] = components[local], None
    if settings.getint("HEALTHDEX_MAX_PAGES"):
        values["CLOSESPIDER_PAGECOUNT"] = 0  # a per-worker count: SharedPageLimitMiddleware closes at the limit
    settings.setdict(values, priority="cmdline")
    return out_dir


def preflight(redis_url: str, crawl_id: str, worker: str) -> None:
    """Raise UserError when Redis does not answer, or when worker id ``worker`` of ``crawl_id`` belongs to another
    live process (two workers with one id would put each other's in-flight requests back).  A heartbeat left by
    a dead process of this machine (a worker killed and started again) is fine."""
    import json
    import os
    import socket

    import redis

    from crawler.distributed.keys import CrawlKeys
    from healthdex.errors import UserError

    try:
        server = redis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=5)
        raw = server.get(CrawlKeys(crawl_id).heartbeat(worker))
    except (redis.exceptions.RedisError, ValueError) as exc:
        raise UserError(f"cannot use Redis at {redis_url}: {exc}") from None
    if not raw:
        return
    try:
        info = json.loads(raw)
        host, pid = info["host"], int(info["pid"])
    except (ValueError, KeyError, TypeError):
        return
    if host == socket.gethostname() and (pid == os.getpid() or not pid_alive(pid)):
        return
    raise UserError(
        f"worker id {worker!r} of crawl {crawl_id!r} is in use by process {pid} on {host}; "
        f"give this worker another --worker-id (or wait for that one's heartbeat to expire)"
    )
