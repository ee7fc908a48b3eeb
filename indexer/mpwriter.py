"""Whoosh's multi-process writer, made safe to kill.

``whoosh.multiproc.MpWriter`` forks worker processes that inherit the parent's open file descriptors, including the
``flock``-ed WRITELOCK file.  If the parent is killed (SIGKILL), the workers block forever on their job queue and
keep the lock held, so the index can never be written again until someone finds and kills them.  Here each worker,
as soon as it starts, (1) asks Linux to SIGKILL it when its parent dies and (2) closes its copy of the lock file
descriptor, so a killed ``healthdex index`` releases the lock at once.
"""

from __future__ import annotations

import os
import signal

from whoosh.multiproc import MpWriter, SubWriterTask

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # not Linux: the lock may stay held by orphans; store.writing() reports it
        pass


class _SafeTask(SubWriterTask):
    lock_fd: int | None = None
    parent_pid: int = 0

    def run(self):
        _die_with_parent()
        if os.getppid() != self.parent_pid:  # parent already died before prctl took effect
            os._exit(1)
        if self.lock_fd is not None:
            try:
                os.close(self.lock_fd)  # our copy only; the parent's flock stays until the parent closes it
            except OSError:
                pass
        super().run()


class SafeMpWriter(MpWriter):
    def _new_task(self):
        task = _SafeTask(
            self.storage,
            self.indexname,
            self.jobqueue,
            self.resultqueue,
            self.subargs,
            self.multisegment,
            self.tempname,
        )
        task.lock_fd = getattr(self.writelock, "fd", None)
        task.parent_pid = os.getpid()
        self.tasks.append(task)
        task.start()
        return task
