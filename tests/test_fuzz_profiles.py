"""Issue 6: bad profiles and config give one clear line naming the file and the field; nothing escapes OUT.

Through the real commands (``healthdex crawl path/to/bad.toml --out ...`` and ``healthdex profiles`` with
HEALTHDEX_PROFILES_PATH) and, for generated profiles (hypothesis), through ``profiles.parse_profile``, the function
both commands call.  Profile patterns are matched by RE2 (linear time): patterns that make a backtracking engine take
hours load, and matching a hostile URL against any loaded profile finishes in bounded time (checked in a
subprocess); patterns RE2 cannot take (backreferences, lookaround) are refused with one clear line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from faultlib import (
    BASE,
    DOMAIN,
    REPO,
    article_html,
    build_site,
    check_outputs,
    healthdex_env,
    run_crawl,
    write_profile,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiles import Profile, ProfileError, parse_profile

from support import run_healthdex

GOOD = 'site = "example.org"\nallowed_domains = ["example.org"]\nstart_urls = ["https://www.example.org/"]\n'

BAD_PROFILES = {
    # name: (file text, the field the message must name; None: a TOML syntax error, the file is named)
    "syntax": ('site = "example.org\nallowed_domains = [', None),
    "yaml_instead": ("site: example.org\nallowed_domains:\n  - example.org\n", None),
    "unknown_key": (GOOD + 'colour = "red"\n', "colour"),
    "unknown_section_key": (GOOD + "[limits]\nmax_pagez = 3\n", "limits.max_pagez"),
    "no_domains": ('start_urls = ["https://www.example.org/"]\n', "allowed_domains"),
    "bad_domain": ('allowed_domains = ["../../etc"]\nstart_urls = ["https://www.example.org/"]\n',
                   "allowed_domains"),
    "bad_url": ('allowed_domains = ["example.org"]\nstart_urls = ["javascript:alert(1)"]\n', "start_urls"),
    "file_url": ('allowed_domains = ["example.org"]\nstart_urls = ["file:///etc/passwd"]\n', "start_urls"),
    "bad_sitemap": (GOOD + 'sitemaps = ["ftp://example.org/sitemap.xml"]\n', "sitemaps"),
    "wrong_type": ('allowed_domains = "example.org"\nstart_urls = ["https://www.example.org/"]\n',
                   "allowed_domains"),
    "negative_limit": (GOOD + "[limits]\nmax_pages = -1\n", "limits.max_pages"),
    "invalid_regex": (GOOD + "article_urls = ['([a-z']\n", "article_urls"),
    # RE2 (linear time) has no backreferences or lookaround: refused when the profile loads
    "backreference": (GOOD + "article_urls = ['^https://www\\.example\\.org/(a+)\\1$']\n", "article_urls"),
    "lookahead": (GOOD + "deny_urls = ['/(?=private)']\n", "deny_urls"),
    "lookbehind": (GOOD + "follow_urls = ['(?<!x)/articles/']\n", "follow_urls"),
    "huge_regex": (GOOD + f"article_urls = ['{'a' * 600}']\n", "article_urls"),
    # accepted and never read before issue 19; AutoThrottle is crawl-wide (-s AUTOTHROTTLE_ENABLED=false)
    "autothrottle": (GOOD + "[politeness]\nautothrottle = false\n", "politeness.autothrottle"),
}


@pytest.fixture()
def bad_dir(tmp_path) -> Path:
    folder = tmp_path / "bad-profiles"
    folder.mkdir()
    return folder


def _one_line_naming(stderr: str, path: Path, field: str | None) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("healthdex: "), stderr
    assert str(path) in lines[0] or path.name in lines[0], stderr
    if field is not None:
        assert f"'{field}'" in lines[0], stderr


@pytest.mark.parametrize("name", sorted(BAD_PROFILES))
def test_bad_profile_in_process(name, bad_dir):
    text, field = BAD_PROFILES[name]
    path = bad_dir / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        parse_profile(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    if field is not None:
        assert f"'{field}'" in message, message


@pytest.mark.parametrize("name", ["syntax", "unknown_key", "bad_url", "lookahead", "bad_domain"])
def test_crawl_command_rejects_bad_profile_file(name, bad_dir, tmp_path):
    text, field = BAD_PROFILES[name]
    path = bad_dir / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = run_healthdex("crawl", str(path), "--out", str(out), "--proxy", "http://127.0.0.1:9", timeout=120)
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    _one_line_naming(result.stderr, path, field)
    assert not out.exists() or not any(out.iterdir())


def test_profiles_command_names_the_bad_file(bad_dir):
    (bad_dir / "fine.toml").write_text(GOOD, encoding="utf-8")
    path = bad_dir / "zz-broken.toml"
    path.write_text(BAD_PROFILES["unknown_key"][0], encoding="utf-8")
    result = run_healthdex("profiles", env={"HEALTHDEX_PROFILES_PATH": str(bad_dir)}, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    _one_line_naming(result.stderr, path, "colour")


def test_unknown_profile_names_cannot_reach_files(tmp_path):
    secret = tmp_path / "x.toml"
    secret.write_text(GOOD, encoding="utf-8")
    for name in ("../../x", "../x", "..", "/etc/passwd", "x\ny"):
        result = run_healthdex("crawl", name, "--out", str(tmp_path / "out"), "--proxy", "http://127.0.0.1:9",
                               cwd=tmp_path / "..", timeout=60)
        assert result.returncode == 2, (name, result.stderr)
        assert "Traceback" not in result.stderr and result.stderr.startswith("healthdex: "), (name, result.stderr)


# --- generated profiles ------------------------------------------------------------------------------------

def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


def _toml(data: dict) -> str:
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{json.dumps(key)} = {_toml_value(value)}")
    for key, table in tables:
        lines.append(f"[{json.dumps(key)}]")
        lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in table.items() if not isinstance(v, dict)]
    return "\n".join(lines) + "\n"


SCALARS = st.one_of(st.text(max_size=30), st.integers(-10**6, 10**6), st.booleans(),
                    st.floats(allow_nan=False, allow_infinity=False))
REGEX_PARTS = ["a", "\\w", "\\d", ".", "(", ")", "|", "+", "*", "?", "{2,}", "[a-z]", "^", "$", "/", "\\.", "\\"]
REGEXES = st.lists(st.sampled_from(REGEX_PARTS), max_size=12).map("".join)
URLS = st.one_of(st.sampled_from(["https://www.example.org/", "http://example.org/a", "ftp://example.org/",
                                  "javascript:x", "https://", "//example.org/", "https://exa mple.org/",
                                  "https://[::1]/", "http://127.0.0.1/", "https://example.org:99999/"]),
                 st.text(max_size=40))
FIELD_VALUES = {
    "site": SCALARS, "description": SCALARS, "name": st.one_of(SCALARS, st.just("../../x")),
    "allowed_domains": st.one_of(st.lists(st.one_of(st.sampled_from(["example.org", "EXAMPLE.org", "www.x.y",
                                                                     "..", "a..b", "-a.org", "localhost"]),
                                                    st.text(max_size=15)), max_size=3), SCALARS),
    "start_urls": st.one_of(st.lists(URLS, max_size=3), SCALARS),
    "sitemaps": st.lists(URLS, max_size=2),
    "article_urls": st.one_of(st.lists(REGEXES, max_size=3), SCALARS),
    "deny_urls": st.lists(REGEXES, max_size=3),
    "follow_urls": st.lists(REGEXES, max_size=2),
    "contact": SCALARS,
    "limits": st.dictionaries(st.sampled_from(["max_pages", "max_depth", "max_response_bytes", "bogus"]), SCALARS,
                              max_size=3),
    "politeness": st.dictionaries(st.sampled_from(["download_delay", "autothrottle", "max_crawl_delay"]), SCALARS,
                                  max_size=2),
    "extract": st.dictionaries(st.sampled_from(["content", "remove", "other"]),
                               st.one_of(st.lists(st.text(max_size=10), max_size=2), SCALARS), max_size=2),
    "unknown": SCALARS,
}


@st.composite
def profile_documents(draw) -> str:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=200))  # not even TOML, mostly
    keys = draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), unique=True, max_size=len(FIELD_VALUES)))
    return _toml({key: draw(FIELD_VALUES[key]) for key in keys})


HOSTILE_URLS = ["https://www.example.org/" + "a" * 40 + "!", "https://www.example.org/" + "1" * 40 + "/",
                "https://www.example.org/" + "ab" * 30 + "%", "https://www.example.org/" + "/" * 50 + "x"]

# Run a loaded profile's patterns against hostile URLs in a child process that must finish in time.
_MATCH_CHILD = """
import sys
from pathlib import Path
from profiles import parse_profile
p = parse_profile(Path(sys.argv[1]))
for url in sys.argv[2:]:
    p.is_article(url); p.should_follow(url); p.in_scope(url)
