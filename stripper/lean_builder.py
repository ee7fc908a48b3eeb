"""The parse stage's tree builders: BeautifulSoup's lxml HTML builder, building only what the stripper reads.

``PageBuilder`` uses BeautifulSoup's builder interface only (the lxml parser's ``start`` / ``end`` / ``data`` calls,
passed on to the stock builder).  What it leaves out of the soup is decided on the parsed structure, so it can only
leave out what the parser itself closed:

- inert elements (``rules.PARSE_SKIP``: scripts, styles, SVG, templates ...) are never built, JSON-LD scripts
  excepted; a ``<button>`` inside a heading is kept (the title of an accordion's panel);
- page furniture (``rules.PARSE_PRUNE``: menus, footers, sidebars ...) is held back until it ends and emptied (an
  element of its name and attributes, without content, keeps its place) only when it held none of its marker
  elements and less than ``rules.PRUNE_MAX_PROSE`` characters of prose; otherwise it is built as it came (an
  ASP.NET page's ``<form>`` around the article, a ``<header>`` with the byline);
- comments are dropped, and void elements the walk skips (``leave_out``) are not made;
- limits: elements nested deeper than ``max_depth`` and elements past the ``max_elements``-th are not made (their
  text goes to the deepest element made), and ``limit_hit`` says so: a 10 MiB page of nested ``<div>`` would
  otherwise cost gigabytes (about 1.3 KB per element).

``LeanLXMLTreeBuilder`` adds a fast path for making, linking and pushing each tag as
``BeautifulSoup.handle_starttag`` does (and popping it as ``handle_endtag`` does when the tag that ends is the
current one) without BeautifulSoup's layers of checks: the stock builder copies every tag's attributes twice and
resolves namespaces for every start and end tag, which for HTML changes nothing.  With ``set_aside_whitespace`` it
also keeps whitespace-only text between tags out of the soup (two thirds of a page's strings), recording it by the
``id`` of the tag it comes before (``space_before``) or whose content it ends (``space_at_end``) as BeautifulSoup
would have stored it; the stripper's walk puts it back.  Only for a soup that is walked as parsed.

The fast path relies on BeautifulSoup internals, all listed in ``BS4_INTERNALS`` (beautifulsoup4 is pinned exactly
in pyproject.toml).  ``make_builder`` checks once per process that the fast path builds the tree the plain builder
builds; when it does not (an internal renamed or changed), the parse stage uses ``PageBuilder`` and logs one
warning, and ``tests/test_stripper_lean_builder.py`` fails loudly.
"""

from __future__ import annotations

import logging
from typing import Any

from bs4 import BeautifulSoup
from bs4.builder import builder_registry
from bs4.element import AttributeDict, Tag

from stripper import rules

log = logging.getLogger(__name__)

# What the fast path uses beyond BeautifulSoup's builder interface (checked by ``lean_path_works``).
BS4_INTERNALS: tuple[str, ...] = (
    "BeautifulSoup.current_data",  # the pending strings of text
    "BeautifulSoup.preserve_whitespace_tag_stack",  # open <pre> / <textarea>
    "BeautifulSoup.string_container_stack",  # open elements whose text gets a special string class
    "BeautifulSoup._most_recent_element",  # the element the next one is linked after
    "BeautifulSoup.currentTag",
    "BeautifulSoup.tagStack",
    "BeautifulSoup.parse_only",
    "BeautifulSoup.element_classes",
    "BeautifulSoup.pushTag()",
    "BeautifulSoup.popTag()",
    "LXMLTreeBuilderForXML.nsmaps",  # namespace scopes: the fast path only runs while none is open
    "LXMLTreeBuilderForXML.active_namespace_prefixes",
    "Tag(soup, builder, name, namespace, prefix, attrs, parent, previous, namespaces=)",  # positional order
    "bs4.element.AttributeDict",
)

_StockLXML: Any = builder_registry.lookup("lxml", "html")  # bs4.builder._lxml.LXMLTreeBuilder
_ASCII_SPACES = " \n\t\f\r"  # what BeautifulSoup collapses to one space or newline in a whitespace-only string
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_START, _END, _DATA = 0, 1, 2


