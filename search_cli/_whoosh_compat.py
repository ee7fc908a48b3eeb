"""What search_cli does about whoosh-ng 5.4.0, confined to the search process.  (The position-decoding bug
fix is shared with indexing: ``indexer.patches``, applied by ``indexer.store.open_index``.)

1. Opening files in a compound segment copied them whole (see :func:`_no_copy_buffer_files`); also from
   :func:`apply`.
2. Start-up time: :func:`lazy_start` defers what Whoosh imports but a search never uses (asyncio, the
   word-variation table, typing, threading, ...) behind stand-ins that load the real module on first use. Called by
   the ``healthdex search/similar/stats`` commands only (``search_cli/command.py``, ``search_cli/cli.py``), not by
   library users.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types

_APPLIED = False


class _DeferredModule(types.ModuleType):
    """Stands in ``sys.modules`` for a module not loaded yet; the first real attribute use loads it."""

    def __getattr__(self, name):
        if name.startswith("__"):  # the import system probes dunders (__path__, ...): not a reason to load
            raise AttributeError(name)
        real = _load_deferred(self)
        return getattr(real, name)


def _load_deferred(proxy: _DeferredModule):
    """The real module behind ``proxy``, loaded (and its attributes copied onto the proxy) the first time only."""
    name = proxy.__name__
    current = sys.modules.get(name)
    if current is not None and current is not proxy:
        return current
    if current is proxy:
        del sys.modules[name]
    real = importlib.import_module(name)
    # modules that already did "import asyncio" hold the proxy: give it everything the real module has
    for key, value in vars(real).items():
        if key not in ("__class__", "__dict__"):
            try:
                setattr(proxy, key, value)
            except (AttributeError, TypeError):
                pass
    return real


def lazy_asyncio() -> None:
    """Defer ``asyncio`` (with ssl, concurrent.futures, logging, subprocess ...) until something uses it, and
    ``inspect`` likewise.

    whoosh-ng imports asyncio at the top of ``whoosh.index``, ``whoosh.util.async_utils``, ``whoosh.locking`` and
    ``whoosh.event_bus`` for its async API, though searching never runs a coroutine; that import was the largest
    single item of a cold ``healthdex search`` (about 60 of 240 ms, ``python -X importtime`` on an idle machine).
    Whoosh's modules only use asyncio inside functions, so a stand-in module that loads the real one on first
    attribute use changes nothing but the start-up time. (``importlib.util.LazyLoader`` does not do here: on
    Python 3.11 ``import asyncio`` itself touches the lazy module and loads it.) ``whoosh.util.async_utils`` also
    imports ``inspect`` (with ast, dis and tokenize, ~10 ms) for use inside its functions only.  Call before
    Whoosh is imported.
    """
    proxy = _defer("asyncio")
    if proxy is not None:
        # the cached_property package (used by Whoosh's readers) asks asyncio.iscoroutinefunction on every access
        proxy.iscoroutinefunction = _iscoroutinefunction
    _defer("inspect")


def _defer(name: str, functions: tuple[str, ...] = ()) -> _DeferredModule | None:
    """Put a stand-in for the module ``name`` in ``sys.modules``; None if it is loaded or missing.  ``functions``:
    names other modules import from it at their top (``from name import f``), offered as functions that load the
    real module when called."""
    if name in sys.modules:
        return None
    try:
        spec = _find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or name in sys.modules:
        return None
    proxy = _DeferredModule(name)
    proxy.__spec__ = spec
    proxy.__file__ = spec.origin
    is_package = spec.submodule_search_locations is not None
    if is_package:
        proxy.__path__ = list(spec.submodule_search_locations)
    proxy.__loader__ = spec.loader
    proxy.__package__ = name if is_package else name.rpartition(".")[0]
    for fname in functions:
        setattr(proxy, fname, _forwarding_function(proxy, fname))
    sys.modules[name] = proxy
    return proxy


def _find_spec(name: str):
    """``importlib.util.find_spec`` without importing the parent packages of a submodule (which may import the
    very module to defer, as ``whoosh.util`` imports ``whoosh.util.async_utils``): each level is looked up on the
    path of the one above, as the import system would."""
    parent, _, _ = name.rpartition(".")
    if not parent or parent in sys.modules:
        return importlib.util.find_spec(name)
    parent_spec = _find_spec(parent)
    if parent_spec is None or parent_spec.submodule_search_locations is None:
        return None
    return importlib.machinery.PathFinder.find_spec(name, parent_spec.submodule_search_locations)


_ALONE: dict[str, types.ModuleType] = {}


def load_alone(name: str) -> types.ModuleType:
    """Whoosh's module ``name`` (plain functions, such as the Porter stemmer), executed without the packages
    above it when it is not imported yet (``whoosh.lang`` and ``whoosh.analysis`` would come with it).  Not
    registered in ``sys.modules``: a later regular import makes its own copy, with equal functions."""
    module = sys.modules.get(name)
    if type(module) is types.ModuleType:
        return module
    module = _ALONE.get(name)
    if module is None:
        spec = _find_spec(name)
        if spec is None or spec.loader is None:
            raise ImportError(f"no module named {name!r}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _ALONE[name] = module
    return module


def lazy_morph_en() -> None:
    """Defer ``whoosh.lang.morph_en`` (a large table of English word variations, ~8 ms to import) until a
    ``Variations`` query calls ``variations()``; ``whoosh.query.terms`` imports the function at the top, so the
    stand-in module offers a ``variations`` that loads the real one.  Call before Whoosh is imported."""
    _defer("whoosh.lang.morph_en", functions=("variations",))


def lean_start() -> None:
    """What the one-query command defers before it parses its arguments, whichever way the search then goes:
    ``gettext`` (see :func:`untranslated_argparse`), ``typing`` and ``threading``, and the Python code of
    ``datetime`` and ``pickle``.  The rest of :func:`lazy_start` is about Whoosh's modules and waits until a
    search needs Whoosh's reader: a plain-words query reads the index directly (``search_cli.direct``), and
    the other stand-ins cost it about 7M instructions for nothing (callgrind)."""
    _lazy_typing_and_threading()  # first: finding the other modules' specs may import packages that use them
    _c_only_datetime_and_pickle()
    _defer("gettext", functions=("gettext", "ngettext"))


def lazy_start() -> None:
    """Everything the search commands defer at start-up (call before Whoosh is imported): asyncio and inspect
    (:func:`lazy_asyncio`), the word-variation table (:func:`lazy_morph_en`), and modules Whoosh imports at the
    top for features a search does not use:

    - highlighting: ``whoosh.searching`` imports it; healthdex marks snippets itself, and
      :class:`LazyHighlighter` stands in for the highlighter ``Results`` makes;
    - fuzzy-term automata and edit distance, double metaphone;
    - ``tempfile`` and ``random`` (temporary names for writing), ``calendar`` (date parsing), ``shutil`` (its
      ``copyfileobj``), ``decimal`` (NUMERIC fields with decimal places);
    - ``hashlib``, replaced by a stand-in whose ``md5`` is the interpreter's built-in ``_md5`` (same digests):
      Whoosh hashes term keys with md5, and loading OpenSSL's hash library was the largest of these;
    - ``gettext`` (see :func:`untranslated_argparse`), ``typing`` and ``threading``
      (:func:`_lazy_typing_and_threading`), the Python code of ``datetime`` and ``pickle``
      (:func:`_c_only_datetime_and_pickle`);
    - Whoosh's search context (a dataclass, made only by its own matchers) and span queries, whose classes other
      modules import by name: stand-in classes load the module when called or checked.  (Not "more like this":
      ``whoosh.classify`` tells a model class from an instance by ``type(model) is type``.)

    Each stand-in loads the real module on first use of anything else, so only the start-up time changes (the
    first six items: 58M of the 592M instructions of a cold search on a 100,000-article index; the others about
    35M more, callgrind)."""
    lean_start()
    lazy_asyncio()
    lazy_morph_en()
    for name in ("tempfile", "random", "calendar", "whoosh.highlight", "whoosh.automata.lev"):
        _defer(name)
    _defer("shutil", functions=("copyfileobj",))
    _defer("whoosh.support.levenshtein", functions=("distance",))
    _defer("whoosh.lang.dmetaphone", functions=("double_metaphone",))
    _defer_classes("decimal", ("Decimal",))
    # the search context (a dataclass: the dataclasses module, and code generated and compiled for the class) is
    # made only by Whoosh's own matchers, which the fast path does not use
    _defer_classes("whoosh.searching.context", ("SearchContext",))
    _defer_classes("whoosh.query.spans", _SPAN_CLASSES)  # (re-exported by whoosh.query)
    _lazy_reading_and_analysis()
    if "hashlib" not in sys.modules:
        try:
            from _md5 import md5
        except ImportError:  # an interpreter built without it: the real hashlib
            return
        proxy = _defer("hashlib")
        if proxy is not None:
            proxy.md5 = md5


def _lazy_reading_and_analysis() -> None:
    """Defer ``whoosh.reading`` and ``whoosh.analysis``, which ``whoosh.query`` imports at its top for one exception
    class and one token class: with them the query classes pulled in Whoosh's whole reading stack (index, codec,
    fields, columns: about 40 modules), which a search that reads the index files directly
    (:mod:`search_cli.direct`) never uses.  ``TermNotFound`` and ``ReaderClosed`` are the real classes (Whoosh
    catches them in ``except`` clauses, which a stand-in cannot serve), loaded from ``whoosh.reading._base`` alone
    and registered, so the real package reuses them; ``Token`` is a stand-in class."""
    if "whoosh.reading" in sys.modules or "whoosh.reading._base" in sys.modules:
        return
    try:
        spec = _find_spec("whoosh.reading._base")
    except (ImportError, ValueError):
        return
    if spec is None:
        return
    proxy = _defer("whoosh.reading")
    if proxy is None:
        return
    base = importlib.util.module_from_spec(spec)
    sys.modules["whoosh.reading._base"] = base
    try:
        spec.loader.exec_module(base)
        proxy.TermNotFound, proxy.ReaderClosed = base.TermNotFound, base.ReaderClosed
    except Exception:  # an unexpected whoosh-ng: load the real package now
        sys.modules.pop("whoosh.reading._base", None)
        _load_deferred(proxy)
        return
    _defer_classes("whoosh.analysis", ("Token",))


class _Annotation:
    """Stands for a ``typing`` name that Whoosh's search modules import only to annotate with (``Any``,
    ``BinaryIO``); class bodies evaluate their annotations (``Any | None``), nothing reads them back."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"typing.{self._name} (stand-in)"

    def __or__(self, other):  # ``Any | None`` in a class body is evaluated
        return self

    __ror__ = __or__

    def __getitem__(self, item):
        return self


