"""``healthdex clean``: HTML files, folders and WARCs -> one JSON object per page on stdout (thin over the library)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import click

from healthdex.errors import UserError
from stripper.pipeline import ExtractionError, build_record
from stripper.sources import Page, check_url_option, expand_paths, is_crawl_warc, iter_pages


def _profile_selectors(profile_name: str | None, url: str | None, cache: dict[str, Any]) -> dict | None:
    """Selectors of the named profile, or of the profile matching ``url``; None when profiles are unavailable."""
    try:
        import profiles
    except ImportError:
        if profile_name:
            raise UserError("site profiles are not available in this installation") from None
        return None
    if profile_name:
        if "named" not in cache:
            cache["named"] = profiles.load_profile(profile_name)
        return getattr(cache["named"], "selectors", None) or None
    if not url:
        return None
    try:
        profile = profiles.profile_for_url(url)
    except UserError:
        return None
    return getattr(profile, "selectors", None) or None if profile is not None else None


def _error(page: Page, message: str) -> dict[str, Any]:
    out: dict[str, Any] = {"source": page.source}
    if page.url:
        out["url"] = page.url
    out["error"] = (message.splitlines() or ["cannot read"])[0]
    return out


def clean_pages(pages: Iterable[Page], profile_name: str | None = None) -> Iterator[dict[str, Any]]:
    """One output object per page: the record, or ``{"source", "error"}`` for a page that cannot be read."""
    cache: dict[str, Any] = {}
    for page in pages:
        if page.body is None:
            yield _error(page, page.error or "cannot read")
            continue
        try:
            selectors = _profile_selectors(profile_name, page.url, cache)
            record = build_record(page.body, page.url, http_charset=page.http_charset, selectors=selectors)
        except ExtractionError as exc:
            yield _error(page, str(exc))
            continue
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - one broken page must not stop a batch
            yield _error(page, f"{type(exc).__name__}: {exc}")
            continue
        out = {"source": page.source}
        out.update(record)
        yield out


def crawl_warc_records(path: str) -> Iterator[dict[str, Any]]:
    """A healthdex crawl's WARC: the same article records the crawl wrote (provenance included), re-extracted; pages
    the crawl dropped as too large are left out and counted in one line on stderr."""
    from healthdex.provenance import iter_warc_articles

    counts: dict[str, int] = {}
    for record in iter_warc_articles(path, counts=counts):
        out: dict[str, Any] = {"source": f"{path}#{record.get('warc_record_id', '')}"}
        out.update(record)
        yield out
    too_large = counts.get("too_large", 0)
    if too_large:
        noun = "response" if too_large == 1 else "responses"
        click.echo(
            f"healthdex clean: {path}: {too_large} {noun} over the crawl's size limit not cleaned, "
            f"as the crawl dropped {'it' if too_large == 1 else 'them'}",
            err=True,
        )


def clean_paths(
    paths: Iterable[str], url: str | None = None, profile_name: str | None = None
) -> Iterator[dict[str, Any]]:
    """Output objects for every page under ``paths``; a crawl's WARC gives exactly the crawl's article records."""
    files = expand_paths(paths)
    check_url_option(files, url)
    for path in files:
        if (
            url is None
            and profile_name is None
            and path.name.lower().endswith((".warc", ".warc.gz"))
            and is_crawl_warc(path)
        ):
            yield from crawl_warc_records(str(path))
        else:
            yield from clean_pages(iter_pages([path], url if len(files) == 1 else None), profile_name)


@click.command("clean")
@click.argument("paths", nargs=-1, required=True)
@click.option("--url", default=None, help="Original URL of the page (a single HTML file only).")
@click.option("--profile", "profile_name", default=None, help="Site profile whose selectors to use.")
def clean_command(paths: tuple[str, ...], url: str | None, profile_name: str | None) -> None:
    """Extract clean articles from HTML files (.html, .htm, .html.gz), folders of them, and WARC files.

    Writes JSON Lines to stdout, one object per page.  Exit 0 if any page was cleaned, 1 if none.
    """
    cleaned = 0
    out = sys.stdout
    try:
        for obj in clean_paths(paths, url, profile_name):
            if "error" not in obj:
                cleaned += 1
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    except UserError as exc:
        error = click.ClickException(str(exc).splitlines()[0])
        error.exit_code = 2
        raise error from None
    out.flush()
    sys.exit(0 if cleaned else 1)
