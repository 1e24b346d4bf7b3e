"""`eval` scores exactly the ranked lists that search returns, for every preset.

Each preset is evaluated on a tiny BEIR set; the collection eval indexed is then opened
the way a user would and searched with `Collection.search` / `Pipeline.from_spec` (the
path `embedstack search` and the server take). The hit lists must be equal: ids in the
same order and the same scores.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_models import make_tiny_colbert, make_tiny_model, write_tokenizer

from embedstack.eval.corpus import NoVectors
from embedstack.eval.datasets import load_beir
from embedstack.eval.options import EvalOptions
from embedstack.eval.presets import plan
from embedstack.eval.runner import evaluate_retrieval
from embedstack.search.pipeline import Pipeline
from embedstack.store.collection import Collection

from .conftest import DATA

DEPTH = 100  # the deepest default metric cut-off (recall@100): what eval retrieves


def _check(tmp_path: Path, preset: str, model: str | None = None, **params) -> None:
    dataset = load_beir(DATA / "beir_tiny")
    options = EvalOptions(model=model, cache_dir=tmp_path / "cache", params=params)
    result = evaluate_retrieval(dataset, preset, options)
    (folder,) = (tmp_path / "cache" / "collections").iterdir()
    spec = plan(preset, params, model).spec
    encoder = None if "dense" in spec.retriever_names() else NoVectors()
    with Collection.open(folder, encoder=encoder) as collection:
        pipeline = Pipeline.from_spec(collection, spec)
        single = spec.retriever_names()[0] if len(pipeline.stages) == 1 else None
        for qid, query in dataset.queries.items():
            if single is not None:  # what `embedstack search --retriever NAME` returns
                served = collection.search(query, k=DEPTH, retriever=single)
            else:
                served = pipeline.search(query, k=DEPTH)
            assert [(h.id, h.score) for h in result.ranked[qid]] == [
                (h.id, h.score) for h in served
            ], f"{preset}: query {qid}"
            assert result.ranked[qid], f"{preset}: query {qid} found nothing"


@pytest.mark.parametrize("preset", ["dense", "bm25", "hybrid", "dense+bm25"])
def test_eval_ranks_what_search_returns(tmp_path, preset):
    _check(tmp_path, preset, model="hash:64")


def test_eval_with_params_ranks_what_search_returns(tmp_path):
    _check(tmp_path, "hybrid", model="hash:64", fusion={"kind": "rrf", "k": 5}, k1=0.8, depth=7)


def _cross_encoder(path: Path) -> Path:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    path.mkdir(parents=True)
    vocab = write_tokenizer(path, "bert")
    config = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64, num_labels=1,
    )  # fmt: skip
    torch.manual_seed(3)
    model = transformers.BertForSequenceClassification(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.normal_(0.0, 0.2).add_(1.0 if name.endswith("LayerNorm.weight") else 0.0)
    model.save_pretrained(str(path))
    return path


@pytest.mark.torch
def test_reranked_eval_ranks_what_search_returns(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSTACK_RERANKER", str(_cross_encoder(tmp_path / "ce")))
    _check(tmp_path, "hybrid+rerank", model="hash:64", rerank_depth=4)


@pytest.mark.torch
def test_splade_eval_ranks_what_search_returns(tmp_path):
    make_tiny_model(tmp_path / "splade", "bert-mlm", max_positions=64)
    _check(tmp_path, "splade", model=str(tmp_path / "splade"))


@pytest.mark.torch
def test_colbert_eval_ranks_what_search_returns(tmp_path):
    make_tiny_colbert(tmp_path / "colbert")
    _check(tmp_path, "colbert", model=str(tmp_path / "colbert"))
