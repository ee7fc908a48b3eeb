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
    not_modified: bool = False  # re-crawl: the server answered 304; body is the stored capture

    def provenance(self) -> dict:
        from healthdex.records import provenance

        return provenance(requested_url=self.url, final_url=self.final_url, status=self.status,
                          fetched_at=self.fetched_at, warc_file=self.warc_file, warc_record_id=self.warc_record_id,
                          profile=self.profile, etag=self.etag, last_modified=self.last_modified)


@dataclass
class GonePage(ArticlePage):
    """An article URL that now answers 404 or 410; ``RecrawlPipeline`` reports it gone if it was an article."""
