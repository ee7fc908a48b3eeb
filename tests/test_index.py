"""The indexer's contracts through the real ``healthdex index`` command on a real on-disk index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from healthdex.errors import UserError
from indexer import schema as S
from indexer.build import index_records
from indexer.cli import index_command
from indexer.store import open_index

ROOT = Path(__file__).resolve().parents[1]


def write_jsonl(path: Path, records, extra_lines=()) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
        for line in extra_lines:
            f.write(line + "\n")
    return path


def run_index(*args: str):
    """The real console entry point in a subprocess: exit status, stdout, stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "healthdex", "index", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    return proc.returncode, proc.stdout, proc.stderr


def keys(index_dir) -> set[str]:
    ix = open_index(index_dir)
    with ix.searcher() as s:
        return {d[S.KEY] for d in s.documents()}


def doc_count(index_dir) -> int:
    ix = open_index(index_dir)
    with ix.reader() as r:
        return r.doc_count()


ARTICLES = [
    {
        "url": "https://www.example.org/sciatica?utm_source=newsletter&utm_medium=email",
        "title": "Sciatica: lower back pain that travels down the leg",
        "text": "Sciatica is pain along the sciatic nerve.\n\nPhysical therapy and stretching help most people.",
        "authors": ["Dr Ann Lee", "Bob, RN"],
        "categories": ["Back Pain", "Nerves"],
        "published": "2021-03-04T10:00:00Z",
        "updated": "not a date",
        "language": "en",
    },
    {
        "id": "mp-000123",
        "url": "https://medlineplus.gov/highbloodpressure.html",
        "title": "High Blood Pressure",
        "text": "Hypertension, also called high blood pressure, raises the risk of heart attack and stroke.",
        "last_reviewed": "2024-01-15",
    },
    {"url": "https://www.example.org/asthma", "text": "Asthma narrows the airways; inhalers relieve wheezing."},
]


def test_index_and_reindex_same_file_is_a_no_op(tmp_path):
    src = write_jsonl(tmp_path / "a.jsonl", ARTICLES)
    idx = tmp_path / "idx"
    rc, out, err = run_index(str(src), "--index", str(idx))
    assert rc == 0, err
    assert "3 added, 0 updated, 0 unchanged, 0 deleted, 0 skipped" in out
    gen = open_index(idx).latest_generation()
    files = sorted(os.listdir(idx))

    rc, out, err = run_index(str(src), "--index", str(idx))
    assert rc == 0, err
    assert "0 added, 0 updated, 3 unchanged, 0 deleted" in out
    assert "nothing to commit" in out
    assert open_index(idx).latest_generation() == gen  # no commit happened
    assert sorted(os.listdir(idx)) == files
    assert doc_count(idx) == 3


def test_key_is_id_else_canonical_url(tmp_path):
    same_page = dict(ARTICLES[0], url="https://www.example.org/sciatica?utm_campaign=x#symptoms")
    idx = tmp_path / "idx"
    stats = index_records(ARTICLES + [same_page], idx)
    assert stats.added == 3 and stats.unchanged == 1
    assert keys(idx) == {"https://www.example.org/sciatica", "mp-000123", "https://www.example.org/asthma"}
    ix = open_index(idx)
    with ix.searcher() as s:
        doc = s.document(key="https://www.example.org/sciatica")
        assert doc["url"] == "https://www.example.org/sciatica"  # no tracking parameters in results
        assert doc["site"] == "example.org"
        assert doc["authors"] == "Dr Ann Lee, Bob RN"
        assert doc["categories"] == "Back Pain, Nerves"
        assert doc["published"].year == 2021 and "updated" not in doc  # garbage date ignored
        assert doc["content_hash"].startswith("sha256:")
        assert s.document(key="mp-000123")["last_reviewed"].isoformat() == "2024-01-15T00:00:00"
        # the id-keyed record is still findable by its URL
        assert s.document_number(url="https://medlineplus.gov/highbloodpressure.html") is not None


def test_changed_content_replaces_and_gone_deletes(tmp_path):
    idx = tmp_path / "idx"
    index_records(ARTICLES, idx)
    changed = dict(ARTICLES[1], text="Hypertension is treated with lifestyle changes and medicines.")
    gone = {"url": "https://www.example.org/asthma?utm_source=x", "gone": True}
    src = write_jsonl(tmp_path / "b.jsonl", [changed, gone, ARTICLES[0]])
    rc, out, err = run_index(str(src), "--index", str(idx))
    assert rc == 0, err
    assert "0 added, 1 updated, 1 unchanged, 1 deleted, 0 skipped" in out
    assert keys(idx) == {"https://www.example.org/sciatica", "mp-000123"}
    ix = open_index(idx)
    with ix.searcher() as s:
        assert "lifestyle" in s.document(key="mp-000123")["text"]
        from whoosh.query import Term

        assert len(s.search(Term("text", "stroke"))) == 0  # the old version's words are gone
        assert len(s.search(Term("text", "lifestyl"))) == 1
    # --delete-gone with a plain list of keys / URLs
    gone_list = tmp_path / "gone.txt"
    gone_list.write_text("mp-000123\n")
    rc, out, err = run_index(
        str(write_jsonl(tmp_path / "empty.jsonl", [])), "--index", str(idx), "--delete-gone", str(gone_list)
    )
    assert rc == 0, err
    assert "1 deleted" in out
    assert keys(idx) == {"https://www.example.org/sciatica"}


