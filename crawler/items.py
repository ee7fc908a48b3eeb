"""What the spider hands to the item pipelines: a fetched article page, before and after extraction."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ArticlePage:
    """A fetched page the profile says is an article; ``ExtractArticlePipeline`` turns it into a record."""

    url: str  # URL requested first (before redirects)
    final_url: str  # URL after redirects
    status: int
    body: bytes
    http_charset: str | None
    profile: str
    selectors: dict[str, list[str]] = field(default_factory=dict)
    fetched_at: str = ""
    warc_file: str = ""
    warc_record_id: str = ""
    etag: str | None = None
    last_modified: str | None = None
