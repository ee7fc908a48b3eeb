"""Random query strings through the real ``healthdex search`` dispatcher: exit 0, 1 or 2, never a traceback."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_search import hx
from test_search_fixtures import build_index

SYNTAX_PIECES = [
    '"',
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    " TO ",
    " AND ",
    " OR ",
    " NOT ",
    "*",
    "?",
    "~",
    "~2",
    "^",
    ":",
    "site:",
    "author:",
    "category:",
    "lang:",
    "published:",
    "updated:",
    ">",
    "<",
    ">=",
    "2020",
    "2023-04",
    "heart",
    "attack",
    "sciatica",
    "back pain",
    "foo:",
    "'",
    "\\",
    "\x00",
    "\x1b",
    "\t",
    "-",
    "+",
    "é",
    "🫀",
    " ",
]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return str(build_index(tmp_path_factory.mktemp("fuzz")))


query_strings = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(SYNTAX_PIECES), max_size=12).map("".join),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=query_strings)
def test_random_queries_exit_0_1_or_2(index, query):
    # "--" so that a query starting with "-" is a query, as a user would type it; without it click reports a usage
    # error (also exit 2, no traceback)
    r = hx("search", "--index", index, "--limit", "3", "--", query)
    assert r.code in (0, 1, 2), (query, r.code)
    if r.code == 2:
        assert r.err.startswith("healthdex: ") and len(r.err.strip().splitlines()) == 1, (query, r.err)
