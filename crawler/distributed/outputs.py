"""Reading a distributed crawl's output (one ``worker-<id>/`` folder per worker) and clearing its Redis state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crawler.distributed.keys import CrawlKeys
from crawler.jsonl_store import read_records


def worker_dirs(out_dir: Path) -> list[Path]:
    return sorted(p for p in Path(out_dir).glob("worker-*") if p.is_dir())


def merged_articles(out_dir: Path) -> Iterator[dict]:
    """Every article of the crawl once: the workers' ``articles.jsonl`` in folder order, first record per ``id``
    (the only repeats possible are from a worker killed between writing a line and marking it done)."""
    seen: set[str] = set()
    for folder in worker_dirs(out_dir):
        for record in read_records(folder / "articles.jsonl"):
            key = record.get("id") or record.get("final_url") or record.get("url")
            if key in seen:
                continue
            if key:
                seen.add(key)
            yield record


def forget_crawl(server, crawl_id: str) -> int:
    """Delete every Redis key of ``crawl_id`` (frontier, fingerprints, seeds, workers, emitted); returns how many.
    The per-host politeness keys are shared by all crawls and expire by themselves."""
    keys = list(server.scan_iter(match=CrawlKeys(crawl_id).all_keys_pattern(), count=1000))
    return server.delete(*keys) if keys else 0
