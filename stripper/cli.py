"""``healthdex clean``: HTML files, folders and WARCs -> one JSON object per page on stdout (thin over the library)."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import Path
from typing import Any

import click

from healthdex.errors import UserError
from stripper.pool import ordered_map
from stripper.sources import Page, check_url_option, expand_paths, is_crawl_warc, iter_pages, read_file


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
        if "all" not in cache:
            cache["all"] = profiles.ProfileIndex(profiles.load_all())
        profile = cache["all"].for_url(url)
    except UserError:
        return None
    return getattr(profile, "selectors", None) or None if profile is not None else None


def _error(page: Page, message: str) -> dict[str, Any]:
    out: dict[str, Any] = {"source": page.source}
    if page.url:
        out["url"] = page.url
    out["error"] = (message.splitlines() or ["cannot read"])[0]
    return out


_CACHE: dict[str, Any] = {}  # profiles read by this process (each worker process has its own)


def clean_page(page: Page, profile_name: str | None = None) -> dict[str, Any]:
    """The output object of one page: its record, or ``{"source", "error"}`` when it cannot be read."""
    from stripper.article import ExtractionError, build_record  # in the process that extracts (a pool's worker)

    if page.body is None:
        return _error(page, page.error or "cannot read")
    try:
        selectors = _profile_selectors(profile_name, page.url, _CACHE)
        record = build_record(page.body, page.url, http_charset=page.http_charset, selectors=selectors)
    except ExtractionError as exc:
        return _error(page, str(exc))
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - one broken page must not stop a batch
        return _error(page, f"{type(exc).__name__}: {exc}")
    return {"source": page.source, **record}


def clean_pages(pages: Iterable[Page], profile_name: str | None = None, workers: int = 1) -> Iterator[dict[str, Any]]:
    """One output object per page, in the pages' order; ``workers`` > 1: extracted by that many processes."""
    return _map(clean_page, pages, workers, profile_name, size=lambda page: len(page.body or b""))


def clean_file(path: Path, profile_name: str | None = None, url: str | None = None) -> dict[str, Any]:
    """The output object of one HTML file (read here: in a worker process when there is a pool)."""
    page = read_file(path)
    return clean_page(Page(page.source, page.body, url, None, page.error) if url else page, profile_name)


def _map(fn: Any, items: Iterable[Any], workers: int, *args: Any, size: Any = None) -> Iterator[dict[str, Any]]:
    if workers <= 1:
        return (fn(item, *args) for item in items)
    return ordered_map(
        fn,
        items,
        workers,
        *args,
        on_crash=lambda item: {"source": str(getattr(item, "source", item)), "error": "the worker process died"},
        size=size or (lambda item: 0),
    )


def crawl_warc_records(path: str) -> Iterator[dict[str, Any]]:
    """A healthdex crawl's WARC: the same article records the crawl wrote (provenance included), re-extracted; pages
    the crawl dropped as too large are left out and counted in one line on stderr."""
    from healthdex.records import iter_warc_articles

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
    paths: Iterable[str], url: str | None = None, profile_name: str | None = None, workers: int = 1
) -> Iterator[dict[str, Any]]:
    """Output objects for every page under ``paths``, in order; a crawl's WARC gives exactly the crawl's article
    records.  ``workers`` > 1: pages are extracted by a pool of that many processes (a crawl's WARC: in this one)."""
    files = expand_paths(paths)
    check_url_option(files, url)
    page_url = url if len(files) == 1 else None
    for kind, group in groupby(files, key=lambda path: _kind(path, url, profile_name)):
        if kind == "crawl warc":
            for path in group:
                yield from crawl_warc_records(str(path))
        elif kind == "warc":
            yield from clean_pages(iter_pages(list(group)), profile_name, workers)
        else:
            yield from _map(clean_file, group, workers, profile_name, page_url)


def _kind(path: Path, url: str | None, profile_name: str | None) -> str:
    if not path.name.lower().endswith((".warc", ".warc.gz")):
        return "html"
    return "crawl warc" if url is None and profile_name is None and is_crawl_warc(path) else "warc"


