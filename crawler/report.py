"""The crawl report: what a finished (or interrupted) crawl fetched, extracted, skipped and failed.

``CrawlReport`` (a Scrapy extension) writes ``crawl-report.json`` into the output folder when the crawl ends, with per
site the articles written (``item_scraped``) and the spacing of its requests (``crawler.politeness.request_sent``);
``healthdex crawl-report`` reads, merges (one report per worker) and prints it.
"""

from __future__ import annotations

import json
import statistics
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from crawler.politeness import request_sent
from healthdex.errors import UserError

REPORT_FILE = "crawl-report.json"
# Failure kinds (crawler.middlewares.failures) that are the crawl's own scope rules at work, reported per site as
# ``dropped`` with the pages whose links were past the depth limit; robots.txt has its own column, the rest failed.
SCOPE_KINDS = ("content_type", "redirect_offsite", "redirect_scheme", "redirect_private", "redirect_loop", "max_pages")
_SITE_COLUMNS = ("pages", "articles", "duplicates", "robots_denied", "dropped", "failed")


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _timestamp(value: object) -> float | None:
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _under(stats: dict, prefix: str) -> dict:
    """The stats named ``prefix<name>``, by name."""
    return {key.removeprefix(prefix): value for key, value in stats.items() if key.startswith(prefix)}


def site_rows(stats: dict, spacing: dict[str, Sequence[float]]) -> dict:
    """Per site (profile name): ``pages`` (responses over the network), ``articles`` (written), ``duplicates``,
    ``robots_denied``, ``dropped`` (links past the depth limit, scope rules), ``failed``, and the observed spacing
    between requests to its host: ``spacing_min_s``, ``spacing_median_s`` over ``spacing_count`` gaps."""
    counts: defaultdict[str, Counter] = defaultdict(Counter)
    for key, value in stats.items():
        if key.startswith("healthdex/site/"):
            site, _, what = key.removeprefix("healthdex/site/").partition("/")
            if what.startswith("failed/"):
                kind = what.removeprefix("failed/")
                what = "robots_denied" if kind == "robots" else "dropped" if kind in SCOPE_KINDS else "failed"
            counts[site]["dropped" if what == "depth_limited" else what] += int(value)
    rows = {site: {key: counts[site][key] for key in _SITE_COLUMNS} for site in sorted(set(counts) | set(spacing))}
    for site, row in rows.items():
        gaps = spacing.get(site) or []
        row["spacing_count"], row["spacing_min_s"], row["spacing_median_s"] = len(gaps), None, None
        if gaps:
            row["spacing_min_s"], row["spacing_median_s"] = round(min(gaps), 3), round(statistics.median(gaps), 3)
    return rows


def summarise_stats(stats: dict, *, duration: float, reason: str, profiles: str, finished: float | None = None) -> dict:
    """A stable, documented summary of Scrapy's stats for the report file (``finished``: when the run ended, seconds
    since the epoch; it and ``duration`` give ``started_at``/``finished_at``)."""
    replayed = stats.get("healthdex/resume/replayed", 0)
    pages = stats.get("response_received_count", 0) - replayed  # fetched over the network by this run
    duplicates = _under(stats, "healthdex/duplicates/")
    return {
        "profiles": profiles,
        "finish_reason": reason,
        "duration_s": round(duration, 3),
        "pages_fetched": pages,
        "pages_by_status": _under(stats, "downloader/response_status_count/"),
        "articles_extracted": stats.get("healthdex/articles", 0),
        "records_written": stats.get("healthdex/records_written", 0),
        "extract_errors": stats.get("healthdex/extract_errors", 0),
        # articles whose page had no prose (the stripper's empty_reason), and pages over a stripper limit
        "empty_articles": stats.get("healthdex/empty_articles", 0),
        "empty_by_reason": _under(stats, "healthdex/empty/"),
        "extract_limited": stats.get("healthdex/extract_limited", 0),
        "duplicates_dropped": sum(duplicates.values()),
        "duplicates_by_kind": duplicates,
        "unchanged": stats.get("healthdex/unchanged", 0),
        "gone": stats.get("healthdex/gone", 0),
        "conditional_requests": stats.get("healthdex/recrawl/conditional_requests", 0),
        "not_modified": stats.get("httpcache/revalidate", 0),  # the stored page stands (304, or a 5xx)
        "robots_denied": stats.get("robotstxt/forbidden", 0),
        "dropped_by_reason": _under(stats, "healthdex/dropped/"),
        "depth_limited": stats.get("healthdex/depth_limited", 0),
        "errors_by_kind": {**_under(stats, "downloader/exception_type_count/"), **_under(stats, "healthdex/error/")},
        # Pages given up on after retries/redirects: by reason, and {url: "reason: detail"} (middlewares.failures)
        "failed_by_reason": _under(stats, "healthdex/failed/"),
        "failed_pages": stats.get("healthdex/failed_pages") or {},
        "bytes": stats.get("healthdex/bytes", stats.get("downloader/response_bytes", 0)),
        "pages_per_s": round(pages / duration, 2) if duration > 0 else None,
        "resumes": stats.get("healthdex/resumes", 0),
        "resumed_from_warc": replayed,
        # A WARC reopened with damage: each stretch skipped ({offset, bytes, reason, torn}) and its bytes in all;
        # a torn tail cut off (a write killed mid-record)
        "warc_damage": stats.get("healthdex/warc_damage") or [],
        "warc_damaged_bytes": stats.get("healthdex/warc_damaged_bytes", 0),
        "warc_torn_bytes_cut": stats.get("healthdex/warc_repaired_bytes", 0),
        "run": stats.get("healthdex/run", 0),
        "extract_workers": stats.get("healthdex/extract_workers", 0),
        **({"started_at": _iso(finished - duration), "finished_at": _iso(finished)} if finished is not None else {}),
    }


