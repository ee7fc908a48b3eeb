"""The parse stage's builders: the lean builder's fast path builds the soup the plain ``PageBuilder`` builds, the
stripper's output does not depend on which of the two parsed the page, and the fast path is in use (this file fails
loudly when a BeautifulSoup release changes an internal the fast path relies on)."""

from __future__ import annotations

import warnings
from pathlib import Path

import bs4
import pytest
from bs4 import BeautifulSoup

from stripper import extract, extract_article, lean_builder, rules
from stripper.lean_builder import LeanLXMLTreeBuilder, PageBuilder, tree_shape

from support import SAMPLE_PAGES

PARA = "This paragraph of article text is long enough, with commas, to count as a real paragraph."

# Markup that exercises the parser's corners: namespaces, broken nesting, raw-text elements, odd attributes.
FRAGMENTS: dict[str, str] = {
    "plain": f"<html><head><title>T</title></head><body><h1>T</h1><p>{PARA}</p></body></html>",
    "xhtml namespace and xml:lang": (
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en"><body><p>x</p></body></html>'
    ),
    "svg with xlink inside article text": (
        f'<article><p>{PARA} <svg xmlns:xlink="http://www.w3.org/1999/xlink"><use xlink:href="#i"/></svg> tail</p>'
        "</article>"
    ),
    "prefixed tags": "<body><o:p>office</o:p><fb:like href='x'></fb:like><p>after</p></body>",
    "uppercase tags and attributes": '<HTML><BODY><DIV CLASS="Content" ID=Main><P>Upper</P></DIV></BODY></HTML>',
    "unclosed and misnested": "<body><div><p>one<p>two<b>bold<i>both</b>italic</i><li>stray item<table><td>cell",
    "script with closing-tag strings": (
        '<head><script type="application/ld+json">{"headline": "a </scr" + "ipt> b"}</script>'
        '<script>var s = "</scr" + "ipt>"; if (a < b) {}</script></head><body><p>after script</p></body>'
    ),
    "unclosed script at end of file": f"<body><p>{PARA}</p><script>var x = 1;",
    "cdata and comments holding tags": (
        "<body><![CDATA[<p>not a paragraph</p>]]><!-- <div>commented <p>out</p></div> --><p>real</p></body>"
    ),
    "ld+json type variants": (
        '<head><script type="application/ld+json; charset=utf-8">{"@type": "Article"}</script>'
        '<script type=\'APPLICATION/LD+JSON\'>{"headline": "H"}</script></head><body><p>x</p></body>'
    ),
    "doctype and processing instruction": '<?xml version="1.0"?><!DOCTYPE html><html><body><p>pi</p></body></html>',
    "entities and odd attributes": (
        '<body><p title="a &amp; b" data-x=\'"q"\' hidden disabled="">x &lt; y &nbsp; z</p><p a=1 a=2>dup</p></body>'
    ),
    "whitespace around blocks": (
        "<body>\n <div>\n  <p>\n one </p>\n  <p>two</p>\n </div>\n <span>in</span>\n<div> \t </div>\n</body>"
    ),
    "whitespace that separates words": (
        "<body><div><b>by</b>\n<i>Jane Doe</i></div>\n<span>x</span>\n<div>y</div></body>"
    ),
    "preformatted": "<body><pre>\n  <b>code</b>\n  more</pre><p>\xa0<b>nbsp first</b></p></body>",
    "images and inputs everywhere": (
        '<html><head><base href="/"><img src="a">\n<title>T</title></head><body>\n<img src="b"> <p>By<img>Jane Doe'
        ' <input type="text">\n<img></p>\n<img>\n<object><param name="m" value="v"> fallback</object></body></html>'
    ),
    "empty input body": "<p></p>",
    "text only": "just text, no tags",
}


def _plain(html: str, **options) -> BeautifulSoup:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BeautifulSoup(html, builder=PageBuilder(**options))


def _lean(html: str, set_aside: bool = False, **options) -> BeautifulSoup:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BeautifulSoup(html, builder=LeanLXMLTreeBuilder(set_aside_whitespace=set_aside, **options))


def _sample_pages() -> list[tuple[str, str]]:
    return [(p.name, p.read_text(encoding="utf-8", errors="replace")) for p in sorted(SAMPLE_PAGES.glob("*/*.html"))]


CASES = list(FRAGMENTS.items()) + _sample_pages()


@pytest.mark.parametrize(("name", "html"), CASES, ids=[name for name, _ in CASES])
def test_lean_builder_builds_the_plain_tree(name: str, html: str) -> None:
    assert tree_shape(_lean(html)) == tree_shape(_plain(html))


def _walk(root: extract.Node) -> list[tuple]:
    """Every node of the walk's tree in order, with its children (text as plain str) and all its figures."""
    out = []
    stack = [root]
    while stack:
        node = stack.pop()
        children = [c if isinstance(c, extract.Node) else str(c) for c in node.children]
        figures = tuple(getattr(node, slot) for slot in extract.Node.__slots__ if slot not in ("parent", "children"))
        out.append((figures, [c.name if isinstance(c, extract.Node) else c for c in children]))
        stack.extend(reversed([c for c in children if isinstance(c, extract.Node)]))
    return out


def _facts(facts: extract.PageFacts) -> tuple:
    return (
        facts.lang,
        facts.title,
        facts.meta,
        facts.canonical,
        facts.jsonld,
        [t for t, _ in facts.times],
        [(p, c) for p, c, _ in facts.itemprops],
        facts.signatures,
        *(
            len(nodes)
            for nodes in (
                facts.author_nodes,
                facts.category_nodes,
                facts.breadcrumb_nodes,
                facts.date_line_nodes,
                facts.byline_nodes,
                facts.reference_nodes,
                facts.h1,
            )
        ),
    )


