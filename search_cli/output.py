"""Output formats shared by ``search``, ``similar`` and ``stats``: a terminal table, JSON and JSON Lines."""

from __future__ import annotations

import os
import sys

from search_cli.search import MARK_END, MARK_START, SearchResults

PLAIN_MARKS = ("«", "»")
ANSI = {"match": "\x1b[1;31m", "title": "\x1b[1m", "url": "\x1b[36m", "dim": "\x1b[2m", "reset": "\x1b[0m"}


def use_color(no_color: bool = False, stream=None) -> bool:
    """Colour only on a TTY, never with --no-color or $NO_COLOR."""
    stream = stream or sys.stdout
    if no_color or os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except Exception:
        return False


def render_snippet(snippet: str, color: bool) -> str:
    if color:
        return snippet.replace(MARK_START, ANSI["match"]).replace(MARK_END, ANSI["reset"])
    return snippet.replace(MARK_START, PLAIN_MARKS[0]).replace(MARK_END, PLAIN_MARKS[1])


def _c(text: str, style: str, color: bool) -> str:
    return f"{ANSI[style]}{text}{ANSI['reset']}" if color and text else text


def format_results(res: SearchResults, fmt: str = "table", color: bool = False) -> str:
    if fmt in ("json", "jsonl"):
        import json  # (imported here: the table, the common case, does not need it)

        if fmt == "json":
            return json.dumps(res.to_dict(PLAIN_MARKS), ensure_ascii=False, indent=2)
        return "\n".join(json.dumps(h.to_dict(PLAIN_MARKS), ensure_ascii=False) for h in res.hits)
    lines: list[str] = []
    if res.suggestion:
        lines.append(f"Did you mean: {_c(res.suggestion, 'title', color)}  ({res.suggestion_total} results)")
    if res.synonyms:
        parts = [f"{m['matched']} → {', '.join(m['expanded'][:4])}" for m in res.synonyms]
        lines.append(_c("Also searching: " + "; ".join(parts), "dim", color))
    if res.hits:
        first, last = res.hits[0].rank, res.hits[-1].rank
        about = "" if res.total_exact else "about "
        lines.append(_c(f"{first}-{last} of {about}{res.total:,} results", "dim", color))
    elif res.total:
        about = "" if res.total_exact else "about "
        lines.append(f"{about}{res.total:,} results, none shown (--limit {res.limit}, --offset {res.offset}).")
    else:
        lines.append(f"No results for {res.query!r}.")
    for h in res.hits:
        lines.append("")
        date = h.published or h.updated or ""
        meta = " · ".join(x for x in (h.site, date[:10]) if x)
        title = h.title or h.url or h.key
        lines.append(f"{h.rank:>3}. {_c(title, 'title', color)}" + (f"  {_c(meta, 'dim', color)}" if meta else ""))
        if h.url:
            lines.append(f"     {_c(h.url, 'url', color)}")
        if h.snippet:
            lines.append(f"     {render_snippet(h.snippet, color)}")
    for name, counts in res.facets.items():
        lines.append("")
        lines.append(_c(f"{name}:", "title", color))
        for value, n in list(counts.items())[:20]:
            lines.append(f"  {n:>6}  {value}")
    if res.explain is not None:
        lines += ["", _c("How this was answered:", "title", color), *explain_lines(res.explain)]
    return "\n".join(lines)


def explain_lines(ex: dict) -> list[str]:
    """``SearchResults.explain`` as indented lines for the terminal."""
    lines = [f"  query ({ex['mode']}): {ex['parsed']}"]
    if ex["filter"]:
        lines.append(f"  filter: {ex['filter']}")
    lines += [f"  synonym: {s}" for s in ex["synonyms"]]
    lines.append(f"  ranked by: {ex['evaluator']}")
    lines.append(f"  scoring: {ex['scoring']}")
    lines += [f"  bonus: {b}" for b in ex["bonus"]]
    for t in ex["terms"]:
        lines.append(f"  term {t['field']}:{t['term']}  weight {t['boost']}  idf {t['idf']}  in {t['docs']} documents")
    lines += [f"  note: {n}" for n in ex["notes"]]
    lines.append(f"  spelling: {ex['spelling']}")
    return lines


def format_stats(st: dict, fmt: str = "table") -> str:
    if fmt in ("json", "jsonl"):
        import json

        return json.dumps(st, ensure_ascii=False, indent=2 if fmt == "json" else None)
    pub = st.get("published_range") or [None, None]
    upd = st.get("updated_range") or [None, None]
    lines = [
        f"index:      {st['index']}",
        f"documents:  {st['documents']}",
        f"sites:      {st['sites']}",
        f"published:  {pub[0] or '-'} .. {pub[1] or '-'}",
        f"updated:    {upd[0] or '-'} .. {upd[1] or '-'}",
        f"size:       {_human(st['size_bytes'])} ({st['size_bytes']} bytes)",
        f"segments:   {st['segments']}",
    ]
    for site, n in list(st.get("documents_per_site", {}).items())[:20]:
        lines.append(f"  {n:>8}  {site}")
    return "\n".join(lines)


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{n} B"
