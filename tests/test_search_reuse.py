"""A caller that keeps an index open gets one searcher reused across queries, refreshed to each new commit."""

from __future__ import annotations

from indexer.build import index_records
from indexer.store import open_index
from search_cli.search import search


def _doc(i: int, word: str) -> dict:
    return {"url": f"https://example.org/{word}/{i}", "title": f"{word} {i}", "text": f"{word} pain relief " * 5}


def test_kept_searcher_is_reused_and_sees_new_commits(tmp_path):
    path = tmp_path / "idx"
    index_records([_doc(i, "sciatica") for i in range(20)], path, procs=1)
    ix = open_index(path)
    first = search(path, "sciatica", limit=50, ix=ix)
    kept = dict(ix._healthdex_searchers)
    assert first.total == 20 and len(kept) == 1
    again = search(path, "sciatica", limit=50, ix=ix)
    assert again.total == 20 and list(ix._healthdex_searchers.values()) == list(kept.values())  # same object

    index_records([_doc(i, "sciatica") for i in range(20, 30)], path, procs=1)  # a commit by another writer
    index_records([{"url": _doc(0, "sciatica")["url"], "gone": True}], path, procs=1)
    after = search(path, "sciatica", limit=50, ix=ix)
    assert after.total == 29
    assert _doc(0, "sciatica")["url"] not in {h.url for h in after.hits}
    assert list(ix._healthdex_searchers.values()) != list(kept.values())  # refreshed


def test_without_an_open_index_nothing_is_kept(tmp_path):
    path = tmp_path / "idx"
    index_records([_doc(i, "gout") for i in range(5)], path, procs=1)
    assert search(path, "gout").total == 5
    assert search(path, "gout").total == 5
