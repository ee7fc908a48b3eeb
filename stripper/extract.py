"""The extraction stages: parse -> build (one walk: prune signals, scores, metadata) -> select ->
collect -> post-process.

Each stage is a plain function.  The only tree walk over BeautifulSoup's tree is ``build_tree``; it turns the
soup into light ``Node`` objects carrying text and link lengths, boilerplate flags and the good/bad text
totals used for selection.  Every later stage works on those nodes.  All walks are iterative, so
pathologically deep documents cannot exhaust the Python stack.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import RubyParenthesisString, RubyTextString

from stripper import rules
from stripper.lean_builder import make_builder

# --- stage: parse ----------------------------------------------------------------------------------------------


def parse(html: str, *, walk_only: bool = False, max_depth: int = 0, max_elements: int = 0) -> BeautifulSoup:
    """Parse with BeautifulSoup and lxml, building only what the stripper reads (``stripper.lean_builder``: no
    scripts, styles, SVG or comments, no inert menus and footers; class attributes kept as plain strings).

    ``walk_only``: the soup goes to ``build_tree`` unchanged, so it can be lighter: whitespace-only strings between
    tags are recorded beside it instead of in it (``build_tree`` puts them back), and the void elements the walk
    skips (``rules.PARSE_LEAVE_OUT``) are not made at all.  ``max_depth`` / ``max_elements`` (0: none): elements
    deeper or past that count are not made; ``soup.builder.limit_hit`` then names the limit.
    """
    builder = make_builder(
        set_aside_whitespace=walk_only,
        leave_out=rules.PARSE_LEAVE_OUT if walk_only else frozenset(),
        max_depth=max_depth,
        max_elements=max_elements,
    )
    with warnings.catch_warnings():
        # XHTML and feeds parsed as HTML, or text that looks like a file name: fine for extraction
        warnings.simplefilter("ignore")
        return BeautifulSoup(html, builder=builder)


# --- stage: build ------------------------------------------------------------------------------------------------

# Node flags
BAD = 1  # page furniture by tag, role, itemprop or hidden: never body text
SOFT = 2  # header / caption / address: not body text unless it is the selected container
POS = 4  # positive class/id/itemprop: looks like an article body
HIDDEN = 8  # hidden by attribute or style
CBAD = 16  # furniture by class/id: overridden when the element holds the headline or an article body
FURNITURE = BAD | SOFT | CBAD
EMBED = 32  # an embedded post (tweet, Instagram) quoted by the article
# Node marks: what a subtree holds (propagated bottom-up); a flagged layout wrapper holding these is not furniture.
# Bits apart from the flags', so a mark tested against ``flags`` (or a flag against ``marks``) is never true.
M_H1 = 1 << 8
M_BODY = 1 << 9
M_MAIN = 1 << 10
M_EMBED = 1 << 11
M_FORM = 1 << 12  # a <form> (a sign-up, search or comment box)


class Node:
    """A light copy of one element: its children (Nodes and text strings) and the totals selection needs."""

    __slots__ = (
        "name",
        "parent",
        "children",
        "flags",
        "text_len",
        "link_len",
        "good",
        "bad",
        "fbad",
        "raw_good",
        "inline_len",
        "inline_link",
        "sig",
        "level",
        "marks",
        "lenient_good",
        "lenient_bad",
        "good_own",
        "good_children",
        "good_grandchildren",
        "good_deeper",
        "starts_link",
        "attrs",
    )

    def __init__(self, name: str, parent: Node | None) -> None:
        self.name = name
        self.parent = parent
        self.children: list[Node | str] = []
        self.flags = 0
        self.text_len = 0
        self.link_len = 0
        self.good = 0.0
        self.bad = 0.0  # link text and short text that would reach the output
        self.fbad = 0.0  # text of flagged furniture below (collect leaves it out)
        self.raw_good = 0.0
        self.inline_len = 0
        self.inline_link = 0
        self.sig: tuple[int, str] | None = None
        self.level = 0
        self.marks = 0
        self.lenient_good = 0.0  # good/bad text when class/id signals are ignored (fallback selection)
        self.lenient_bad = 0.0
        # good text by distance below this node: own inline run, children's, grandchildren's, deeper
        self.good_own = self.good_children = self.good_grandchildren = self.good_deeper = 0.0
        self.starts_link = False  # the first text below this node is link text (a teaser headline)
        self.attrs: dict[str, str] | None = None  # the element's attributes (for --explain and the fallbacks)

    def text(self) -> str:
        """All text below this node, whitespace-collapsed (iterative)."""
        parts: list[str] = []
        stack: list[Node | str] = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                parts.append(item)
            else:
                if item.name in rules.BLOCK_TAGS:
                    parts.append(" ")
                stack.extend(reversed(item.children))
        return " ".join("".join(parts).split())


@dataclass
class PageFacts:
    """What the build walk noticed for metadata: raw values, resolved later by ``stripper.metadata``."""

    lang: str | None = None
    title: str | None = None
    meta: dict[str, list[str]] = field(default_factory=dict)
    canonical: str | None = None
    jsonld: list[str] = field(default_factory=list)
    times: list[tuple[str, Node | None]] = field(default_factory=list)
    itemprops: list[tuple[str, str | None, Node]] = field(default_factory=list)
    author_nodes: list[Node] = field(default_factory=list)
    category_nodes: list[Node] = field(default_factory=list)
    breadcrumb_nodes: list[Node] = field(default_factory=list)
    date_line_nodes: list[Node] = field(default_factory=list)
    byline_nodes: list[Node] = field(default_factory=list)  # elements with a text starting "By"
    reference_nodes: list[Node] = field(default_factory=list)
    h1: list[Node] = field(default_factory=list)
    signatures: dict[tuple[int, str], int] = field(default_factory=dict)
    limits: list[str] = field(default_factory=list)  # limits the page hit (stripper.settings), one line each
    hidden_prose: float = 0.0  # paragraph text in hidden elements (a script-revealed page keeps its article there)


@lru_cache(maxsize=8192)
def _class_flags(key: str) -> int:
    """Flags from an element's class and id (cached: templates repeat the same classes)."""
    tokens = key.split()
    flags = HIDDEN if not rules.HIDDEN_CLASS_TOKENS.isdisjoint(tokens) else 0
    # "ad6ed79d-88fd-...": no word of a designer's; "with-sidebar", "comments-enabled": a layout's state
    kept = [t for t in tokens if not rules.GENERATED_TOKEN_RE.match(t) and not rules.LAYOUT_STATE_TOKEN_RE.match(t)]
    if len(kept) < len(tokens):
        key = " ".join(kept)
    if rules.EMBED_CLASS_RE.search(key):
        return flags | EMBED
    if rules.POSITIVE_CLASS_RE.search(key):
        flags |= POS
    elif rules.NEGATIVE_CLASS_RE.search(key):
        flags |= CBAD
    return flags


