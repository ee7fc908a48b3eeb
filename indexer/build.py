"""Building and updating the index from records: the library API that ``healthdex index`` wraps.

    stats = index_records(records, Path("idx"), optimize=False, progress=False)

One writer (holding the write lock) and that writer's one searcher serve the whole run: each record's key is
looked up once, its fingerprint compared with the ``index_hash`` column, and only new or changed records are
written.  A run that changes nothing cancels its writer, so the index generation does not move.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from healthdex import faultpoints
from healthdex.errors import UserError
from indexer import schema as S
from indexer import store, whoosh_internals
from indexer.records import Prepared, SkipRecord, prepare

# A full disk, a disk quota, a file size limit (ulimit -f): the index cannot be written.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# A fresh build of at least this many records uses the multi-process writer when procs allows it.
BULK_MIN_DOCS = 5000
DEFAULT_LIMITMB = 256
# The longest input line read (a record, or a --delete-gone line; ``healthdex index --max-line-bytes``): longer
# lines are reported and skipped without being held in memory.  A crawl keeps pages up to 10 MiB
# (DOWNLOAD_MAXSIZE), so an article's text is smaller than that.
MAX_LINE_BYTES = 16 * 1024 * 1024


# Where a fault test stops or kills ``healthdex index`` (healthdex.faultpoints; NAME#N: the N-th arrival).
ADD_POINT = faultpoints.register("index.add", "indexer.build: a new or changed record handed to the writer")
COMMIT_POINT = faultpoints.register("index.commit", "indexer.build: every record handed over, before the commit")
MERGED_POINT = faultpoints.register(
    "index.merged", "the commit: segments merged as the merge policy chose (all with --optimize), before the TOC"
)
TOC_POINT = faultpoints.register("index.toc", "the commit: every new segment file written, the TOC not yet")


def _commit_points() -> Callable[..., None]:
    """A commit progress callback for Whoosh's ``commit`` (stages "merge" before and after the merge policy,
    "segment", "toc", "finish") that reaches the fault points inside a commit."""
    merges = 0

    def callback(stage: str, **info) -> None:
        nonlocal merges
        if stage == "merge":
            merges += 1
            if merges == 2:
                faultpoints.reach(MERGED_POINT)
        elif stage == "toc" and info.get("started"):
            faultpoints.reach(TOC_POINT)

    return callback


def _stderr(message: str) -> None:
    print(f"healthdex: {message}", file=sys.stderr)


@dataclass
class IndexStats:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0
    gone_absent: int = 0  # "gone" records whose key was not in the index
    skip_reasons: Counter = field(default_factory=Counter)
    committed: bool = False
    generation: int = -1
    doc_count: int = 0
    segments: int = 0
    recovered_from_pid: int | None = None
    procs: int = 1  # writer processes the run used
    where: str = ""  # the input line being read ("file:line"; kept by read_lines), for messages
    report: Callable[[str], None] = _stderr  # where one-line messages about skipped input go

    def skip(self, reason: str, detail: str = "", *, quiet: bool = False) -> None:
        """Count a skipped line or record under ``reason`` and, unless ``quiet``, say which and why in one line."""
        self.skipped += 1
        self.skip_reasons[reason] += 1
        if not quiet:
            self.report(f"{self.where or 'record'}: {detail or reason}, skipped")

    @property
    def changed(self) -> int:
        return self.added + self.updated + self.deleted

    def summary(self) -> str:
        parts = [
            f"{self.added} added",
            f"{self.updated} updated",
            f"{self.unchanged} unchanged",
            f"{self.deleted} deleted",
            f"{self.skipped} skipped",
        ]
        if self.skip_reasons:
            parts[-1] += " (" + ", ".join(f"{n} {r}" for r, n in sorted(self.skip_reasons.items())) + ")"
        docs = f"{self.doc_count} document{'s' if self.doc_count != 1 else ''}"
        tail = f"; {docs} in {self.segments} segment{'s' if self.segments != 1 else ''}"
        if not self.committed:
            tail += ", nothing to commit"
        return ", ".join(parts) + tail


def read_lines(paths: Iterable[str], stats: IndexStats, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[str]:
    """The non-blank lines of files (``-`` is stdin), decoded as UTF-8 (bad bytes replaced), read at most
    ``max_line_bytes`` at a time: a longer line is reported, counted as skipped ("too long") and read past in
    pieces, never held whole.  ``stats.where`` names the line being yielded."""
    for path in paths:
        if path == "-":
            fh, name = sys.stdin.buffer, "<stdin>"
        else:
            try:
                fh = open(path, "rb")  # noqa: SIM115
            except OSError as exc:
                raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
            name = path
        try:
            lineno = 0
            while raw := fh.readline(max_line_bytes + 1):
                lineno += 1
                stats.where = f"{name}:{lineno}"
                if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                    stats.skip("too long", f"line longer than {max_line_bytes:,} bytes (--max-line-bytes)")
                    while raw and not raw.endswith(b"\n"):
                        raw = fh.readline(1 << 20)
                elif raw.strip():
                    yield raw.decode("utf-8", "replace")
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()


def iter_jsonl(
    paths: Iterable[str], *, stats: IndexStats | None = None, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[dict]:
    """Records from JSON Lines files (``-`` is stdin).  A line that is not a JSON object is reported as
    ``file:line: reason`` via ``stats.report`` (default: stderr) and counted as skipped; blank lines are ignored."""
    stats = stats if stats is not None else IndexStats()
    for line in read_lines(paths, stats, max_line_bytes):
        rec = _json_object(line, stats)
        if rec is not None:
            yield rec


def _json_object(line: str, stats: IndexStats) -> dict | None:
    """The JSON object on ``line``, or None (reported and counted) when it is anything else."""
    try:
        rec = json.loads(line)
    except ValueError as exc:  # a JSONDecodeError, or a number past Python's 4,300-digit int limit
        stats.skip("malformed", f"malformed JSON ({getattr(exc, 'msg', None) or str(exc).split(':')[0]})")
        return None
    except RecursionError:
        stats.skip("malformed", "malformed JSON (nested too deeply)")
        return None
    if not isinstance(rec, dict):
        stats.skip("malformed", "not a JSON object")
        return None
    return rec


def iter_gone(
    paths: Iterable[str], *, stats: IndexStats | None = None, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[dict]:
    """``--delete-gone`` files as "gone" records: each line a JSON record (its id/url is the key) or a bare
    id/URL; ``#`` starts a comment line."""
    stats = stats if stats is not None else IndexStats()
    for line in read_lines(paths, stats, max_line_bytes):
        line = line.strip()
        if line.startswith("#"):
            continue
        if line.startswith("{"):
            rec = _json_object(line, stats)
            if rec is None:
                continue
            rec = {k: rec[k] for k in ("id", "url", "canonical_url") if k in rec}
        elif "://" in line:
            rec = {"url": line}
        else:
            rec = {"id": line}
        rec["gone"] = True
        yield rec