@pytest.mark.parametrize(("name", "html"), CASES, ids=[name for name, _ in CASES])
def test_walk_over_the_light_soup_is_the_walk_over_the_plain_soup(name: str, html: str) -> None:
    plain_facts, lean_facts = extract.PageFacts(), extract.PageFacts()
    plain = extract.build_tree(_plain(html), plain_facts)
    lean = extract.build_tree(extract.parse(html, walk_only=True), lean_facts)
    assert _walk(lean) == _walk(plain)
    assert _facts(lean_facts) == _facts(plain_facts)


@pytest.mark.parametrize(("name", "html"), CASES, ids=[name for name, _ in CASES])
def test_extraction_is_the_same_with_either_builder(name: str, html: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lean = extract_article(html, "https://example.org/a")
    monkeypatch.setattr(extract, "parse", lambda source, **_: _plain(source))
    assert lean == extract_article(html, "https://example.org/a")


def test_only_whitespace_between_tags_is_set_aside() -> None:
    html = (
        "<body>\n<div>\n <b>x</b>\n</div> <span> <i>y</i></span><pre>\n<b>z</b>\n</pre><p>\xa0<b>w</b></p>"
        "<p>a <b>b</b> c</p><script type=application/ld+json>\n</script></body>"
    )
    soup = _lean(html, set_aside=True)
    div, span, pre, p1, p2, script = soup.body.contents
    assert [c.name for c in div.contents] == ["b"] and [c.name for c in span.contents] == ["i"]
    builder = soup.builder
    assert builder.space_before[id(div)] == "\n" and builder.space_at_end[id(div)] == "\n"
    assert builder.space_before[id(span)] == " " and builder.space_before[id(span.i)] == " "
    assert pre.contents[0] == "\n" and pre.contents[-1] == "\n"  # preformatted text stays as written
    assert p1.contents[0] == "\xa0"  # only ASCII whitespace, as BeautifulSoup collapses it
    assert p2.contents[0] == "a " and p2.contents[-1] == " c"  # text with words in it is untouched
    assert script.contents == ["\n"]  # a script's text is a Script string, not a plain one


def test_lean_builder_without_set_aside_keeps_every_string() -> None:
    soup = _lean("<body>\n<div>\n <b>x</b>\n</div></body>")
    assert soup.body.contents[0] == "\n" and soup.div.contents[0] == "\n"
    assert not soup.builder.space_before and not soup.builder.space_at_end


def test_left_out_elements_are_void_and_skipped_by_the_walk() -> None:
    assert rules.PARSE_LEAVE_OUT <= rules.SKIP_TAGS
    assert not rules.PARSE_LEAVE_OUT & {"meta", "link", "title", "script"}  # the walk reads these
    for name in rules.PARSE_LEAVE_OUT:
        element = _plain(f"<body><p>a<{name} x=1>b</{name}>c</p></body>").find(name)
        assert element is not None and not element.contents, name  # lxml never gives it content


def test_left_out_element_still_ends_the_text_before_it() -> None:
    for soup in (
        _lean(html := '<body><p>By<img src="x.png">Jane <img> Doe</p></body>', leave_out=frozenset({"img"})),
        _plain(html, leave_out=frozenset({"img"})),
    ):
        assert soup.p.contents == ["By", "Jane ", " Doe"] and soup.find("img") is None


def test_plain_builder_is_the_stock_builder_when_nothing_is_left_out() -> None:
    html = FRAGMENTS["unclosed and misnested"] + "<p>x<!-- c -->y</p>"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stock = BeautifulSoup(html, "lxml", multi_valued_attributes=None)
    for comment in stock.find_all(string=lambda s: isinstance(s, bs4.Comment)):
        comment.extract()  # the only difference: comments are no text of the page
    assert str(_plain(html)) == str(stock)


def test_parse_stage_uses_the_lean_builder() -> None:
    """Fails when the installed BeautifulSoup differs from what the fast path was written for (see BS4_INTERNALS):
    the stripper then still works, through the plain builder, but slower."""
    assert lean_builder.lean_path_works()
    assert isinstance(extract.parse("<p>x</p>").builder, LeanLXMLTreeBuilder)
    assert bs4.__version__ == "4.15.0"  # pinned exactly in pyproject.toml: the version BS4_INTERNALS were read from


def test_a_missing_internal_falls_back_to_the_plain_builder(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    html = f"<html><body><nav><a href=/>Home</a></nav><article><h1>T</h1><p>{PARA}</p></article></body></html>"
    expected = extract_article(html)

    class KeywordOnlyTag(bs4.Tag):  # as if a release made Tag's arguments after the name keyword-only
        def __init__(self, parser=None, builder=None, name=None, *, namespace=None, prefix=None, attrs=None,
                     parent=None, previous=None, **more) -> None:  # fmt: skip
            super().__init__(parser, builder, name, namespace, prefix, attrs, parent, previous, **more)

    monkeypatch.setattr(lean_builder, "Tag", KeywordOnlyTag)
    monkeypatch.setattr(lean_builder, "_lean_path", None)
    with caplog.at_level("WARNING", logger="stripper.lean_builder"):
        assert extract_article(html) == expected
        assert extract_article(html) == expected
    assert type(extract.parse("<p>x</p>").builder) is PageBuilder
    warnings_logged = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings_logged) == 1 and "plain builder" in warnings_logged[0].getMessage()


def test_sample_pages_exist() -> None:
    assert Path(SAMPLE_PAGES).is_dir() and _sample_pages()