"""


@settings(max_examples=300, deadline=timedelta(seconds=5), database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(text=profile_documents())
def test_generated_profiles_load_or_fail_clearly(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "generated.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        profile = parse_profile(path)
    except ProfileError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc), str(exc)
        return
    assert isinstance(profile, Profile)
    if any(p.pattern for p in (*profile.article_urls, *profile.follow_urls, *profile.deny_urls)):
        try:
            subprocess.run([sys.executable, "-c", _MATCH_CHILD, str(path), *HOSTILE_URLS], cwd=REPO, timeout=10,
                           check=True, capture_output=True, env=healthdex_env())
        except subprocess.TimeoutExpired:
            raise AssertionError(f"profile patterns backtrack catastrophically: {text!r}") from None


@pytest.mark.parametrize("pattern", [r"((a+))+$", r"(\w+(x)?)+$", ".*" * 11 + "=$", r"(a|a)*$", r"(\w*)*x"])
def test_backtracking_patterns_are_matched_in_linear_time(tmp_path, pattern):
    """Issue 18: these passed the old validator, and one hostile link froze the crawl's reactor for hours."""
    path = tmp_path / "hostile.toml"
    path.write_text(GOOD + f"article_urls = [{json.dumps(pattern)}]\n", encoding="utf-8")
    assert parse_profile(path).article_urls[0].pattern == pattern
    urls = [*HOSTILE_URLS, "https://www.example.org/?" + "a=" * 40 + "b", "https://www.example.org/" + "a" * 60 + "!"]
    subprocess.run([sys.executable, "-c", _MATCH_CHILD, str(path), *urls], cwd=REPO, timeout=10, check=True,
                   capture_output=True, env=healthdex_env())