def resolve_workers(value: int | None) -> int:
    """``--jobs``: a number, or (None, 0) one per core."""
    return value if value else os.cpu_count() or 1


def summary(counts: Counter) -> str:
    """The closing line: pages, articles, empty pages by reason, errors."""
    empty = sum(n for key, n in counts.items() if key.startswith("empty:"))
    reasons = ", ".join(f"{n} {key[6:]}" for key, n in sorted(counts.items()) if key.startswith("empty:"))
    return (
        f"healthdex clean: {counts['pages']} pages: {counts['articles']} articles, "
        f"{empty} empty{f' ({reasons})' if reasons else ''}, {counts['errors']} errors"
    )


@click.command("clean")
@click.argument("paths", nargs=-1, required=True)
@click.option("--url", default=None, help="Original URL of the page (a single HTML file only).")
@click.option("--profile", "profile_name", default=None, help="Site profile whose selectors to use.")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0, help="Worker processes (default: one per core).")
@click.option(
    "--explain", is_flag=True, help="Show why one HTML file came out as it did: container, dropped blocks, fallbacks."
)
def clean_command(paths: tuple[str, ...], url: str | None, profile_name: str | None, jobs: int, explain: bool) -> None:
    """Extract clean articles from HTML files (.html, .htm, .html.gz), folders of them, and WARC files.

    Writes JSON Lines to stdout, one object per page, in the order of the files (and of the records in a WARC), and
    a summary line to stderr (on a terminal, or when a page was empty or unreadable).  Exit 0 if any page was
    cleaned, 1 if none.
    """
    if explain:
        _explain(paths, url, profile_name)
        return
    counts: Counter = Counter()
    progress = _progress()
    try:
        for obj in clean_paths(paths, url, profile_name, resolve_workers(jobs)):
            counts["pages"] += 1
            if "error" in obj:
                counts["errors"] += 1
            else:
                counts["articles" if obj.get("text") else f"empty:{obj.get('empty_reason') or 'no text'}"] += 1
            for line in obj.get("limits") or ():
                click.echo(f"healthdex clean: {obj['source']}: {line}", err=True)
            sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
            if progress is not None:
                progress.update()
    except UserError as exc:
        error = click.ClickException(str(exc).splitlines()[0])
        error.exit_code = 2
        raise error from None
    finally:
        if progress is not None:
            progress.close()
    sys.stdout.flush()
    if progress is not None or counts["pages"] != counts["articles"]:  # on a terminal, or when a page came out empty
        click.echo(summary(counts), err=True)
    sys.exit(0 if counts["pages"] - counts["errors"] else 1)


def _progress() -> Any:
    """A progress bar on stderr when it is a terminal (pages cleaned and their rate), else None."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(unit=" pages", file=sys.stderr, leave=False)


def _explain(paths: tuple[str, ...], url: str | None, profile_name: str | None) -> None:
    try:
        _print_explanation(paths, url, profile_name)
    except UserError as exc:
        error = click.ClickException(str(exc).splitlines()[0])
        error.exit_code = 2
        raise error from None


def _print_explanation(paths: tuple[str, ...], url: str | None, profile_name: str | None) -> None:
    files = expand_paths(paths)
    if len(files) != 1 or files[0].name.lower().endswith((".warc", ".warc.gz")):
        raise UserError("--explain needs exactly one HTML file")
    (page,) = iter_pages(files, url)
    if page.body is None:
        raise UserError(f"{page.source}: {page.error or 'cannot read'}")
    from stripper.article import ExtractionError, explain_page

    selectors = _profile_selectors(profile_name, page.url, {})
    try:
        lines = explain_page(page.body, page.url, selectors=selectors)
    except ExtractionError as exc:
        raise UserError(f"{page.source}: {exc}") from None
    click.echo(f"page: {page.source}" + (f" ({page.url})" if page.url else ""))
    for line in lines:
        click.echo(line)
