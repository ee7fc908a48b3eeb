"""The shared frontier: scrapy-redis's Scheduler, adapted so workers can die without losing requests.

scrapy-redis 0.9.1 works with Scrapy 2.19's engine (the scheduler interface is duck-typed; start requests reach
``enqueue_request`` like any other), but three of its behaviours do not fit a crawl shared by many workers:

- ``PriorityQueue.pop`` removes the request from Redis outright, so a worker killed between the pop and the end
  of processing loses it.  ``InFlightPriorityQueue`` pops with a Lua script that moves the request into the
  worker's in-flight hash in the same step; the worker acknowledges it (removes it) once Scrapy has finished with
  the request, and the in-flight hash of a dead worker is put back on the frontier (``WorkerLifecycle``).
- ``Scheduler.close`` flushes the queue and the fingerprints unless ``SCHEDULER_PERSIST``; one worker finishing
  must never wipe the others' frontier, so this scheduler always persists.
- ``RFPDupeFilter`` fingerprints with its own sha1-of-JSON and deletes its key on ``close``; ``SharedDupeFilter``
  uses the crawler's request fingerprinter (``REQUEST_FINGERPRINTER_CLASS``, the same one Scrapy's own dupefilter
  and HTTP cache use) and keeps its key.
- ``Scheduler.enqueue_request`` marks the fingerprint and pushes in two calls; a worker killed between them would
  lose the request (seen, never queued).  Here both happen in one Lua script (``scripts.ENQUEUE_IF_NEW``).
"""

from __future__ import annotations

import importlib
import logging

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from crawler.distributed import scripts
from crawler.distributed.keys import CrawlKeys, crawl_id, redis_from_settings, worker_id

logger = logging.getLogger(__name__)


class SharedDupeFilter(RFPDupeFilter):
    """The crawl-wide request filter: a Redis set of request fingerprints shared by every worker."""

    def __init__(self, server, key: str, crawler: Crawler, debug: bool = False) -> None:
        super().__init__(server, key, debug=debug)
        self.fingerprinter = crawler.request_fingerprinter

    def request_fingerprint(self, request: Request) -> str:
        return self.fingerprinter.fingerprint(request).hex()

    def close(self, reason: str = "") -> None:
        """Keep the fingerprints (scrapy-redis's deletes them): other workers and later runs still need them."""


class InFlightPriorityQueue(PriorityQueue):
    """scrapy-redis's priority queue whose ``pop`` parks the request in this worker's in-flight hash.

    ``self.inflight`` maps each popped Request object to its member bytes in Redis until ``ack`` removes it.
    """

    def __init__(
        self, server, spider: Spider, key: str, serializer=None, inflight_key: str = "", dupefilter_key: str = ""
    ) -> None:
        super().__init__(server, spider, key, serializer=serializer)
        self.inflight_key = inflight_key
        self.dupefilter_key = dupefilter_key
        self.inflight: dict[Request, bytes] = {}
        self.undecodable = 0
        self._pop = server.register_script(scripts.POP_TO_INFLIGHT)
        self._enqueue = server.register_script(scripts.ENQUEUE_IF_NEW)

    def pop(self, timeout: int = 0) -> Request | None:
        data = self._pop(keys=[self.key, self.inflight_key])
        if not data:
            return None
        try:
            request = self._decode_request(data)
        except Exception:  # noqa: BLE001 - e.g. a callback this spider no longer has; never retried forever
            logger.exception("dropping a frontier entry this worker cannot decode (%d bytes)", len(data))
            self.server.hdel(self.inflight_key, data)
            self.undecodable += 1
            return None
        self.inflight[request] = data
        return request

    def member(self, request: Request) -> bytes:
        """``request`` as it is (or would be) stored in the frontier."""
        return self.inflight.get(request) or self._encode_request(request)

    def push_if_new(self, request: Request, fingerprint: str) -> bool:
        """Mark ``fingerprint`` seen and push ``request`` in one step, unless it was seen before (or
        ``request.dont_filter``); True when pushed."""
        args = [fingerprint, -request.priority, self._encode_request(request), "1" if request.dont_filter else "0"]
        return bool(self._enqueue(keys=[self.dupefilter_key, self.key], args=args))

    def ack(self, requests) -> int:
        """Forget finished ``requests`` (those Scrapy no longer has in progress); returns how many."""
        members = [self.inflight.pop(r) for r in list(requests) if r in self.inflight]
        if members:
            self.server.hdel(self.inflight_key, *members)
        return len(members)


