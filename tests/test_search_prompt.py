"""``healthdex search --explain`` and the interactive prompt (``healthdex search --index DIR`` on a terminal),
through the real command: the prompt in a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import sys

import pytest
from test_search import hx, search
from test_search_fixtures import ROOT, build_index


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return str(build_index(tmp_path_factory.mktemp("prompt")))


def test_explain_shows_parse_synonyms_terms_and_spelling(index):
    r = search(index, "heart attack", "--explain")
    assert r.code == 0, r.err
    answered = r.out.split("How this was answered:")[1]
    assert "query (plain):" in answered and "synonym: heart attack -> myocardial infarction" in answered
    assert "ranked by: healthdex evaluator" in answered and "AND-leaning" not in answered
    assert "scoring: BM25F per word over the fields (title x2, title alone +0.5), k1 1.2, b 0.75" in answered
    # a title word counts twice a text word; "myocardial infarction" (two words for the two typed) weighs 0.3, and
    # "acute myocardial infarction" two thirds of that (title words twice)
    assert "term title:heart  weight 2.0  idf " in answered and "term text:heart  weight 1.0  idf " in answered
    assert "term text:myocardial  weight 0.3" in answered and "term title:acut  weight 0.4  idf" in answered
    assert "spelling: no correction offered" in answered
    assert "How this was answered" not in search(index, "heart attack").out


def test_explain_in_json_names_expansions_and_whoosh_matched_leaves(index):
    data = search(index, "diabet* published:>2010", "--json", "--explain").json()
    ex = data["explain"]
    assert ex["mode"] == "syntax" and ex["filter"].startswith("published:")
    assert any(n.startswith("text:diabet*: 1 word") for n in ex["notes"]), ex["notes"]
    assert any("Whoosh's DateRange matcher" in n for n in ex["notes"]), ex["notes"]
    assert "explain" not in search(index, "diabet*", "--json").json()
    typo = search(index, "diabetis", "--json", "--explain").json()["explain"]
    assert typo["spelling"] == "did you mean: diabetes"


def test_no_query_without_a_terminal_is_an_error_naming_batch(index):
    r = hx("search", "--index", index)
    assert r.code == 2 and "--batch" in r.err and len(r.err.strip().splitlines()) == 1


def _read_until(fd: int, marker: bytes, seen: bytearray, limit_s: float = 60.0) -> bytes:
    """Read the terminal until ``marker`` has appeared after what was ``seen`` (a guard against a hang, not a
    time measurement)."""
    start = len(seen)
    while marker not in seen[start:]:
        ready, _, _ = select.select([fd], [], [], limit_s)
        if not ready:
            raise AssertionError(f"no {marker!r} on the terminal; it shows: {bytes(seen[-2000:])!r}")
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return bytes(seen[start:])


def test_prompt_answers_one_query_after_another_and_keeps_history(index, tmp_path):
    env = {**os.environ, "HEALTHDEX_CACHE_DIR": str(tmp_path / "cache"), "NO_COLOR": "1", "TERM": "dumb"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: healthdex search on the pseudo-terminal
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "healthdex", "search", "--index", index], env)
    seen = bytearray()
    try:
        _read_until(fd, b"healthdex> ", seen)
        os.write(fd, b"asthma\r")
        answer = _read_until(fd, b"healthdex> ", seen)
        assert b"Asthma in adults" in answer and b"1-2 of 2 results" in answer
        os.write(fd, b"published:>notadate\r")
        answer = _read_until(fd, b"healthdex> ", seen)
        assert b"healthdex: cannot parse date" in answer  # one line, and the prompt goes on
        os.write(fd, b"sciatica\r")
        answer = _read_until(fd, b"healthdex> ", seen)
        assert b"What is sciatica?" in answer
        os.write(fd, b"\x04")  # Ctrl-D
        _read_until(fd, b"\n", seen)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, bytes(seen)
    history = (tmp_path / "cache" / "search-history").read_text()
    assert history.split() == ["asthma", "published:>notadate", "sciatica"]
    assert b"Traceback" not in seen
