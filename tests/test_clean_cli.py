"""``healthdex clean`` run through click's test runner and as a real subprocess."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from stripper.cli import clean_command

ROOT = Path(__file__).resolve().parents[1]
WISEGEEK = ROOT / "healthdex/sample/pages/wisegeek.net/what-is-the-connection-between-sciatica-and-back-pain.htm.html"
WISEGEEK_URL = "https://www.wisegeek.net/what-is-the-connection-between-sciatica-and-back-pain.htm"
ARTICLE = (
    "<html lang='de'><head><meta charset='iso-8859-1'><title>Ärzte raten</title></head><body><nav>Menü</nav>"
    "<article><h1>Ärzte raten</h1><p>Gesunde Ernährung für Ältere ist wichtiger als man glaubt, sagen Ärzte "
    "übereinstimmend.</p></article></body></html>"
)


def run(*args: str) -> tuple[int, list[dict], str]:
    result = CliRunner().invoke(clean_command, list(args))
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines, result.stderr if hasattr(result, "stderr") else result.output


def write_warc(path: Path) -> None:
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        pages = [
            (
                "https://www.wisegeek.net/what-is-the-connection-between-sciatica-and-back-pain.htm",
                "text/html; charset=utf-8",
                WISEGEEK.read_bytes(),
            ),
            ("https://example.de/aerzte", "text/html; charset=ISO-8859-1", ARTICLE.encode("cp1252")),
            ("https://example.de/logo.png", "image/png", b"\x89PNG\r\n\x1a\n"),
        ]
        for url, ctype, body in pages:
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=headers)
            )
        writer.write_record(
            writer.create_warc_record("https://example.de/", "request", payload=io.BytesIO(b"GET / HTTP/1.1\r\n\r\n"))
        )


def test_single_file_with_url() -> None:
    code, lines, _ = run(str(WISEGEEK), "--url", WISEGEEK_URL)
    assert code == 0 and len(lines) == 1
    obj = lines[0]
    assert obj["source"] == str(WISEGEEK)
    assert obj["url"] == WISEGEEK_URL and obj["id"] == WISEGEEK_URL and obj["site"] == "wisegeek.net"
    assert obj["title"] == "What is the Connection Between Sciatica and Back Pain?"
    assert obj["authors"] == ["Dan Cavallari"] and obj["updated"].startswith("2024-05-17")
    assert "Advertiser Disclosure" not in obj["text"] and obj["text"].startswith("Sciatica is a condition")
    for key in ("published", "language", "categories", "reviewers", "references", "page_type", "content_hash"):
        assert key in obj


def test_folder_recursive_sorted_with_gzip_and_unreadable_page(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.html.gz").write_bytes(gzip.compress(ARTICLE.encode("cp1252")))
    (tmp_path / "a.htm").write_bytes(ARTICLE.encode("cp1252"))
    (tmp_path / "empty.html").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a page")
    code, lines, _ = run(str(tmp_path))
    assert code == 0
    assert [Path(o["source"]).name for o in lines] == ["a.htm", "z.html.gz", "empty.html"]  # sorted paths
    sources = [o["source"] for o in lines]
    assert sources == sorted(sources)
    assert len(lines) == 3
    good = [o for o in lines if "error" not in o]
    assert len(good) == 2
    for obj in good:
        assert "Gesunde Ernährung für Ältere" in obj["text"] and "Menü" not in obj["text"]
        assert obj["language"] == "de"
    errors = [o for o in lines if "error" in o]
    assert errors[0]["source"].endswith("empty.html") and "\n" not in errors[0]["error"]


def test_warc_records(tmp_path: Path) -> None:
    warc = tmp_path / "crawl.warc.gz"
    write_warc(warc)
    code, lines, _ = run(str(warc))
    assert code == 0
    assert len(lines) == 2  # the PNG response and the request record are skipped
    assert all(o["source"].startswith(f"{warc}#<urn:uuid:") for o in lines)
    assert lines[0]["url"] == WISEGEEK_URL and lines[0]["site"] == "wisegeek.net"
    assert lines[1]["url"] == "https://example.de/aerzte"
    assert "Gesunde Ernährung für Ältere" in lines[1]["text"]  # charset from the HTTP header


def test_nothing_cleaned_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_bytes(bytes(range(256)) * 8)
    code, lines, _ = run(str(bad))
    assert code == 1
    assert lines == [{"source": str(bad), "error": lines[0]["error"]}]


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    code, lines, err = run(str(tmp_path / "nope.html"))
    assert code == 2 and lines == []
    assert "no such file or folder" in err and "Traceback" not in err


def test_url_needs_one_html_file(tmp_path: Path) -> None:
    code, _, err = run(str(WISEGEEK), str(WISEGEEK), "--url", WISEGEEK_URL)
    assert code == 2 and "--url" in err


@pytest.mark.parametrize("args", [["clean"], ["clean", "/definitely/not/here"]])
def test_real_command_usage_errors(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "healthdex", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_real_command_outputs_json_lines() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "healthdex", "clean", str(WISEGEEK), "--url", WISEGEEK_URL],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert obj["categories"] == ["Health"] and obj["content_hash"].startswith("sha256:")


# --- --explain, every core, summary, limits (issue 16, issue 18 items 5-6) ---------------------------------------

ACCORDION = (
    "<html><head><title>Tinnitus</title></head><body><nav><a href=/>Home</a></nav><main><article>"
    "<h1>Tinnitus</h1><p>Tinnitus is a ringing or buzzing in the ears that nobody else can hear, and it is common.</p>"
    '<div class="share-bar"><a href="/s">Share</a> <a href="/t">Tweet</a></div>'
    "<p>Loud noise, ear wax and some medicines cause it; so does the slow hearing loss that comes with age.</p>"
    "<p>Advertisement</p><p>Sound therapy and hearing aids help many people to notice the sound less.</p>"
    "</article></main></body></html>"
)


def test_explain_shows_container_dropped_blocks_and_text(tmp_path: Path) -> None:
    page = tmp_path / "tinnitus.html"
    page.write_text(ACCORDION, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "healthdex", "clean", "--explain", str(page)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"page: {page}"
    assert lines[1].startswith("container html > body > main > article: score ")
    assert "dropped … > main > article > div.share-bar: class/id word 'share': 'Share Tweet'" in lines
    assert "dropped p 'Advertisement': a furniture label (share, related, newsletter, advertisement ...)" in lines
    assert "dropped h 'Tinnitus': the headline" in lines
    assert lines[-1] == "text: 265 characters in 3 paragraphs from the container"
    assert "{" not in proc.stdout  # no JSON: an explanation instead


def test_explain_needs_one_html_file(tmp_path: Path) -> None:
    code, lines, err = run("--explain", str(tmp_path))
    assert code == 2 and lines == [] and "--explain needs exactly one HTML file" in err


def test_every_core_gives_the_same_output_in_the_same_order(tmp_path: Path) -> None:
    for i in range(30):  # more pages than one batch per worker
        body = ARTICLE.replace("Ärzte raten", f"Ärzte raten {i}").encode("cp1252")
        if i % 3:
            (tmp_path / f"page-{i:02d}.html.gz").write_bytes(gzip.compress(body))
        else:
            (tmp_path / f"page-{i:02d}.htm").write_bytes(body)
    (tmp_path / "page-15.html").write_bytes(b"")  # an unreadable page among them
    one = subprocess.run([sys.executable, "-m", "healthdex", "clean", "--jobs", "1", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)  # fmt: skip
    two = subprocess.run([sys.executable, "-m", "healthdex", "clean", "--jobs", "2", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)  # fmt: skip
    assert one.returncode == two.returncode == 0
    assert two.stdout == one.stdout
    sources = [json.loads(line)["source"] for line in two.stdout.splitlines()]
    assert sources == sorted(sources) and len(sources) == 31
    summary = "healthdex clean: 31 pages: 30 articles, 0 empty, 1 errors"
    assert two.stderr.strip() == one.stderr.strip() == summary


def test_summary_counts_empty_pages_by_reason(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "b.html").write_text("<html><body><div id=app></div></body></html>", encoding="utf-8")
    menu = "".join(f"<li><a href=/{i}>Section {i}</a></li>" for i in range(20))
    (tmp_path / "c.html").write_text(f"<html><body><ul>{menu}</ul></body></html>", encoding="utf-8")
    code, lines, err = run("--jobs", "1", str(tmp_path))
    assert code == 0
    assert [o.get("empty_reason") for o in lines] == [None, "no text", "no prose"]
    assert "healthdex clean: 3 pages: 1 articles, 2 empty (1 no prose, 1 no text), 0 errors" in err


def test_a_page_over_the_depth_limit_is_flattened_and_the_next_page_cleaned(tmp_path: Path) -> None:
    (tmp_path / "a-deep.html").write_text("<html><body><p>" + "Text of a deep page, long enough. " * 3 + "</p>"
                                          + "<div>" * 5000 + "x</body></html>", encoding="utf-8")  # fmt: skip
    (tmp_path / "b-next.html").write_text(ARTICLE, encoding="utf-8")
    env = {**os.environ, "HEALTHDEX_MAX_TREE_DEPTH": "100"}
    proc = subprocess.run([sys.executable, "-m", "healthdex", "clean", "--jobs", "1", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)  # fmt: skip
    assert proc.returncode == 0
    deep, after = (json.loads(line) for line in proc.stdout.splitlines())
    assert deep["text"].startswith("Text of a deep page") and deep["limits"] == [
        "elements nested deeper than 100: flattened into their ancestor (HEALTHDEX_MAX_TREE_DEPTH)"
    ]
    assert "Gesunde Ernährung" in after["text"] and "limits" not in after
    assert f"healthdex clean: {tmp_path / 'a-deep.html'}: elements nested deeper than 100" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_bad_limit_setting_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(ARTICLE, encoding="utf-8")
    env = {**os.environ, "HEALTHDEX_MAX_TREE_DEPTH": "deep"}
    for jobs in ("1", "2"):
        proc = subprocess.run([sys.executable, "-m", "healthdex", "clean", "--jobs", jobs, str(tmp_path)],
                              capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)  # fmt: skip
        assert proc.returncode == 2 and proc.stdout == ""
        assert "HEALTHDEX_MAX_TREE_DEPTH must be a positive whole number, not 'deep'" in proc.stderr
        assert "Traceback" not in proc.stderr


def _die_on_three(item: int) -> int:
    """Run in a pool worker: item 3 kills the worker (as the kernel kills a process out of memory)."""
    if item == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return item * 2


def test_a_worker_that_dies_costs_only_its_item() -> None:
    from stripper.pool import ordered_map

    out = list(ordered_map(_die_on_three, range(40), 2, on_crash=lambda item: ("died", item)))
    assert out == [i * 2 if i != 3 else ("died", 3) for i in range(40)]