_REFERENCES_CLASS_RE = re.compile(r"(?:^|[\s_\-])(?:references|citations|sources|bibliography|footnotes)(?:$|[\s_\-])")
_BREADCRUMB_RE = re.compile(r"breadcrumb|crumbs")
_AUTHOR_CLASS_RE = re.compile(r"(?:^|[\s_\-])(?:author|authors|byline|author-name|contributor|writer)(?:$|[\s_\-])")
_BYLINE_START_RE = re.compile(r"\s*(?:written\s+)?by\b", re.I)
_DATE_WORDS_RE = re.compile(
    r"pdated|ublished|ublication|eviewed|osted|odified|evised|PDATED|UBLISHED|EVIEWED|rticle date"
)
_UNBREAKABLE = frozenset({"html", "body", "main", "article"})


def _visit_skipped(tag: Tag, name: str, facts: PageFacts) -> None:
    """Metadata from elements that carry no body text (meta, link, title, JSON-LD)."""
    attrs = tag.attrs
    if name == "meta":
        key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or attrs.get("http-equiv")
        content = attrs.get("content")
        if key and content:
            facts.meta.setdefault(key.strip().lower(), []).append(content.strip())
    elif name == "link":
        rel = (attrs.get("rel") or "").lower()
        if "canonical" in rel.split() and attrs.get("href") and facts.canonical is None:
            facts.canonical = attrs["href"].strip()
    elif name == "title":
        if facts.title is None:
            facts.title = " ".join(tag.get_text().split())
    elif name == "script":
        if "ld+json" in (attrs.get("type") or "").lower():
            facts.jsonld.append(tag.get_text())


def build_tree(soup: BeautifulSoup, facts: PageFacts) -> Node:
    """One iterative walk over the soup: copy it into Nodes, flag furniture, total text, and note metadata."""
    root = Node("#root", None)
    stack: list[tuple[object, Node, Tag | BeautifulSoup]] = [(iter(soup.contents), root, soup)]
    # whitespace the lean builder kept out of the soup, by the id of the tag it preceded or ended
    space_before: dict[int, str] = getattr(soup.builder, "space_before", None) or {}
    space_at_end: dict[int, str] = getattr(soup.builder, "space_at_end", None) or {}
    skip_tags = rules.SKIP_TAGS
    block_tags = rules.BLOCK_TAGS
    bp_tags = rules.BOILERPLATE_TAGS
    soft_tags = rules.SOFT_BOILERPLATE_TAGS
    roles = rules.BOILERPLATE_ROLES
    hidden_re = rules.HIDDEN_STYLE_RE
    signatures = facts.signatures
    unsigned: dict[tuple[int, str], int] = {}
    hidden_open = 0  # hidden elements open on the stack
    forms: list[Node] = []
    # text as a browser shows it; ruby readings too, in the parentheses a browser without ruby shows them in
    texts = frozenset({NavigableString, RubyTextString, RubyParenthesisString})
    date_search = _DATE_WORDS_RE.search
    byline_match = _BYLINE_START_RE.match
    tag_type = Tag
    while stack:
        it, node, tag = stack[-1]
        for child in it:  # type: ignore[attr-defined]
            if type(child) in texts:
                node.children.append(child)
                if 1 < len(child) < 120:  # one character (most are a collapsed space) cannot match either rule
                    if date_search(child):
                        facts.date_line_nodes.append(node)
                    elif byline_match(child):
                        facts.byline_nodes.append(node)
                continue
            if type(child) is not tag_type and not isinstance(child, Tag):
                continue
            if space_before:
                space = space_before.get(id(child))
                if space is not None:
                    node.children.append(space)
            name = child.name
            if name in skip_tags:
                _visit_skipped(child, name, facts)
                continue
            cnode = Node(name, node)
            attrs = child.attrs
            if attrs:
                cnode.attrs = attrs
                flags = 0
                cls = attrs.get("class")
                ident = attrs.get("id")
                if cls or ident:
                    key = f"{cls or ''} {ident or ''}".lower()
                    flags = _class_flags(key)
                    if _REFERENCES_CLASS_RE.search(key):
                        facts.reference_nodes.append(cnode)
                    if _BREADCRUMB_RE.search(key):
                        facts.breadcrumb_nodes.append(cnode)
                    if _AUTHOR_CLASS_RE.search(key):
                        facts.author_nodes.append(cnode)
                role = attrs.get("role")
                if role and role.lower() in roles:
                    flags |= BAD
                style = attrs.get("style")
                if (
                    flags & HIDDEN
                    or "hidden" in attrs
                    # hidden from screen readers, not from the eye: a paragraph so marked is shown (metered paywalls)
                    or (attrs.get("aria-hidden") == "true" and name not in rules.TEXT_BLOCK_TAGS)
                    or (style and hidden_re.search(style))
                ):
                    if _is_disclosure_panel(attrs, role):  # collapsed: article a click away
                        flags &= ~HIDDEN
                    else:
                        flags |= BAD | HIDDEN
                prop = attrs.get("itemprop")
                if prop:
                    p = prop.lower()
                    if p in rules.POSITIVE_ITEMPROPS:
                        flags = (flags & ~(BAD | CBAD)) | POS if not flags & HIDDEN else flags
                    elif p in rules.NEGATIVE_ITEMPROPS:
                        flags |= BAD
                    facts.itemprops.append((p, attrs.get("content") or attrs.get("datetime"), cnode))
                label = attrs.get("aria-label")
                if label and "breadcrumb" in label.lower():
                    facts.breadcrumb_nodes.append(cnode)
                    flags |= BAD
                itemtype = attrs.get("itemtype")
                if itemtype and "BreadcrumbList" in itemtype:
                    facts.breadcrumb_nodes.append(cnode)
                    flags |= BAD
                if name == "a":
                    rel = attrs.get("rel")
                    if rel:
                        rel = rel.lower()
                        if "author" in rel:
                            facts.author_nodes.append(cnode)
                        elif "category" in rel or rel == "tag":
                            facts.category_nodes.append(cnode)
                elif name == "time":
                    dt = attrs.get("datetime")
                    if dt:
                        facts.times.append((dt, node))
                elif name == "html":
                    lang = attrs.get("lang") or attrs.get("xml:lang")
                    if lang and facts.lang is None:
                        facts.lang = lang.strip()
                if name in _UNBREAKABLE and not flags & HIDDEN:
                    flags &= ~(BAD | CBAD)
                cnode.flags = flags
            if name in bp_tags:
                cnode.flags |= BAD
                if name == "form":
                    forms.append(cnode)
            elif name in soft_tags:
                cnode.flags |= SOFT
            elif name == "head":
                cnode.flags |= BAD
            elif name == "h1":
                facts.h1.append(cnode)
            node.children.append(cnode)
            stack.append((iter(child.contents), cnode, child))
            if cnode.flags & HIDDEN:
                hidden_open += 1
            break
        else:
            if space_at_end:
                space = space_at_end.get(id(tag))
                if space is not None:
                    node.children.append(space)
            stack.pop()
            # a hidden copy of a paragraph (print or mobile version) does not make the visible one a repeat
            _finish(node, block_tags, unsigned if hidden_open else signatures)
            if node.flags & HIDDEN:
                hidden_open -= 1
                if not hidden_open:
                    facts.hidden_prose += node.raw_good
    _unflag_page_forms(root, forms, block_tags)
    return root


