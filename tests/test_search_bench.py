"""bench/relevance.py's own metric implementation, checked on toy cases computed by hand."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location(
    "relevance", Path(__file__).resolve().parents[1] / "bench" / "relevance.py"
)
relevance = importlib.util.module_from_spec(spec)
spec.loader.exec_module(relevance)


def test_ndcg_linear_gain_toy_case():
    rels = {"a": 3, "b": 2, "c": 0, "d": 1}
    ranked = ["c", "a", "d", "x"]
    dcg = 0 / math.log2(2) + 3 / math.log2(3) + 1 / math.log2(4) + 0
    idcg = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert relevance.ndcg_at_k(ranked, rels, 10) == pytest.approx(dcg / idcg)
    assert relevance.ndcg_at_k(["a", "b", "d"], rels, 10) == pytest.approx(1.0)
    assert relevance.ndcg_at_k(["a"], {"a": 0}, 10) == 0.0  # nothing relevant -> 0
    assert relevance.ndcg_at_k(["c", "c", "a"], rels, 2) == 0.0  # cut at k


def test_recall_toy_case():
    rels = {"a": 1, "b": 2, "c": 0}
    assert relevance.recall_at_k(["a", "c"], rels, 100) == pytest.approx(0.5)
    assert relevance.recall_at_k(["x", "b", "a"], rels, 2) == pytest.approx(0.5)
    assert relevance.recall_at_k(["a"], {"z": 0}, 100) == 0.0


def test_parse_run_and_evaluate():
    lines = ["q1 Q0 b 2 1.0 t", "q1 Q0 a 1 2.0 t", "q2 Q0 z 1 1.0 t", "garbage"]
    run = relevance.parse_run(lines)
    assert run == {"q1": ["a", "b"], "q2": ["z"]}
    qrels = {"q1": {"a": 1, "b": 1}, "q2": {"y": 2}}
    res = relevance.evaluate(run, qrels)
    assert res["n"] == 2
    assert res["ndcg@10"] == pytest.approx(0.5)
    assert res["recall@100"] == pytest.approx(0.5)


def test_load_qrels(tmp_path):
    f = tmp_path / "q.tsv"
    f.write_text("query-id\tcorpus-id\tscore\n1\tA\t0\n1\tB\t3\n2\tC\t1\n")
    assert relevance.load_qrels(f) == {"1": {"A": 0, "B": 3}, "2": {"C": 1}}