def _cast(typ, val):
    """``typing.cast``: returns the value unchanged."""
    return val


_SPAN_CLASSES = ("Span", "SpanBefore", "SpanBiMatcher", "SpanBiQuery", "SpanCondition", "SpanContains", "SpanFirst")
_SPAN_CLASSES += ("SpanNear", "SpanNear2", "SpanNot", "SpanOr", "SpanQuery", "SpanWrappingMatcher", "WrappingSpan")


def _defer_classes(name: str, classes: tuple[str, ...]) -> None:
    """Defer the module ``name``, offering ``classes`` (imported by name elsewhere) as stand-ins."""
    proxy = _defer(name)
    if proxy is not None:
        for cls in classes:
            setattr(proxy, cls, _forwarding_class(proxy, cls))


def _lazy_typing_and_threading() -> None:
    """Defer ``typing`` and ``threading`` (about 15M of a cold search's 480M instructions, callgrind), which
    Whoosh's search modules import at the top for names they only annotate with, or for one lock:

    - ``whoosh.util.async_utils`` (the async helpers, ``TypeVar`` and ``overload`` at its top) is deferred, its
      functions offered by name;
    - ``typing``'s stand-in offers ``Any``, ``BinaryIO`` and ``ClassVar`` as annotation stand-ins,
      ``TYPE_CHECKING`` as False, ``cast`` (which returns its value, as typing's does) and, for ``dataclasses``
      (which compares field annotations with ``typing.ClassVar`` once typing is in ``sys.modules``), a
      ``_GenericAlias`` class that no annotation is an instance of;
    - ``threading``'s stand-in offers ``Lock`` (``_thread.allocate_lock``, what ``threading.Lock`` is) and a
      ``_shutdown`` that does nothing (the interpreter calls it at exit; threads can only have been started
      through the real module, which then replaces the stand-in).

    Any other name loads the real module, as for every deferred module."""
    _defer(
        "whoosh.util.async_utils",
        functions=("call_maybe_async", "is_async_callable", "maybe_await", "run_async_from_sync", "run_sync"),
    )
    proxy = _defer("typing")
    if proxy is not None:
        for name in ("Any", "BinaryIO", "ClassVar"):
            setattr(proxy, name, _Annotation(name))
        proxy.TYPE_CHECKING = False
        proxy.cast = _cast
        proxy._GenericAlias = type("_GenericAlias", (), {"__module__": "typing"})
    proxy = _defer("threading")
    if proxy is not None:
        import _thread

        proxy.Lock = _thread.allocate_lock
        proxy._shutdown = _no_threads_to_join


