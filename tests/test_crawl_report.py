"""Issue 5: ``healthdex crawl-report DIR`` over a distributed crawl's output reports the whole crawl, merged from
the ``worker-*/crawl-report.json`` files (counts summed, statuses and errors merged, duration from the earliest
start to the latest end), and says how many workers it merged.  A two-worker crawl's merged report is also checked
end to end in test_distributed_duplicates.py."""

from __future__ import annotations

import json
from pathlib import Path

from crawler.report import summarise_stats

from support import run_healthdex


def write_report(folder: Path, stats: dict, *, finished: float, duration: float, reason: str = "finished") -> dict:
    report = summarise_stats(stats, duration=duration, reason=reason, profiles="distsite", finished=finished)
    folder.mkdir(parents=True)
    (folder / "crawl-report.json").write_text(json.dumps(report), encoding="utf-8")
    return report


def test_crawl_report_merges_the_worker_folders_of_a_distributed_crawl(tmp_path):
    out = tmp_path / "out"
    write_report(
        out / "worker-a",
        {
            "response_received_count": 10,
            "downloader/response_status_count/200": 8,
            "downloader/response_status_count/404": 2,
            "healthdex/articles": 7,
            "healthdex/records_written": 6,
            "healthdex/duplicates/exact": 1,
            "downloader/exception_type_count/TimeoutError": 1,
            "healthdex/failed/timeout": 1,
            "healthdex/failed_pages": {"http://x.example/a": "timeout: took too long"},
            "healthdex/bytes": 1000,
        },
        finished=1_000_010.0,
        duration=10.0,
    )  # 1_000_000 .. 1_000_010
    write_report(
        out / "worker-b",
        {
            "response_received_count": 5,
            "downloader/response_status_count/200": 4,
            "downloader/response_status_count/500": 1,
            "healthdex/articles": 4,
            "healthdex/records_written": 3,
            "healthdex/duplicates/exact": 1,
            "healthdex/duplicates/near": 2,
            "healthdex/failed/http_500": 1,
            "healthdex/failed_pages": {"http://x.example/b": "http_500: error"},
            "healthdex/bytes": 500,
        },
        finished=1_000_016.0,
        duration=12.0,
        reason="shutdown",
    )  # 1_000_004 .. 1_000_016
    (out / "worker-c").mkdir()  # a worker killed before it wrote its report

    result = run_healthdex("crawl-report", str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["workers_merged"] == 2
    assert report["workers"] == ["worker-a", "worker-b"] and report["workers_without_report"] == ["worker-c"]
    assert report["pages_fetched"] == 15 and report["records_written"] == 9 and report["articles_extracted"] == 11
    assert report["pages_by_status"] == {"200": 12, "404": 2, "500": 1}
    assert report["duplicates_dropped"] == 4 and report["duplicates_by_kind"] == {"exact": 2, "near": 2}
    assert report["errors_by_kind"] == {"TimeoutError": 1}
    assert report["failed_by_reason"] == {"http_500": 1, "timeout": 1}
    assert set(report["failed_pages"]) == {"http://x.example/a", "http://x.example/b"}
    assert report["bytes"] == 1500
    assert report["duration_s"] == 16.0  # earliest start (a) to latest end (b), not the sum or the longest
    assert report["pages_per_s"] == round(15 / 16, 2)
    assert report["finish_reason"] == "finished (1), shutdown (1)"

    text = run_healthdex("crawl-report", str(out))
    assert text.returncode == 0, text.stderr
    assert "merged the reports of 2 workers (1 without a report: worker-c)" in text.stdout
    assert "200: 12, 404: 2, 500: 1" in text.stdout


def test_crawl_report_of_workers_that_all_lack_a_report_is_one_line(tmp_path):
    (tmp_path / "out" / "worker-a").mkdir(parents=True)
    result = run_healthdex("crawl-report", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "healthdex: no crawl report in any worker folder (worker-a); have the workers finished?"
    )
    empty = run_healthdex("crawl-report", str(tmp_path))
    assert empty.returncode == 2 and "no crawl report in" in empty.stderr and len(empty.stderr.splitlines()) == 1


def test_a_single_machine_report_is_read_as_written(tmp_path):
    written = write_report(tmp_path / "out", {"response_received_count": 3}, finished=1_000_000.0, duration=2.0)
    result = run_healthdex("crawl-report", str(tmp_path / "out"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == written and "workers_merged" not in report
    assert report["started_at"] == "1970-01-12T13:46:38.000000Z" and report["pages_fetched"] == 3
