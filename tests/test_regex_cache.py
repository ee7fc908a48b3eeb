"""healthdex.regex_cache: patterns compiled from a previous run's compiler output behave exactly like freshly
compiled ones, the cache survives only for the same interpreter, and nothing compiled after recording stops is
kept."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from healthdex import regex_cache

ROOT = Path(__file__).resolve().parent.parent
PATTERNS = [
    (r"\w+(?:[.'’-]\w+)*", 0),
    (r"(?P<year>\d{4})-(?P<month>\d\d)?", re.IGNORECASE),
    (r"\bcase\b", re.I | re.A),
    (r"""(?x) [A-Za-z+]+://  \S+?  (?=\s|$)  # a URL""", 0),
    (rb"[\x00-\x08]+|(?<=a)b", 0),
    (r"^(.+?)(ational|tional|enci)$", re.MULTILINE | re.DOTALL),
]
SAMPLES = ["The 2024-05 update, e.g. can't stop; http://x.org/a?b", "rational national", "aab\x01\x02", ""]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HEALTHDEX_CACHE_DIR", str(tmp_path))
    regex_cache.uninstall()
    yield tmp_path
    regex_cache.uninstall()
    re.purge()


def _behaviour(compiled):
    out = [compiled.pattern, compiled.flags, compiled.groups, dict(compiled.groupindex)]
    for text in SAMPLES:
        subject = text.encode("latin-1", "replace") if isinstance(compiled.pattern, bytes) else text
        out.append([m.span() + tuple(m.groups()) for m in compiled.finditer(subject)])
    return out


def test_patterns_from_the_cache_behave_like_fresh_ones(cache):
    fresh = [_behaviour(re.compile(p, f)) for p, f in PATTERNS]
    assert regex_cache.install()
    re.purge()
    from re import _compiler

    for p, f in PATTERNS:
        _compiler.compile(p, f)  # recorded (flags as given: a RegexFlag too)
    regex_cache.save()
    assert os.path.exists(regex_cache.cache_file())
    regex_cache.uninstall()
    re.purge()
    assert regex_cache.install()  # a new run: the entries come from the file
    assert len(regex_cache._entries) == len(PATTERNS)
    from re import _parser

    real_parse = _parser.parse
    _parser.parse = lambda *a, **k: pytest.fail("a cached pattern was parsed again")
    try:
        cached = [_behaviour(re.compile(p, f)) for p, f in PATTERNS]
    finally:
        _parser.parse = real_parse
    assert cached == fresh


def test_nothing_is_kept_after_recording_stops_and_a_foreign_file_is_ignored(cache):
    assert regex_cache.install()
    regex_cache.stop_recording()
    re.purge()
    re.compile("what the user typed")
    regex_cache.save()
    assert not regex_cache._entries and not os.path.exists(regex_cache.cache_file())
    regex_cache.uninstall()
    Path(regex_cache.cache_file()).write_bytes(b"not marshal data")
    assert regex_cache.install() and not regex_cache._entries  # a damaged file: compile as usual
    re.purge()
    assert re.compile("a+").fullmatch("aaa")


def test_the_search_command_reuses_its_patterns_and_keeps_no_query_text(tmp_path):
    """Two runs of the console command: the first writes the cache, the second answers the same; the user's
    wildcard pattern is not in the file."""
    from test_search_fixtures import build_index

    (tmp_path / "ix").mkdir()
    index = build_index(tmp_path / "ix")
    env = {**os.environ, "HEALTHDEX_CACHE_DIR": str(tmp_path / "cache"), "NO_COLOR": "1"}
    cmd = [sys.executable, "-m", "healthdex", "search", "asthm* zqxwv", "--index", str(index), "--json"]
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    files = list((tmp_path / "cache").glob("regex-*.marshal"))
    assert first.returncode == 0 and len(files) == 1, first.stderr
    assert b"zqxwv" not in files[0].read_bytes() and b"asthm" not in files[0].read_bytes()
    second = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert second.returncode == 0 and second.stdout == first.stdout