def load_report(out_dir: Path) -> dict:
    """The report of the crawl in ``out_dir``; for a distributed crawl (``worker-*/`` folders and no report of its
    own), the workers' reports merged (:func:`merge_reports`)."""
    path = Path(out_dir) / REPORT_FILE
    if not path.is_file():
        workers = sorted(p for p in Path(out_dir).glob("worker-*") if p.is_dir())
        if workers:
            return merge_reports(workers)
        raise UserError(f"no crawl report in {out_dir} (expected {path.name}; is this a crawl output folder?)")
    return _read(path)


def _read(path: Path) -> dict:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise UserError(f"{path}: unreadable crawl report ({exc})") from None
    if not isinstance(report, dict):
        raise UserError(f"{path}: unreadable crawl report (not a JSON object)")
    return report


# How merge_reports combines each field of the workers' reports: counts are summed, {key: count} maps summed per key,
# ``failed_pages`` ({url: reason}) united; the rest is computed.
_SUMMED = """pages_fetched articles_extracted records_written extract_errors empty_articles extract_limited
    duplicates_dropped unchanged gone conditional_requests not_modified robots_denied depth_limited bytes resumes
    resumed_from_warc extract_workers warc_damaged_bytes warc_torn_bytes_cut""".split()
_SUMMED_MAPS = """pages_by_status duplicates_by_kind dropped_by_reason errors_by_kind failed_by_reason
    empty_by_reason""".split()


def merge_reports(worker_folders: list[Path]) -> dict:
    """One report for a distributed crawl from its workers' folders: counts summed, statuses and errors merged,
    duration from the earliest start to the latest end (a report without ``started_at``/``finished_at``, from an
    older version, ends when its file was written).  ``workers_merged`` says how many reports were merged;
    ``workers_without_report`` names the folders that had none (a worker killed before it could write one)."""
    reports: list[tuple[Path, dict]] = []
    missing: list[str] = []
    for folder in worker_folders:
        path = Path(folder) / REPORT_FILE
        if path.is_file():
            reports.append((path, _read(path)))
        else:
            missing.append(Path(folder).name)
    if not reports:
        names = ", ".join(missing)
        raise UserError(f"no crawl report in any worker folder ({names}); have the workers finished?")
    merged: dict = {key: sum(int(r.get(key) or 0) for _, r in reports) for key in _SUMMED}
    for key in _SUMMED_MAPS:
        total: Counter = Counter()
        for _, report in reports:
            total.update({k: int(v) for k, v in (report.get(key) or {}).items()})
        merged[key] = dict(sorted(total.items()))
    merged["failed_pages"] = {url: why for _, r in reports for url, why in (r.get("failed_pages") or {}).items()}
    merged["sites"] = _merge_sites([report.get("sites") or {} for _, report in reports])
    merged["warc_damage"] = [
        {"worker": path.parent.name, **damage} for path, report in reports for damage in report.get("warc_damage") or []
    ]
    ends = [_timestamp(r.get("finished_at")) or path.stat().st_mtime for path, r in reports]
    starts = [
        _timestamp(r.get("started_at")) or end - float(r.get("duration_s") or 0)
        for (_, r), end in zip(reports, ends, strict=True)
    ]
    duration = max(ends) - min(starts)
    reasons = Counter(str(r.get("finish_reason")) for _, r in reports)
    merged.update(
        {
            "profiles": ",".join(sorted({str(r.get("profiles")) for _, r in reports if r.get("profiles")})),
            "finish_reason": next(iter(reasons))
            if len(reasons) == 1
            else ", ".join(f"{reason} ({n})" for reason, n in sorted(reasons.items())),
            "duration_s": round(duration, 3),
            "pages_per_s": round(merged["pages_fetched"] / duration, 2) if duration > 0 else None,
            "started_at": _iso(min(starts)),
            "finished_at": _iso(max(ends)),
            "run": max(int(r.get("run") or 0) for _, r in reports),
            "workers_merged": len(reports),
            "workers": [path.parent.name for path, _ in reports],
            "workers_without_report": missing,
        }
    )
    return merged


