"""The parsed synonym table is cached per file (path, size, modification time) in the user's cache folder."""

from __future__ import annotations

import os

import pytest

from healthdex.errors import UserError
from search_cli import synonyms


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    monkeypatch.setenv(synonyms.CACHE_ENV_VAR, str(tmp_path / "cache"))
    monkeypatch.setattr(synonyms, "_CACHE", {})
    return tmp_path


def _table(path):
    synonyms._CACHE.clear()
    return synonyms.load(path)


def test_the_second_load_reads_the_cache_and_gives_the_same_table(fresh, monkeypatch):
    first = _table(synonyms.DEFAULT_PATH)
    assert os.path.exists(synonyms.cache_file(str(synonyms.DEFAULT_PATH)))

    def no_parsing(*_a, **_k):
        raise AssertionError("parsed again")

    monkeypatch.setattr(synonyms, "parse_lines", no_parsing)
    second = _table(synonyms.DEFAULT_PATH)
    assert [(c.terms, c.source) for c in second.concepts] == [(c.terms, c.source) for c in first.concepts]
    assert second._index == first._index and second._longest == first._longest
    words = synonyms.words("heart attack and high blood pressure")
    assert [(m.matched, m.alternatives) for m in second.find(words)] == [
        (m.matched, m.alternatives) for m in first.find(words)
    ]


def test_a_changed_file_is_parsed_again(fresh):
    f = fresh / "mine.tsv"
    f.write_text("zebraitis|sciatica\tmine\n", encoding="utf-8")
    assert _table(f).find(["zebraitis"])[0].alternatives == ("sciatica",)
    f.write_text("zebraitis|lumbago|sciatica\tmine, longer\n", encoding="utf-8")  # another size
    assert _table(f).find(["zebraitis"])[0].alternatives == ("lumbago", "sciatica")
    f.write_text("lonely\n", encoding="utf-8")
    with pytest.raises(UserError, match="mine.tsv:1"):
        _table(f)


def test_a_damaged_or_unwritable_cache_is_ignored(fresh, monkeypatch):
    f = fresh / "mine.tsv"
    f.write_text("zebraitis|sciatica\tmine\n", encoding="utf-8")
    _table(f)
    with open(synonyms.cache_file(str(f)), "wb") as fh:
        fh.write(b"\x00not marshal")
    assert _table(f).find(["zebraitis"])[0].matched == "zebraitis"
    blocker = fresh / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv(synonyms.CACHE_ENV_VAR, str(blocker / "cache"))  # a folder cannot be made under a file
    assert _table(f).find(["sciatica"])[0].alternatives == ("zebraitis",)


def test_an_empty_cache_setting_turns_the_cache_off(fresh, monkeypatch):
    monkeypatch.setenv(synonyms.CACHE_ENV_VAR, "")
    assert synonyms.cache_file(str(synonyms.DEFAULT_PATH)) is None
    assert len(_table(synonyms.DEFAULT_PATH)) >= 300
    assert not (fresh / "cache").exists()
