"""``healthdex search`` / ``similar`` / ``stats`` through the real CLI on a real index built by ``healthdex index``.

Most calls run the real dispatcher (``healthdex.cli.main``) in-process under click's test isolation, so exit
statuses and the dispatcher's one-line error handling are the real ones; a few run it as a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from test_search_fixtures import ROOT, build_index

from healthdex.cli import main


class Run:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def json(self):
        return json.loads(self.out)

    def jsonl(self):
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]

    def keys(self):
        return [h["key"] for h in self.jsonl()]


def hx(*args: str, env: dict | None = None) -> Run:
    """Run ``healthdex ARGS`` in-process; any exception but SystemExit fails the test (it would be a traceback)."""
    runner = CliRunner()
    with runner.isolation(env=env) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    assert "Traceback" not in stderr
    return Run(code, stdout, stderr)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return str(build_index(tmp_path_factory.mktemp("search")))


def search(index, query, *extra, env=None) -> Run:
    return hx("search", query, "--index", index, *extra, env=env)


def keys(index, query, *extra, env=None) -> list[str]:
    r = search(index, query, "--jsonl", "--no-synonyms", *extra, env=env)
    assert r.code in (0, 1), r.err
    return r.keys()


WISEGEEK = "https://www.wisegeek.net/what-is-sciatica.htm"  # key = canonical URL (tracking parameter dropped)


# ---------------------------------------------------------------- output and exit status
def test_plain_query_prints_ranked_hits_with_marked_snippets(index):
    r = search(index, "sciatica back pain")
    assert r.code == 0, r.err
    assert "What is sciatica?" in r.out
    assert WISEGEEK in r.out
    assert "wisegeek.net" in r.out and "2021-03-04" in r.out
    assert "«sciatica»" in r.out.lower() or "«sciatica»" in r.out.replace("«S", "«s")
    assert "\x1b[" not in r.out  # not a TTY: no colour
    first_hit = r.out.split("\n  1. ")[1]
    assert first_hit.startswith("What is sciatica?")


def test_colour_only_when_asked_for_a_tty(index):
    from search_cli.output import format_results, use_color
    from search_cli.search import search as lib_search

    res = lib_search(index, "asthma")

    class Tty:
        def isatty(self):
            return True

    assert use_color(stream=Tty()) is True
    assert use_color(no_color=True, stream=Tty()) is False
    coloured = format_results(res, "table", color=True)
    assert "\x1b[1;31m" in coloured and "«" not in coloured
    assert "\x1b[" not in format_results(res, "table", color=False)
    assert "\x1b[" not in search(index, "asthma", "--no-color").out


def test_no_hits_is_exit_1(index):
    r = search(index, "xylophonequartz")
    assert r.code == 1
    assert "No results" in r.out


def test_json_shape(index):
    r = search(index, "sciatica", "--json", "--limit", "2")
    assert r.code == 0
    data = r.json()
    assert set(data) >= {
        "query",
        "total",
        "total_exact",
        "offset",
        "limit",
        "sort",
        "hits",
        "suggestion",
        "facets",
        "synonyms",
    }
    assert data["query"] == "sciatica" and data["limit"] == 2 and data["offset"] == 0
    hit = data["hits"][0]
    assert set(hit) >= {"rank", "key", "url", "title", "site", "published", "updated", "score", "snippet"}
    assert hit["rank"] == 1 and hit["key"] == WISEGEEK and hit["site"] == "wisegeek.net"
    assert hit["published"] == "2021-03-04"
    assert "«" in hit["snippet"] and "»" in hit["snippet"]
    assert isinstance(hit["score"], float)


def test_jsonl_one_object_per_hit(index):
    r = search(index, "asthma", "--jsonl")
    lines = r.out.strip().splitlines()
    assert r.code == 0 and len(lines) == 2
    assert [json.loads(line)["rank"] for line in lines] == [1, 2]


def test_limit_and_offset(index):
    all_hits = keys(index, "asthma heart diabetes")
    assert len(all_hits) >= 4
    assert keys(index, "asthma heart diabetes", "--limit", "2") == all_hits[:2]
    assert keys(index, "asthma heart diabetes", "--limit", "2", "--offset", "1") == all_hits[1:3]
    assert search(index, "asthma", "--limit", "-1").code == 2


def test_sort_by_dates(index):
    r = search(index, "heart", "--jsonl", "--sort", "published", "--no-synonyms")
    dates = [h["published"] for h in r.jsonl()]
    assert dates == sorted(dates, reverse=True) and len(dates) >= 2
    r = search(index, "asthma", "--jsonl", "--sort", "updated")
    assert [h["key"] for h in r.jsonl()][0] == "asthma-kids"  # updated 2024 vs none
    assert search(index, "asthma", "--sort", "title").code == 2


def test_facets(index):
    r = search(index, "heart", "--facets", "site,category", "--json", "--no-synonyms")
    facets = r.json()["facets"]
    assert facets["category"]["heart"] == 2  # heart-attack, hypertension (the MI page never says "heart")
    assert sum(facets["site"].values()) == r.json()["total"]
    table = search(index, "heart", "--facets", "site,category", "--no-synonyms").out
    assert "category:" in table and "site:" in table
    assert search(index, "heart", "--facets", "colour").code == 2


# ---------------------------------------------------------------- query syntax
def test_boolean_operators_and_grouping(index):
    assert keys(index, "asthma NOT children") == ["asthma-adults"]
    assert set(keys(index, "asthma AND children")) == {"asthma-kids"}
    assert set(keys(index, "sciatica OR hypertension")) == {WISEGEEK, "hypertension"}
    assert set(keys(index, "(asthma OR diabetes) AND NOT children")) == {"asthma-adults", "diabetes"}


def test_phrase_and_proximity(index):
    assert keys(index, '"back pain"') == [WISEGEEK]
    near = keys(index, '"back pain"~3')
    assert set(near) == {WISEGEEK, "back-leg"}


def test_phrase_survives_position_delta_46(index):
    # whoosh-ng 5.4 reads a position list whose last varint byte is "." as a pickle; search_cli works around it
    assert keys(index, '"alpha beta"') == ["positions"]


def test_wildcards_and_fuzzy(index):
    assert keys(index, "diabet*") == ["diabetes"]
    assert keys(index, "diabetis~") == ["diabetes"]
    assert keys(index, "asthmaa~2") and set(keys(index, "asthmaa~2")) == {"asthma-kids", "asthma-adults"}
    assert "positions" in keys(index, "gam?a")


def test_field_filters(index):
    assert set(keys(index, "site:cdc.gov")) == {"asthma-kids", "asthma-adults"}
    assert set(keys(index, "site:nih.gov")) == {"heart-attack", "diabetes"}  # subdomains count
    assert set(keys(index, "author:smith")) == {"heart-attack", "diabetes"}
    assert set(keys(index, 'author:"jane smith" diabetes')) == {"diabetes"}
    assert set(keys(index, "reviewer:jones")) == {"heart-attack", "hypertension"}
    assert set(keys(index, "category:heart")) == {"heart-attack", "mi-clinical", "hypertension"}
    assert keys(index, 'category:"back pain"') == [WISEGEEK]
    assert keys(index, "lang:es") == ["presion-alta"]
    assert set(keys(index, "asthma site:cdc.gov category:children")) == {"asthma-kids"}
    assert keys(index, "title:hypertension") == ["hypertension"]


def test_date_filters(index):
    assert set(keys(index, "published:>2020")) == {
        WISEGEEK,
        "mi-clinical",
        "hypertension",
        "asthma-kids",
        "asthma-adults",
    }
    assert set(keys(index, "published:<2018")) == {"diabetes", "positions"}
    assert set(keys(index, "published:<=2018")) == {"diabetes", "positions", "back-leg"}
    assert keys(index, "published:2021-03") == [WISEGEEK]
    assert set(keys(index, "updated:[2023 TO 2024]")) == {"heart-attack", "mi-clinical", "hypertension", "asthma-kids"}
    assert set(keys(index, "updated:{2023 TO 2024]")) == {"mi-clinical", "hypertension", "asthma-kids"}
    assert keys(index, "asthma published:>=2023") == ["asthma-kids"]


def test_parser_date_syntax_inside_groups(index):
    r = search(index, "(asthma AND published:>2023)", "--jsonl")
    assert r.code in (0, 1) and "Traceback" not in r.err


# ---------------------------------------------------------------- synonyms
def test_synonyms_expand_and_can_be_switched_off(index):
    with_syn = search(index, "heart attack", "--jsonl").keys()
    without = search(index, "heart attack", "--jsonl", "--no-synonyms").keys()
    assert "mi-clinical" in with_syn and "mi-clinical" not in without
    # what the user typed outranks the expansion
    assert with_syn.index("heart-attack") < with_syn.index("mi-clinical")
    data = search(index, "heart attack", "--json").json()
    assert data["synonyms"][0]["matched"] == "heart attack"
    assert "myocardial infarction" in data["synonyms"][0]["expanded"]
    # and the other way round, clinical -> lay
    assert "presion-alta" not in search(index, "hypertension", "--jsonl").keys()
    assert "hypertension" in search(index, "high blood pressure", "--jsonl").keys()


def test_user_synonym_file_and_env(index, tmp_path):
    f = tmp_path / "mine.tsv"
    f.write_text("# my words\nzebraitis|sciatica\tmy clinic's glossary\n", encoding="utf-8")
    assert search(index, "zebraitis", "--jsonl").code == 1
    assert search(index, "zebraitis", "--jsonl", "--synonyms", str(f)).keys()[0] == WISEGEEK
    r = search(index, "zebraitis", "--jsonl", env={"HEALTHDEX_SYNONYMS": str(f)})
    assert r.keys()[0] == WISEGEEK
    bad = tmp_path / "bad.tsv"
    bad.write_text("lonely\n", encoding="utf-8")
    r = search(index, "x", "--synonyms", str(bad))
    assert r.code == 2 and "bad.tsv:1" in r.err
    assert search(index, "x", "--synonyms", str(tmp_path / "missing.tsv")).code == 2


def test_shipped_synonym_file_is_data_with_sources():
    from search_cli import synonyms

    table = synonyms.load(synonyms.DEFAULT_PATH)
    assert len(table) >= 300
    assert all(c.source for c in table.concepts)
    m = table.find(synonyms.words("my high blood pressure and heart attack"))
    assert [x.matched for x in m] == ["high blood pressure", "heart attack"]
    assert "hypertension" in m[0].alternatives


# ---------------------------------------------------------------- did you mean, similar, stats
def test_did_you_mean(index):
    r = search(index, "sciatca")
    assert r.code == 1
    assert "Did you mean: sciatica" in r.out
    data = search(index, "sciatca", "--json").json()
    assert data["suggestion"] == "sciatica" and data["suggestion_total"] >= 1
    assert search(index, "sciatica", "--json").json()["suggestion"] is None
    # one unknown word among known ones: the query finds something, the correction finds the word too
    data = search(index, "sciatca leg", "--json").json()
    assert data["suggestion"] == "sciatica leg" and data["suggestion_total"] >= data["total"] > 0
    assert search(index, "site:cdc.gov asthma", "--json").json()["suggestion"] is None


def test_similar_by_key_and_url(index):
    r = hx("similar", "asthma-kids", "--index", index, "--jsonl")
    assert r.code == 0, r.err
    found = r.keys()
    assert found[0] == "asthma-adults" and "asthma-kids" not in found
    r = hx("similar", "https://www.wisegeek.net/what-is-sciatica.htm?utm_source=x", "--index", index, "--json")
    assert r.code == 0 and WISEGEEK not in [h["key"] for h in r.json()["hits"]]
    r = hx("similar", "https://nowhere.example/", "--index", index)
    assert r.code == 2 and "no document" in r.err


def test_stats(index):
    r = hx("stats", "--index", index, "--json")
    assert r.code == 0
    st = r.json()
    assert st["documents"] == 10 and st["sites"] == 7
    assert st["published_range"] == ["2015-01-01", "2024-06-01"]
    assert st["size_bytes"] > 0 and st["segments"] >= 1
    table = hx("stats", "--index", index).out
    assert "documents:  10" in table and "segments:" in table


# ---------------------------------------------------------------- batch / TREC
def test_batch_writes_a_trec_run(index, tmp_path):
    topics = tmp_path / "topics.tsv"
    topics.write_text("q1\tsciatica back pain\nq2\tasthma in kids?\n\nq3\txylophonequartz\n", encoding="utf-8")
    r = hx("search", "--batch", str(topics), "--index", index, "--limit", "3")
    assert r.code == 0, r.err
    rows = [line.split() for line in r.out.strip().splitlines()]
    assert all(len(row) == 6 and row[1] == "Q0" and row[5] == "healthdex" for row in rows)
    q1 = [row for row in rows if row[0] == "q1"]
    assert q1[0][2] == WISEGEEK and [int(row[3]) for row in q1] == [1, 2, 3]
    scores = [float(row[4]) for row in q1]
    assert scores == sorted(scores, reverse=True)
    assert {row[0] for row in rows} == {"q1", "q2"}
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab here\n", encoding="utf-8")
    r = hx("search", "--batch", str(bad), "--index", index)
    assert r.code == 2 and "line 1" in r.err


def test_batch_through_a_subprocess(index, tmp_path):
    topics = tmp_path / "t.tsv"
    topics.write_text('7\theart attack (MI) "symptoms" site: foo:bar\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "healthdex", "search", "--batch", str(topics), "--index", index, "--limit", "5"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:4] == ["7", "Q0", "heart-attack", "1"]


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "query",
    [
        "foo:bar",
        "published:[2020 TO",
        "published:>nonsense",
        "updated:2020-13",
        "published:[2021 TO garbage]",
        "",
        "   ",
        "\x00\x01",
    ],
)
def test_user_errors_are_one_line_exit_2(index, query):
    r = search(index, query)
    assert r.code == 2, (query, r.out)
    assert r.err.startswith("healthdex: ") and len(r.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced quote',
        "(unbalanced paren",
        "unbalanced)",
        "[",
        "]",
        "{",
        "}",
        "AND",
        "OR OR",
        "NOT",
        "^",
        "~",
        "*",
        "?",
        "heart\x07attack\x1b[31m",
        "a:b:c",
        "note: colon then space",
        "http://example.com/page",
        "site:",
        "(",
        '"',
        "'",
        "sciatica\ttab",
        "🫀 heart",
        "heart^2 attack",
        "10:30 am",
    ],
)
def test_odd_queries_never_traceback(index, query):
    r = search(index, query)
    assert r.code in (0, 1, 2)
    if r.code == 2:
        assert len(r.err.strip().splitlines()) == 1


def test_missing_index_is_one_line_exit_2(tmp_path):
    for cmd in (["search", "x"], ["similar", "x"], ["stats"]):
        proc = subprocess.run(
            [sys.executable, "-m", "healthdex", *cmd, "--index", str(tmp_path / "nope")],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            env={**os.environ, "NO_COLOR": "1"},
        )
        assert proc.returncode == 2, cmd
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        assert "no index" in proc.stderr


def _after_a_search(index: str, code: str, query: str = "asthma") -> subprocess.CompletedProcess:
    """Run ``healthdex search QUERY`` through the console entry point in a fresh interpreter, then ``code`` in the
    same process (to see what the search loaded)."""
    prefix = (
        f"import sys\nfrom healthdex.cli import main\ntry:\n    main(['search',{query!r},'--index',{index!r}])\n"
        "except SystemExit:\n    pass\n"
    )
    return subprocess.run([sys.executable, "-c", prefix + code], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_search_does_not_import_the_crawler(index):
    proc = _after_a_search(
        index,
        "bad=[m for m in sys.modules if m.split('.')[0] in ('scrapy','bs4','crawler','stripper','twisted')]\n"
        "print('BAD', bad)\n",
    )
    assert "BAD []" in proc.stdout, proc.stdout + proc.stderr


def test_search_usage_errors_are_one_line(index):
    for args in (
        ["asthma", "--index", index, "--limit", "-3"],
        ["asthma", "--index", index, "--bogus"],
        ["asthma"],
        ["asthma", "--index", index, "--sort", "alphabetical"],
    ):
        r = hx("search", *args)
        assert r.code == 2 and r.err.startswith("healthdex: ") and len(r.err.strip().splitlines()) == 1, (args, r)
    r = hx("search", "--help")
    assert r.code == 0 and "--index" in r.out and "published:>2020" in r.out


def test_ranking_profiles(index, tmp_path):
    topics = tmp_path / "t.tsv"
    topics.write_text("1\tasthma children\n", encoding="utf-8")
    for profile in ("default", "whoosh"):
        r = hx("search", "--batch", str(topics), "--index", index, "--ranking", profile)
        assert r.code == 0 and r.out.split()[2] == "asthma-kids", (profile, r.out, r.err)
    assert search(index, "asthma", "--ranking", "whoosh").code == 0
    assert search(index, "asthma", "--ranking", "bm25plus").code == 2


def test_a_word_matched_by_a_health_synonym_is_not_corrected(index, tmp_path):
    """A word the index lacks but a synonym concept knows finds articles through its synonyms and is not offered a
    spelling correction ("flu" is no typo for "four"); without synonyms the same word is corrected."""
    table = tmp_path / "syn.tsv"
    table.write_text("legs|sciatica\tfor this test\n", encoding="utf-8")
    with_synonyms = search(index, "legs", "--json", "--synonyms", str(table)).json()
    assert with_synonyms["total"] >= 1 and with_synonyms["suggestion"] is None
    without = search(index, "legs", "--json", "--no-synonyms").json()
    assert without["suggestion"] == "leg"