def test_same_key_twice_in_one_run_last_wins(tmp_path):
    idx = tmp_path / "idx"
    v1 = {"id": "k1", "text": "first version about migraine"}
    v2 = {"id": "k1", "text": "second version about vertigo"}
    stats = index_records([v1, {"id": "k2", "text": "other"}, v2], idx)
    assert keys(idx) == {"k1", "k2"} and doc_count(idx) == 2
    assert stats.added + stats.updated == 3
    ix = open_index(idx)
    with ix.searcher() as s:
        assert "vertigo" in s.document(key="k1")["text"]


def test_skips_and_malformed_lines_are_reported_not_fatal(tmp_path):
    src = write_jsonl(
        tmp_path / "a.jsonl",
        [
            ARTICLES[2],
            {"url": "https://x.org/e", "error": "HTTP 500"},
            {"url": "https://x.org/t", "text": "  "},
            {"title": "no key", "text": "words"},
        ],
        extra_lines=['{"url": "https://x.org/broken", "text": ', "[1, 2]"],
    )
    idx = tmp_path / "idx"
    rc, out, err = run_index(str(src), "--index", str(idx))
    assert rc == 0, err
    assert "Traceback" not in err
    assert f"{src}:5: malformed JSON" in err
    assert f"{src}:6: not a JSON object" in err
    assert "1 added" in out and "5 skipped" in out
    assert "1 error record" in out and "2 malformed" in out and "1 no text" in out and "1 no id or url" in out


def test_stdin_and_cli_runner(tmp_path):
    idx = tmp_path / "idx"
    data = "\n".join(json.dumps(r) for r in ARTICLES) + "\n"
    result = CliRunner().invoke(index_command, ["-", "--index", str(idx)], input=data)
    assert result.exit_code == 0, result.output
    assert "3 added" in result.output
    assert doc_count(idx) == 3


def test_optimize_merges_segments(tmp_path):
    idx = tmp_path / "idx"
    for art in ARTICLES:
        index_records([art], idx, optimize=False)
    with open_index(idx).reader() as r:
        assert len(r.leaf_readers()) > 1
    rc, out, err = run_index(str(write_jsonl(tmp_path / "e.jsonl", [])), "--index", str(idx), "--optimize")
    assert rc == 0, err
    assert "3 documents in 1 segment" in out


def test_missing_index_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no index at"):
        open_index(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no index at"):
        open_index(tmp_path / "empty")


def test_missing_input_file_is_one_line(tmp_path):
    rc, out, err = run_index(str(tmp_path / "nope.jsonl"), "--index", str(tmp_path / "idx"))
    assert rc == 2
    assert err.startswith("healthdex: cannot read") and "Traceback" not in err


def test_spelling_field_has_unstemmed_words(tmp_path):
    idx = tmp_path / "idx"
    index_records(ARTICLES, idx)
    ix = open_index(idx)
    with ix.reader() as r:
        words = {w.decode() for w in r.lexicon(S.SPELL)}
        assert {"sciatica", "stretching", "pressure", "hypertension"} <= words
        assert "stretch" not in words  # stems live in the text field only
        assert r.corrector(S.SPELL).suggest("hypertensoin", limit=1) == ["hypertension"]


def test_phrase_query_on_positions_ending_in_0x2e(tmp_path):
    # whoosh-ng misreads a positions value ending in b"." (last delta 46) as a legacy pickle: must not crash
    words = ["alpha"] + [f"filler{i}" for i in range(45)] + ["alpha", "beta"]
    idx = tmp_path / "idx"
    index_records([{"id": "p", "text": " ".join(w.replace("filler", "fill") for w in words)}], idx)
    from whoosh.qparser import QueryParser

    ix = open_index(idx)
    with ix.searcher() as s:
        assert len(s.search(QueryParser("text", ix.schema).parse('"alpha beta"'))) == 1


def test_searcher_opened_before_a_commit_keeps_working(tmp_path):
    # files of a segment are opened lazily; the generation a live searcher uses must survive the next commit
    idx = tmp_path / "idx"
    index_records(ARTICLES[:2], idx)
    index_records(ARTICLES[2:], idx)
    ix = open_index(idx)
    s = ix.searcher()
    index_records([dict(ARTICLES[0], text="rewritten entirely")], idx, optimize=True)  # replaces every segment
    from whoosh import sorting
    from whoosh.query import Every

    docs = [s.stored_fields(d) for d in range(s.doc_count_all()) if not s.reader().is_deleted(d)]
    assert {d["key"] for d in docs} == {a.get("id") or a["url"].split("?")[0] for a in ARTICLES}
    s.search(Every(), sortedby=sorting.FieldFacet("published"))
    s.close()
    assert keys(idx) == {d["key"] for d in docs}