def _merge_sites(worker_sites: list[dict]) -> dict:
    """Counts summed per site, the least spacing of all, and the median of the workers' medians (each worker's gaps
    are crawl-wide ones, from the host's state in Redis: an estimate of the median of them all)."""
    rows_of: dict[str, list[dict]] = {}
    for sites in worker_sites:
        for site, row in sites.items():
            rows_of.setdefault(site, []).append(row)
    merged = {}
    for site, rows in sorted(rows_of.items()):
        timed = [r for r in rows if r.get("spacing_count")]
        merged[site] = {key: sum(int(r.get(key) or 0) for r in rows) for key in (*_SITE_COLUMNS, "spacing_count")}
        merged[site]["spacing_min_s"] = min((r["spacing_min_s"] for r in timed), default=None)
        merged[site]["spacing_median_s"] = statistics.median(r["spacing_median_s"] for r in timed) if timed else None
    return merged


def format_report(report: dict) -> str:
    lines = [f"crawl of {report.get('profiles') or '?'}: {report.get('finish_reason')}"]
    if "workers_merged" in report:
        missing = report.get("workers_without_report") or []
        lines.append(
            f"  merged the reports of {report['workers_merged']} workers"
            + (f" ({len(missing)} without a report: {', '.join(missing)})" if missing else "")
        )
    for key in (
        "pages_fetched",
        "articles_extracted",
        "records_written",
        "extract_errors",
        "empty_articles",
        "extract_limited",
        "duplicates_dropped",
        "unchanged",
        "gone",
        "not_modified",
        "robots_denied",
        "bytes",
        "duration_s",
        "pages_per_s",
        "resumes",
        "resumed_from_warc",
    ):
        lines.append(f"  {key.replace('_', ' '):<20} {report.get(key)}")
    for title, key in (
        ("by status", "pages_by_status"),
        ("errors", "errors_by_kind"),
        ("failed", "failed_by_reason"),
        ("duplicates", "duplicates_by_kind"),
        ("dropped", "dropped_by_reason"),
        ("empty", "empty_by_reason"),
    ):
        values = report.get(key) or {}
        if values:
            lines.append(f"  {title:<20} " + ", ".join(f"{k}: {v}" for k, v in sorted(values.items())))
    for site, row in (report.get("sites") or {}).items():
        counts = ", ".join(f"{k.replace('_', ' ')} {row.get(k)}" for k in _SITE_COLUMNS)
        lines.append(
            f"  site {site}: {counts}; spacing min {row.get('spacing_min_s')} s, median {row.get('spacing_median_s')} s"
        )
    if report.get("warc_torn_bytes_cut"):
        lines.append(f"  {'WARC torn tail':<20} {report['warc_torn_bytes_cut']} bytes cut (a record cut short)")
    for damage in report.get("warc_damage") or []:
        where = f"{damage['worker']}: " if damage.get("worker") else ""
        lines.append(
            f"  {'WARC damage':<20} {where}skipped {damage.get('bytes')} bytes at offset "
            f"{damage.get('offset')}: {damage.get('reason')} (the records after it are kept)"
        )
    return "\n".join(lines)


class CrawlReport:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.out_dir = Path(crawler.settings.get("HEALTHDEX_OUT_DIR"))
        self.started = time.time()
        self.spacing: defaultdict[str, array] = defaultdict(lambda: array("d"))  # site -> seconds between requests
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.request_sent, signal=request_sent)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlReport:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        self.started = time.time()

    def request_sent(self, request, site: str, gap: float | None) -> None:
        if gap is not None:
            self.spacing[site].append(gap)

    def item_scraped(self, item) -> None:
        if isinstance(item, dict) and item.get("profile") and not item.get("gone") and "error" not in item:
            self.crawler.stats.inc_value(f"healthdex/site/{item['profile']}/articles")

    def spider_closed(self, spider: Spider, reason: str) -> None:
        stats = dict(self.crawler.stats.get_stats())
        finished = time.time()
        report = summarise_stats(
            stats,
            duration=finished - self.started,
            reason=reason,
            profiles=getattr(spider, "profile_names", ""),
            finished=finished,
        )
        report["sites"] = site_rows(stats, self.spacing)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / REPORT_FILE
        path.write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
