"""Each way the stripper used to lose a page's whole article (or real sentences of it), on a small fragment: the
article comes out now.  Fallbacks on real pages are in test_stripper_fallbacks.py."""

from __future__ import annotations

import json

import pytest

from stripper import extract_article

P1 = "Hearing loss is common as people get older, and it often comes on so slowly that nobody notices it at first."
P2 = "Doctors recommend a hearing test every few years after the age of fifty, and sooner if family members worry."
P3 = "Hearing aids have become smaller and cheaper, and many models now connect to a phone for calls and music."
P4 = "Untreated hearing loss is linked with loneliness and a faster decline in memory, several large studies found."


def text_of(html: str) -> str:
    return extract_article(html, "https://example.org/health/hearing")["text"]


def page(body: str, head: str = "<title>Hearing loss</title>") -> str:
    return f"<!DOCTYPE html><html lang=en><head>{head}</head><body>{body}</body></html>"


ARTICLE = f"<h1>Hearing loss</h1><p>{P1}</p><p>{P2}</p><p>{P3}</p><p>{P4}</p>"


# --- pre-cut: the source used to be cut by string search before parsing ------------------------------------


@pytest.mark.parametrize(
    "markup",
    [
        '<svg class="icon" viewBox="0 0 1 1"/>',  # self-closed: cut up to the next </svg or the end of the file
        "<!-->",  # an empty comment: cut up to the next -->
        "<!--->",
        "<!-- note --!>",  # a comment closed by --!>
    ],
)
def test_markup_before_the_article_does_not_cut_it(markup: str) -> None:
    html = page(f"<header><a href=/>Home</a></header>{markup}<article>{ARTICLE}</article>"
                "<footer><!-- site footer --><a href=/about>About us</a></footer>")  # fmt: skip
    text = text_of(html)
    for para in (P1, P2, P3, P4):
        assert para in text


def test_comment_opener_inside_title_or_attribute_does_not_cut() -> None:
    html = page(
        f'<article><div data-note="<!-- not a comment"><p>{P1}</p><p>{P2}</p></div><p>{P3}</p><p>{P4}</p></article>'
        "<!-- a real comment -->",
        head="<title>Hearing <!-- loss</title>",
    )
    text = text_of(html)
    for para in (P1, P2, P3, P4):
        assert para in text


def test_aspnet_page_form_around_an_article_of_divs_is_kept() -> None:
    """The classic ASP.NET layout: one <form> around the whole page, the article made of divs, <br> and <h2>."""
    body = (
        '<form name="aspnetForm" method="post" action="./article.aspx" id="aspnetForm">'
        '<div><input type="hidden" name="__VIEWSTATE" value="xyz"></div>'
        '<div id="menu"><a href="/">Home</a> | <a href="/topics">Topics</a></div>'
        f'<div id="content"><h2>Hearing loss</h2><div class="text">{P1}<br><br>{P2}<br><br>{P3}<br><br>{P4}</div></div>'
        "</form>"
        f'<div id="bottom"><p>{ABOUT}</p><p>{ABOUT}</p></div>'  # more paragraph text than the form holds
    )
    text = text_of(page(body))
    for para in (P1, P2, P3, P4):
        assert para in text


ABOUT = (
    "This site gives general information about hearing, balance and the ear, written by volunteers and reviewed "
    "once a year; it does not replace a visit to your own doctor or pharmacist, who know your history."
)


# --- hidden content ----------------------------------------------------------------------------------------


def test_collapsed_accordion_panels_are_article() -> None:
    body = (
        f"<main><h1>Hearing loss</h1><p>{P1}</p>"
        '<div class="accordion">'
        '<h2><button aria-expanded="false" aria-controls="s1">What are the signs?</button></h2>'
        f'<div id="s1" role="region" aria-labelledby="b1" hidden><p>{P2}</p></div>'
        '<h2><button aria-expanded="false" aria-controls="s2">How is it treated?</button></h2>'
        f'<div id="s2" hidden="until-found"><p>{P3}</p></div>'
        '<h2><button aria-expanded="false">When to see a doctor</button></h2>'
        f'<div class="accordion-collapse" aria-hidden="true"><p>{P4}</p></div>'
        "</div></main>"
    )
    text = text_of(page(body))
    for para in (P1, P2, P3, P4):
        assert para in text
    assert "What are the signs?" in text  # the panel's title, in a <button> inside the heading


def test_hidden_tab_panels_are_article() -> None:
    body = (
        f"<article><h1>Hearing loss</h1><p>{P1}</p>"
        '<div role="tablist"><button role="tab">Adults</button><button role="tab">Children</button></div>'
        f'<div role="tabpanel" id="t1"><p>{P2}</p><p>{P3}</p></div>'
        f'<div role="tabpanel" id="t2" hidden><p>{P4}</p></div></article>'
    )
    assert P4 in text_of(page(body))