PAGE_FORM_SHARE = 0.5  # a <form> holding this share of the page's paragraph text is the page (ASP.NET), not furniture


def _unflag_page_forms(root: Node, forms: list[Node], block_tags: frozenset[str]) -> None:
    """The classic ASP.NET layout puts one <form> around the whole page: that form is no search or sign-up box.
    Unflag it and total it and its ancestors again."""
    for form in forms:
        if form.flags & BAD and not form.flags & HIDDEN and form.raw_good >= PAGE_FORM_SHARE * root.raw_good > 0:
            form.flags &= ~BAD
            node: Node | None = form
            while node is not None:
                _finish(node, block_tags, {})  # the signatures were counted the first time
                node = node.parent


def _is_disclosure_panel(attrs: dict[str, str], role: str | None) -> bool:
    """A hidden element that is a collapsed accordion or tab panel (shown on a click, found by the browser's search)."""
    if attrs.get("hidden") == "until-found" or (role and role.lower() in rules.DISCLOSURE_ROLES):
        return True
    key = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
    return bool(rules.DISCLOSURE_CLASS_RE.search(key))


_MIN_GOOD = 25  # characters of non-link text that make an inline run a paragraph
_ITEM_TAGS = frozenset({"li", "div", "article", "section", "dd", "dt", "tr", "td", "aside"})
SIGNUP_CARD_MAX_PROSE = 300  # characters of paragraphs beside a form in an inline sign-up card
LINKED_BLOCK_MAX_CHARS = 600  # longer text inside one link is an unclosed <a> around the page, not a teaser card
TEASER_MIN_ITEMS = 3  # a teaser list has at least this many items ...
TEASER_LINKED_SHARE = 0.8  # ... nearly all of them opening with a link (and holding most of its text) ...
TEASER_LINK_DENSITY = 0.15  # ... and this share of its text is link text
TEASER_MAX_ITEM_CHARS = 600  # ... and every item is short (a headline and an excerpt)


