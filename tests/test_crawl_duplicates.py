"""Issue 5: exact duplicates (same content hash, other URL) and near duplicates (MinHash over word shingles,
configurable threshold) are recorded in duplicates.jsonl and the report, not emitted twice."""

from __future__ import annotations

import json
import shutil

import pytest
from crawl_support import make_profile, make_site, page_url, read_jsonl, run_crawl

from healthdex.records import iter_warc_articles
from stripper import build_record

from support import run_healthdex

PAGES = 10


@pytest.fixture(scope="module")
def dup_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("dups")
    site = root / "site"
    exact, near = page_url(PAGES), page_url(PAGES + 1)
    rows = [
        {"file": "a/copy.html", "original_url": exact, "content_type": "text/html"},
        {"file": "a/near.html", "original_url": near, "content_type": "text/html"},
    ]
    urls = make_site(site, PAGES, extra_rows=rows)
    shutil.copy(site / "a" / "1.html", site / "a" / "copy.html")  # byte-identical under another URL
    html = (site / "a" / "2.html").read_text(encoding="utf-8")
    # Change one word in three of the article's paragraphs: a near duplicate, not an exact one.
    text = build_record(html.encode(), page_url(2))["text"]
    paragraphs = [p for p in text.split("\n\n") if len(p.split()) > 20]
    assert len(paragraphs) >= 3
    for paragraph in paragraphs[:3]:
        start = paragraph[:40]
        assert start in html
        html = html.replace(start, "Zebra " + start, 1)
    (site / "a" / "near.html").write_text(html, encoding="utf-8")
    profile = make_profile(root, "dupsite", extra="")
    profile.write_text(profile.read_text().replace(r"/a/\d+\.html$", r"/a/(\d+|copy|near)\.html$"))
    return root, site, profile, urls, exact, near


def _crawl(dup_site, name, *extra):
    root, site, profile, *_ = dup_site
    out = root / name
    result = run_crawl(profile, out, "--delay", "0", *extra, replay=site)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_exact_and_near_duplicates_are_recorded_not_emitted(dup_site):
    _, _, _, urls, exact, near = dup_site
    out = _crawl(dup_site, "out")
    articles = read_jsonl(out / "articles.jsonl")
    emitted = {a["final_url"]: a for a in articles}
    assert len(articles) == len(emitted) == PAGES
    assert set(urls[3:]) <= set(emitted)
    assert len({urls[1], exact} & set(emitted)) == 1
    assert len({urls[2], near} & set(emitted)) == 1
    dups = read_jsonl(out / "duplicates.jsonl")
    by_kind = {d["kind"]: d for d in dups}
    assert sorted(by_kind) == ["exact", "near"] and len(dups) == 2
    assert by_kind["exact"]["url"] in (urls[1], exact)
    assert by_kind["exact"]["duplicate_of"] in {emitted[u]["id"] for u in (urls[1], exact) if u in emitted}
    assert by_kind["near"]["url"] in (urls[2], near)
    assert by_kind["near"]["duplicate_of"] in {emitted[u]["id"] for u in (urls[2], near) if u in emitted}
    assert 0.9 <= by_kind["near"]["similarity"] < 1.0
    report = json.loads((out / "crawl-report.json").read_text())
    assert report["duplicates_dropped"] == 2
    assert report["duplicates_by_kind"] == {"exact": 1, "near": 1}


def test_near_duplicate_threshold_is_configurable(dup_site):
    _, _, _, urls, exact, near = dup_site
    out = _crawl(dup_site, "out-no-near", "-s", "HEALTHDEX_NEAR_DUPLICATE_THRESHOLD=0")
    emitted = {a["final_url"] for a in read_jsonl(out / "articles.jsonl")}
    assert {urls[2], near} <= emitted  # near duplicates kept when the threshold is 0 (off)
    assert len({urls[1], exact} & emitted) == 1  # exact duplicates are always dropped
    assert [d["kind"] for d in read_jsonl(out / "duplicates.jsonl")] == ["exact"]


def _by_record(records):
    return {r.get("warc_record_id", r.get("source")): {k: v for k, v in r.items() if k != "source"} for r in records}


def test_warc_alone_reproduces_the_crawl_records(dup_site, monkeypatch):
    """The provenance function over the WARC (what ``healthdex clean`` should call) gives articles.jsonl exactly."""
    monkeypatch.setenv("HEALTHDEX_PROFILES_PATH", str(dup_site[0]))
    out = _crawl(dup_site, "out-equal")
    crawled = _by_record(read_jsonl(out / "articles.jsonl"))
    from_warc = _by_record(iter_warc_articles(out / "pages.warc.gz"))
    assert from_warc == crawled


def test_healthdex_clean_over_the_warc_reproduces_the_crawl_records(dup_site):
    """``healthdex clean OUT/pages.warc.gz`` equals OUT/articles.jsonl record for record (apart from ``source``).
    Needs stripper/cli.py to call healthdex.records.iter_warc_articles for a crawl's WARC."""
    root, *_ = dup_site
    out = _crawl(dup_site, "out-clean")
    result = run_healthdex("clean", str(out / "pages.warc.gz"), env={"HEALTHDEX_PROFILES_PATH": str(root)})
    assert result.returncode == 0, result.stderr[-2000:]
    cleaned = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert _by_record(cleaned) == _by_record(read_jsonl(out / "articles.jsonl"))


