from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from embedstack.errors import InputError
from embedstack.eval.datasets import load_beir
from embedstack.eval.options import EvalOptions
from embedstack.eval.presets import plan
from embedstack.eval.runner import evaluate_retrieval
from embedstack.store.bm25 import BM25Index

from .conftest import DATA


def test_bm25_preset_matches_the_index_and_takes_parameters(tmp_path):
    dataset = load_beir(DATA / "beir_tiny")
    docs = dataset.doc_texts()
    result = evaluate_retrieval(dataset, "bm25", EvalOptions(cache_dir=tmp_path))
    index = BM25Index()
    index.add(np.arange(len(docs)), list(docs.values()))
    for qid, query in dataset.queries.items():
        rows, scores = index.search(query, 100)
        assert [(h.id, h.score) for h in result.ranked[qid]] == [
            (list(docs)[r], pytest.approx(float(s))) for r, s in zip(rows, scores, strict=True)
        ]
    assert result.memory_bytes > 0 and result.space is None and result.embedded == 0
    plus = plan("bm25", {"variant": "bm25+", "stemmer": None})
    assert plus.indexes == {"bm25": {"variant": "bm25+", "analyzer": {"stemmer": None}}}
    tuned = evaluate_retrieval(
        dataset, "bm25", EvalOptions(cache_dir=tmp_path, params={"variant": "bm25+", "k1": 0.9})
    )
    assert tuned.metrics != result.metrics or tuned.ranked != result.ranked
    with pytest.raises(InputError, match="unknown bm25 parameters"):
        plan("bm25", {"k3": 1})


def test_splade_preset_needs_a_model():
    with pytest.raises(InputError, match="--model PATH"):
        plan("splade", {})
    with pytest.raises(InputError, match="--model PATH"):
        plan("colbert", {})


def test_eval_cli_with_bm25(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["eval", str(DATA / "beir_tiny"), "-r", "bm25", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert 0 < data["ndcg@10"] <= 1