def _finish(node: Node, block_tags: frozenset[str], signatures: dict[tuple[int, str], int]) -> None:
    """Close a node: total its text and link lengths and its good/bad text for selection."""
    children = node.children
    if node.name not in block_tags and node.parent is not None:
        for c in children:
            if type(c) is Node:
                break
        else:
            # fast path: an inline element holding only text (<a>, <span>, <b> ...), most of any page
            n = 0
            for c in children:
                n += len(c.strip())
            node.text_len = n
            link = 0
            if node.name == "a":
                node.link_len = link = n
                node.starts_link = True
            if node.flags & FURNITURE:
                node.fbad = node.lenient_bad = float(n)  # hidden or furniture inline text is no part of the paragraph
            else:
                node.inline_len = n
                node.inline_link = link
            return
    text_len = link_len = 0
    inline_len = inline_link = 0
    good = bad = fbad = raw_good = lenient_good = lenient_bad = 0.0
    good_own = good_children = good_grandchildren = good_deeper = 0.0
    first = ""
    marks = 0
    items = linked_items = 0
    longest_item = item_text = 0
    starts_link: bool | None = None
    for c in children:
        if type(c) is Node:
            if c.text_len:
                if starts_link is None and not c.flags & FURNITURE:  # not a screen-reader copy of the headline
                    starts_link = c.starts_link
                if c.name in _ITEM_TAGS:
                    items += 1
                    item_text += c.text_len
                    if c.starts_link:
                        linked_items += 1
                    if c.text_len > longest_item:
                        longest_item = c.text_len
            good_children += c.good_own
            good_grandchildren += c.good_children
            good_deeper += c.good_grandchildren + c.good_deeper
            marks |= c.marks
            text_len += c.text_len
            link_len += c.link_len
            good += c.good
            bad += c.bad
            fbad += c.fbad
            lenient_good += c.lenient_good
            lenient_bad += c.lenient_bad
            raw_good += c.raw_good
            if c.name not in block_tags:
                inline_len += c.inline_len
                inline_link += c.inline_link
        else:
            n = len(c.strip())
            if n:
                if starts_link is None:
                    starts_link = False
                text_len += n
                inline_len += n
                if not first:
                    first = c.strip()[:40]
    name = node.name
    if name == "a":
        link_len = text_len
        inline_link = inline_len
        starts_link = True
        if good and text_len <= LINKED_BLOCK_MAX_CHARS:
            # paragraphs inside a link (<a href><h3>headline</h3><p>excerpt</p></a>): a teaser card, link text
            bad += good
            good = good_own = good_children = good_grandchildren = good_deeper = 0.0
    node.starts_link = bool(starts_link)
    node.text_len = text_len
    node.link_len = link_len
    if name in block_tags or node.parent is None:
        # a block closes its inline run: score it as a paragraph
        if inline_len:
            plain = inline_len - inline_link
            if plain >= _MIN_GOOD and inline_link * 2 < inline_len:
                good_own = plain
                good += plain
                lenient_good += plain
                raw_good += plain
                bad += inline_link
                lenient_bad += inline_link
            else:
                bad += inline_link + plain * 0.5
                lenient_bad += inline_link + plain * 0.5
            if inline_len >= 40 and first:
                sig = (inline_len, first)
                node.sig = sig
                signatures[sig] = signatures.get(sig, 0) + 1
        node.inline_len = 0
        node.inline_link = 0
    elif node.flags & FURNITURE:
        fbad += inline_len
        lenient_bad += inline_len
    else:
        node.inline_len = inline_len
        node.inline_link = inline_link
    flags = node.flags
    if (
        items >= TEASER_MIN_ITEMS
        and linked_items >= TEASER_LINKED_SHARE * items
        and not marks
        and longest_item <= TEASER_MAX_ITEM_CHARS
        and link_len > TEASER_LINK_DENSITY * text_len
        and item_text >= TEASER_LINKED_SHARE * text_len
        and node.name != "ol"
    ):
        # a list of teasers (each item a link plus an excerpt): related stories, tickers, archives;
        # numbered lists are content ("10 things you need to know")
        flags |= BAD
        node.flags = flags
    if flags & POS and raw_good >= 500:
        marks |= M_BODY
    if flags & EMBED:
        marks |= M_EMBED
    if marks & M_FORM and raw_good <= SIGNUP_CARD_MAX_PROSE and not marks & ~M_FORM and name in block_tags \
            and name not in _UNBREAKABLE:  # fmt: skip
        flags |= BAD  # a box around a form with a line or two of pitch: an inline newsletter or sign-up card
        node.flags = flags
    if name == "h1":
        marks |= M_H1
    elif name == "main":
        marks |= M_MAIN
    elif name == "form":
        marks |= M_FORM
    if (
        flags & (BAD | CBAD)
        and marks & ~M_FORM
        and not flags & HIDDEN
        and (flags & CBAD or name == "form" or marks & M_BODY)
        and (marks & ~M_FORM != M_EMBED or text_len < 1500)
    ):
        # a layout wrapper ("container has-sidebar", an ASP.NET page <form>, an <aside> or role="tablist" a
        # template puts around the article body) around the article
        flags &= ~(BAD | CBAD)
        node.flags = flags
    if flags & FURNITURE:
        fbad += bad + good
        bad = good = good_own = good_children = good_grandchildren = good_deeper = 0.0
        if flags & (BAD | SOFT):
            lenient_bad += lenient_good
            lenient_good = 0.0
    node.lenient_good = lenient_good
    node.lenient_bad = lenient_bad
    node.good_own = good_own
    node.good_children = good_children
    node.good_grandchildren = good_grandchildren
    node.good_deeper = good_deeper
    node.marks = marks
    node.good = good
    node.bad = bad
    node.fbad = fbad
    node.raw_good = raw_good


# --- stage: select ---------------------------------------------------------------------------------------------

BAD_TEXT_WEIGHT = 0.5  # how much one character of link or short text costs against one of paragraph text
# weight of paragraph text by its distance below a candidate: paragraphs that are children or grandchildren
# count fully, deeper ones less (an article's paragraphs sit together; teaser excerpts are scattered deep)
NEAR_WEIGHTS = (1.0, 1.0, 1.0, 0.3)
POSITIVE_BONUS = 0.15  # share of the good text a positive class/id adds to a candidate's score


def select_container(root: Node, article_body: str | None = None) -> Node:
    """The element that maximises good text minus weighted furniture text: the article container.

    ``article_body`` (JSON-LD articleBody) is a hint: not used for scoring yet.
    """
    best = _expand(_best(root, False))
    if best.good < LOOSE_FALLBACK_RATIO * root.lenient_good:
        # class/id signals removed most of the page's paragraph text: they were wrong (layout classes)
        loose = _best(root, True)
        if loose.lenient_good > 2 * best.good:
            return loose
    return best


LOOSE_FALLBACK_RATIO = 0.15
EXPAND_RATIO = 2.0  # move up to the parent while what it adds is this many times more paragraph than furniture
# flagged furniture an ancestor adds counts this much against it (collect leaves it out: ad slots, share bars and
# "related" boxes between the parts of an article do not reach the output)
EXPAND_FURNITURE_SHARE = 0.2


def _expand(node: Node) -> Node:
    """Climb while an ancestor adds mostly paragraph text (an article split into sibling parts).

    Wrappers that add nothing are looked through (up to ``EXPAND_LOOKUP`` levels).  Flagged furniture the ancestor
    adds counts ``EXPAND_FURNITURE_SHARE`` of loose link text (an article split by ad slots and "related" boxes),
    but fully when the part chosen is marked as the article's body (a positive class or itemprop) and most of the
    paragraph text the ancestor adds is not (a body marked as such is the whole body, or its parts are alike).
    """
    marked = bool(node.flags & POS)
    ancestor = node.parent
    child = node  # the ancestor's child on the way down to node
    steps = 0
    while ancestor is not None and not ancestor.flags & FURNITURE and steps < EXPAND_LOOKUP:
        added_good = ancestor.good - node.good
        if added_good > 0:
            share = EXPAND_FURNITURE_SHARE
            if marked and _body_like_good(ancestor, child) < EXPAND_ALIKE_SHARE * added_good:
                share = 1.0
            added_bad = ancestor.bad - node.bad + share * (ancestor.fbad - node.fbad)
            if added_good < EXPAND_RATIO * added_bad:
                break
            node = ancestor
            steps = 0
        else:
            steps += 1
        child = ancestor
        ancestor = ancestor.parent
    return node


