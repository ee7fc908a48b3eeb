"""A worker's life in a distributed crawl: register, beat, acknowledge, rescue dead workers, stop when done.

The heartbeat (key TTL ``HEALTHDEX_REDIS_WORKER_TIMEOUT``, every ``HEALTHDEX_REDIS_HEARTBEAT_INTERVAL`` seconds)
is beaten by a thread of its own: a worker whose reactor is busy (inline extraction of a 10 MiB page takes 20-30 s)
is slow, not dead, and keeps its requests; one whose reactor has not ticked for ``HEALTHDEX_REDIS_STALL_TIMEOUT``
seconds is hung: no heartbeat (logged).  On the reactor, every interval, the worker

1. acknowledges the requests it popped that Scrapy has finished with: finished means the engine no longer has
   the request in progress, i.e. it was downloaded (or failed, or was ignored), its callback ran, the requests
   it yielded are in the shared frontier and its items went through every item pipeline (the JSONL line is
   written and flushed).  Scrapy has no public signal for that moment; the engine's own in-progress set
   (``engine._slot.inprogress``, checked against Scrapy 2.19) is it, so this extension checks for it on open and refuses
   to run without it;
2. puts the in-flight requests of every registered worker whose heartbeat has expired back on the frontier.

``spider_idle``: the worker stays open while the crawl as a whole has work (frontier not empty, a live worker
has requests in flight, or seeding is not finished) and closes once it has seen no work for
``HEALTHDEX_REDIS_IDLE_TIMEOUT`` seconds.  (scrapy-redis's own ``MAX_IDLE_TIME_BEFORE_CLOSE`` belongs to its
``RedisSpider``, which reads start URLs from a Redis list; the health spider is a SitemapSpider, so the idle
rule lives here, and it also waits for other workers' in-flight requests, which may still add links.)

On close the worker acknowledges what finished, puts anything left back on the frontier, deregisters, and logs
what the crawl has left in the frontier (a page limit stops it with some left: ``page_limit``).
Stats: ``distributed/acked``, ``distributed/reclaimed`` (from dead workers), ``distributed/idle_checks``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.utils.asyncio import create_looping_call

from crawler.distributed import scripts
from crawler.distributed.keys import CrawlKeys, crawl_id, redis_from_settings, worker_id
from crawler.distributed.scheduler import RedisFrontierScheduler

logger = logging.getLogger(__name__)


def heartbeat_value(worker: str) -> str:
    """What a heartbeat key holds: which process is ``worker`` (``crawler.distributed.preflight`` reads it)."""
    return json.dumps({"worker": worker, "host": socket.gethostname(), "pid": os.getpid(), "time": time.time()})


def beat(server, keys: CrawlKeys, worker: str, ttl: float) -> None:
    """Mark ``worker`` alive for ``ttl`` seconds and registered in the crawl."""
    pipe = server.pipeline()
    pipe.set(keys.heartbeat(worker), heartbeat_value(worker), px=int(ttl * 1000))
    pipe.sadd(keys.workers, worker)
    pipe.execute()


class WorkerLifecycle:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not settings.get("HEALTHDEX_REDIS_URL"):
            raise NotConfigured("HEALTHDEX_REDIS_URL is not set")
        self.crawler = crawler
        self.worker = worker_id(settings)
        self.interval = settings.getfloat("HEALTHDEX_REDIS_HEARTBEAT_INTERVAL")
        self.ttl = settings.getfloat("HEALTHDEX_REDIS_WORKER_TIMEOUT")
        self.idle_timeout = settings.getfloat("HEALTHDEX_REDIS_IDLE_TIMEOUT")
        self.stall_timeout = settings.getfloat("HEALTHDEX_REDIS_STALL_TIMEOUT")
        if self.ttl <= self.interval:
            raise ValueError("HEALTHDEX_REDIS_WORKER_TIMEOUT must be longer than HEALTHDEX_REDIS_HEARTBEAT_INTERVAL")
        self.server = redis_from_settings(settings)
        self._reclaim = self.server.register_script(scripts.RECLAIM_INFLIGHT)
        self.keys: CrawlKeys | None = None
        self.idle_since: float | None = None
        self.task = None
        self.ticked = 0.0  # when the reactor last ticked (monotonic)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.beat_forever, name="healthdex-heartbeat", daemon=True)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WorkerLifecycle:
        return cls(crawler)

    def log(self, level: int, message: str, *args) -> None:
        logger.log(level, "distributed worker %s: " + message, self.worker, *args)

    # --- engine access ----------------------------------------------------------------------------------------
    def _scheduler(self) -> RedisFrontierScheduler:
        scheduler = self.crawler.engine.scheduler
        if not isinstance(scheduler, RedisFrontierScheduler):
            raise RuntimeError("WorkerLifecycle needs SCHEDULER = crawler.distributed.scheduler.RedisFrontierScheduler")
        return scheduler

    def _in_progress(self) -> set:
        slot = getattr(self.crawler.engine, "_slot", None)
        inprogress = getattr(slot, "inprogress", None)
        if inprogress is None:
            raise RuntimeError(
                "this Scrapy version's engine has no _slot.inprogress; crawler.distributed needs "
                "the engine of Scrapy 2.19 (see crawler/distributed/worker.py)"
            )
        return inprogress

    # --- signals ----------------------------------------------------------------------------------------------
    def spider_opened(self, spider: Spider) -> None:
        self.keys = CrawlKeys(crawl_id(self.crawler.settings, spider))
        self._in_progress()  # fail early on an engine without it
        beat(self.server, self.keys, self.worker, self.ttl)
        self.ticked = time.monotonic()
        self.thread.start()
        self.task = create_looping_call(self.tick)
        self.task.start(self.interval, now=False)

    def beat_forever(self) -> None:
        """The heartbeat thread: beat every interval while the reactor ticks, until the spider closes."""
        stalled = False
        while not self.stopped.wait(self.interval):
            if time.monotonic() - self.ticked > self.stall_timeout:
                if not stalled:
                    msg = "reactor stalled over %.0f s (HEALTHDEX_REDIS_STALL_TIMEOUT): no heartbeat till it ticks"
                    self.log(logging.ERROR, msg, self.stall_timeout)
                stalled = True
                continue
            stalled = False
            try:
                beat(self.server, self.keys, self.worker, self.ttl)
            except Exception:  # noqa: BLE001 - a Redis hiccup must not end the thread; the next beat retries
                logger.exception("distributed worker %s: heartbeat failed", self.worker)

    def tick(self) -> None:
        self.ticked = time.monotonic()
        try:
            self.acknowledge()
            self.rescue_dead_workers()
        except Exception:  # noqa: BLE001 - a Redis hiccup must not kill the loop; the next tick retries
            logger.exception("distributed worker %s: acknowledging or rescuing failed", self.worker)
            return
        engine = self.crawler.engine
        if not engine.needs_backout():
            # Other workers may have filled the shared frontier: look now, not at the engine's 5-second heartbeat.
            engine._slot.nextcall.schedule()

    def acknowledge(self) -> int:
        queue = self._scheduler().queue
        inprogress = self._in_progress()
        done = [r for r in queue.inflight if r not in inprogress]
        n = queue.ack(done)
        if n:
            self.crawler.stats.inc_value("distributed/acked", n)
        return n

    def rescue_dead_workers(self) -> int:
        assert self.keys is not None
        total = 0
        for raw in self.server.smembers(self.keys.workers):
            other = raw.decode() if isinstance(raw, bytes) else raw
            if other == self.worker:
                continue
            n = int(self._reclaim(keys=self.keys.reclaim(other), args=["0", other]))
            if n > 0:
                self.log(logging.WARNING, "worker %s is gone; put its %d in-flight requests back", other, n)
                self.crawler.stats.inc_value("distributed/reclaimed", n)
                total += n
        return total

    def crawl_has_work(self) -> bool:
        """True while anything in the crawl may still produce requests."""
        assert self.keys is not None
        if self.server.zcard(self.keys.queue):
            return True
        seeded = self.server.get(self.keys.seeded) or b""
        if seeded != b"done":
            seeder = seeded.decode().removeprefix("seeding:")
            if seeder and not self.server.exists(self.keys.heartbeat(seeder)):
                # Seeding takes a moment; a seeder killed in it is taken over by the next worker to start.
                self.log(logging.WARNING, "worker %s died seeding the crawl; start a worker to seed it again", seeder)
            else:
                return True
        for raw in self.server.smembers(self.keys.workers):
            other = raw.decode() if isinstance(raw, bytes) else raw
            if self.server.hlen(self.keys.inflight(other)):
                return True
        return False

    def spider_idle(self, spider: Spider) -> None:
        self.crawler.stats.inc_value("distributed/idle_checks")
        self.acknowledge()
        self.rescue_dead_workers()
        now = time.monotonic()
        if self.crawl_has_work():
            self.idle_since = None
            raise DontCloseSpider
        if self.idle_since is None:
            self.idle_since = now
        if now - self.idle_since < self.idle_timeout:
            raise DontCloseSpider
        self.log(logging.INFO, "no work in the crawl for %.1f s; closing", now - self.idle_since)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()  # a beat under way must not re-register this worker after it left
        if self.task is not None and self.task.running:
            self.task.stop()
        if self.keys is None:
            return
        try:
            self.acknowledge()
            n = self._scheduler().requeue_own_inflight()
            if n:
                self.log(logging.INFO, "put %d unfinished requests back", n)
            pipe = self.server.pipeline()
            pipe.delete(self.keys.heartbeat(self.worker))
            pipe.srem(self.keys.workers, self.worker)
            pipe.zcard(self.keys.queue)
            pipe.zcard(self.keys.parked)
            left = pipe.execute()[2:]
            if any(left):
                self.log(logging.INFO, "%d requests left in the frontier, %d held back by a page limit: kept", *left)
        except Exception:  # noqa: BLE001 - leaving them is safe: they expire and get reclaimed
            logger.exception("distributed worker %s: could not deregister", self.worker)
