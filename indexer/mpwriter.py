"""healthdex's multi-process writer: bulk segments (``indexer.bulk``) built side by side, made safe to kill.

Worker processes inherit the parent's open file descriptors, including the ``flock``-ed WRITELOCK file.  If the
parent were killed (SIGKILL) while workers blocked on their job queue, they would keep the lock held, so the index
could never be written again until someone found and killed them.  Here each worker, as soon as it starts, (1) asks
Linux to SIGKILL it when its parent dies and (2) closes its copy of the lock file descriptor, so a killed
``healthdex index`` releases the lock at once.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import shutil
import signal
from pathlib import Path

from indexer.bulk import BulkSegmentWriter
from indexer.sidecar import write_before_commit
from indexer.store import scratch_dirs

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # not Linux: the lock may stay held by orphans; store.writing() reports it
        pass


class _BulkTask(multiprocessing.Process):
    """A worker process: adds the batches it is given to its own ``BulkSegmentWriter`` (no lock: the parent holds
    it) and reports the finished segments, which the parent lists in its commit as they are."""

    def __init__(self, storage, indexname, jobs, results, writer_kwargs: dict, lock_fd: int | None):
        super().__init__(daemon=True)
        self.storage = storage
        self.indexname = indexname
        self.jobs = jobs
        self.results = results
        self.writer_kwargs = writer_kwargs
        self.lock_fd = lock_fd
        self.parent_pid = os.getpid()

    def run(self) -> None:
        _die_with_parent()
        if os.getppid() != self.parent_pid:
            os._exit(1)
        if self.lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.lock_fd)
        from indexer.bulk import BulkSegmentWriter

        try:
            writer = BulkSegmentWriter(self.storage.open_index(self.indexname), _lk=False, **self.writer_kwargs)
            while True:
                batch = self.jobs.get()
                if batch is None:
                    break
                for fields in batch:
                    writer.add_document(**fields)
            segments = writer.finish_segments()
            write_before_commit(self.storage, writer.schema, segments)
            self.results.put(("ok", segments))
        except OSError as exc:  # e.g. a full disk: the parent raises it as it is (indexer.build says so in one line)
            self.results.put(("error", OSError(exc.errno, exc.strerror)))
        except BaseException as exc:  # reported to the parent, which raises it at commit
            self.results.put(("error", f"{type(exc).__name__}: {exc}"))


class ParallelBulkWriter(BulkSegmentWriter):
    """A ``BulkSegmentWriter`` that shares new documents with ``procs - 1`` worker processes.

    Documents are grouped in batches; each full batch goes to a worker when one is free to take it (the job queue
    has room), else the parent adds it to its own segment, so the split follows whichever side has a core to
    spare.  Workers build their own segments; the commit lists them with the parent's (deletions, merges and the
    lock stay with the parent).  Workers are killed with the parent (see ``_die_with_parent``)."""

    def __init__(self, ix, procs: int = 2, batchsize: int = 32, **kwargs):
        super().__init__(ix, **kwargs)
        self._writer_kwargs = {k: v for k, v in kwargs.items() if k in ("limitmb", "compound", "codec")}
        self._nworkers = max(1, procs - 1)
        self._batchsize = max(1, batchsize)
        ctx = multiprocessing.get_context("fork")
        self._jobs = ctx.Queue(maxsize=2 * self._nworkers)
        self._results = ctx.Queue()
        self._tasks: list[_BulkTask] = []
        self._batch: list[dict] = []
        self._folder = getattr(self.storage, "folder", None)
        self._scratch_before = scratch_dirs(Path(self._folder)) if self._folder else set()

    def add_document(self, **fields) -> None:
        self._batch.append(fields)
        if len(self._batch) >= self._batchsize:
            self._dispatch()

    def _dispatch(self) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return
        if len(self._tasks) < self._nworkers:
            task = _BulkTask(
                self.storage,
                self.indexname,
                self._jobs,
                self._results,
                self._writer_kwargs,
                getattr(self.writelock, "fd", None),
            )
            task.start()
            self._tasks.append(task)
        try:
            self._jobs.put_nowait(batch)
        except queue.Full:  # the workers are busy: this process has the core to spare
            for fields in batch:
                BulkSegmentWriter.add_document(self, **fields)

    def _collect(self) -> None:
        """Add what is still buffered, stop the workers, finish this process's segment while they finish theirs, and
        adopt their segments."""
        if self._batch:
            for fields in self._batch:
                BulkSegmentWriter.add_document(self, **fields)
            self._batch = []
        for _ in self._tasks:
            self._jobs.put(None)
        if self._tasks and self._added:
            # Finish this process's segment and its posting sidecar while the workers finish theirs: the flush
            # (sorting terms, encoding and compressing posting blocks) is ~40% of a build, and run one after the
            # other the two flushes left a core idle for half of it.  The commit finds a fresh, empty segment.
            self._start_next_segment()
            write_before_commit(self.storage, self.schema, self._done)
        segments, errors = [], []
        for _ in self._tasks:
            while True:
                try:
                    status, payload = self._results.get(timeout=1.0)
                    break
                except queue.Empty:
                    if not any(t.is_alive() for t in self._tasks):
                        status, payload = "error", "an indexing worker process died"
                        break
            if status == "ok":
                segments.extend(payload)
            else:
                errors.append(payload)
        for task in self._tasks:
            task.join()
        self._tasks = []
        for error in errors:
            if isinstance(error, OSError):
                raise error
        if errors:
            raise RuntimeError("indexing worker failed: " + "; ".join(errors))
        self._done.extend(segments)

    def commit(self, mergetype=None, optimize=None, merge=None, callback=None) -> None:
        self._check_state()
        self._collect()  # on failure the caller cancels (indexer.store.writing, removing the files first)
        super().commit(mergetype=mergetype, optimize=optimize, merge=merge, callback=callback)

    def cancel(self) -> None:
        for task in self._tasks:
            if task.is_alive():
                task.kill()
            task.join()
        self._tasks = []
        # batches still buffered for the dead workers would block this process's exit (the queue's feeder thread
        # waits for room in a pipe no one reads any more)
        self._jobs.cancel_join_thread()
        try:
            super().cancel()
        finally:
            # the workers' scratch folders (and any segment files they finished are removed by the next commit)
            if self._folder:
                for name in scratch_dirs(Path(self._folder)) - self._scratch_before:
                    shutil.rmtree(os.path.join(self._folder, name), ignore_errors=True)