def test_shingles_and_minhash_equal_the_plain_definitions():
    """``shingles`` slices one joined text and ``text_minhash`` hashes in one pass with copied permutations; both
    must give exactly what the plain definitions give (signatures are compared across runs and workers)."""
    import random
    import re

    from datasketch import MinHash

    from crawler.pipelines.duplicates import shingles, text_minhash

    word = re.compile(r"\w+", re.UNICODE)

    def plain_shingles(text: str, size: int) -> set[bytes]:
        words = word.findall(text.lower())
        if len(words) <= size:
            return {" ".join(words).encode()} if words else set()
        return {" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)}

    rng = random.Random(7)
    vocab = ["pain", "Ärzte", "naïve", "héart", "日本語", "x", "a1", "β-blocker", "don't", "CAFÉ", "ǅ", "ß", "İ"]
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 40))) for _ in range(200)]
    compared = 0
    for text in texts:
        for size in (1, 2, 5):
            expected = plain_shingles(text, size)
            assert shingles(text, size) == expected, text
            got = text_minhash(text, 64, size)
            if not expected:
                assert got is None
                continue
            reference = MinHash(num_perm=64)
            reference.update_batch(list(expected))
            assert list(got.hashvalues) == list(reference.hashvalues)
            compared += 1
    assert compared > 400


def test_worker_minhash_values_equal_datasketch():
    """The extraction workers compute signatures with numpy from the permutations the crawl process hands them
    (``crawler.pipelines.extract_worker``); the duplicates pipeline must get exactly the MinHash datasketch computes."""
    import random

    import numpy as np
    from datasketch import MinHash

    from crawler.pipelines.extract import minhash_spec
    from crawler.pipelines.extract_worker import minhash_values, shingles

    rng = random.Random(11)
    vocab = ["pain", "Ärzte", "naïve", "héart", "日本語", "x", "a1", "β-blocker", "don't", "CAFÉ", "ß", "İ"]
    for num_perm, size in ((64, 1), (128, 5), (16, 3)):
        spec = minhash_spec(num_perm, size)
        assert spec is not None
        for _ in range(60):
            text = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 60)))
            grams = shingles(text, size)
            got = minhash_values(text, spec)
            if not grams:
                assert got is None
                continue
            reference = MinHash(num_perm=num_perm)
            reference.update_batch(list(grams))
            assert isinstance(got, np.ndarray) and got.tolist() == reference.hashvalues.tolist()
    # texts of more shingles than one block of the worker's scratch matrix (crawler.pipelines.extract_worker._ROWS)
    words = [f"w{i}" for i in range(3000)]
    spec = minhash_spec(128, 5)
    for count in (1023, 1029, 2048, 2053, 5000):
        text = " ".join(rng.choice(words) for _ in range(count))
        reference = MinHash(num_perm=128)
        reference.update_batch(list(shingles(text, 5)))
        assert minhash_values(text, spec).tolist() == reference.hashvalues.tolist()


def test_pipeline_takes_worker_values_as_its_minhash(tmp_path):
    """Hash values from a worker become a MinHash equal to the one the pipeline would compute itself."""
    from scrapy.utils.test import get_crawler

    from crawler.pipelines.duplicates import DuplicatesPipeline, text_minhash
    from crawler.pipelines.extract import minhash_spec
    from crawler.pipelines.extract_worker import minhash_values

    settings = {"HEALTHDEX_OUT_DIR": str(tmp_path), "HEALTHDEX_MINHASH_PERMUTATIONS": 32, "HEALTHDEX_SHINGLE_SIZE": 3,
                "HEALTHDEX_NEAR_DUPLICATE_THRESHOLD": 0.9}
    crawler = get_crawler(settings_dict=settings)
    pipeline = DuplicatesPipeline(crawler)
    text = "one two three four five six seven eight nine ten eleven twelve"
    values = minhash_values(text, minhash_spec(32, pipeline.shingle_size))
    got = pipeline._minhash(text, values)
    expected = text_minhash(text, 32, pipeline.shingle_size)
    assert got.jaccard(expected) == 1.0 and got.hashvalues.tolist() == expected.hashvalues.tolist()
    assert pipeline._minhash(text, values[:5]).hashvalues.tolist() == expected.hashvalues.tolist()  # wrong size


def test_extraction_workers_import_neither_scrapy_nor_datasketch():
    """A spawned worker imports only what ``crawler.pipelines.extract_worker`` needs: Scrapy and datasketch (scipy) cost
    ~1.2 s of CPU per worker while the crawl runs."""
    import subprocess
    import sys

    code = (
        "import sys, crawler.pipelines.extract_worker as w; w.warm_up(None, True);"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scrapy', 'twisted', 'datasketch', 'scipy'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
