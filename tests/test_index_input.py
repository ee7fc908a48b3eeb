"""Hostile and damaged input to ``healthdex index`` (issue 18): every bad line is reported in one line
(``file:line: reason``) and skipped, everything else is indexed, and no line is held in memory whole past
``--max-line-bytes``."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from faultlib import _RSS_WRAPPER, REPO, healthdex_env

from indexer import schema as S
from indexer.store import open_index

from support import run_healthdex

FIELDS = (
    "id",
    "url",
    "canonical_url",
    "site",
    "title",
    "text",
    "description",
    "authors",
    "categories",
    "published",
    "language",
    "page_type",
    "content_hash",
    "gone",
    "extra",
)
# Raw JSON values: each is put in each field of an otherwise good record.
ODD_VALUES = (
    "9" * 5000,  # past Python's 4,300-digit int limit: ValueError without .msg
    "[" * 100_000 + "]" * 100_000,  # RecursionError in the JSON decoder
    '"lone \\ud800 surrogate"',  # no UTF-8 form: UnicodeEncodeError in the content hash
    '"http://[::1/x"',  # ValueError: Invalid IPv6 URL
    "1e400",
    "-0",
    "NaN",
    "true",
    "null",
    "{}",
    "[]",
    '[{"name": 5}, [1]]',
    '"\\u0000"',
    '""',
    '"' + "w" * 300_000 + '"',
)


def _keys(index_dir: Path) -> set[str]:
    with open_index(index_dir).searcher() as s:
        return {d[S.KEY] for d in s.documents()}


def _good(n: int, prefix: str = "good") -> list[str]:
    return [json.dumps({"id": f"{prefix}-{i}", "text": f"sciatica back pain number {i}"}) for i in range(n)]


def test_odd_values_in_any_field_skip_only_their_line(tmp_path):
    lines = _good(3, "first")
    for field in FIELDS:
        for value in ODD_VALUES:
            base = {"id": f"odd-{len(lines)}", "url": f"https://example.org/{len(lines)}", "text": "a good text"}
            body = json.dumps({k: v for k, v in base.items() if k != field})[:-1]
            lines.append(f'{body}, "{field}": {value}}}')
    lines += _good(3, "last")
    src = tmp_path / "odd.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    idx = tmp_path / "idx"
    result = run_healthdex("index", str(src), "--index", str(idx))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    reported = {
        int(m) for m in re.findall(rf"^healthdex: {re.escape(str(src))}:(\d+): .+, skipped$", result.stderr, re.M)
    }
    assert len(reported) == len(result.stderr.splitlines())  # one line per bad line, nothing else
    keys = _keys(idx)
    assert {f"{p}-{i}" for p in ("first", "last") for i in range(3)} <= keys
    quiet = sum(int(n) for n in re.findall(r"(\d+) (?:no text|error record)", result.stdout))
    added = int(re.search(r"(\d+) added", result.stdout).group(1))
    gone = int(re.search(r"(\d+) unchanged", result.stdout).group(1))  # "gone": true of a key not indexed
    assert added == len(keys) and gone == 1
    assert added + gone + len(reported) + quiet == len(lines)  # every line indexed or reported, none lost
    # the four classes of issue 18, in a field the index reads, are each skipped with a reason
    for value, reason in zip(
        ODD_VALUES[:4], ("integer string conversion", "nested too deeply", "invalid Unicode", "bad URL"), strict=True
    ):
        n = lines.index(next(line for line in lines if line.endswith(f'"title": {value}}}')))
        if value.startswith('"http'):
            n = lines.index(next(line for line in lines if line.endswith(f'"url": {value}}}')))
        assert re.search(rf":{n + 1}: .*{reason}", result.stderr), (reason, result.stderr[-3000:])


def _peak_mb(tmp_path: Path, *args: str) -> tuple[float, str]:
    import subprocess

    rss = tmp_path / "rss.json"
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_WRAPPER, str(rss), *args],
        cwd=REPO,
        env=healthdex_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return json.loads(rss.read_text())["self_kb"] / 1024, proc.stderr


def test_an_over_long_line_is_skipped_without_being_read_whole(tmp_path):
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(_good(20)) + "\n")
    big = tmp_path / "big.jsonl"
    with big.open("w") as fh:
        fh.write("\n".join(_good(10)) + "\n")
        fh.write('{"id": "huge", "text": "' + "x" * (96 << 20) + '"}\n')
        fh.write("\n".join(_good(20)[10:]) + "\n")
    gone = tmp_path / "gone.txt"
    gone.write_text("good-3\n" + "y" * (96 << 20) + "\ngood-4\n")
    base_mb, _ = _peak_mb(tmp_path, "index", str(small), "--index", str(tmp_path / "a"))
    peak_mb, err = _peak_mb(tmp_path, "index", str(big), "--index", str(tmp_path / "b"), "--delete-gone", str(gone))
    assert f"{big}:11: line longer than 16,777,216 bytes (--max-line-bytes), skipped" in err
    assert f"{gone}:2: line longer than" in err
    assert _keys(tmp_path / "b") == {f"good-{i}" for i in range(20)} - {"good-3", "good-4"}
    # reading a line costs at most --max-line-bytes (16 MiB) at a time; before, the 96 MB line cost ~650 MB
    assert peak_mb < base_mb + 64, (base_mb, peak_mb)


def test_max_line_bytes_is_a_setting(tmp_path):
    src = tmp_path / "a.jsonl"
    src.write_text("\n".join(_good(2) + [json.dumps({"id": "long", "text": "z " * 2000})]) + "\n")
    result = run_healthdex("index", str(src), "--index", str(tmp_path / "idx"), "--max-line-bytes", "2048")
    assert result.returncode == 0 and f"{src}:3: line longer than 2,048 bytes" in result.stderr
    assert "2 added" in result.stdout and "1 skipped (1 too long)" in result.stdout


def test_poison_record_is_indexed_with_the_rest(tmp_path):
    """An article repeating one word 70,000 times failed the commit of its whole batch (struct.error)."""
    src = tmp_path / "a.jsonl"
    src.write_text(
        "\n".join(_good(5) + [json.dumps({"id": "poison", "text": "repeated " * 70_000})] + _good(10)[5:]) + "\n"
    )
    idx = tmp_path / "idx"
    for _ in range(2):  # and an update run over it
        result = run_healthdex("index", str(src), "--index", str(idx))
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert _keys(idx) == {f"good-{i}" for i in range(10)} | {"poison"}
    for query in ('"repeated repeated"', "repeated"):  # a phrase (Whoosh's reader), plain words (the index files)
        found = run_healthdex("search", query, "--index", str(idx), "--json")
        assert found.returncode == 0 and json.loads(found.stdout)["hits"][0]["key"] == "poison"
