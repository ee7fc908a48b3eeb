"""crawler.warc_store: records gzipped by libdeflate (when installed) or zlib hold the same bytes warcio writes, with
valid digests, and a torn tail is cut on reopen either way."""

from __future__ import annotations

import gzip
import io
import itertools

import pytest
import warcio.statusandheaders
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from crawler import warc_store
from crawler.warc_store import WarcStore

BODIES = [b"", b"x", "caf\u00e9 \u65e5\u672c".encode(), b"<p>" + b"health " * 20000 + b"</p>", b"\r\n\r\n" * 300]


@pytest.fixture
def fixed_ids(monkeypatch):
    counter = itertools.count()
    monkeypatch.setattr(warcio.statusandheaders.StatusAndHeadersParser, "make_warc_id",
                        staticmethod(lambda id_=None: f"<urn:uuid:00000000-0000-0000-0000-{next(counter):012d}>"))


def _exchange(i: int, body: bytes) -> dict:
    return {
        "url": f"http://www.example.org/a/{i}.html", "method": "GET" if i % 2 else "POST",
        "request_headers": [("User-Agent", "healthdex-test"), ("Accept", "text/html")],
        "request_body": b"" if i % 2 else b"q=1", "status": 200 if i % 3 else 404, "reason": "",
        "response_headers": [("Content-Type", "text/html; charset=utf-8"), ("Transfer-Encoding", "chunked"),
                             ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
        "body": body, "timestamp": 1_700_000_000.25 + i, "ip_address": None if i % 4 == 0 else "127.0.0.1",
        "extra_headers": {"WARC-Healthdex-Profile": "test"},
    }


def _reference(records: list) -> bytes:
    """What warcio itself writes for records built without lengths (how WarcStore built them before)."""
    out = io.BytesIO()
    for record in records:
        WARCWriter(out, gzip=False).write_record(record)
    return out.getvalue()


def _store_bytes(path, libdeflate: bool) -> bytes:
    store = WarcStore(path, {"software": "test"}, libdeflate=libdeflate)
    for i, body in enumerate(BODIES):
        store.write_exchange(**_exchange(i, body))
    store.close()
    with gzip.open(path) as handle:
        return handle.read()


def _require_libdeflate() -> None:
    """``deflate`` is a declared dependency: an install without it is broken, not a reason to skip."""
    assert warc_store._libdeflate_gzip is not None, "the deflate package (pyproject dependency) is not importable"


@pytest.mark.parametrize("libdeflate", [False, True])
def test_records_are_warcio_records_with_valid_digests(tmp_path, fixed_ids, libdeflate):
    if libdeflate:
        _require_libdeflate()
    path = tmp_path / "pages.warc.gz"
    _store_bytes(path, libdeflate)
    bodies = []
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle, check_digests="raise"):
            if record.rec_type == "response":
                bodies.append(record.content_stream().read())
    assert bodies == BODIES


def test_libdeflate_and_zlib_hold_the_same_records(tmp_path, monkeypatch):
    _require_libdeflate()
    contents = []
    for libdeflate in (False, True):
        counter = itertools.count()
        monkeypatch.setattr(warcio.statusandheaders.StatusAndHeadersParser, "make_warc_id",
                            staticmethod(lambda id_=None, c=counter: f"<urn:uuid:{next(c)}>"))
        monkeypatch.setattr(warc_store.WARCWriter, "_make_warc_date", classmethod(lambda cls, use_micros=False: "D"))
        (tmp_path / str(libdeflate)).mkdir()
        contents.append(_store_bytes(tmp_path / str(libdeflate) / "pages.warc.gz", libdeflate))
    assert contents[0] == contents[1]


def test_record_bytes_equal_warcio_without_lengths(tmp_path, monkeypatch):
    """Passing lengths to warcio (no temporary-file copy, one digest pass) changes no byte of a record."""
    from warcio.statusandheaders import StatusAndHeaders

    monkeypatch.setattr(warcio.statusandheaders.StatusAndHeadersParser, "make_warc_id",
                        staticmethod(lambda id_=None: "<urn:uuid:1>"))
    store = WarcStore(tmp_path / "w.warc.gz", {"software": "test"}, libdeflate=False)
    body = BODIES[3]
    headers = StatusAndHeaders("200", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    extra = {"WARC-Date": "2024-01-01T00:00:00.000000Z"}
    with_length = store._writer.create_warc_record("http://e.org/", "response", payload=io.BytesIO(body),
                                                   length=len(body), http_headers=headers, warc_headers_dict=extra)
    headers2 = StatusAndHeaders("200", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    without = store._writer.create_warc_record("http://e.org/", "response", payload=io.BytesIO(body),
                                               http_headers=headers2,
                                               warc_headers_dict=extra)
    assert _reference([with_length]) == _reference([without])
    store.close()


@pytest.mark.parametrize("libdeflate", [False, True])
def test_torn_tail_is_cut_on_reopen(tmp_path, libdeflate):
    if libdeflate:
        _require_libdeflate()
    path = tmp_path / "pages.warc.gz"
    store = WarcStore(path, {"software": "test"}, libdeflate=libdeflate)
    store.write_exchange(**_exchange(1, BODIES[3]))
    store.close()
    whole = path.stat().st_size
    store = WarcStore(path, {"software": "test"}, libdeflate=libdeflate)
    store.write_exchange(**_exchange(2, BODIES[3]))
    store.close()
    with path.open("r+b") as handle:  # a process killed mid-write: half of the last member
        handle.truncate(path.stat().st_size - 1000)
    reopened = WarcStore(path, {"software": "test"}, libdeflate=libdeflate)
    reopened.close()
    assert reopened.repaired_bytes > 0
    with path.open("rb") as handle:
        types = [record.rec_type for record in ArchiveIterator(handle)]
    # first warcinfo + exchange, second warcinfo + response (its request was torn), reopened warcinfo
    assert types[:3] == ["warcinfo", "response", "request"] and path.stat().st_size > whole
