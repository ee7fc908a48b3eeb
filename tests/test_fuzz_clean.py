"""Issue 6: ``healthdex clean`` over hostile input — no exception escapes, an unreadable page is an ``error`` record.

Every page of ../shared/data/health-pages goes through the real command; generated malformed HTML (hypothesis)
goes through the same code path in this process (``stripper.cli.clean_pages``, what the command runs), and a
folder of the nastiest cases through the real command too.
"""

from __future__ import annotations

import gzip
import json
import time
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stripper.cli import clean_pages
from stripper.sources import HTML_SUFFIXES, Page

from support import run_healthdex

PAGE_TIME_LIMIT_S = 10.0


def _records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_clean_every_shared_health_page(shared_dir):
    pages_dir = shared_dir / "data" / "health-pages"
    files = sorted(p for p in pages_dir.rglob("*") if p.is_file() and p.name.lower().endswith(HTML_SUFFIXES))
    assert len(files) > 100
    result = run_healthdex("clean", str(pages_dir), timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    records = _records(result.stdout)
    assert sorted(r["source"] for r in records) == sorted(str(p) for p in files)
    for record in records:
        assert ("error" in record) != ("text" in record), record.get("source")
    assert sum("error" not in r for r in records) > 0.8 * len(records)


TAGS = [
    "html",
    "head",
    "body",
    "p",
    "div",
    "span",
    "table",
    "tr",
    "td",
    "script",
    "style",
    "article",
    "main",
    "title",
    "meta",
    "a",
    "br",
    "svg",
    "math",
    "template",
    "iframe",
    "noscript",
    "textarea",
    "plaintext",
    "xmp",
    "!--",
    "![CDATA[",
    "?xml",
    "!DOCTYPE",
]


@st.composite
def malformed_html(draw) -> bytes:
    pieces = []
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.integers(0, 6))
        tag = draw(st.sampled_from(TAGS))
        if kind == 0:
            attrs = draw(st.text(max_size=30))
            pieces.append(f"<{tag} {attrs}>")
        elif kind == 1:
            pieces.append(f"</{tag}>")
        elif kind == 2:
            pieces.append(draw(st.text(max_size=80)))
        elif kind == 3:
            charset = draw(st.sampled_from(["utf-8", "x-bogus", "utf-16", "", "latin1", "utf-7"]))
            pieces.append(f'<meta charset="{charset}">')
        elif kind == 4:
            entity = draw(st.sampled_from(["amp", "#0", "#x110000", "#99999999999", "nbsp", "", "lt"]))
            pieces.append(f"&{entity};")
        elif kind == 5:
            depth = draw(st.integers(1, 3000))
            pieces.append(f"<{tag}>" * depth)
        else:
            pieces.append(draw(st.sampled_from(["<", ">", "<<>>", "<p <p", "</>", "<a href='", '"', "\x00", "\ufeff"])))
    text = "".join(pieces)
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1", "raw"]))
    if encoding == "raw":
        return text.encode("utf-8", "surrogatepass") + draw(st.binary(max_size=50))
    return text.encode(encoding, "replace")


def _clean_one(body: bytes, url: str | None = None, charset: str | None = None) -> dict:
    started = time.monotonic()
    records = list(clean_pages([Page("generated.html", body, url, charset)]))
    assert time.monotonic() - started < PAGE_TIME_LIMIT_S
    assert len(records) == 1
    record = records[0]
    assert ("error" in record) != ("text" in record), record
    json.dumps(record, ensure_ascii=False).encode("utf-8")  # writable as the command writes it
    return record


@settings(
    max_examples=400,
    deadline=timedelta(seconds=PAGE_TIME_LIMIT_S),
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(
    body=st.one_of(malformed_html(), st.binary(max_size=2000)),
    url=st.sampled_from([None, "https://www.example.org/a.html", "not a url", "http://[::1/x", "javascript:x"]),
    charset=st.sampled_from([None, "utf-8", "x-no-such-charset", "utf-16", "\x00"]),
)
def test_generated_malformed_html(body, url, charset):
    _clean_one(body, url, charset)


NASTY = {
    "deep-100k.html": b"<html><body>" + b"<div>" * 100_000 + b"<p>deep text</p>" + b"</div>" * 100_000,
    "deep-unclosed.html": b"<p><b><i><u>" * 30_000,
    "nul.html": b"<html>\x00<body><p>" + b"\x00" * 10_000 + b"text</p></body></html>",
    "one-line-5mb.html": b"<html><body><p>" + b"word " * 1_000_000 + b"</p></body></html>",
    "binary.html": bytes(range(256)) * 4000,
    "empty.html": b"",
    "utf16-no-bom.html": "<html><body><p>Hello</p></body></html>".encode("utf-16-le"),
    "bad-gzip.html.gz": b"\x1f\x8b\x08\x00garbage",
    "mixed.htm": "<p>caf\u00e9</p>".encode() + "<p>caf\u00e9</p>".encode("latin-1") + b"\xff\xfe\x80",
    "entities.html": b"<p>" + b"&#x110000;&#0;&#99999999999;&nbsp" * 5000 + b"</p>",
}


def test_clean_command_over_nasty_files(tmp_path):
    folder = tmp_path / "nasty"
    folder.mkdir()
    for name, body in NASTY.items():
        (folder / name).write_bytes(body)
    (folder / "ok.html.gz").write_bytes(
        gzip.compress(
            b"<html><head><title>Fine</title></head><body><article><h1>Fine</h1>"
            + b"<p>A perfectly ordinary paragraph about sleep and health, long enough to be kept as text.</p>" * 5
            + b"</article></body></html>"
        )
    )
    unreadable = folder / "unreadable.html"
    unreadable.write_bytes(b"<p>x</p>")
    unreadable.chmod(0)
    started = time.monotonic()
    result = run_healthdex("clean", str(folder), timeout=300)
    assert time.monotonic() - started < 120
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 0, result.stderr
    records = {r["source"].rsplit("/", 1)[-1]: r for r in _records(result.stdout)}
    assert set(records) == set(NASTY) | {"ok.html.gz", "unreadable.html"}
    assert "text" in records["ok.html.gz"]
    assert "error" in records["bad-gzip.html.gz"]
    import os

    if os.geteuid() != 0:  # root reads a mode-0 file anyway
        assert "error" in records["unreadable.html"]
    for name, record in records.items():
        assert ("error" in record) != ("text" in record), name