# --- output paths ------------------------------------------------------------------------------------------

def _files_outside(root: Path, inside: Path, before: set[Path]) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p not in before and not p.is_relative_to(inside) and p.is_file())


def test_names_and_urls_with_dot_segments_stay_inside_out(tmp_path):
    """A profile whose name is ``../../x`` and pages whose URLs carry ``..`` and ``%2e%2e`` segments: every file
    the crawl writes is inside OUT, and nothing off the site is requested."""
    from replay.server import ReplayServer

    sneaky = [f"{BASE}/articles/../../../../etc/passwd.html", f"{BASE}/articles/%2e%2e/%2e%2e/escape.html",
              f"{BASE}/articles/..%2f..%2fescape2.html", f"{BASE}/articles/a/..//../b.html"]
    root = tmp_path / "deep" / "er"
    root.mkdir(parents=True)
    site = build_site(root, extra_pages={url: article_html("Sneaky", 500 + i) for i, url in enumerate(sneaky)})
    profiles = root / "profiles"
    path = write_profile(profiles, name="sneaky")
    path.write_text('name = "../../x"\n' + path.read_text(), encoding="utf-8")
    before = set(tmp_path.rglob("*"))
    out = root / "out"
    with ReplayServer(site.folder) as server:
        run = run_crawl(out, server.proxy_url, profiles, profiles=["sneaky"])
        requested = [e.url for e in server.request_log.snapshot()]
    assert run.returncode == 0, run.stderr[-2000:]
    assert _files_outside(tmp_path, out, before) == []
    assert check_outputs(out, site.good).survived
    assert all(DOMAIN in url for url in requested), requested
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == sorted(
        p.name for p in out.iterdir() if p.is_file() and p.suffix in (".gz", ".jsonl", ".json"))


def test_worker_ids_are_safe_folder_names(tmp_path):
    """A distributed worker writes to OUT/worker-<id>; whatever the id, that folder is a direct child of OUT."""
    from crawler.distributed.keys import safe_name

    for name in ("../../x", "..", "a/b", "/etc", "x\x00y", "C:\\win", "." * 300, "~root", "$HOME"):
        folder = tmp_path / f"worker-{safe_name(name)}"
        assert folder.resolve().parent == tmp_path.resolve(), (name, folder)
        assert "\x00" not in folder.name and len(folder.name) < 256, name
