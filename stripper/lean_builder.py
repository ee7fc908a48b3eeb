"""The parse stage's tree builder: BeautifulSoup's lxml HTML builder without the per-tag work HTML never needs.

BeautifulSoup's ``LXMLTreeBuilder`` copies every tag's attributes twice (to check their types and to resolve XML
namespaces) through a dict whose ``__setitem__`` converts non-string values, and resolves a namespace for every
start and end tag.  lxml's HTML parser reports plain names and string values, so for HTML all of that changes
nothing; ``LeanLXMLTreeBuilder`` skips it, and makes, links and pushes each tag as ``BeautifulSoup.handle_starttag``
does (and pops it as ``handle_endtag`` does when the tag that ends is the current one) without their layers of
checks.  Anything else (namespaces, ``parse_only``, custom element classes, an end tag that is not the current one)
goes through the stock code.  The soup is the same: ``tests/test_stripper_lean_builder.py`` compares the trees,
links included, so a BeautifulSoup release that builds differently (this was written against 4.15) fails there.

With ``set_aside_whitespace`` it also keeps whitespace-only text between tags out of the soup: two thirds of a
page's strings, each a ``NavigableString`` linked into the tree.  Each is recorded instead, by the ``id`` of the tag
it comes before (``space_before``) or of the tag whose content it ends (``space_at_end``), as BeautifulSoup would
have stored it (" " or "\\n"); the stripper's walk puts it back where it was.  Only for a soup that is walked as
parsed: moving or removing tags (profile selectors) would leave the records behind.

``leave_out`` names void elements (never with content) to make no tag for at all, for a soup whose reader skips
them anyway; the text before one still ends there, as its tag would end it.
"""

from __future__ import annotations

from typing import Any

from bs4.builder._lxml import LXMLTreeBuilder
from bs4.element import AttributeDict, Tag

_ASCII_SPACES = " \n\t\f\r"  # what BeautifulSoup collapses to one space or newline in a whitespace-only string


class LeanLXMLTreeBuilder(LXMLTreeBuilder):
    """``LXMLTreeBuilder`` with a fast path for un-namespaced tags (every tag of an HTML page)."""

    def __init__(
        self, *args: Any, set_aside_whitespace: bool = False, leave_out: frozenset[str] = frozenset(), **kwargs: Any
    ) -> None:
        # lxml's attribute values are always str: a plain dict stores them as XMLAttributeDict would
        kwargs.setdefault("attribute_dict_class", AttributeDict)
        super().__init__(*args, **kwargs)
        self.set_aside_whitespace = set_aside_whitespace
        self.leave_out = leave_out
        self.space_before: dict[int, str] = {}
        self.space_at_end: dict[int, str] = {}

    def initialize_soup(self, soup: Any) -> None:
        super().initialize_soup(soup)
        self.space_before = {}
        self.space_at_end = {}

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

    def start(self, tag: str | bytes, attrib: dict[Any, Any], nsmap: dict[Any, Any] = {}) -> None:  # noqa: B006
        # lxml's HTML parser reports names as written ("xlink:href", never "{namespace}href") and no nsmap; the
        # stock code is kept for anything else
        soup = self.soup
        if tag in self.leave_out:
            soup.endData()  # the text before it ends here, as its tag would end it
            return
        if nsmap or len(self.nsmaps) > 1 or tag.startswith("{") or soup.parse_only or soup.element_classes:
            super().start(tag, attrib, nsmap)
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

    def end(self, tag: str | bytes) -> None:
        if tag in self.leave_out:
            return
        soup = self.soup
        current = soup.currentTag
        if (
            len(self.nsmaps) > 1
            or tag.startswith("{")
            or current.name != tag
            or current.prefix is not None
            or len(soup.tagStack) < 2
        ):
            super().end(tag)
            return
        if soup.current_data:
            if self.set_aside_whitespace:
                space = self._pending_whitespace()
                if space is not None:
                    self.space_at_end[id(current)] = space
            soup.endData()
        soup.popTag()  # what soup.handle_endtag does when the tag that ends is the current one

    def data(self, data: str | bytes) -> None:
        self.soup.current_data.append(data)