def _body_like_good(parent: Node, child: Node) -> float:
    """Paragraph text of ``child``'s siblings that are marked as article body or built like ``child`` (same tag and
    classes: the other parts of a split body)."""
    key = (child.name, (child.attrs or {}).get("class"))
    return sum(
        c.good
        for c in parent.children
        if type(c) is Node
        and c is not child
        and (c.flags & POS or c.marks & M_BODY or (c.name, (c.attrs or {}).get("class")) == key)
    )


EXPAND_ALIKE_SHARE = 0.7
EXPAND_LOOKUP = 8


def _best(root: Node, loose: bool) -> Node:
    best = root
    best_score = float("-inf")
    stack: list[Node] = [root]
    mask = (BAD | SOFT) if loose else FURNITURE
    while stack:
        node = stack.pop()
        if node.flags & mask:
            continue
        if (node.lenient_good if loose else node.good) > 0:
            score = _score(node, loose)
            if score > best_score:
                best, best_score = node, score
            stack.extend(c for c in node.children if type(c) is Node and c.lenient_good > 0)
    return best


def css_path(node: Node, last: int = 0) -> str:
    """A CSS-like path of a node: ``body > div#main > article.post.story`` (the first two classes of each); with
    ``last``, only its last elements (``… > div#main > article.post.story``)."""
    parts: list[str] = []
    while node is not None and node.parent is not None and (not last or len(parts) <= last):
        attrs = node.attrs or {}
        part = node.name
        ident = (attrs.get("id") or "").split()
        if ident:
            part += "#" + ident[0]
        part += "".join("." + c for c in (attrs.get("class") or "").split()[:2])
        parts.append(part)
        node = node.parent
    if last and len(parts) > last:
        parts[last:] = ["…"]
    return " > ".join(reversed(parts)) or "(document)"


# --- stage: collect --------------------------------------------------------------------------------------------


@dataclass
class Block:
    """One line of output: a paragraph, heading, list item or table cell, with its link share."""

    kind: str  # "p", "h", "li", "cell"
    text: str
    link_len: int
    group: int  # id of the enclosing list/table (li, cell) or row, to rejoin them
    sig: tuple[int, str] | None = None
    level: int = 0
    opens_furniture: bool = False  # a furniture heading ("Related news") whose section could not be cut here


_LIST_PARENTS = frozenset({"ul", "ol", "dl", "menu"})


def collect_blocks(
    container: Node,
    keep_share: float = 0.5,
    *,
    lenient: bool = False,
    hidden_too: bool = False,
    trace: list[str] | None = None,
) -> list[Block]:
    """The text blocks of the container in document order, skipping flagged furniture.

    A flagged child is kept anyway when it holds more than ``keep_share`` of the container's paragraph text
    (a mislabelled article body), hidden ones too with ``hidden_too``.  ``lenient``: furniture by class or id is
    kept (the second pass).  ``trace``
    (``--explain``) gets a line for each element left out.
    """
    furniture = (BAD | SOFT) if lenient else FURNITURE
    blocks: list[Block] = []
    pieces: list[str] = []
    link_chars = [0]
    total_raw = container.raw_good or 1.0
    block_tags = rules.BLOCK_TAGS
    state: dict[str, object] = {"kind": "p", "group": 0, "sig": None, "level": 0}

    def flush() -> None:
        if pieces:
            text = " ".join("".join(pieces).split())
            if text:
                blocks.append(
                    Block(
                        state["kind"],
                        text,
                        link_chars[0],
                        state["group"],  # type: ignore[arg-type]
                        state["sig"],
                        state["level"],
                    )
                )  # type: ignore[arg-type]
            pieces.clear()
        link_chars[0] = 0

    # stack items: Node to enter, or ("exit", node, saved_state)
    stack: list[object] = [container]
    link_depth = 0
    skip_node: Node | None = None  # inside a furniture section (opened by a heading such as "Related news")
    while stack:
        item = stack.pop()
        if type(item) is tuple:
            _, node, saved = item
            if node.name == "a":
                link_depth -= 1
                continue
            flush()
            state.update(saved)
            if node is skip_node:
                skip_node = None
            elif (
                skip_node is None
                and node.name in rules.HEADING_TAGS
                and blocks
                and blocks[-1].kind == "h"
                and rules.BOILERPLATE_HEADING_RE.match(blocks[-1].text.lower())
            ):
                parent = node.parent
                if parent is not None and parent is not container and parent.name in block_tags:
                    heading = blocks.pop()
                    skip_node = parent  # drop the rest of the heading's section
                    if trace is not None:
                        trace.append(f"dropped {css_path(parent, 3)}: a section under the heading {heading.text!r}")
                else:
                    blocks[-1].opens_furniture = True
            continue
        if skip_node is not None:
            continue
        if isinstance(item, str):
            pieces.append(item)
            if link_depth:
                link_chars[0] += len(item.strip())
            continue
        node: Node = item  # type: ignore[no-redef]
        if node is not container and node.flags & furniture:
            if node.raw_good <= keep_share * total_raw or (node.flags & HIDDEN and not hidden_too):
                if node.name not in block_tags:
                    pieces.append(" ")
                if trace is not None and node.text_len:
                    trace.append(f"dropped {css_path(node, 3)}: {furniture_reason(node)}: {_snippet(node.text())}")
                continue
        name = node.name
        if name == "a":
            link_depth += 1
            stack.append(("exit", node, None))
        elif name == "br":
            flush()
            if state["kind"] == "cell":
                state["kind"] = "p"
            continue
        elif name in block_tags:
            flush()
            saved = dict(state)
            if name in rules.HEADING_TAGS:
                state.update(kind="h", level=int(name[1]))
            elif name in rules.LIST_ITEM_TAGS:
                parent = node.parent
                state.update(kind="li", group=id(parent) if parent is not None else 0)
            elif name in rules.CELL_TAGS:
                parent = node.parent
                state.update(kind="cell", group=id(parent) if parent is not None else 0)
            elif name == "p" or state["kind"] == "cell":
                state["kind"] = "p"
            state["sig"] = node.sig
            stack.append(("exit", node, saved))
        stack.extend(reversed(node.children))
    flush()
    return blocks


