"""crawler.links: the regex link scanner gives what an HTML parser gives (lxml's ``//a/@href | //area/@href``)."""

from __future__ import annotations

import csv
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from scrapy.http import HtmlResponse

from crawler.links import page_links

SAMPLE = Path(__file__).resolve().parents[1] / "healthdex" / "sample" / "pages"
SHARED = Path(__file__).resolve().parents[2] / "shared"  # the 424 saved health pages, when present


def parser_links(response: HtmlResponse, domains: tuple[str, ...]) -> list[str]:
    """The reference: the same rules over the response's lxml tree (what crawler.links did before the scanner)."""
    root = response.selector.root
    page_url = response.url
    base = root.xpath("string(//base/@href)")
    base_url = urljoin(page_url, base.strip()) if base else page_url
    out, seen = [], set()
    for href in root.xpath("//a/@href | //area/@href"):
        href = str(href).strip()
        if not href or href.lower().startswith(("javascript:", "mailto:", "tel:", "data:", "#")):
            continue
        url = urljoin(base_url, href).partition("#")[0]
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if url in seen or parts.scheme not in ("http", "https"):
            continue
        seen.add(url)
        if any(host == d or host.endswith("." + d) for d in domains):
            out.append(url)
    return out


def _pages(shared_dir) -> list[tuple[str, str, str]]:
    pages = []
    with open(SAMPLE / "MANIFEST.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            path = SAMPLE / row["file"]
            if path.suffix == ".html" and path.exists():
                pages.append((str(path), row.get("url") or row.get("original_url") or "", row.get("site", "")))
    if shared_dir is not None:
        root = shared_dir / "data" / "health-pages"
        with open(root / "MANIFEST.tsv", encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                pages.append((str(root / row["file"]), row["original_url"], row["site"]))
    return pages


def test_same_links_as_an_html_parser_on_real_pages():
    pages = _pages(SHARED if SHARED.is_dir() else None)
    assert len(pages) >= 10
    compared = 0
    for path, url, site in pages:
        url = url or "https://www.example.org/page.html"
        host = urlsplit(url).hostname or site
        domains = (host.removeprefix("www."),)
        response = HtmlResponse(url=url, body=Path(path).read_bytes())
        expected = parser_links(response, domains)
        assert page_links(response, domains) == expected, path
        compared += bool(expected)
    assert compared >= 10  # pages with on-site links: the comparison is not vacuous


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ('<a href="/a">x</a><a href="/a#top">y</a>', ["https://site.org/a"]),
        ('<a class="x"href="/b">x</a>', ["https://site.org/b"]),
        ("<a href=/c?x=1&amp;y=2>x</a>", ["https://site.org/c?x=1&y=2"]),
        ("<!-- <a href='/hidden'>x</a> --><a href='/d'>d</a>", ["https://site.org/d"]),
        ('<script>var s = "<a href=/js>";</script><a href="/e">e</a>', ["https://site.org/e"]),
        ('<base href="https://site.org/dir/"><a href="f.html">f</a>', ["https://site.org/dir/f.html"]),
        ('<a href="https://other.com/x">o</a><a href="https://sub.site.org/y">s</a>', ["https://sub.site.org/y"]),
        ('<a href="javascript:void(0)">j</a><a href="mailto:a@b.c">m</a><a data-href="/no">n</a>', []),
        ('<map><area href="/g" alt="g"></map><link href="/style.css">', ["https://site.org/g"]),
        ('<a href="../up/./h">h</a>', ["https://site.org/up/h"]),
    ],
)
def test_edge_cases_match_the_parser(markup, expected):
    page = "https://site.org/topic/page.html"
    response = HtmlResponse(url=page, body=f"<html><body>{markup}</body></html>".encode())
    assert page_links(response, ("site.org",)) == expected
    assert parser_links(response, ("site.org",)) == expected


def _one_pass_scan(text: str) -> tuple[list[str], str | None]:
    """The scan as one regex over the page with inert markup matched whole (``_INERT``): the definition the
    faster scan (openings only, ends looked up) must equal."""
    import re

    from crawler.links import _ATTR, _INERT, _value

    pattern = re.compile(_INERT + r"|<(?:a|area)\b[^>]*?" + _ATTR + r"|<base\b[^>]*?" + _ATTR, re.S | re.I)
    hrefs, base = [], None
    for match in pattern.finditer(text):
        link, quoted, bare, *base_groups = match.groups()[1:]
        if link is not None or quoted is not None or bare is not None:
            hrefs.append(link if link is not None else quoted if quoted is not None else bare)
        elif base is None and any(g is not None for g in base_groups):
            base = _value(next(g for g in base_groups if g is not None))
    return hrefs, base


def test_scan_equals_the_one_pass_definition_on_random_markup():
    import random

    from crawler.links import _scan

    pieces = ['<a href="/x">', "<A HREF='/y'>", "<a class=b href=/z>", "<area href=/m>", '<base href="/b/">',
              "<!--", "-->", "<!-->", "<script>", "</script>", "</SCRIPT >", "<ScRiPt type=x>", "</script\n>",
              "<style>", "</style>", "<template>", "</template>", "<textarea>", "</textarea>", "\u017fcript",
              "<\u017fcript>", "</\u017fcript>", "</s\u017fcript>", "<script", ">", "text ", "\n", "<p>", "</a>",
              "<a\nhref='/q&amp;r'>", "<base href=x>", '"', "'", "<a href=", "\u212a", "<textarea\u212a>"]
    rng = random.Random(5)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        assert _scan(text) == _one_pass_scan(text), text


def test_scan_equals_the_one_pass_definition_on_real_pages(shared_dir):
    from crawler.links import _scan

    for path, _, _ in _pages(shared_dir):
        text = Path(path).read_bytes().decode("utf-8", "replace")
        assert _scan(text) == _one_pass_scan(text), path
