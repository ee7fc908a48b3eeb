"""Hostile or huge search input is refused in one line (exit 2), quickly, and never read without bound."""

from __future__ import annotations

import pytest
from test_search import search
from test_search_fixtures import build_index

from search_cli import command, evaluate, synonyms


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return str(build_index(tmp_path_factory.mktemp("limits")))


def _one_line_error(r) -> str:
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1, (r.code, r.err)
    return r.err


@pytest.mark.parametrize("query", ["*a*", "??????*", "[a TO z]", "a*"])
def test_a_query_standing_for_too_many_words_is_refused(index, query, monkeypatch):
    monkeypatch.setattr(evaluate, "MAX_EXPANSIONS", 5)
    err = _one_line_error(search(index, query))
    assert "matches more than 5 words" in err and "HEALTHDEX_MAX_EXPANSIONS" in err


def test_a_lookup_past_its_time_is_refused(index, monkeypatch):
    monkeypatch.setattr(evaluate, "EXPANSION_SECONDS", 0.0)
    assert "HEALTHDEX_EXPANSION_SECONDS" in _one_line_error(search(index, "*e*"))


def test_an_endless_synonyms_file_is_refused(index, monkeypatch):
    monkeypatch.setattr(synonyms, "MAX_FILE_BYTES", 4096)
    assert "HEALTHDEX_SYNONYMS_MAX_BYTES" in _one_line_error(search(index, "asthma", "--synonyms", "/dev/zero"))


def test_an_endless_batch_file_is_refused(index, monkeypatch):
    from test_search import hx

    monkeypatch.setattr(command, "MAX_INPUT_BYTES", 4096)
    r = hx("search", "--batch", "/dev/zero", "--index", index)
    assert "HEALTHDEX_SEARCH_MAX_INPUT_BYTES" in _one_line_error(r)


def test_limit_zero_tells_how_many_results_there_are(index):
    r = search(index, "asthma", "--limit", "0")
    assert r.code == 0 and "2 results, none shown" in r.out and "No results" not in r.out


def test_a_pasted_page_is_searched_by_its_first_words(index, monkeypatch):
    from search_cli import query

    monkeypatch.setattr(query, "MAX_QUERY_WORDS", 3)
    r = search(index, "asthma children inhaler " + "filler " * 5000, "--explain")
    assert r.code == 0 and "only the first 3 of 5003 words searched" in r.out


def test_an_index_of_another_schema_version_is_searched_with_a_warning(tmp_path):
    import json
    import shutil

    from search_cli.search import search as lib_search

    old = tmp_path / "old"
    shutil.copytree(build_index(tmp_path), old)
    meta = old / "healthdex-index.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "schema_version": 1}))
    from support import run_healthdex

    r = run_healthdex("search", "asthma", "--index", str(old))
    assert r.returncode == 0 and "has schema 1" in r.stderr and "rebuild it" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert lib_search(old, "asthma").total == 2