def _no_threads_to_join() -> None:
    return None


_PICKLE_NAMES = ("PickleBuffer", "PickleError", "Pickler", "PicklingError", "Unpickler", "UnpicklingError")
_PICKLE_NAMES += ("dump", "dumps", "load", "loads")


def _c_only_datetime_and_pickle() -> None:
    """``datetime`` and ``pickle`` as their C modules: both Python modules define a pure-Python implementation
    first and replace it with ``_datetime``'s / ``_pickle``'s classes and functions (datetime's public names are
    exactly ``_datetime``'s).  Loading the Python code cost a cold search about 12M instructions (callgrind).
    The stand-ins offer the C objects (the same objects the real modules would give) and pickle's two protocol
    numbers; any other name loads the real module."""
    try:
        import _datetime
        import _pickle
    except ImportError:  # an interpreter without the accelerators: the real modules
        return
    proxy = _defer("datetime")
    if proxy is not None:
        for name in dir(_datetime):
            if not name.startswith("_"):
                setattr(proxy, name, getattr(_datetime, name))
    proxy = _defer("pickle")
    if proxy is not None:
        for name in _PICKLE_NAMES:
            setattr(proxy, name, getattr(_pickle, name))
        proxy.HIGHEST_PROTOCOL, proxy.DEFAULT_PROTOCOL = 5, 4


