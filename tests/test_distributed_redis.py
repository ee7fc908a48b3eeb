"""Issue 5, Distributed: the Redis side of the distributed crawl, one piece at a time, against a real redis-server
(started by the test on 127.0.0.1).  The whole thing, with workers and a kill, is in test_distributed.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from redis_server import redis_server
from scrapy import Request, Spider

from crawler.distributed import scripts
from crawler.distributed.keys import CrawlKeys, forget_crawl, host_key
from crawler.distributed.politeness import RedisHosts
from crawler.distributed.scheduler import InFlightPriorityQueue

KEYS = CrawlKeys("t")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        client = redis.Redis.from_url(url)
        yield client
        client.close()


@pytest.fixture(autouse=True)
def clean(server):
    server.flushdb()


def test_hosts_in_redis_take_crawler_politeness_steps_whichever_client_asks(server):
    a, b = RedisHosts(server), RedisHosts(redis.Redis.from_url(_url(server)))
    host = "www.example.org"
    assert a.acquire(host, 0.5, False, 35) == (0.0, None)  # a holds the host
    wait_b, _ = b.acquire(host, 0.5, False, 35)  # b: a's request ends a delay from now at best
    wait_c, _ = a.acquire(host, 0.5, False, 35)  # c: after b's reservation
    assert 0.45 <= wait_b <= 0.5 and wait_b + 0.45 <= wait_c <= wait_b + 0.5, (wait_b, wait_c)
    assert b.acquire(host, 0.5, True, 35)[0] > 0  # b asks again at once: a still holds the host
    a.release(host, 0.5)
    time.sleep(0.5)
    wait, gap = b.acquire(host, 0.5, True, 35)  # a delay after a's end: b goes, however late
    assert wait == 0 and gap >= 0.5
    assert a.acquire("other.example.org", 0.5, False, 35) == (0.0, None)  # hosts are independent
    # The key lives until its last reservation (and then some), here ~14 minutes away.
    waits = [a.acquire("slow.example.org", 30, False, 35)[0] for _ in range(29)]
    assert waits[-1] > 800 and server.pttl(host_key("slow.example.org")) > waits[-1] * 1000


def test_pop_parks_the_request_in_flight_until_acknowledged(server):
    queue = InFlightPriorityQueue(server, Spider(name="t"), KEYS.queue, inflight_key=KEYS.inflight("w1"))
    queue.push(Request("https://www.example.org/low", priority=0))
    queue.push(Request("https://www.example.org/high", priority=10))
    request = queue.pop()
    assert request.url == "https://www.example.org/high"
    assert server.zcard(KEYS.queue) == 1 and server.hlen(KEYS.inflight("w1")) == 1
    assert queue.ack([request]) == 1
    assert server.hlen(KEYS.inflight("w1")) == 0 and queue.inflight == {}


def test_a_dead_workers_in_flight_requests_go_back_to_the_frontier(server):
    queue = InFlightPriorityQueue(server, Spider(name="t"), KEYS.queue, inflight_key=KEYS.inflight("w1"))
    queue.push(Request("https://www.example.org/a", priority=3))
    queue.pop()
    server.sadd(KEYS.workers, "w1")
    server.set(KEYS.heartbeat("w1"), "alive", px=60_000)
    reclaim = server.register_script(scripts.RECLAIM_INFLIGHT)
    args = dict(keys=[KEYS.heartbeat("w1"), KEYS.inflight("w1"), KEYS.queue, KEYS.workers, KEYS.counters])
    assert reclaim(**args, args=["0", "w1"]) == -1  # alive: left alone
    assert server.zcard(KEYS.queue) == 0
    server.delete(KEYS.heartbeat("w1"))  # its heartbeat expired
    assert reclaim(**args, args=["0", "w1"]) == 1
    assert server.zrange(KEYS.queue, 0, -1, withscores=True)[0][1] == -3.0  # same priority as before
    assert not server.exists(KEYS.inflight("w1")) and not server.sismember(KEYS.workers, "w1")
    assert server.hget(KEYS.counters, "reclaimed") == b"1"
    again = InFlightPriorityQueue(server, Spider(name="t"), KEYS.queue, inflight_key=KEYS.inflight("w2")).pop()
    assert again.url == "https://www.example.org/a"


def test_each_article_is_claimed_by_one_worker_under_its_lease(server):
    claim = server.register_script(scripts.CLAIM_ARTICLE)

    def attempt(worker: str) -> int:
        return claim(keys=[KEYS.emitted, KEYS.heartbeat_prefix], args=["https://x.org/a", worker, 60_000, "alive"])

    assert attempt("w1") == 1
    assert 59_000 < server.pttl(KEYS.heartbeat("w1")) <= 60_000  # the claim renewed w1's heartbeat: its lease
    assert attempt("w2") == 0  # w1 is alive and writing it
    assert attempt("w1") == 1  # w1 again (restarted under its id)
    server.delete(KEYS.heartbeat("w1"))
    assert attempt("w2") == 2  # w1 died before finishing: taken over
    server.hset(KEYS.emitted, "https://x.org/a", "done:w2")
    assert attempt("w1") == 0 and attempt("w3") == 0


def test_a_restarted_worker_settles_the_claims_its_previous_life_left_pending(server, tmp_path: Path):
    import json

    from scrapy.utils.test import get_crawler

    from crawler.distributed.emit_once import EmitOnceWriterPipeline

    (tmp_path / "articles.jsonl").write_text(json.dumps({"id": "https://x.org/written"}) + "\n", encoding="utf-8")
    server.hset(
        KEYS.emitted,
        mapping={
            "https://x.org/written": "pending:w1",
            "https://x.org/lost": "pending:w1",
            "https://x.org/other": "pending:w2",
            "https://x.org/old": "done:w1",
        },
    )
    crawler = get_crawler(
        Spider,
        {
            "HEALTHDEX_REDIS_URL": _url(server),
            "HEALTHDEX_REDIS_CRAWL_ID": "t",
            "HEALTHDEX_REDIS_WORKER_ID": "w1",
            "HEALTHDEX_OUT_DIR": str(tmp_path),
        },
    )
    crawler.stats.open_spider()
    pipeline = EmitOnceWriterPipeline.from_crawler(crawler)
    pipeline.spider_opened(Spider(name="t"))
    assert server.hgetall(KEYS.emitted) == {
        b"https://x.org/written": b"done:w1",
        b"https://x.org/other": b"pending:w2",
        b"https://x.org/old": b"done:w1",
    }
    assert crawler.stats.get_value("distributed/claims_settled_done") == 1
    assert crawler.stats.get_value("distributed/claims_released") == 1
    # Released, the article w1's previous life never wrote is written by whichever worker redoes its request.
    server.set(KEYS.heartbeat("w1"), "alive")
    claim = server.register_script(scripts.CLAIM_ARTICLE)
    assert claim(keys=[KEYS.emitted, KEYS.heartbeat_prefix], args=["https://x.org/lost", "w2", 1000, "alive"]) == 1


def test_duplicates_are_decided_crawl_wide_in_one_step(server):
    decide = server.register_script(scripts.DECIDE_DUPLICATE)
    signature = bytes(range(256)) * 2  # 128 permutations, 4 bytes each
    near = signature[:-4] + b"\xff\xff\xff\xff"  # one permutation of 128 differs: 0.992
    far = bytes(512)
    bands = [KEYS.duplicate_band(0, "b0"), KEYS.duplicate_band(1, "b1")]

    def attempt(record_id, url, content_hash, sig=signature, mode="decide", band_keys=bands, threshold="0.9"):
        keys = [KEYS.duplicate_hashes, KEYS.duplicate_signatures, *band_keys]
        kind, original, equal = decide(keys=keys, args=[record_id, url, content_hash, sig, threshold, 128, mode])
        return kind.decode(), original.decode(), int(equal)

    assert attempt("a", "http://x/a", "h1") == ("new", "", 0)
    assert attempt("b", "http://x/b", "h1") == ("exact", "a", 0)  # same text under another id
    assert attempt("a", "http://x/print/a", "h1") == ("canonical", "a", 0)  # same id and text, another URL
    assert attempt("a", "http://x/a", "h1") == ("new", "", 0)  # the same request again: not its own duplicate
    assert attempt("c", "http://x/c", "h2", near) == ("near", "a", 127)
    assert attempt("d", "http://x/d", "h3", near, threshold="0.995") == ("new", "", 0)  # under a higher threshold
    assert attempt("e", "http://x/e", "h4", far, band_keys=[KEYS.duplicate_band(0, "other")]) == ("new", "", 0)
    # Duplicates are not registered: only a and d (new) have signatures; c is nobody's original.
    assert sorted(server.hkeys(KEYS.duplicate_signatures)) == [b"a", b"d", b"e"]
    assert attempt("f", "http://x/f", "h5", near, band_keys=bands[1:]) == ("near", "d", 128)
    assert attempt("g", "http://x/g", "h6", mode="add") == ("new", "", 0)  # registering an earlier record
    assert server.hget(KEYS.duplicate_hashes, "h6") == b"g\nhttp://x/g"


def test_the_crawl_is_seeded_once_unless_the_seeder_dies(server):
    claim = server.register_script(scripts.CLAIM_SEEDING)

    def attempt(worker: str) -> int:
        return claim(keys=[KEYS.seeded, KEYS.heartbeat_prefix], args=[worker])

    server.set(KEYS.heartbeat("w1"), "alive")
    assert attempt("w1") == 1
    assert attempt("w2") == 0
    server.delete(KEYS.heartbeat("w1"))
    assert attempt("w2") == 1  # w1 died while seeding
    server.set(KEYS.seeded, "done")
    assert attempt("w3") == 0
    assert forget_crawl(server, "t") >= 1 and not server.exists(KEYS.seeded)


def _url(server) -> str:
    return f"redis://127.0.0.1:{server.connection_pool.connection_kwargs['port']}/0"


def test_enable_switches_components_and_gives_each_worker_its_folder(tmp_path: Path, server):
    from crawler.run import CrawlOptions, crawl_settings

    options = CrawlOptions(
        profiles=["webmd"],
        out_dir=tmp_path,
        proxy="http://127.0.0.1:9",
        redis=_url(server),
        crawl_id="c1",
        worker_id="w 1",
    )
    settings, _ = crawl_settings(options, options.proxy)
    assert settings["SCHEDULER"] == "crawler.distributed.scheduler.RedisFrontierScheduler"
    assert settings.getdict("DOWNLOAD_HANDLERS")["https"].endswith("PoliteHTTPDownloadHandler")
    pipelines = settings.getdict("ITEM_PIPELINES")
    # The article writer claims each article at write time; page limits count all workers' pages.
    assert pipelines["crawler.distributed.emit_once.EmitOnceWriterPipeline"] == 900
    assert pipelines["crawler.pipelines.jsonl_writer.JsonLinesWriterPipeline"] is None
    middlewares = settings.getdict("DOWNLOADER_MIDDLEWARES")
    assert middlewares["crawler.distributed.page_limit.SharedPageLimitMiddleware"] == 920
    assert middlewares["crawler.middlewares.page_limit.PageLimitMiddleware"] is None
    assert "crawler.distributed.worker.WorkerLifecycle" in settings.getdict("EXTENSIONS")
    # Duplicates are detected crawl-wide: the Redis-backed pipeline takes the per-process one's place.
    assert pipelines["crawler.distributed.duplicates.SharedDuplicatesPipeline"] == 500
    assert pipelines["crawler.pipelines.duplicates.DuplicatesPipeline"] is None
    assert settings["HEALTHDEX_OUT_DIR"] == str(tmp_path / "worker-w_1")
    assert (settings["HEALTHDEX_REDIS_CRAWL_ID"], settings["HEALTHDEX_REDIS_WORKER_ID"]) == ("c1", "w 1")
    plain, _ = crawl_settings(
        CrawlOptions(profiles=["webmd"], out_dir=tmp_path, proxy="http://127.0.0.1:9"), "http://127.0.0.1:9"
    )
    assert plain["SCHEDULER"] != settings["SCHEDULER"] and plain["HEALTHDEX_OUT_DIR"] == str(tmp_path)


def _scheduler(server, worker: str):
    from scrapy.utils.test import get_crawler

    from crawler.distributed.scheduler import RedisFrontierScheduler

    crawler = get_crawler(
        Spider,
        {"HEALTHDEX_REDIS_URL": _url(server), "HEALTHDEX_REDIS_CRAWL_ID": "t", "HEALTHDEX_REDIS_WORKER_ID": worker},
    )
    crawler.stats.open_spider()
    scheduler = RedisFrontierScheduler.from_crawler(crawler)
    scheduler.open(Spider(name="t"))
    return scheduler, crawler.stats


def test_scheduler_filters_duplicates_crawl_wide_and_requeues_its_own_unfinished_requests_on_restart(server):
    first, _ = _scheduler(server, "w1")
    assert first.enqueue_request(Request("https://www.example.org/a"))
    assert not first.enqueue_request(Request("https://www.example.org/a"))
    other, _ = _scheduler(server, "w2")  # another worker shares the filter
    assert not other.enqueue_request(Request("https://www.example.org/a"))
    assert other.enqueue_request(Request("https://www.example.org/a", dont_filter=True))
    assert first.next_request() is not None and first.next_request() is not None
    assert not first.has_pending_requests() and server.hlen(KEYS.inflight("w1")) == 2
    restarted, stats = _scheduler(server, "w1")  # w1 killed and started again under its id
    assert len(restarted) == 2 and server.hlen(KEYS.inflight("w1")) == 0
    assert stats.get_value("distributed/requeued_own") == 2
    restarted.close("finished")  # persists: nothing is flushed
    assert server.scard(KEYS.dupefilter) == 1 and server.zcard(KEYS.queue) == 2


def test_an_undecodable_frontier_entry_is_dropped_not_kept_in_flight(server):
    scheduler, stats = _scheduler(server, "w1")
    server.zadd(KEYS.queue, {b"not a pickle": 0})
    assert scheduler.next_request() is None
    assert server.hlen(KEYS.inflight("w1")) == 0 and server.zcard(KEYS.queue) == 0
    assert stats.get_value("distributed/undecodable") == 1


def test_a_worker_id_held_by_another_live_process_is_refused(server, tmp_path: Path):
    import json
    import os
    import socket

    from crawler.distributed import preflight
    from crawler.run import CrawlOptions, crawl_settings
    from healthdex.errors import UserError

    heartbeat = CrawlKeys("webmd").heartbeat("w1")
    server.set(heartbeat, json.dumps({"worker": "w1", "host": "elsewhere", "pid": 1}))
    options = CrawlOptions(
        profiles=["webmd"], out_dir=tmp_path, proxy="http://127.0.0.1:9", redis=_url(server), worker_id="w1"
    )
    with pytest.raises(UserError, match="worker id 'w1' of crawl 'webmd' is in use by process 1 on elsewhere"):
        crawl_settings(options, options.proxy)  # the crawl id defaults to the profile names
    # Above Linux's largest pid_max (2**22): a process of this machine that is not running.
    server.set(heartbeat, json.dumps({"worker": "w1", "host": socket.gethostname(), "pid": 2**22 + 7}))
    preflight(_url(server), "webmd", "w1")  # killed and restarted on this machine: fine
    server.set(heartbeat, json.dumps({"worker": "w1", "host": socket.gethostname(), "pid": os.getppid()}))
    with pytest.raises(UserError, match="in use"):
        preflight(_url(server), "webmd", "w1")
    with pytest.raises(UserError, match="cannot use Redis at redis://127.0.0.1:1/0"):
        preflight("redis://127.0.0.1:1/0", "webmd", "w1")


def test_closing_the_scheduler_closes_its_duplicate_filter_and_keeps_the_crawl(server, monkeypatch):
    from crawler.distributed.scheduler import SharedDupeFilter

    scheduler, _ = _scheduler(server, "w1")
    assert scheduler.enqueue_request(Request("https://www.example.org/a"))
    closed = []
    monkeypatch.setattr(SharedDupeFilter, "close", lambda self, reason="": closed.append(reason))
    scheduler.close("finished")  # what Scrapy's engine calls when the spider closes
    assert closed == ["finished"]
    monkeypatch.undo()
    scheduler.df.close("finished")
    assert server.scard(KEYS.dupefilter) == 1 and server.zcard(KEYS.queue) == 1


def test_page_limits_are_counted_for_the_crawl_and_requests_over_them_are_parked_not_dropped(server):
    from crawler.distributed.page_limit import NO_LIMIT

    take = server.register_script(scripts.TAKE_PAGE)
    queue = InFlightPriorityQueue(server, Spider(name="t"), KEYS.queue, inflight_key=KEYS.inflight("w1"))
    for i in range(5):
        queue.push(Request(f"https://www.example.org/{i}", priority=i))
    popped = [queue.pop() for _ in range(5)]

    def attempt(request, crawl_limit: int, site: str, site_limit: int) -> int:
        args = [crawl_limit, site, site_limit, queue.member(request), -request.priority]
        return take(keys=[KEYS.pages, KEYS.inflight("w1"), KEYS.parked], args=args)

    assert [attempt(r, 3, "s1", 1) for r in popped[:2]] == [1, 0]  # s1's limit is 1
    assert attempt(popped[2], 3, "s2", NO_LIMIT) == 1
    assert attempt(popped[3], 3, "s2", NO_LIMIT) == 1
    assert attempt(popped[4], 3, "s2", NO_LIMIT) == -1  # three pages in the crawl
    assert server.hgetall(KEYS.pages) == {b"total": b"3", b"site:s1": b"1", b"site:s2": b"2"}
    assert server.zrange(KEYS.parked, 0, -1, withscores=True) == [
        (queue.member(popped[1]), -3.0),
        (queue.member(popped[4]), 0.0),
    ]  # their priorities kept
    assert server.hlen(KEYS.inflight("w1")) == 3  # the three sent stay in flight until acknowledged
    restarted, _ = _scheduler(server, "w2")  # a worker starting puts what was parked back on the frontier
    assert server.zcard(KEYS.parked) == 0 and len(restarted) == 2


def test_the_heartbeat_thread_beats_while_the_reactor_ticks_and_not_when_it_has_stalled(server, caplog):
    from scrapy.utils.test import get_crawler

    from crawler.distributed.worker import WorkerLifecycle

    def wait_for(predicate) -> bool:
        deadline = time.monotonic() + 30
        while not predicate() and time.monotonic() < deadline:
            time.sleep(0.01)
        return bool(predicate())

    settings = {
        "HEALTHDEX_REDIS_URL": _url(server),
        "HEALTHDEX_REDIS_CRAWL_ID": "t",
        "HEALTHDEX_REDIS_WORKER_ID": "w1",
        "HEALTHDEX_REDIS_HEARTBEAT_INTERVAL": 0.01,
        "HEALTHDEX_REDIS_WORKER_TIMEOUT": 60,
        "HEALTHDEX_REDIS_STALL_TIMEOUT": 30,
    }
    life = WorkerLifecycle.from_crawler(get_crawler(Spider, settings))
    life.keys = KEYS
    life.ticked = time.monotonic() - 31  # the reactor's last tick, 31 s ago
    life.thread.start()
    try:
        assert wait_for(lambda: "reactor stalled over 30 s" in caplog.text)
        assert not server.exists(KEYS.heartbeat("w1"))
        life.ticked = time.monotonic()  # it ticks again
        assert wait_for(lambda: server.exists(KEYS.heartbeat("w1")))
    finally:
        life.stopped.set()
        life.thread.join()