# --- stage: post-process ---------------------------------------------------------------------------------------


@dataclass
class Collected:
    """The body paragraphs and what post-processing moved out of them."""

    paragraphs: list[str]
    references: list[str]
    dateline: str | None = None


_BOILERPLATE_PHRASE_RE = re.compile("|".join(re.escape(phrase) for phrase in rules.BOILERPLATE_PHRASES))  # any of them


def _is_sentence(text: str) -> bool:
    """A sentence, not a label: it ends as a sentence ends and has words enough (or is a long run of CJK text)."""
    if not rules.SENTENCE_END_RE.search(text) or " | " in text:
        return False
    words = text.count(" ") + 1
    return words >= rules.SENTENCE_MIN_WORDS or (words == 1 and len(text) >= rules.SENTENCE_MIN_WORDS * 4)


def _block_furniture(block: Block, signatures: dict[tuple[int, str], int]) -> str | None:
    """Why a block is furniture (for ``--explain``), or None when it is not."""
    text = block.text
    n = len(text)
    low = text.lower()
    if n <= 140:
        if _is_sentence(text):  # "By the age of 65, most ...", "More than half of adults ...": article text
            if rules.BOILERPLATE_LINE_RE.match(low):
                return "a byline, date, credit or copyright line"
        elif (
            rules.BOILERPLATE_BLOCK_RE.match(low)
            or rules.BOILERPLATE_LABEL_I18N_RE.match(low)
            or (n <= 60 and rules.BOILERPLATE_HEADING_RE.match(low))
        ):
            return "a furniture label (share, related, newsletter, advertisement ...)"
    if block.kind == "h":
        if block.link_len > 0.8 * n:
            return "a teaser's linked headline"
    elif block.link_len * 2 > n and (block.kind != "li" or block.link_len > 0.8 * n):
        return "mostly link text"
    if n <= rules.BOILERPLATE_PHRASE_MAX_CHARS:
        phrase = _BOILERPLATE_PHRASE_RE.search(low)
        if phrase:
            return f"boilerplate phrase {phrase.group(0)!r}"
    if n <= rules.LINE_PATTERN_MAX_CHARS and block.kind != "h":
        tail = text[-rules.LINE_TAIL_CHARS :]  # the patterns end the block: search only its end
        if rules.TEASER_TAIL_RE.search(tail):
            return "a teaser's excerpt ending in its 'more' link"
        if rules.CAPTION_CREDIT_RE.search(tail) or rules.DURATION_TAIL_RE.search(tail):
            return "an image caption or video teaser (ends in a credit or a duration)"
        if rules.READING_TIME_RE.match(text):
            return "a reading-time line"
        if (
            text.count(" ") < rules.DATELINE_MAX_WORDS
            and len(rules.DATE_TOKEN_RE.findall(text)) >= 2
            and not rules.DATE_ONLY_RE.match(text)  # a lone date: the dateline, read for ``published``
        ):
            return "a line of dates and times"
    if block.sig is not None and signatures.get(block.sig, 0) > 0:
        return "repeated elsewhere on the page"
    return None


COPY_SHARE = 0.5  # share of the body's paragraphs repeated outside it that makes the rest of the page a copy


def _holds_a_copy(blocks: list[Block]) -> bool:
    """The blocks are the body twice (a copy for small screens or print inside the container): from the first
    repeated block on, nearly everything repeats what came before, and that is about half of the text."""
    firsts: set[str] = set()
    start = -1
    for i, block in enumerate(blocks):
        if block.text in firsts and len(block.text) >= 40:
            start = i
            break
        firsts.add(block.text)
    if start < 0:
        return False
    tail = sum(len(b.text) for b in blocks[start:])
    repeated = sum(len(b.text) for b in blocks[start:] if b.text in firsts)
    return repeated >= 0.9 * tail and tail >= 0.8 * COPY_SHARE * sum(len(b.text) for b in blocks)