def test_hidden_furniture_stays_out() -> None:
    body = (
        f"<article><h1>Hearing loss</h1><p>{P1}</p><p>{P2}</p>"
        '<div class="paywall-notice" hidden><p>This content is reserved for subscribers only, subscribe now to read '
        "the whole story and everything else we publish.</p></div><p>{P3}</p></article>"
    )
    assert "reserved for subscribers" not in text_of(page(body))


def test_a_hidden_copy_does_not_cancel_its_visible_twin() -> None:
    copy = f"<h1>Hearing loss</h1><p>{P1}</p><p>{P2}</p><p>{P3}</p><p>{P4}</p>"
    for hidden in ('style="display:none"', 'class="print-only hidden"', "hidden"):
        text = text_of(page(f"<div id=print {hidden}>{copy}</div><article>{copy}</article>"))
        for para in (P1, P2, P3, P4):
            assert para in text, hidden


def test_a_second_visible_copy_for_small_screens_does_not_cancel_the_first() -> None:
    copy = f"<p>{P1}</p><p>{P2}</p><p>{P3}</p><p>{P4}</p>"
    for html in (
        page(f'<div class="desktop-only"><h1>Hearing loss</h1>{copy}</div><div class="mobile-only">{copy}</div>'),
        page(f'<div class="l"><article>{copy}</article></div><div class="s"><article>{copy}</article></div>'),
    ):
        text = text_of(html)
        for para in (P1, P2, P3, P4):
            assert para in text
        assert text.count(P1) == 1


# --- selection ---------------------------------------------------------------------------------------------


def test_short_article_in_a_wrapper_with_a_negative_class_beats_a_site_blurb() -> None:
    blurb = (
        "Welcome to Healthy Ears, the community site for people living with hearing loss, their families and the "
        "audiologists who help them, run by volunteers since 2009."
    )
    body = (
        f'<div class="site-intro"><p>{blurb}</p></div>'
        f'<div class="layout with-sidebar"><div class="story"><p>{P1}</p><p>{P2}</p></div>'
        '<div class="sidebar"><ul><li><a href=/a>Events</a></li><li><a href=/b>Contact</a></li></ul></div></div>'
    )
    text = text_of(page(body))
    assert P1 in text and P2 in text


@pytest.mark.parametrize(
    "sentence",
    [
        "By the age of 65, most people have some hearing loss.",
        "More than half of adults get news from social media.",
        "More from the study: hearing declines slowly in most people.",
        "Related to this, the risk of falls doubles.",
        "Sign up for a hearing test if you notice any of these signs.",
    ],
)
def test_short_block_patterns_keep_real_sentences(sentence: str) -> None:
    text = text_of(page(f"<article>{ARTICLE}<p>{sentence}</p></article>"))
    assert sentence in text


def test_short_block_patterns_still_drop_labels() -> None:
    labels = ["By Jane Doe", "Related articles", "More health news", "Share this article", "Advertisement"]
    text = text_of(page(f"<article>{ARTICLE}" + "".join(f"<p>{label}</p>" for label in labels) + "</article>"))
    for label in labels:
        assert label not in text


# --- JSON-LD ---------------------------------------------------------------------------------------------------


def test_deeply_nested_jsonld_is_skipped_and_the_article_kept() -> None:
    """200 KB of nested arrays used to escape the JSON-LD parser as RecursionError: the page became an error."""
    hostile = "[" * 100_000 + "]" * 100_000
    good = json.dumps({"@type": "NewsArticle", "headline": "Hearing loss", "author": {"name": "Jane Doe"}})
    head = f'<script type="application/ld+json">{hostile}</script><script type="application/ld+json">{good}</script>'
    result = extract_article(page(f"<article>{ARTICLE}</article>", head=head), "https://example.org/a")
    assert P1 in result["text"] and result["authors"] == ["Jane Doe"]


def test_ruby_readings_are_text_in_the_parentheses_a_browser_without_ruby_shows() -> None:
    """BeautifulSoup gives <rt>/<rp> text its own string classes, which the walk used to leave out: the reading
    of a name vanished and its parentheses with it (Japanese news pages)."""
    ruby = "<ruby><rb>尹錫悦</rb><rp>（</rp><rt>ユンソンニョル</rt><rp>）</rp></ruby>"
    text = text_of(page(f"<article><h1>Hearing loss</h1><p>{P1} {ruby} {P2}</p><p>{P3}</p><p>{P4}</p></article>"))
    assert "尹錫悦（ユンソンニョル）" in text and P3 in text
