"""Each extraction stage on a fragment: parse, build (flags and totals), select, collect, post-process, metadata."""

from __future__ import annotations

from stripper import extract, extract_article
from stripper.extract import BAD, CBAD, HIDDEN, POS, Block, PageFacts, build_tree, collect_blocks, parse, postprocess
from stripper.metadata import normalize_date, parse_jsonld

PARA = "This paragraph of article text is long enough, with commas, to count as a real paragraph."


def tree(html: str) -> tuple[extract.Node, PageFacts]:
    facts = PageFacts()
    return build_tree(parse(html), facts), facts


def find(node: extract.Node, name: str) -> extract.Node:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.name == name:
            return n
        stack.extend(c for c in reversed(n.children) if isinstance(c, extract.Node))
    raise AssertionError(name)


def test_parse_keeps_jsonld_and_leaves_out_scripts_styles_comments() -> None:
    html = (
        '<head><script type="application/ld+json">{"a": 1}</script><script>var x = "<p>";</script>'
        "<style>p{}</style></head><body><!-- <p>hidden</p> --><p>kept</p><noscript>n</noscript>"
        "<nav><a href=/>Home</a> <a href=/news>News</a></nav><footer>Contact</footer></body>"
    )
    out = str(parse(html))
    assert '{"a": 1}' in out and "var x" not in out and "p{}" not in out and "hidden" not in out
    assert "<p>kept</p>" in out and ">n<" not in out and "Home" not in out and "Contact" not in out


def test_build_flags_furniture_by_tag_role_class_and_hidden() -> None:
    root, _ = tree(
        '<body><div role="navigation" id="a"><p>x</p></div><div class="comment-list"><p>c</p></div>'
        '<div class="hidden"><p>h</p></div><div class="entry-content"><p>p</p></div></body>'
    )
    divs = [c for c in find(root, "body").children if isinstance(c, extract.Node)]
    assert divs[0].flags & BAD and divs[1].flags & CBAD and divs[2].flags & HIDDEN and divs[3].flags & POS


def test_layout_wrapper_with_negative_class_is_not_furniture() -> None:
    root, _ = tree(f'<body><div class="container has-sidebar"><h1>Title</h1><p>{PARA}</p></div></body>')
    assert not find(root, "div").flags & (BAD | CBAD)


def test_teaser_list_is_flagged() -> None:
    items = "".join(
        f'<li><a href="/s{i}">Story headline number {i} here</a> A short excerpt of it.</li>' for i in range(5)
    )
    root, _ = tree(f"<body><ul>{items}</ul><ol>{items}</ol></body>")
    assert find(root, "ul").flags & BAD
    assert not find(root, "ol").flags & BAD  # numbered lists are content


def test_select_picks_the_article_not_the_page() -> None:
    nav = "".join(f'<a href="/{i}">Menu entry {i}</a> ' for i in range(40))
    html = (
        f"<body><div id='menu'>{nav}</div><div id='story'><p>{PARA}</p><p>{PARA}</p><p>{PARA}</p></div>"
        f"<div id='sidebar-box'><p>{PARA}</p></div></body>"
    )
    root, _ = tree(html)
    container = extract.select_container(root)
    assert container.name == "div" and container.good >= 3 * len(PARA) - 10


def test_collect_blocks_kinds_lists_and_tables() -> None:
    root, _ = tree(
        "<body><div><h2>Symptoms</h2><p>Intro text.</p><ul><li>Fever</li><li>Cough</li></ul>"
        "<table><tr><td>Dose</td><td>5 mg</td></tr><tr><td>Age</td><td>12+</td></tr></table></div></body>"
    )
    blocks = collect_blocks(find(root, "div"))
    assert [b.kind for b in blocks] == ["h", "p", "li", "li", "cell", "cell", "cell", "cell"]
    text = "\n\n".join(postprocess(blocks, {}).paragraphs)
    assert text == "Symptoms\n\nIntro text.\n\nFever\nCough\n\nDose | 5 mg\nAge | 12+"


def test_postprocess_drops_furniture_headline_dateline_and_outside_repeats() -> None:
    blocks = [
        Block("h", "The Headline", 0, 0),
        Block("p", "March 3, 2020", 0, 0),
        Block("p", PARA, 0, 0),
        Block("p", "Share this article", 0, 0),
        Block("p", "Sign up for our newsletter today!", 0, 0),
        Block("p", "A repeated author bio that also sits in the sidebar of the page.", 0, 0, sig=(64, "A")),
        Block("h", "Related articles", 0, 0, opens_furniture=True),
        Block("p", PARA + " Teaser.", 0, 0),
    ]
    out = postprocess(blocks, {(64, "A"): 2}, {"the headline"})
    assert out.paragraphs == [PARA]
    assert out.dateline == "March 3, 2020"


def test_references_section_is_collected_apart() -> None:
    blocks = [
        Block("p", PARA, 0, 0),
        Block("h", "References", 0, 0, level=2),
        Block("li", "Smith J. A study of things. J Med. 2019;1:2-3.", 0, 1),
        Block("li", "Doe A. Another study. Lancet. 2018;4:5.", 0, 1),
    ]
    out = postprocess(blocks, {})
    assert out.paragraphs == [PARA] and len(out.references) == 2


def test_normalize_date() -> None:
    assert normalize_date("May 17, 2024") == "2024-05-17"
    assert normalize_date("2024-05-17T09:12:44-04:00") == "2024-05-17T09:12:44-04:00"
    assert normalize_date("2024-05-17") == "2024-05-17"
    assert normalize_date("Monday September 7 2009") == "2009-09-07"
    assert normalize_date("yesterday") is None and normalize_date("3000-01-01") is None and normalize_date("") is None


def test_parse_jsonld_flattens_graph_and_skips_garbage() -> None:
    objs = parse_jsonld(
        [
            '{"@graph": [{"@type": "WebSite"}, {"@type": "Article", "headline": "H"}]}',
            "{not json",
            '[{"@type": "BreadcrumbList"}]',
        ]
    )
    assert {o.get("@type") for o in objs} >= {"WebSite", "Article", "BreadcrumbList"}


def test_jsonld_article_body_is_a_fallback() -> None:
    body = "First paragraph of the article from the publisher's own JSON-LD copy, long enough. " * 4
    html = (
        '<html><head><script type="application/ld+json">{"@type": "NewsArticle", "headline": "H", '
        f'"articleBody": "{body}\\n\\nSecond paragraph &amp; more."}}</script></head>'
        '<body><div id="app"></div></body></html>'
    )
    r = extract_article(html)
    assert r["text"].startswith("First paragraph") and r["text"].endswith("Second paragraph & more.")
    assert r["page_type"] == "NewsArticle"


def test_visible_byline_and_dates_without_structured_metadata() -> None:
    html = (
        "<html><body><div><h1>Flu season starts early</h1><div><span>By</span> <a href='/a/jd'>Jane Doe</a>, MD"
        "</div><p>Updated: March 3, 2020</p><div><p>" + PARA + "</p><p>" + PARA + "</p></div></div></body></html>"
    )
    r = extract_article(html)
    assert r["authors"] == ["Jane Doe"]
    assert r["updated"] == "2020-03-03"
    assert r["title"] == "Flu season starts early"
    assert "Jane Doe" not in r["text"] and "Updated" not in r["text"] and PARA in r["text"]