class PageBuilder(_StockLXML):
    """The stock lxml builder, leaving out what the stripper never reads (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        leave_out: frozenset[str] = frozenset(),
        max_depth: int = 0,
        max_elements: int = 0,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("multi_valued_attributes", None)
        super().__init__(*args, **kwargs)
        self.leave_out = leave_out
        self.max_depth = max_depth or 1 << 62
        self.max_elements = max_elements or 1 << 62
        self._reset()

    def _reset(self) -> None:
        self.limit_hit: str | None = None
        self.emptied = 0  # furniture elements left out (their text was menus, footers ...)
        self.space_before: dict[int, str] = {}
        self.space_at_end: dict[int, str] = {}
        self._depth = self._elements = self._flat = self._skipping = self._headings = 0
        self._held: list[tuple] | None = None  # events of a furniture element not yet known to be inert
        self._held_depth = self._held_links = self._held_prose = 0
        self._markers: frozenset[str] = frozenset()
        self._marker_re: Any = None

    def initialize_soup(self, soup: Any) -> None:
        super().initialize_soup(soup)
        self._reset()

    # --- lxml's parser calls these ---

    def start(self, tag: str, attrib: Any, nsmap: Any = {}) -> None:  # noqa: B006 - lxml's signature
        if self._skipping:
            self._skipping += 1
        elif self._held is not None:
            self._hold_start(tag, attrib, nsmap)
        elif tag in rules.PARSE_SKIP and not self._kept_inert(tag, attrib):
            self._skipping = 1
        elif tag in rules.PARSE_PRUNE:
            self._held = [(_START, tag, dict(attrib), nsmap)]
            self._held_depth, self._held_links, self._held_prose = 1, 0, 0
            self._markers, self._marker_re = rules.PARSE_PRUNE[tag]
        else:
            self._start(tag, attrib, nsmap)

    def end(self, tag: str) -> None:
        if self._skipping:
            self._skipping -= 1
        elif self._held is not None:
            self._held.append((_END, tag))
            self._held_depth -= 1
            if tag == "a":
                self._held_links -= 1
            if not self._held_depth:  # closed, no marker, little prose: inert furniture, left out (its place kept)
                _, name, attrib, nsmap = self._held[0]
                self._held = None
                self.emptied += 1
                self._start(name, attrib, nsmap)
                self._end(name)
        else:
            self._end(tag)

    def data(self, data: str) -> None:
        if self._skipping:
            return
        if self._held is not None:
            self._held.append((_DATA, data))
            if not self._held_links and len(data) >= rules.PRUNE_PROSE_RUN:
                self._held_prose += len(data.strip())
                if self._held_prose >= rules.PRUNE_MAX_PROSE:
                    self._build_held()
            return
        self._text(data)

    def comment(self, text: str) -> None:
        """Comments are no text of the page."""

    # --- what is built ---

    def _kept_inert(self, tag: str, attrib: Any) -> bool:
        if tag == "script":
            return any(t in (attrib.get("type") or "").lower() for t in rules.KEEP_SCRIPT_TYPES)
        return tag == "button" and self._headings > 0

    def _hold_start(self, tag: str, attrib: Any, nsmap: Any) -> None:
        self._held.append((_START, tag, dict(attrib), nsmap))  # type: ignore[union-attr]
        self._held_depth += 1
        if tag == "a":
            self._held_links += 1
        marker_re = self._marker_re
        if tag in self._markers or (
            marker_re is not None and marker_re.search(f"{attrib.get('class') or ''} {attrib.get('id') or ''}")
        ):
            self._build_held()

    def _build_held(self) -> None:
        """Build the held furniture after all: its events go through as they came (nested furniture is held again)."""
        held, self._held = self._held or [], None
        kind, tag, attrib, nsmap = held[0]
        self._start(tag, attrib, nsmap)
        for event in held[1:]:
            if event[0] == _START:
                self.start(event[1], event[2], event[3])
            elif event[0] == _END:
                self.end(event[1])
            else:
                self.data(event[1])

    def _start(self, tag: str, attrib: Any, nsmap: Any) -> None:
        if tag in self.leave_out:
            self.soup.endData()  # the text before it ends here, as its tag would end it
            return
        if self._flat or self._depth >= self.max_depth or self._elements >= self.max_elements:
            self._flat += 1
            if self.limit_hit is None:
                self.limit_hit = "depth" if self._depth >= self.max_depth else "elements"
            return
        self._depth += 1
        self._elements += 1
        if tag in _HEADINGS:
            self._headings += 1
        self._open(tag, attrib, nsmap)

    def _end(self, tag: str) -> None:
        if tag in self.leave_out:
            return
        if self._flat:
            self._flat -= 1
            return
        self._depth -= 1
        if tag in _HEADINGS:
            self._headings -= 1
        self._close(tag)

    def _open(self, tag: str, attrib: Any, nsmap: Any) -> None:
        super().start(tag, attrib, nsmap)

    def _close(self, tag: str) -> None:
        super().end(tag)

    def _text(self, data: str) -> None:
        super().data(data)


class LeanLXMLTreeBuilder(PageBuilder):
    """``PageBuilder`` with a fast path for un-namespaced tags (every tag of an HTML page); see ``BS4_INTERNALS``."""

    def __init__(self, *args: Any, set_aside_whitespace: bool = False, **kwargs: Any) -> None:
        # lxml's attribute values are always str: a plain dict stores them as XMLAttributeDict would
        kwargs.setdefault("attribute_dict_class", AttributeDict)
        super().__init__(*args, **kwargs)
        self.set_aside_whitespace = set_aside_whitespace

    def _pending_whitespace(self) -> str | None:
        """The pending text as BeautifulSoup would store it, taken out of the soup, when it is whitespace only."""
        soup = self.soup
        if soup.preserve_whitespace_tag_stack or soup.string_container_stack:
            return None  # <pre> keeps its whitespace as written; <script>, <rt> ... make special string classes
        text = "".join(soup.current_data)
        if text.strip(_ASCII_SPACES):
            return None
        soup.current_data = []
        return "\n" if "\n" in text else " "

    def _open(self, tag: str, attrib: Any, nsmap: Any) -> None:
        # lxml's HTML parser reports names as written ("xlink:href", never "{namespace}href") and no nsmap; the
        # stock code is kept for anything else
        soup = self.soup
        if nsmap or len(self.nsmaps) > 1 or tag.startswith("{") or soup.parse_only or soup.element_classes:
            super()._open(tag, attrib, nsmap)
            return
        space = None
        if soup.current_data:
            if self.set_aside_whitespace:
                space = self._pending_whitespace()
            soup.endData()
        # what soup.handle_starttag does once the pending text is stored: make the tag, link it, push it
        previous = soup._most_recent_element
        element = Tag(
            soup,
            self,
            tag,
            None,
            None,
            AttributeDict(attrib) if attrib else AttributeDict(),  # lxml's empty mapping copies slowly
            soup.currentTag,
            previous,
            namespaces=self.active_namespace_prefixes[-1],
        )
        if previous is not None:
            previous.next_element = element
        soup._most_recent_element = element
        soup.pushTag(element)
        if space is not None:
            self.space_before[id(element)] = space

    def _close(self, tag: str) -> None:
        soup = self.soup
        current = soup.currentTag
        if (
            len(self.nsmaps) > 1
            or tag.startswith("{")
            or current.name != tag
            or current.prefix is not None
            or len(soup.tagStack) < 2
        ):
            super()._close(tag)
            return
        if soup.current_data:
            if self.set_aside_whitespace:
                space = self._pending_whitespace()
                if space is not None:
                    self.space_at_end[id(current)] = space
            soup.endData()
        soup.popTag()  # what soup.handle_endtag does when the tag that ends is the current one

    def _text(self, data: str) -> None:
        self.soup.current_data.append(data)


# A page that exercises every branch of the fast path (whitespace, <pre>, scripts, namespaces, misnesting).
_PROBE = (
    '<html><head><title>t</title><script type="application/ld+json">{"a": 1}</script></head><body>\n <div id=a>'
    '<p class="x y">one <b>two</b>\n</p><pre>\n <i>p</i>\n</pre><svg xmlns:xlink="http://www.w3.org/1999/xlink">'
    '<use xlink:href="#i"/></svg><o:p>office</o:p><p>a<b>b<i>c</b>d</i></p><img src=x><br></div>\n</body></html>'
)
_lean_path: bool | None = None


def lean_path_works() -> bool:
    """True when the fast path builds the probe page exactly as ``PageBuilder`` does (checked once per process)."""
    global _lean_path
    if _lean_path is None:
        try:
            lean = BeautifulSoup(_PROBE, builder=LeanLXMLTreeBuilder())
            plain = BeautifulSoup(_PROBE, builder=PageBuilder())
            _lean_path = tree_shape(lean) == tree_shape(plain)
            problem = "it builds another tree"
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            _lean_path, problem = False, f"{type(exc).__name__}: {exc}"
        if not _lean_path:
            log.warning(
                "stripper: BeautifulSoup's internals differ from what stripper.lean_builder was written for (%s); "
                "parsing with the plain builder (slower, same result)",
                problem,
            )
    return _lean_path


def make_builder(*, set_aside_whitespace: bool = False, **options: Any) -> PageBuilder:
    """The fast builder, or ``PageBuilder`` when the fast path does not work with the installed BeautifulSoup."""
    if lean_path_works():
        return LeanLXMLTreeBuilder(set_aside_whitespace=set_aside_whitespace, **options)
    return PageBuilder(**options)


def tree_shape(soup: BeautifulSoup) -> list[tuple]:
    """Every element in document order with its class, name, namespace, attributes or text, and its links to the
    others (as positions): two trees compare equal only when they are built the same way."""
    elements = list(soup.descendants)
    position = {id(el): i for i, el in enumerate(elements)}
    position[id(soup)] = -1

    def at(el: Any) -> int | None:
        return None if el is None else position.get(id(el), -2)

    out = []
    for el in elements:
        ident = (el.name, el.prefix, el.namespace, dict(el.attrs)) if isinstance(el, Tag) else (str(el),)
        links = (at(el.parent), at(el.previous_sibling), at(el.next_sibling), at(el.previous_element),
                 at(el.next_element))  # fmt: skip
        out.append((type(el).__name__, *ident, *links))
    return out