def postprocess(
    blocks: list[Block],
    signatures: dict[tuple[int, str], int],
    titles: set[str] | None = None,
    trace: list[str] | None = None,
) -> Collected:
    """Drop furniture blocks (phrases, link lists, repeats, furniture sections), the headline, and join lists.

    ``titles``: lower-cased headline variants and category names, dropped when they open the body.
    A block counts as repeated furniture when it occurs more often in the page than in the container.
    """
    inside: dict[tuple[int, str], int] = {}
    for block in blocks:
        if block.sig is not None:
            inside[block.sig] = inside.get(block.sig, 0) + 1
    outside = {sig: n - inside.get(sig, 0) for sig, n in signatures.items() if n > 1}
    repeated = sum(1 for block in blocks if block.sig is not None and outside.get(block.sig, 0) > 0)
    signed = sum(1 for block in blocks if block.sig is not None)
    # most of the body repeated elsewhere: a second copy of the article (for small screens, for print), not furniture
    signatures = {} if signed >= 2 and repeated > COPY_SHARE * signed else outside
    titles = titles or set()
    kept: list[Block] = []
    references: list[str] = []
    dateline: str | None = None
    skip_level = 0  # inside a furniture section opened by a heading of this level
    ref_level = 0  # inside a references section
    seen = set() if _holds_a_copy(blocks) else None

    def drop(block: Block, reason: str) -> None:
        if trace is not None:
            trace.append(f"dropped {block.kind} {_snippet(block.text)}: {reason}")

    for block in blocks:
        if block.kind == "h":
            low = block.text.lower()
            level = block.level or 6
            if ref_level and level > ref_level:
                continue
            if rules.REFERENCES_HEADING_RE.match(low):  # also inside an editorial-notes section
                ref_level, skip_level = level, 0
                continue
            if skip_level and level > skip_level:
                drop(block, "in a furniture section")
                continue
            skip_level = ref_level = 0
            if low in titles or (len(low) > 15 and any(t.startswith(low) for t in titles)):
                drop(block, "the headline")
            elif rules.EDITORIAL_HEADING_RE.match(low):
                skip_level = level
                drop(block, "opens the article's editorial notes (dropped with them)")
            elif block.opens_furniture:
                skip_level = level
                drop(block, "opens a furniture section (dropped with it)")
            elif reason := _block_furniture(block, signatures):
                drop(block, reason)
            else:
                kept.append(block)
            continue
        if skip_level:
            drop(block, "in a furniture section")
        elif ref_level:
            references.append(block.text)
        elif reason := _block_furniture(block, signatures):
            drop(block, reason)
        elif len(block.text) <= 60 and rules.DATE_ONLY_RE.match(block.text):
            if len(kept) < 3:
                dateline = dateline or block.text
            drop(block, "a lone date (a dateline or a teaser's date)")
        elif len(kept) < 3 and block.text.lower() in titles:
            drop(block, "the headline or a category name")
        elif seen is not None and len(block.text) >= 40 and block.text in seen:
            drop(block, "the body's second copy")
        else:
            if seen is not None and len(block.text) >= 40:
                seen.add(block.text)
            kept.append(block)
    # trailing headings with nothing after them are section titles of dropped furniture
    while kept and kept[-1].kind == "h":
        drop(kept.pop(), "a heading with nothing after it")
    paragraphs: list[str] = []
    prev: Block | None = None
    for block in kept:
        if prev is not None and block.kind in ("li", "cell") and prev.kind == block.kind and prev.group == block.group:
            sep = "\n" if block.kind == "li" else " | "
            paragraphs[-1] += sep + block.text
        elif prev is not None and block.kind == "cell" and prev.kind == "cell":
            paragraphs[-1] += "\n" + block.text
        else:
            paragraphs.append(block.text)
        prev = block
    return Collected(paragraphs, references, dateline)


# --- stage: fallbacks --------------------------------------------------------------------------------------------

SHORT_TEXT_CHARS = 250  # a body shorter than this (or than SHORT_TEXT_SHARE of the page's prose) may be a loss ...
SHORT_TEXT_SHARE = 0.5  # ... of the page's paragraph text outside menus, footers, teaser lists and hidden elements
SHORT_CONTAINER_SHARE = 0.3  # ... and so is a body under this share of its element's paragraphs (a wrong class)
BODY_HINT_SHARE = 0.3  # the body is short, too, when under this share of the page's own JSON-LD articleBody
PROSE_MIN_CHARS = 80  # the last fallback keeps paragraphs of this many characters and more
FALLBACK_PROSE_SHARE = 0.5  # a fallback's text is taken only when this share of it is in such paragraphs


@dataclass
class Body:
    """The article's text and how it was found (``source``: "container" or the fallback that gave it)."""

    paragraphs: list[str]
    references: list[str]
    dateline: str | None
    source: str
    container: Node | None = None

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def body_text(
    root: Node,
    signatures: dict[tuple[int, str], int],
    titles: set[str],
    jsonld_body: str | None = None,
    trace: list[str] | None = None,
    hidden_prose: float = 0.0,
    headlines: list[Node] | None = None,
    title: str | None = None,
) -> Body:
    """The article's paragraphs: the selected container's, or, when that text is short against the page's prose
    (or its JSON-LD articleBody), the first fallback that is not: a lenient second pass (class and id signals
    ignored), the page's <article> / <main> / articleBody element, the JSON-LD articleBody, the page's prose
    paragraphs (hidden ones too when they hold most of it: pages whose script reveals the article).  When all are
    short, the longest wins.  Empty only for a page without prose."""
    container = _headline_article(select_container(root), headlines or [], title)
    if trace is not None:
        trace.append(f"container {css_path(container)}: score {_score(container):.0f}, {container.good:.0f} characters")
    collected = postprocess(collect_blocks(container, trace=trace), signatures, titles, trace)
    body = Body(collected.paragraphs, collected.references, collected.dateline, "container", container)
    prose = root.lenient_good + hidden_prose
    need = max(min(SHORT_TEXT_CHARS, SHORT_TEXT_SHARE * prose), SHORT_CONTAINER_SHARE * container.lenient_good)
    if jsonld_body:
        need = max(need, BODY_HINT_SHARE * len(jsonld_body))
    if len(body.text) >= need:
        return body
    if trace is not None:
        trace.append(
            f"short: {len(body.text)} characters against {prose:.0f} of prose on the page, "
            f"{container.lenient_good:.0f} in its element"
            + (f" and {len(jsonld_body)} in its JSON-LD articleBody" if jsonld_body else "")
            + f": fallbacks until one gives {need:.0f}"
        )
    best = body
    for source, make in (
        ("lenient second pass", lambda: _lenient(root, signatures, titles)),
        ("article element", lambda: _semantic(root, signatures, titles)),
        ("JSON-LD articleBody", lambda: _jsonld(jsonld_body)),
        ("page prose", lambda: _prose(root, signatures, titles)),
    ):
        candidate = make()
        if candidate is None:
            continue
        candidate.source = source
        prose = _is_prose(candidate)
        if trace is not None:
            where = f" ({css_path(candidate.container)})" if candidate.container is not None else ""
            verdict = "" if prose else ", mostly short lines (menus, teasers): not taken"
            trace.append(f"fallback {source}{where}: {len(candidate.text)} characters{verdict}")
        if prose and len(candidate.text) > len(best.text):
            best = candidate
        if len(best.text) >= need:
            break
    if best is not body:
        best.dateline = best.dateline or body.dateline
        best.references = best.references or body.references
    return best


HEADLINE_ARTICLE_SHARE = 0.5  # the headline's own article wins when it holds this share of the chosen one's text
HEADLINE_TITLE_OVERLAP = 0.6  # an <h1> is the page's headline when this share of its or the title's words are shared
_WORD_RE = re.compile(r"\w+")


