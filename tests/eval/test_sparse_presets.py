from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from embedstack.errors import InputError
from embedstack.search import presets
from embedstack.store.bm25 import BM25Index

from .conftest import DATA

DOCS = {"d1": "red apples and green pears", "d2": "the fast red car", "d3": "green tea"}


def test_bm25_preset_matches_the_index_and_takes_parameters():
    retriever = presets.build("bm25", DOCS, presets.PresetOptions())
    (hits,) = retriever.search_many(["green apples"], k=3)
    index = BM25Index()
    index.add(np.arange(3), list(DOCS.values()))
    rows, scores = index.search("green apples", 3)
    assert hits == [(list(DOCS)[r], float(s)) for r, s in zip(rows, scores, strict=True)]
    assert retriever.memory_bytes() > 0
    plus = presets.build(
        "bm25", DOCS, presets.PresetOptions(params={"variant": "bm25+", "stemmer": None})
    )
    assert plus.index.variant.value == "bm25+" and plus.index.analyzer.stemmer is None
    with pytest.raises(InputError, match="unknown bm25 parameters"):
        presets.build("bm25", DOCS, presets.PresetOptions(params={"k3": 1}))


def test_splade_preset_needs_a_model():
    with pytest.raises(InputError, match="--model PATH"):
        presets.build("splade", DOCS, presets.PresetOptions())


def test_eval_cli_with_bm25(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["eval", str(DATA / "beir_tiny"), "-r", "bm25", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert 0 < data["ndcg@10"] <= 1