def count_lines(paths: Iterable[str]) -> int | None:
    """Line count of the files (None if one is stdin or not a regular file): the progress bar's total and the
    bulk hint, counted 1 MiB at a time."""
    n = 0
    for path in paths:
        try:
            if path == "-" or not stat.S_ISREG(os.stat(path).st_mode):
                return None
            with open(path, "rb") as f:
                last = b"\n"
                while chunk := f.read(1 << 20):
                    n += chunk.count(b"\n")
                    last = chunk[-1:]
                n += last != b"\n"
        except OSError:
            return None
    return n


def choose_procs(
    procs: int | None,
    fresh: bool,
    expected: int | None,
    *,
    idle: Callable[[], float | None] | None = None,
) -> int:
    """Writer processes for this run (``indexer.mpwriter.ParallelBulkWriter`` when more than one): only for a
    fresh bulk build and only when a second core is idle right now (measured with both cores busy: procs=2 was
    ~15% slower than 1 with Whoosh's multi-process writer, ~12% slower with the parallel bulk writer).

    "Idle right now" is measured (``idle_cores``), not read from the load average: the 1-minute average still
    counts a job that ended seconds ago (a build right after another one saw ~1 and used one core of two idle
    ones).  Where ``/proc/stat`` cannot be read, the load average decides as before."""
    if procs is not None:
        return max(1, procs)
    if not fresh or not expected or expected < BULK_MIN_DOCS:
        return 1
    cpus = _usable_cpus()
    if cpus < 2:
        return 1
    free = (idle or idle_cores)()
    if free is None:
        try:
            load = os.getloadavg()[0]
        except OSError:
            return 1
        return 2 if load < cpus - 1 else 1
    # this process takes one idle core; the worker needs most of another one
    return 2 if free >= IDLE_CORES_FOR_TWO else 1


