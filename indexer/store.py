"""Opening an index for reading or writing: location, existence checks, version, and the write lock.

Readers call :func:`open_index`; it never takes a lock and always sees the last committed generation (a commit
writes new segment files and a new TOC, then removes the old ones; Linux keeps files open by a reader alive).

Writers go through :func:`writing`, which takes Whoosh's ``WRITELOCK`` (an ``flock`` on a file, so the kernel
releases it when the holder dies, even by SIGKILL) and records the holder in ``healthdex-writer.json`` next to it.
If the lock is busy the sidecar says who holds it, so the error names the pid and whether it is still alive.
After a killed run the next writer finds the sidecar of a dead pid, removes the dead run's scratch folders and
carries on: a killed run never committed, so the index is exactly the last committed generation.  Segment files
that no table of contents lists (a failed or killed run's) are removed by every writer once it holds the lock,
and by a failing or cancelled writer before it lets go of it (:func:`remove_orphan_segments`).

The reading side imports only ``os``, ``re``, ``time`` and (lazily) ``whoosh.index`` so ``healthdex search`` pays as
little as possible to start; the writing side imports ``json``, ``pathlib`` and ``shutil`` where it needs them.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from healthdex.errors import UserError
from healthdex.processes import pid_alive

if TYPE_CHECKING:
    from pathlib import Path

INDEX_NAME = "MAIN"
META_FILE = "healthdex-index.json"
WRITER_FILE = "healthdex-writer.json"
_TOC_FILE = re.compile(rf"^_{INDEX_NAME}_([0-9]+)\.toc$")
_TOC_TEMP = re.compile(rf"^_{INDEX_NAME}_[0-9]+\.toc\.[0-9.]+$")  # a TOC being written (Whoosh renames it when done)
# a segment's files, its posting sidecar and that sidecar's hidden temporary file
_SEGMENT_FILE = re.compile(rf"^\.?({INDEX_NAME}_[0-9a-z]+)\.")


def _toc_exists(path: str | os.PathLike) -> bool:
    try:
        names = os.listdir(path)
    except OSError:
        return False
    prefix = f"_{INDEX_NAME}_"
    return any(n.startswith(prefix) and n.endswith(".toc") for n in names)


def index_exists(path: str | os.PathLike) -> bool:
    """True when ``path`` holds a Whoosh index (any committed generation)."""
    return _toc_exists(path)


def open_index(path: str | os.PathLike):
    """Open the index at ``path`` for searching; ``UserError`` (one line) when there is none.

    Retries briefly if a concurrent writer removes the generation being opened (commit then cleanup)."""
    p = os.fspath(path)
    if not os.path.isdir(p):
        raise UserError(
            f"no index at {p} (directory does not exist); build one with: healthdex index FILE.jsonl --index {p}"
        )
    if not _toc_exists(p):
        raise UserError(
            f"no index at {p} (no Whoosh index files there); build one with: healthdex index FILE.jsonl --index {p}"
        )
    from whoosh.index import EmptyIndexError

    from indexer import whoosh_internals

    whoosh_internals.apply()  # fixes of whoosh-ng bugs (and indexing speed-ups)
    last: Exception | None = None
    for _ in range(20):
        try:
            return _open_dir(p)
        except EmptyIndexError as exc:
            raise UserError(f"no index at {p}: {exc}") from None
        except OSError as exc:  # a writer deleted the TOC we were about to read; the next one is there
            last = exc
            time.sleep(0.02)
    raise UserError(f"cannot open index at {p}: {last}")


def own_schema(path: str | os.PathLike):
    """This healthdex's schema when the index at ``path`` was built with it (its meta file says so), else None:
    Whoosh then skips the copy pickled in each table of contents (most of the file, and as fragile as a pickle)."""
    from indexer import schema as S

    return S.build_schema() if read_meta(path).get("schema_version") == S.SCHEMA_VERSION else None


def _open_dir(p: str):
    """``whoosh.index.open_dir``, its segments opened once to check them, with a table of contents that cannot be
    read or lists segments that cannot be opened reported as a damaged index in one line (a TOC is a pickle: a
    damaged one raises nearly any exception, here or at the first search)."""
    from whoosh.index import EmptyIndexError, open_dir

    try:
        ix = open_dir(p, indexname=INDEX_NAME, schema=own_schema(p))
        with ix.reader() as reader:  # what every search reads first of the segments the TOC lists
            for name in ix.schema.scorable_names():
                reader.field_length(name)
            reader.doc_count()
        return ix
    except (EmptyIndexError, OSError):
        raise
    except Exception as exc:
        tocs = read_tocs(p)
        if not tocs:
            raise
        latest = max(tocs)
        name = f"_{INDEX_NAME}_{latest}.toc"
        older = [gen for gen, segments in tocs.items() if segments is not None and gen != latest]
        fix = "rebuild it"
        if older:
            fix = f"delete {name} to go back to the commit before it (_{INDEX_NAME}_{older[-1]}.toc), or rebuild"
        what = "cannot be read" if tocs[latest] is None else f"lists segments that cannot be opened ({exc!r:.80})"
        raise UserError(
            f"index at {p} is damaged: its table of contents {name} {what}; {fix} "
            f"(healthdex index FILE.jsonl... --index into an empty folder)"
        ) from None


def read_tocs(path: str | os.PathLike) -> dict[int, set[str] | None]:
    """Generation -> the segment ids its table of contents lists (None: it cannot be read), oldest first."""
    from whoosh.filedb.filestore import FileStorage
    from whoosh.index import TOC

    try:
        names = os.listdir(path)
    except OSError:
        return {}
    storage = FileStorage(os.fspath(path))
    schema = own_schema(path)
    out: dict[int, set[str] | None] = {}
    for gen in sorted(int(m.group(1)) for m in map(_TOC_FILE.match, names) if m):
        try:
            out[gen] = {seg.segment_id() for seg in TOC.read(storage, INDEX_NAME, gen, schema=schema).segments}
        except FileNotFoundError:  # removed by a commit meanwhile
            continue
        except Exception:  # a damaged pickle raises nearly anything
            out[gen] = None
    return out


def remove_orphan_segments(path: str | os.PathLike, keep: set[str] = frozenset()) -> list[str]:
    """Delete the segment files no table of contents lists (a failed or killed run's), except the segments in
    ``keep`` (the calling writer's own), and unfinished TOCs; only by a process holding the write lock.  Deletes
    nothing while a TOC cannot be read.  Returns the names removed."""
    tocs = read_tocs(path)
    if any(segments is None for segments in tocs.values()):
        return []
    listed = set(keep).union(*tocs.values())
    removed = []
    for name in sorted(os.listdir(path)):
        m = _SEGMENT_FILE.match(name)
        if (m and m.group(1) not in listed) or _TOC_TEMP.match(name):
            try:
                os.remove(os.path.join(path, name))
                removed.append(name)
            except OSError:
                pass
    return removed


def read_meta(path: str | os.PathLike) -> dict:
    import json

    try:
        with open(os.path.join(path, META_FILE), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def _write_json_atomic(target: Path, data: dict) -> None:
    import json

    tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, target)


def lock_holder(path: str | os.PathLike) -> dict | None:
    """The sidecar record of the current or last writer (pid, started, command), or None."""
    import json

    try:
        with open(os.path.join(path, WRITER_FILE), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def scratch_dirs(path: Path) -> set[str]:
    """Names of the writers' scratch folders in ``path``."""
    try:
        names = os.listdir(path)
    except OSError:
        return set()
    return {n for n in names if (n.endswith(".tmp") or ".tmp." in n) and (path / n).is_dir()}


def _clear_scratch(path: Path, candidates: set[str]) -> list[str]:
    """Remove scratch folders a dead writer left behind: ``candidates`` were listed before this process created
    its writer, so once we hold the lock, whoever made them has finished or died."""
    import shutil

    removed = []
    for name in sorted(candidates):
        full = path / name
        if full.is_dir():
            shutil.rmtree(full, ignore_errors=True)
            removed.append(name)
    return removed


def create_or_open_for_writing(path: str | os.PathLike, schema_version: int):
    """Create the index (and folder) if missing, else open it; check the schema version it was built with."""
    from pathlib import Path

    from whoosh.index import create_in

    from indexer import schema as S

    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserError(f"--index {p} is a file, not a directory")
    p.mkdir(parents=True, exist_ok=True)
    if _toc_exists(p):
        meta = read_meta(p)
        built = meta.get("schema_version")
        if built is not None and built != schema_version:
            raise UserError(
                f"index at {p} was built with schema version {built}, this healthdex uses {schema_version}; "
                f"rebuild it into an empty directory"
            )
        return _open_dir(str(p)), False
    ix = create_in(str(p), S.build_schema(), indexname=INDEX_NAME)
    _write_json_atomic(
        p / META_FILE, {"schema_version": schema_version, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    )
    return ix, True


@contextmanager
def writing(ix, path: str | os.PathLike, *, timeout: float = 0.0, **writer_kwargs) -> Iterator:
    """Yield a Whoosh writer holding the index's write lock, with the holder recorded in the sidecar.

    The caller commits or cancels the writer; on an exception the writer is cancelled.  ``UserError`` when another
    live process holds the lock."""
    from pathlib import Path

    from whoosh.index import LockError

    p = Path(path)
    previous = lock_holder(p)
    stale = scratch_dirs(p)
    try:
        writer = _make_writer(ix, timeout=timeout, **writer_kwargs)
    except LockError:
        holder = lock_holder(p) or {}
        pid = int(holder.get("pid") or 0)
        if pid and pid_alive(pid):
            raise UserError(
                f"index at {p} is being written by another process (pid {pid}, since {holder.get('started', '?')}); "
                f"wait for it to finish or stop it"
            ) from None
        raise UserError(
            f"index at {p} is locked by a process that is not healthdex's recorded writer "
            f"(recorded pid {pid or 'none'} is gone); check `fuser {p / (INDEX_NAME + '_WRITELOCK')}`"
        ) from None
    # We hold the lock.  A sidecar naming another, dead pid means that run was killed before committing.
    recovered = None
    if previous and int(previous.get("pid") or 0) != os.getpid():
        recovered = previous
        _clear_scratch(p, stale)
    writer.healthdex_recovered = recovered
    try:
        remove_orphan_segments(p, keep={writer.newsegment.segment_id()})
        _write_json_atomic(
            p / WRITER_FILE,
            {"pid": os.getpid(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "state": "writing"},
        )
        yield writer
    except BaseException:
        if not writer.is_closed:
            cancel(writer, p, scratch=stale)
        raise
    finally:
        if writer.is_closed:
            with contextlib.suppress(OSError):
                (p / WRITER_FILE).unlink()
    if writer.is_closed:
        from indexer.sidecar import ensure_sidecars

        ensure_sidecars(ix)  # (after the lock is released: searches read the new commit meanwhile)


def cancel(writer, path: str | os.PathLike, scratch: set[str] | None = None) -> None:
    """Cancel ``writer`` without leaving its files: Whoosh's ``cancel()`` closes the new segment (creating some of
    its files) but leaves them.  Every segment file no TOC lists is removed while the lock is still held, and the
    new segment's own files (its id is this writer's alone) once closed.  A run that changed nothing, or failed,
    leaves the folder as it found it.

    Should closing fail as well (a full disk fails every flush), Whoosh stops before removing its scratch folder
    and releasing the lock: the scratch folders that were not there before the writer (``scratch``: those that
    were) are removed, and the lock released, here."""
    from pathlib import Path

    with contextlib.suppress(OSError):
        remove_orphan_segments(path)
    try:
        writer.cancel()
    except Exception:
        if scratch is not None:
            _clear_scratch(Path(path), scratch_dirs(Path(path)) - scratch)
        try:
            writer.writelock.release()
        except Exception:  # (already released, or no lock object: the process's exit releases it)
            pass
        writer.is_closed = True
    own = writer.newsegment.segment_id()
    for name in os.listdir(path):
        if name.startswith(own + "."):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(path, name))


def writer_codec():
    """The W3 codec healthdex writes with: Whoosh's, with posting blocks compressed at ``BLOCK_LEVEL``."""
    from whoosh.codec.whoosh3 import W3Codec

    from indexer import whoosh_internals

    whoosh_internals.apply()
    return W3Codec(compression=whoosh_internals.BLOCK_LEVEL)


def _make_writer(ix, *, timeout: float = 0.0, procs: int = 1, bulk: bool = True, **kwargs):
    # Separate segment files, not one compound ".seg": whoosh-ng opens a compound file's parts as BufferFile,
    # whose BytesIO copies the whole posting and term files into memory on every open (measured: 0.48 s for a
    # 70 MB 10k-article index; it grows with the index).  Plain files are read on demand, and the posting sidecar
    # (indexer.sidecar) sits beside them.
    kwargs.setdefault("compound", False)
    kwargs.setdefault("codec", writer_codec())
    if procs > 1 and bulk:
        from indexer.mpwriter import ParallelBulkWriter

        return ParallelBulkWriter(ix, procs=procs, timeout=timeout, **kwargs)
    if bulk:  # new documents' postings written per term, not through Whoosh's posting pool (indexer.bulk)
        from indexer.bulk import BulkSegmentWriter

        return BulkSegmentWriter(ix, timeout=timeout, **kwargs)
    from whoosh.writing import SegmentWriter

    return SegmentWriter(ix, timeout=timeout, **kwargs)
