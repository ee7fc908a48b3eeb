"""The crawl report: what a finished (or interrupted) crawl fetched, extracted, skipped and failed."""

from __future__ import annotations

import json
from pathlib import Path

from healthdex.errors import UserError


def summarise_stats(stats: dict, *, duration: float, reason: str, profiles: str) -> dict:
    """A stable, documented summary of Scrapy's stats for the report file."""
    by_status = {
        key.rsplit("/", 1)[-1]: value
        for key, value in stats.items()
        if key.startswith("downloader/response_status_count/")
    }
    errors = {
        key.split("/", 2)[-1]: value
        for key, value in stats.items()
        if key.startswith("downloader/exception_type_count/") or key.startswith("healthdex/error/")
    }
    replayed = stats.get("healthdex/resume/replayed", 0)
    pages = stats.get("response_received_count", 0) - replayed  # fetched over the network by this run
    duplicates = {key.rsplit("/", 1)[-1]: value for key, value in stats.items()
                  if key.startswith("healthdex/duplicates/")}
    dropped = {key.rsplit("/", 1)[-1]: value for key, value in stats.items() if key.startswith("healthdex/dropped/")}
    return {
        "profiles": profiles,
        "finish_reason": reason,
        "duration_s": round(duration, 3),
        "pages_fetched": pages,
        "pages_by_status": by_status,
        "articles_extracted": stats.get("healthdex/articles", 0),
        "records_written": stats.get("healthdex/records_written", 0),
        "extract_errors": stats.get("healthdex/extract_errors", 0),
        "duplicates_dropped": sum(duplicates.values()),
        "duplicates_by_kind": duplicates,
        "unchanged": stats.get("healthdex/unchanged", 0),
        "gone": stats.get("healthdex/gone", 0),
        "conditional_requests": stats.get("healthdex/recrawl/conditional_requests", 0),
        "not_modified": stats.get("healthdex/recrawl/not_modified", 0),
        "robots_denied": stats.get("robotstxt/forbidden", 0),
        "dropped_by_reason": dropped,
        "depth_limited": stats.get("healthdex/depth_limited", 0),
        "errors_by_kind": errors,
        # Pages given up on after retries/redirects: by reason, and {url: "reason: detail"} (middlewares.failures)
        "failed_by_reason": {key.split("/", 2)[-1]: value for key, value in stats.items()
                             if key.startswith("healthdex/failed/")},
        "failed_pages": stats.get("healthdex/failed_pages") or {},
        "bytes": stats.get("healthdex/bytes", stats.get("downloader/response_bytes", 0)),
        "pages_per_s": round(pages / duration, 2) if duration > 0 else None,
        "resumes": stats.get("healthdex/resumes", 0),
        "resumed_from_warc": replayed,
        "run": stats.get("healthdex/run", 0),
        "extract_workers": stats.get("healthdex/extract_workers", 0),
    }


def load_report(out_dir: Path) -> dict:
    path = Path(out_dir) / "crawl-report.json"
    if not path.is_file():
        raise UserError(f"no crawl report in {out_dir} (expected {path.name}; is this a crawl output folder?)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UserError(f"{path}: unreadable crawl report ({exc})") from None


def format_report(report: dict) -> str:
    lines = [f"crawl of {report.get('profiles') or '?'}: {report.get('finish_reason')}"]
    for key in ("pages_fetched", "articles_extracted", "records_written", "extract_errors", "duplicates_dropped",
                "unchanged", "gone", "not_modified", "robots_denied", "bytes", "duration_s", "pages_per_s",
                "resumes", "resumed_from_warc"):
        lines.append(f"  {key.replace('_', ' '):<20} {report.get(key)}")
    for title, key in (("by status", "pages_by_status"), ("errors", "errors_by_kind"), ("failed", "failed_by_reason"),
                       ("duplicates", "duplicates_by_kind"), ("dropped", "dropped_by_reason")):
        values = report.get(key) or {}
        if values:
            lines.append(f"  {title:<20} " + ", ".join(f"{k}: {v}" for k, v in sorted(values.items())))
    return "\n".join(lines)