# Idle cores (over the sample) needed for a second writer process: one for this process, most of one for the worker.
IDLE_CORES_FOR_TWO = 1.5


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def idle_cores(
    sample: float = 0.15,
    *,
    read_stat: Callable[[], str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> float | None:
    """How many of the machine's cores were idle over the next ``sample`` seconds, from the aggregate ``cpu`` line
    of ``/proc/stat`` (idle + iowait jiffies over all jiffies, times the cores it counts), or None when it cannot
    be read or did not advance.  ``read_stat`` returns the file's text (tests pass a fake)."""
    read = read_stat or _read_proc_stat
    try:
        before = _cpu_jiffies(read())
        sleep(sample)
        after = _cpu_jiffies(read())
    except (OSError, ValueError):
        return None
    total = after[0] - before[0]
    idle = after[1] - before[1]
    if total <= 0 or idle < 0 or after[2] < 1:
        return None
    return after[2] * min(1.0, idle / total)


def _read_proc_stat() -> str:
    with open("/proc/stat", encoding="ascii") as f:
        return f.read()


def _cpu_jiffies(text: str) -> tuple[int, int, int]:
    """(all jiffies, idle + iowait jiffies, cores) from /proc/stat: user nice system idle iowait irq softirq steal
    (guest time is already counted in user)."""
    total = idle = cores = 0
    found = False
    for line in text.splitlines():
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:9]]
            if len(values) < 4:
                raise ValueError("short cpu line in /proc/stat")
            total = sum(values)
            idle = values[3] + (values[4] if len(values) > 4 else 0)
            found = True
        elif line.startswith("cpu") and line[3:4].isdigit():
            cores += 1
    if not found:
        raise ValueError("no cpu line in /proc/stat")
    return total, idle, cores


class _Conflict(Exception):
    """A key written earlier in this run changed again: commit, then continue with this record."""

    def __init__(self, prepared: Prepared):
        self.prepared = prepared