def _headline_article(container: Node, headlines: list[Node], title: str | None) -> Node:
    """The element around the page's headline (its first <h1>, or one sharing most words with the title) that holds
    at least HEADLINE_ARTICLE_SHARE of the chosen element's paragraph text: on a page holding two articles (the next
    one appended below, as infinite-scroll pages do) the headline's, and within a chosen element that also holds a
    teaser rail or a second story, the part around the headline."""
    title_words = set(_WORD_RE.findall((title or "").lower()))
    for i, h1 in enumerate(headlines):
        words = set(_WORD_RE.findall(h1.text().lower()))
        if not words or h1.link_len * 2 > h1.text_len:
            continue  # a teaser's linked headline
        if i and len(words & title_words) < HEADLINE_TITLE_OVERLAP * min(len(words), len(title_words)):
            continue  # not the page's headline (a section's): only the first <h1> may differ from the title
        node = h1.parent
        while node is not None and node.good < HEADLINE_ARTICLE_SHARE * container.good:
            node = node.parent
        if node is None or node.flags & FURNITURE or _inside(container, node):
            return container
        return node
    return container


def _inside(node: Node, ancestor: Node) -> bool:
    while node is not None and node is not ancestor:
        node = node.parent
    return node is ancestor


def _is_prose(body: Body) -> bool:
    """Most of the text is in paragraphs of PROSE_MIN_CHARS or more (not menu entries, labels and teaser lines);
    a Chinese, Japanese or Korean character counts twice (it says about what two Latin letters say)."""
    widths = [len(p) + len(_CJK_RE.findall(p)) for p in body.paragraphs]
    return sum(w for w in widths if w >= PROSE_MIN_CHARS) >= FALLBACK_PROSE_SHARE * sum(widths)


_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef]")


def _lenient(root: Node, signatures: dict[tuple[int, str], int], titles: set[str]) -> Body | None:
    container = _best(root, True)
    if not container.lenient_good:
        return None
    collected = postprocess(collect_blocks(container, lenient=True), signatures, titles)
    return Body(collected.paragraphs, collected.references, collected.dateline, "", container)


def _semantic(root: Node, signatures: dict[tuple[int, str], int], titles: set[str]) -> Body | None:
    best: Node | None = None
    stack = [root]
    while stack:
        node = stack.pop()
        if node.flags & (BAD | SOFT):
            continue
        attrs = node.attrs or {}
        if (
            node.name in rules.ARTICLE_ELEMENTS
            or (attrs.get("itemprop") or "").lower() in rules.POSITIVE_ITEMPROPS
            or (attrs.get("role") or "").lower() in rules.ARTICLE_ROLES
        ) and (best is None or node.lenient_good > best.lenient_good):
            best = node
        stack.extend(c for c in node.children if type(c) is Node and c.lenient_good > 0)
    if best is None:
        return None
    collected = postprocess(collect_blocks(best, lenient=True), signatures, titles)
    return Body(collected.paragraphs, collected.references, collected.dateline, "", best)


def _jsonld(jsonld_body: str | None) -> Body | None:
    return Body(jsonld_body.split("\n\n"), [], None, "") if jsonld_body else None


def _prose(root: Node, signatures: dict[tuple[int, str], int], titles: set[str]) -> Body | None:
    seen: set[str] = set()
    blocks = [
        b
        for b in collect_blocks(root, hidden_too=True)
        if b.kind == "p"
        and len(b.text) >= PROSE_MIN_CHARS
        and b.link_len * 4 < len(b.text)
        and not (b.text in seen or seen.add(b.text))  # once each (menus repeat their descriptions)
    ]
    collected = postprocess(blocks, signatures, titles)
    return Body(collected.paragraphs, collected.references, collected.dateline, "")


def empty_reason(root: Node, emptied: int = 0) -> str:
    """Why a page gave no text: "no text" (nothing visible: a page its scripts fill) or "no prose" (only links,
    labels and furniture, ``emptied`` of them left out at parsing: a listing, index or error page)."""
    return "no text" if not root.text_len and not emptied else "no prose"


# --- --explain --------------------------------------------------------------------------------------------------


def furniture_reason(node: Node) -> str:
    """Why the walk flagged an element as furniture, in words."""
    attrs = node.attrs or {}
    flags = node.flags
    key = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()
    if flags & HIDDEN:
        return "hidden"
    if node.name in rules.BOILERPLATE_TAGS or node.name == "head":
        return f"<{node.name}> element"
    if node.name in rules.SOFT_BOILERPLATE_TAGS:
        return f"<{node.name}> element (headline, caption or address)"
    role = (attrs.get("role") or "").lower()
    if role in rules.BOILERPLATE_ROLES:
        return f'role="{role}"'
    prop = (attrs.get("itemprop") or "").lower()
    if prop in rules.NEGATIVE_ITEMPROPS:
        return f'itemprop="{prop}"'
    if "breadcrumb" in (attrs.get("aria-label") or "").lower() or "BreadcrumbList" in (attrs.get("itemtype") or ""):
        return "breadcrumbs"
    match = rules.NEGATIVE_CLASS_RE.search(key)
    if flags & CBAD and match:
        return f"class/id word {match.group(0).strip(' _-:/.')!r}"
    return "a list of teasers (links with excerpts)"


def _snippet(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _score(node: Node, loose: bool = False) -> float:
    """A candidate's score: its paragraph text, nearer paragraphs counting more, less its weighted furniture text;
    ``loose``: class and id signals ignored, all paragraph text counted alike."""
    if loose:
        score = node.lenient_good - BAD_TEXT_WEIGHT * node.lenient_bad
    else:
        w0, w1, w2, w3 = NEAR_WEIGHTS
        near = w0 * node.good_own + w1 * node.good_children + w2 * node.good_grandchildren + w3 * node.good_deeper
        score = near - BAD_TEXT_WEIGHT * (node.bad + node.fbad)
    return score + (POSITIVE_BONUS * (node.lenient_good if loose else node.good) if node.flags & POS else 0.0)
