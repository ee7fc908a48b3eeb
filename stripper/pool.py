"""Extraction on every core: items go to a pool of worker processes in small batches, results come back in the items'
order (``healthdex clean`` over folders and WARCs).

As in the crawl's extraction pool, workers are started with ``spawn`` (nothing of the parent's state is copied), each
exits when its parent is gone, and Ctrl-C is the parent's to handle.  At most ``WINDOW`` batches per worker are in
flight, so memory stays bounded on any input.  A worker that dies (killed by the kernel on a hostile page, a crash
in a C library) costs only its page: its batch is run again one item per task in a fresh pool, and the item that
kills a worker on its own gets ``on_crash(item)`` as its result.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from healthdex.errors import UserError

BATCH_ITEMS = 8  # items per task: one page's extraction is a few milliseconds, a task's round trip about one
BATCH_BYTES = 4 << 20  # ... and no more than this much page data per task
WINDOW = 3  # batches in flight per worker


def ordered_map(
    fn: Callable[..., Any],
    items: Iterable[Any],
    workers: int,
    *args: Any,
    on_crash: Callable[[Any], Any],
    size: Callable[[Any], int] = lambda item: 0,
) -> Iterator[Any]:
    """``fn(item, *args)`` for each item, computed by ``workers`` processes, yielded in the items' order."""
    pool = _Pool(workers)
    pending: deque[tuple[Future, list[Any]]] = deque()
    batch: list[Any] = []
    batch_bytes = 0
    try:
        for item in items:
            batch.append(item)
            batch_bytes += size(item)
            if len(batch) >= BATCH_ITEMS or batch_bytes >= BATCH_BYTES:
                pending.append((pool.submit(fn, batch, args), batch))
                batch, batch_bytes = [], 0
                while len(pending) >= workers * WINDOW:
                    yield from pool.results(*pending.popleft(), fn, args, on_crash)
        if batch:
            pending.append((pool.submit(fn, batch, args), batch))
        while pending:
            yield from pool.results(*pending.popleft(), fn, args, on_crash)
    finally:
        pool.close(cancel=bool(pending))


class _Pool:
    """A spawn process pool that is replaced when a worker dies."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_started,
            initargs=(os.getpid(),),
        )
        try:
            executor.submit(os.getpid).result()  # a pool whose workers cannot even start is no page's fault
        except BrokenProcessPool:
            executor.shutdown(wait=False, cancel_futures=True)
            raise UserError("cannot start worker processes (try --jobs 1)") from None
        return executor

    def submit(self, fn: Callable[..., Any], batch: list[Any], args: tuple) -> Future:
        try:
            return self.executor.submit(_run_batch, fn, batch, args)
        except BrokenProcessPool:
            self._replace()
            return self.executor.submit(_run_batch, fn, batch, args)

    def results(
        self, future: Future, batch: list[Any], fn: Callable[..., Any], args: tuple, on_crash: Callable[[Any], Any]
    ) -> list[Any]:
        try:
            return future.result()
        except BrokenProcessPool:
            self._replace()
        out = []
        for item in batch:  # again, one item per task: only the item that kills a worker on its own is lost
            try:
                out.extend(self.submit(fn, [item], args).result())
            except BrokenProcessPool:
                self._replace()
                out.append(on_crash(item))
        return out

    def _replace(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._start()

    def close(self, cancel: bool) -> None:
        self.executor.shutdown(wait=not cancel, cancel_futures=cancel)


def _run_batch(fn: Callable[..., Any], batch: list[Any], args: tuple) -> list[Any]:
    return [fn(item, *args) for item in batch]


def _worker_started(parent: int) -> None:
    """A worker leaves Ctrl-C to its parent (which stops the pool) and exits when the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sentinel = multiprocessing.parent_process().sentinel  # type: ignore[union-attr]
    threading.Thread(target=_exit_with_parent, args=(sentinel,), name="healthdex-clean-parent", daemon=True).start()


def _exit_with_parent(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])  # ready once the parent process has ended
    os._exit(1)