def index_records(
    records: Iterable[dict],
    index_dir: Path | str,
    *,
    optimize: bool = False,
    progress: bool = False,
    procs: int | None = None,
    limitmb: int = DEFAULT_LIMITMB,
    expected: int | None = None,
    lock_timeout: float = 0.0,
    stats: IndexStats | None = None,
    bulk: bool = True,
) -> IndexStats:
    """Create or update the index at ``index_dir`` from ``records`` (dicts as in the JSON Lines contract).

    ``expected`` (a record count hint) sizes the progress bar and decides whether a fresh build uses the
    multi-process writer (``procs`` overrides: 1 = never).  ``optimize`` merges all segments into one.
    ``bulk=False`` writes new documents through Whoosh's generic posting pool instead of ``indexer.bulk`` (the
    same index, slower; kept for comparison).
    Raises ``UserError`` when the index is locked by another live writer or was built with another schema."""
    stats = stats or IndexStats()
    index_dir = Path(index_dir)
    whoosh_internals.apply()
    bar = None
    try:
        ix, fresh = store.create_or_open_for_writing(index_dir, S.SCHEMA_VERSION)
        S.SpellWords.seen = set()  # spelling words are posted once per run (and per writer process)
        nprocs = choose_procs(procs, fresh, expected)
        stats.procs = nprocs
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=expected, unit="doc", dynamic_ncols=True, leave=False)
        it = iter(records)
        pending: Prepared | None = None
        while True:
            try:
                _run_writer(ix, index_dir, it, pending, stats, optimize, nprocs, limitmb, lock_timeout, bar, bulk)
                break
            except _Conflict as conflict:  # rare: the same key twice in one run with different content
                pending = conflict.prepared
                nprocs = 1
    except OSError as exc:
        if exc.errno not in _NO_SPACE:
            raise
        # (store.writing has removed this run's files)
        raise UserError(
            f"cannot write the index at {index_dir}: {exc.strerror}; nothing from this run was committed (the "
            f"index is as at its last commit): free some space and run again"
        ) from None
    finally:
        if bar is not None:
            bar.close()

    ix = store.open_index(index_dir)
    stats.generation = ix.latest_generation()
    with ix.reader() as r:
        stats.doc_count = r.doc_count()
        stats.segments = len(list(r.leaf_readers()))
    return stats


def _run_writer(ix, index_dir, it, pending, stats, optimize, nprocs, limitmb, lock_timeout, bar, bulk) -> None:
    kwargs = {"limitmb": limitmb, "bulk": bulk}
    if nprocs > 1:
        kwargs["procs"] = nprocs
    with store.writing(ix, index_dir, timeout=lock_timeout, **kwargs) as w:
        if w.healthdex_recovered and stats.recovered_from_pid is None:
            stats.recovered_from_pid = int(w.healthdex_recovered.get("pid") or 0) or None
        s = w.searcher()
        reader = s.reader()
        hashes = reader.column_reader(S.INDEX_HASH) if reader.has_column(S.INDEX_HASH) else None
        written: dict[str, str] = {}  # key -> fingerprint added in this writer (not yet visible to the searcher)
        changes = 0

        def handle(p: Prepared) -> None:
            nonlocal changes
            if p.key in written:
                if not p.gone and written[p.key] == p.index_hash:
                    stats.unchanged += 1
                    return
                w.commit(optimize=False, callback=_commit_points())
                stats.committed = True
                raise _Conflict(p)
            docnums = list(s.document_numbers(**{S.KEY: p.key})) if reader.doc_count_all() else []
            if p.gone:
                if docnums:
                    for d in docnums:
                        w.delete_document(d)
                    stats.deleted += 1
                    changes += 1
                else:
                    stats.gone_absent += 1
                    stats.unchanged += 1
                written[p.key] = ""
                return
            if len(docnums) == 1 and hashes is not None and _decode(hashes[docnums[0]]) == p.index_hash:
                stats.unchanged += 1
                written[p.key] = p.index_hash
                return
            for d in docnums:
                w.delete_document(d)
            w.add_document(**p.fields)
            faultpoints.reach(ADD_POINT)
            written[p.key] = p.index_hash
            changes += 1
            if docnums:
                stats.updated += 1
            else:
                stats.added += 1

        if pending is not None:
            handle(pending)
            if bar is not None:
                bar.update(1)
        for rec in it:
            try:
                p = prepare(rec)
            except SkipRecord as why:
                stats.skip(why.reason, str(why), quiet=why.quiet)
            else:
                handle(p)
            if bar is not None:
                bar.update(1)

        if changes or (optimize and (len(reader.leaf_readers()) > 1 or reader.has_deletions())):
            if bar is not None:
                bar.set_description("committing")
            faultpoints.reach(COMMIT_POINT)
            w.commit(optimize=optimize, callback=_commit_points())
            stats.committed = True
        else:
            store.cancel(w, index_dir)


def _decode(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or ""


def optimize_index(index_dir: Path | str) -> IndexStats:
    """Merge all segments of an existing index into one (what ``--optimize`` does after indexing)."""
    return index_records([], index_dir, optimize=True)
