"""Issue 18: damaged WARCs.  A damaged stretch is skipped and reported in one line (file, offset, reason); every
record after it is still read by resume, ``healthdex clean`` and ``healthdex replay``; only a torn tail is cut."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from faultlib import REPO, build_site, crawl_args, healthdex_env, write_profile
from faultpoints_env import fault_env
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.warc_store import WarcStore
from healthdex.warc_reader import WarcReader, damage_of
from replay.source import load_source

from support import run_healthdex


def _page(i: int) -> bytes:
    words = " ".join(f"word{(i * 7 + k) % 97}" for k in range(300))
    return (
        f"<html><head><title>Page {i}</title></head><body><article><h1>Page {i}</h1>"
        f"<p>Sleep and health page {i}. {words}</p></article></body></html>"
    ).encode()


def _write_warc(path, n: int = 12, gzip: bool = True) -> None:
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=gzip)
        for i in range(n):
            body = _page(i)
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(
                    f"https://www.example.org/p{i}.html",
                    "response",
                    payload=io.BytesIO(body),
                    length=len(body),
                    http_headers=http,
                )
            )


def _urls(path) -> list[str]:
    return [record.rec_headers.get_header("WARC-Target-URI") for _, record in WarcReader(path).records()]


def _flip(path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x55
    path.write_bytes(bytes(data))


def _spans(path) -> list[tuple[int, int]]:
    return list(WarcReader(path).spans())


def test_gzip_member_damaged_in_the_middle_is_skipped_and_the_rest_read(tmp_path):
    path = tmp_path / "pages.warc.gz"
    _write_warc(path)
    start, end = _spans(path)[5]
    _flip(path, (start + end) // 2)
    reader = WarcReader(path, on_damage=lambda damage: None)
    urls = [record.rec_headers.get_header("WARC-Target-URI") for _, record in reader.records()]
    assert urls == [f"https://www.example.org/p{i}.html" for i in range(12) if i != 5]
    [damage] = reader.damage
    assert (damage.offset, damage.length, damage.torn) == (start, end - start, False)
    assert str(damage).startswith(f"{path}: damaged: skipped {end - start} bytes at offset {start}: ")


@pytest.mark.parametrize("where", ["body", "content-length", "header"])
def test_plain_warc_damaged_in_the_middle_resynchronises(tmp_path, where):
    path = tmp_path / "pages.warc"
    _write_warc(path, gzip=False)
    start, end = _spans(path)[6]
    record = path.read_bytes()[start:end]
    offset = {
        "body": record.index(b"Sleep and health"),
        "content-length": record.index(b"Content-Length: ") + 16,
        "header": 2,
    }[where]
    _flip(path, start + offset)
    reader = WarcReader(path, on_damage=lambda damage: None)
    urls = [record.rec_headers.get_header("WARC-Target-URI") for _, record in reader.records()]
    assert urls == [f"https://www.example.org/p{i}.html" for i in range(12) if i != 6]
    assert [(d.offset, d.length) for d in reader.damage] == [(start, end - start)]


def test_record_cut_short_under_a_huge_content_length_is_no_page(tmp_path):
    path = tmp_path / "pages.warc.gz"
    _write_warc(path, n=3)
    start, end = _spans(path)[1]
    data = path.read_bytes()
    import gzip as gz

    record = gz.decompress(data[start:end])
    short = record.replace(b"Content-Length: ", b"Content-Length: 99999", 1)  # a huge length over a short block
    path.write_bytes(data[:start] + gz.compress(short) + data[end:])
    reader = WarcReader(path, on_damage=lambda damage: None)
    assert [u.rsplit("/", 1)[1] for u in _urls(path)] == ["p0.html", "p2.html"]
    list(reader.records())
    assert "record cut short: Content-Length 99999" in reader.damage[0].reason and not reader.damage[0].torn
    clean = run_healthdex("clean", str(path), timeout=120)
    assert "Traceback" not in clean.stderr and clean.returncode == 0, clean.stderr
    out = [json.loads(line) for line in clean.stdout.splitlines()]
    assert [o.get("url", "").rsplit("/", 1)[-1] for o in out if "error" not in o] == ["p0.html", "p2.html"]
    assert [o["source"] for o in out if "error" in o] == [f"{path}@{start}"]


def test_torn_tail_is_told_apart_from_damage(tmp_path):
    path = tmp_path / "pages.warc.gz"
    _write_warc(path, n=4)
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size - 40])
    checked = damage_of(path)
    assert checked.torn_at == _spans(path)[-1][1] and checked.damage[0].torn
    plain = tmp_path / "pages.warc"
    _write_warc(plain, n=4, gzip=False)
    plain.write_bytes(plain.read_bytes()[:-100])
    assert damage_of(plain).torn_at is not None and len(_urls(plain)) == 3


def test_reopened_store_keeps_every_record_after_damage(tmp_path):
    path = tmp_path / "pages.warc.gz"
    _write_warc(path)
    start, end = _spans(path)[4]
    _flip(path, (start + end) // 2)
    size = path.stat().st_size
    store = WarcStore(path, {"software": "test"})
    store.close()
    assert path.stat().st_size > size and store.repaired_bytes == 0  # nothing cut, a warcinfo appended
    assert [(d.offset, d.length) for d in store.damage] == [(start, end - start)]
    assert len([u for u in _urls(path) if u and u.startswith("https://")]) == 11


def test_clean_of_damaged_warcs_reports_and_goes_on(tmp_path):
    for gzip in (True, False):
        path = tmp_path / ("pages.warc.gz" if gzip else "pages.warc")
        _write_warc(path, gzip=gzip)
        start, end = _spans(path)[3]
        _flip(path, start + (end - start) // 3)
        clean = run_healthdex("clean", str(path), timeout=120)
        assert "Traceback" not in clean.stderr and clean.returncode == 0, clean.stderr
        out = [json.loads(line) for line in clean.stdout.splitlines()]
        assert len([o for o in out if "error" not in o]) == 11
        [error] = [o for o in out if "error" in o]
        assert error["source"] == f"{path}@{start}" and f"at offset {start}" in error["error"]


def test_replay_serves_the_rest_of_a_damaged_warc(tmp_path):
    path = tmp_path / "pages.warc.gz"
    _write_warc(path)
    start, end = _spans(path)[2]
    _flip(path, (start + end) // 2)
    archive = load_source(path)
    assert len(archive) == 11 and any(f"at offset {start}" in line for line in archive.skipped)
    page = archive.resolve("https://www.example.org/p7.html")
    assert b"Page 7" in page.load()


def _warc_ids(path) -> set[str]:
    return {record.rec_headers.get_header("WARC-Record-ID") for _, record in WarcReader(path).records()}


def test_resume_after_a_damaged_byte_keeps_every_readable_record(tmp_path):
    """A crawl killed mid-way, a byte of its WARC damaged, then resumed: nothing readable is deleted, the damage is
    in the summary and crawl-report.json, and no articles.jsonl line points at a record that is gone."""
    from replay.server import ReplayServer

    site = build_site(tmp_path, n_good=16)
    profiles = tmp_path / "profiles"
    write_profile(profiles)
    out = tmp_path / "out"
    warc = out / "pages.warc.gz"
    with ReplayServer(site.folder) as server:
        args = [sys.executable, "-m", "healthdex", *crawl_args(out, server.proxy_url)]
        killed = subprocess.run(
            args,
            cwd=REPO,
            env=healthdex_env(profiles, fault_env("crawl.article.after_line#8")),
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert killed.returncode == -9, killed.stderr[-2000:]
        articles = [json.loads(line) for line in (out / "articles.jsonl").read_text().splitlines()]
        spans = _spans(warc)
        offsets = {o: r.rec_headers.get_header("WARC-Record-ID") for o, r in WarcReader(warc).records()}
        victim = next(a for a in articles[2:] if a["warc_record_id"] in offsets.values())
        start = next(o for o, i in offsets.items() if i == victim["warc_record_id"])
        end = next(e for s, e in spans if s == start)
        before = _warc_ids(warc)
        _flip(warc, (start + end) // 2)
        resumed = subprocess.run(
            args, cwd=REPO, env=healthdex_env(profiles, fault_env(None)), capture_output=True, text=True, timeout=180
        )
    assert resumed.returncode == 0 and "Traceback" not in resumed.stderr, resumed.stderr[-3000:]
    after = _warc_ids(warc)
    assert before - {victim["warc_record_id"]} <= after  # every readable record kept
    report = json.loads((out / "crawl-report.json").read_text())
    assert [(d["offset"], d["bytes"]) for d in report["warc_damage"]] == [(start, end - start)]
    assert report["warc_damaged_bytes"] == end - start
    assert f"skipped {end - start} bytes at offset {start}" in resumed.stdout
    lines = [json.loads(line) for line in (out / "articles.jsonl").read_text().splitlines()]
    assert {a["warc_record_id"] for a in lines} <= after | {victim["warc_record_id"]}
    urls = [a["url"] for a in lines if "error" not in a and not a.get("gone")]
    assert sorted(urls) == sorted(set(urls)) and set(site.good) <= set(urls)
    # healthdex clean over the WARC: the damage is one error line, and the page fetched again (unchanged) stands in
    # for its unreadable capture, so every article is there
    clean = run_healthdex("clean", str(warc), env={"HEALTHDEX_PROFILES_PATH": str(profiles)}, timeout=180)
    assert clean.returncode == 0 and "Traceback" not in clean.stderr, clean.stderr[-2000:]
    out = [json.loads(line) for line in clean.stdout.splitlines()]
    assert [o["source"] for o in out if "error" in o] == [f"{warc}@{start}"]
    assert sorted(o["url"] for o in out if "error" not in o) == sorted(urls)


def test_a_response_without_a_numeric_status_is_skipped_by_every_reader(tmp_path):
    """healthdex.warc_reader.response_of is the one judge of a response record: ``clean`` (provenance) and the crawl's
    cache skip it, replay lists it, and the records around it are read."""
    from healthdex.records import iter_warc_articles

    path = tmp_path / "pages.warc.gz"
    _write_warc(path, n=2)
    with path.open("ab") as handle:
        writer = WARCWriter(handle, gzip=True)
        for url, status in (
            ("https://www.example.org/bad.html", "abc OK"),
            ("https://www.example.org/p9.html", "200 OK"),
        ):
            http = StatusAndHeaders(status, [("Content-Type", "text/html")], protocol="HTTP/1.1")
            body = _page(9)
            record = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http
            )
            writer.write_record(record)
    archive = load_source(path)
    assert any("bad HTTP status" in reason for reason in archive.skipped)
    assert {page.url for page in archive.pages.values()} == {f"https://www.example.org/p{i}.html" for i in (0, 1, 9)}
    list(iter_warc_articles(path))  # no ValueError from the bad status (healthdex clean)
    store = WarcStore(path, None, index=True)
    store.close()
    assert [c.url for c in store.captures] == [f"https://www.example.org/p{i}.html" for i in (0, 1, 9)]
