"""A caller that keeps an index open (``search_cli.search.Index``: the prompt, a library user) gets one searcher
reused across queries, replaced when a newer commit lands."""

from __future__ import annotations

from indexer.build import index_records
from search_cli.search import Index, search


def _doc(i: int, word: str) -> dict:
    return {"url": f"https://example.org/{word}/{i}", "title": f"{word} {i}", "text": f"{word} pain relief " * 5}


def test_kept_searcher_is_reused_and_sees_new_commits(tmp_path):
    path = tmp_path / "idx"
    index_records([_doc(i, "sciatica") for i in range(20)], path, procs=1)
    with Index(path) as ix:
        first = search(ix, "sciatica", limit=50)
        kept = ix.searcher()
        assert first.total == 20
        again = search(ix, "sciatica", limit=50)
        assert again.total == 20 and ix.searcher()[0] is kept[0] and ix.searcher()[1] is kept[1]

        index_records([_doc(i, "sciatica") for i in range(20, 30)], path, procs=1)  # a commit by another writer
        index_records([{"url": _doc(0, "sciatica")["url"], "gone": True}], path, procs=1)
        after = search(ix, "sciatica", limit=50)
        assert after.total == 29
        assert _doc(0, "sciatica")["url"] not in {h.url for h in after.hits}
        assert ix.searcher()[0] is not kept[0]  # replaced


def test_a_path_opens_the_index_for_that_call_only(tmp_path):
    path = tmp_path / "idx"
    index_records([_doc(i, "gout") for i in range(5)], path, procs=1)
    assert search(path, "gout").total == 5
    index_records([_doc(i, "gout") for i in range(5, 7)], path, procs=1)
    assert search(path, "gout").total == 7
