"""Compiled regular expressions kept between runs of a one-shot command, as Python keeps compiled modules.

``re.compile`` parses and compiles a pattern in Python code (``re._parser``, ``re._compiler``) before the C engine
gets the result; ``healthdex search`` compiles about 40 patterns on its way to a first hit (Whoosh's tokenizers
and Porter stemmer, the query parser's patterns), about 7 ms of a 150 ms cold search.  The compiler's output --
the arguments of ``_sre.compile`` -- is plain data, so it is kept in the user's cache folder
(:mod:`healthdex.usercache`) and handed straight to ``_sre.compile`` next time: the same pattern object, without the
Python-level work.

Only patterns compiled before :func:`stop_recording` are kept (the command calls it before it reads the user's
query, so no query text is stored), at most ``MAX_ENTRIES``.  The file is keyed by the interpreter version and the
engine's ``MAGIC`` number; anything unexpected (another Python, a damaged file, a changed ``re`` internals) means
compiling as usual.  Only the one-shot console command installs it (``healthdex.cli``).
"""

from __future__ import annotations

import marshal
import os
import sys

from healthdex import usercache

MAX_ENTRIES = 400
_FORMAT = 1
_FILE_NAME = "regex-{0}.marshal"

_entries: dict[tuple, tuple] = {}
_state = {"installed": False, "recording": False, "changed": False}


def cache_file() -> str | None:
    folder = usercache.folder()
    if folder is None:
        return None
    return os.path.join(folder, _FILE_NAME.format(sys.hexversion))


def install() -> bool:
    """Serve ``re``'s compilations from the cache from now on, recording new ones; False when this interpreter's
    ``re`` is not laid out as expected (then nothing changes)."""
    if _state["installed"]:
        return True
    try:
        import _sre
        from re import _compiler, _constants
    except ImportError:
        return False
    real_compile = getattr(_compiler, "compile", None)
    if not callable(real_compile) or getattr(_compiler, "_sre", None) is not _sre:
        return False
    debug = getattr(_constants, "SRE_FLAG_DEBUG", 128)
    header = (_FORMAT, sys.hexversion, _sre.MAGIC, _sre.CODESIZE)
    _load(header)
    captured: list[tuple] = []

    class _Recorder:
        """``_sre`` as ``re._compiler`` sees it while a pattern is compiled: ``compile``'s arguments are kept."""

        def __getattr__(self, name):
            return getattr(_sre, name)

        @staticmethod
        def compile(pattern, flags, code, groups, groupindex, indexgroup):
            # (the opcodes are named int subclasses, which marshal cannot write; the engine reads plain ints)
            captured.append((int(flags), [int(c) for c in code], int(groups), dict(groupindex), tuple(indexgroup)))
            return _sre.compile(pattern, flags, code, groups, groupindex, indexgroup)

    recorder = _Recorder()

    def compile(p, flags=0):
        if type(p) not in (str, bytes) or flags & debug:
            return real_compile(p, flags)
        key = (p, int(flags))  # (a RegexFlag is an int subclass, which marshal cannot write)
        got = _entries.get(key)
        if got is not None:
            try:
                return _sre.compile(p, *got)
            except Exception:  # noqa: BLE001 (a stale entry: compile it afresh)
                del _entries[key]
        if not _state["recording"] or len(_entries) >= MAX_ENTRIES:
            return real_compile(p, flags)
        captured.clear()
        _compiler._sre = recorder
        try:
            compiled = real_compile(p, flags)
        finally:
            _compiler._sre = _sre
        if len(captured) == 1:
            _entries[key] = captured[0]
            _state["changed"] = True
        return compiled

    _compiler.compile = compile
    _state.update(installed=True, recording=True, changed=False, header=header, real_compile=real_compile)
    return True


def uninstall() -> None:
    """Compile as ``re`` does by itself again, forgetting the entries (for tests)."""
    if not _state["installed"]:
        return
    from re import _compiler

    _compiler.compile = _state.pop("real_compile")
    _entries.clear()
    _state.update(installed=False, recording=False, changed=False)


def stop_recording() -> None:
    """Compile later patterns as usual without keeping them (they may contain what the user typed)."""
    _state["recording"] = False


def save() -> None:
    """Write the cache if this run compiled patterns it did not have."""
    if not _state["changed"]:
        return
    target = cache_file()
    if target is None:
        return
    try:
        data = marshal.dumps((_state["header"], _entries))
    except ValueError:  # something marshal cannot write: keep nothing
        return
    usercache.write_atomically(target, data)
    _state["changed"] = False


def _load(header: tuple) -> None:
    target = cache_file()
    if target is None:
        return
    try:
        with open(target, "rb") as fh:
            got_header, entries = marshal.loads(fh.read())
    except (OSError, EOFError, ValueError, TypeError):
        return
    if got_header == header and isinstance(entries, dict):
        _entries.update(entries)