class RedisFrontierScheduler(Scheduler):
    """``SCHEDULER`` for ``healthdex crawl --redis``: frontier and duplicate filter in Redis, keyed by crawl id.

    Settings: ``HEALTHDEX_REDIS_URL``, ``HEALTHDEX_REDIS_CRAWL_ID``, ``HEALTHDEX_REDIS_WORKER_ID`` and
    scrapy-redis's ``SCHEDULER_SERIALIZER`` (default: pickle).  Stats: ``scheduler/enqueued/redis``,
    ``scheduler/dequeued/redis``, ``distributed/undecodable`` (frontier entries dropped), ``distributed/requeued_own``
    (own in-flight requests put back on start/close).
    """

    def __init__(self, server, crawler: Crawler, serializer=None) -> None:
        super().__init__(server, persist=True, serializer=serializer)
        self.crawler = crawler
        self.stats = crawler.stats
        self.worker = worker_id(crawler.settings)
        self.keys: CrawlKeys | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedisFrontierScheduler:
        server = redis_from_settings(crawler.settings)
        server.ping()
        serializer = crawler.settings.get("SCHEDULER_SERIALIZER")
        if isinstance(serializer, str):
            serializer = importlib.import_module(serializer)  # a module with loads/dumps, as in scrapy-redis
        return cls(server, crawler, serializer=serializer)

    def open(self, spider: Spider) -> None:
        self.spider = spider
        keys = self.keys = CrawlKeys(crawl_id(self.crawler.settings, spider))
        # scrapy-redis formats the key with %(spider)s; escape any % in a crawl id.
        queue = keys.queue.replace("%", "%%")
        self.queue = InFlightPriorityQueue(
            self.server, spider, queue, self.serializer, keys.inflight(self.worker), keys.dupefilter
        )
        debug = self.crawler.settings.getbool("DUPEFILTER_DEBUG")
        self.df = SharedDupeFilter(self.server, keys.dupefilter, self.crawler, debug)
        # A worker restarted under the same id is not working on what its previous life left in flight; what a
        # page limit held back is tried again (distributed.page_limit parks it again if the limit still holds).
        self.requeue_own_inflight()
        pipe = self.server.pipeline()
        pipe.zunionstore(keys.queue, [keys.queue, keys.parked], aggregate="MIN")
        pipe.delete(keys.parked)
        pipe.execute()
        logger.info("crawl %r, worker %r: %d requests in the shared frontier", keys.crawl_id, self.worker, len(self))

    def requeue_own_inflight(self) -> int:
        reclaim = self.server.register_script(scripts.RECLAIM_INFLIGHT)
        assert self.keys is not None
        n = int(reclaim(keys=self.keys.reclaim(self.worker), args=["1", self.worker]))
        self.queue.inflight.clear()
        if n:
            self.stats.inc_value("distributed/requeued_own", n)
        return n

    def close(self, reason: str) -> None:
        """As Scrapy's own scheduler: close the duplicate filter (which keeps its fingerprints).  Never flush: the
        frontier and the fingerprints belong to the crawl, not to this worker."""
        self.df.close(reason)

    def enqueue_request(self, request: Request) -> bool:
        if not self.queue.push_if_new(request, self.df.request_fingerprint(request)):
            self.df.log(request, self.spider)
            self.stats.inc_value("dupefilter/filtered")
            return False
        self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        request = self.queue.pop()
        if request is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
        elif self.queue.undecodable:
            self.stats.set_value("distributed/undecodable", self.queue.undecodable)
        return request