def untranslated_argparse(argparse_module) -> None:
    """Give argparse message functions that return the English text, when no translation can exist.

    argparse passes its messages through ``gettext`` (the default text domain, whose catalogs live under
    ``sys.base_prefix/share/locale``).  Each lookup reads the locale variables, which imports the ``locale``
    module: with gettext itself, about 9M of a cold search's instructions (callgrind).  When that folder does not
    exist and nothing has loaded gettext (so no other domain or folder can have been set), every lookup would
    return the text unchanged; then argparse gets functions that do so directly, and the stand-in gettext stays
    unloaded.  Otherwise argparse is left alone."""
    import os

    gettext = sys.modules.get("gettext")
    if not isinstance(gettext, _DeferredModule) or os.path.isdir(os.path.join(sys.base_prefix, "share", "locale")):
        return
    argparse_module._ = _untranslated
    argparse_module.ngettext = _untranslated_plural


def _untranslated(message: str) -> str:
    return message


def _untranslated_plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


class LazyHighlighter:
    """A ``whoosh.highlight.Highlighter()`` made on first use: Whoosh's ``Results`` makes one up front, which
    would load the highlighting modules (and ``html``) for every search.  Attribute reads and writes go to it."""

    def __getattr__(self, name):
        if name == "_real":
            from whoosh import highlight

            real = self.__dict__["_real"] = highlight.Highlighter()
            return real
        return getattr(self._real, name)

    def __setattr__(self, name, value):
        setattr(self._real, name, value)


def _forwarding_function(proxy: _DeferredModule, name: str):
    def forward(*args, **kwargs):
        return getattr(_load_deferred(proxy), name)(*args, **kwargs)

    forward.__name__ = forward.__qualname__ = name
    return forward


