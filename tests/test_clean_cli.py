"""``healthdex clean`` run through click's test runner and as a real subprocess."""

from __future__ import annotations

import gzip
import io
import json
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