class _ForwardingClass(type):
    """The metaclass of a stand-in for a class imported by name from a deferred module: calling it, ``isinstance``
    and ``issubclass`` checks and attribute lookups load the module and use the real class."""

    def _real(cls) -> type:
        return getattr(_load_deferred(cls._deferred_module), cls.__name__)

    def __call__(cls, *args, **kwargs):
        return cls._real()(*args, **kwargs)

    def __instancecheck__(cls, obj):
        return isinstance(obj, cls._real())

    def __subclasscheck__(cls, sub):
        return issubclass(sub, cls._real())

    def __getattr__(cls, attr):
        return getattr(cls._real(), attr)


def _forwarding_class(proxy: _DeferredModule, name: str) -> type:
    """A stand-in for the class ``name`` of the deferred module ``proxy`` (see :class:`_ForwardingClass`)."""
    return _ForwardingClass(name, (), {"__module__": proxy.__name__, "_deferred_module": proxy})


_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE


def _iscoroutinefunction(func) -> bool:
    """asyncio.iscoroutinefunction without loading asyncio or inspect: ``inspect.iscoroutinefunction``'s test
    (the code flag, through bound methods and partials), and the real asyncio for functions carrying its legacy
    marker."""
    import functools

    target = func
    while True:
        if isinstance(target, functools.partial):
            target = target.func
        elif hasattr(target, "__func__"):
            target = target.__func__
        else:
            break
    code = getattr(target, "__code__", None)
    if code is not None and code.co_flags & _CO_COROUTINE:
        return True
    if getattr(func, "_is_coroutine", None) is None:
        return False
    module = sys.modules.get("asyncio")  # a marked function: let the real asyncio decide
    real = _load_deferred(module) if isinstance(module, _DeferredModule) else importlib.import_module("asyncio")
    return real.iscoroutinefunction(func)


def apply() -> None:
    """Search-process fixes to whoosh-ng; the position-decoding fix lives in ``indexer.patches`` (applied by
    ``indexer.store.open_index``), shared with indexing."""
    global _APPLIED
    if _APPLIED:
        return
    _no_copy_buffer_files()
    _APPLIED = True


class _MemoryReader:
    """A read-only, seekable file over a memoryview, without copying it (``io.BytesIO(view)`` copies)."""

    __slots__ = ("_buf", "_pos", "closed")

    def __init__(self, buf):
        self._buf = buf
        self._pos = 0
        self.closed = False

    def read(self, n=-1):
        start = self._pos
        end = len(self._buf) if n is None or n < 0 else min(len(self._buf), start + n)
        self._pos = end
        return bytes(self._buf[start:end])

    def readline(self, limit=-1):
        buf, start = self._buf, self._pos
        end = len(buf) if limit is None or limit < 0 else min(len(buf), start + limit)
        i = start
        while i < end:
            if buf[i] == 10:
                i += 1
                break
            i += 1
        self._pos = i
        return bytes(buf[start:i])

    def seek(self, pos, whence=0):
        if whence == 1:
            pos += self._pos
        elif whence == 2:
            pos += len(self._buf)
        self._pos = max(0, pos)
        return self._pos

    def tell(self):
        return self._pos

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def close(self):
        self.closed = True

    def flush(self):
        pass


def _no_copy_buffer_files() -> None:
    """whoosh-ng opens each file inside a compound segment (``.seg``, what a merged/optimized index is made of) as
    ``BufferFile(memoryview_of_mmap)``, whose ``__init__`` wraps the view in ``io.BytesIO`` -- a full copy of the
    file. On a 100k-article index that copied hundreds of megabytes of postings and stored fields on every open:
    about a second of a cold search. Reading through :class:`_MemoryReader` leaves the data in the mmap."""
    from whoosh.filedb import structfile

    cls = getattr(structfile, "BufferFile", None)
    if cls is None or getattr(cls.__init__, "_healthdex", False):
        return

    def __init__(self, buf, name=None, onclose=None):
        self._buf = buf
        self._name = name
        self.file = _MemoryReader(buf)
        self.onclose = onclose
        self.is_real = False
        self.is_closed = False

    __init__._healthdex = True
    cls.__init__ = __init__
