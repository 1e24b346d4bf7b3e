"""Cross-encoder reranking against transformers' own forward pass on tiny random models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tiny_models import make_tiny_model, write_tokenizer

from embedstack.errors import InputError, ModelNotFoundError
from embedstack.search.rerank import CrossEncoderReranker, apply_scores, reranker_from_config
from embedstack.types import Hit

QUERY = "which cat sat on the mat ?"
PASSAGES = [
    "the cat sat on the mat",
    "a big red house by the river",
    "dogs ran fast",
    "hello world , search the vector model",
    "",
]


def make_cross_encoder(path: Path, family: str = "bert", num_labels: int = 1):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    path.mkdir(parents=True)
    vocab = write_tokenizer(path, family)
    common = dict(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=40, num_labels=num_labels,
    )  # fmt: skip
    torch.manual_seed(1)
    if family == "bert":
        model = transformers.BertForSequenceClassification(transformers.BertConfig(**common))
    else:
        config = transformers.RobertaConfig(
            pad_token_id=1, bos_token_id=0, eos_token_id=2, type_vocab_size=1, **common
        )
        model = transformers.RobertaForSequenceClassification(config)
    with torch.no_grad():  # larger than the 0.02 init so that differences show
        for name, param in model.named_parameters():
            param.normal_(0.0, 0.2).add_(1.0 if name.endswith("LayerNorm.weight") else 0.0)
    model.eval()
    model.save_pretrained(str(path))
    return model


def reference_logits(model, reranker, query, passages):
    import torch

    batch = reranker.model.tokenize([query] * len(passages), pairs=passages)
    feeds = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}
    if model.config.model_type == "bert":
        feeds["token_type_ids"] = batch.token_type_ids
    with torch.no_grad():
        return model(**{k: torch.tensor(v) for k, v in feeds.items()}).logits.numpy()


@pytest.mark.torch
@pytest.mark.parametrize(("family", "num_labels"), [("bert", 1), ("bert", 2), ("roberta", 1)])
def test_scores_match_transformers(tmp_path, family, num_labels):
    model = make_cross_encoder(tmp_path / "ce", family, num_labels)
    reranker = CrossEncoderReranker(tmp_path / "ce", batch_size=2)
    ref = reference_logits(model, reranker, QUERY, PASSAGES)
    ours = reranker.logits([QUERY] * len(PASSAGES), PASSAGES)
    assert ours.shape == (len(PASSAGES), num_labels)
    assert np.abs(ours - ref).max() < 1e-4
    expected = ref[:, 0] if num_labels == 1 else ref[:, 1] - ref[:, 0]
    np.testing.assert_allclose(reranker.score(QUERY, PASSAGES), expected, atol=1e-4)


@pytest.mark.torch
def test_rerank_orders_by_cross_encoder_and_keeps_first_stage(tmp_path):
    make_cross_encoder(tmp_path / "ce")
    reranker = CrossEncoderReranker(tmp_path / "ce")
    texts = PASSAGES[:4]
    hits = [
        Hit(f"d{i}", 1.0 - i / 10, text, stages={"bm25": {"score": 9.0 - i, "rank": i + 1}})
        for i, text in enumerate(texts)
    ]
    out = reranker.rerank(QUERY, hits, k=3)
    scores = reranker.score(QUERY, texts)
    assert [h.id for h in out] == [f"d{i}" for i in np.argsort(-scores, kind="stable")[:3]]
    for rank, hit in enumerate(out, start=1):
        i = int(hit.id[1:])
        assert hit.score == pytest.approx(float(scores[i]))
        assert hit.stages["rerank"] == {"score": pytest.approx(float(scores[i])), "rank": rank}
        assert hit.stages["bm25"] == {"score": 9.0 - i, "rank": i + 1}
    assert reranker.rerank(QUERY, []) == []
    with pytest.raises(InputError, match="without text"):
        reranker.rerank(QUERY, [Hit("x", 1.0)])
    again = reranker_from_config(reranker.config())
    np.testing.assert_allclose(again.score(QUERY, texts), scores, atol=1e-6)


@pytest.mark.torch
def test_wrong_architecture_names_found_and_expected(tmp_path):
    make_tiny_model(tmp_path / "plain", "bert")
    with pytest.raises(ModelNotFoundError, match=r"BertModel.*ForSequenceClassification"):
        CrossEncoderReranker(tmp_path / "plain")
    with pytest.raises(ModelNotFoundError, match=r"no config\.json"):
        CrossEncoderReranker(tmp_path / "missing")


def test_apply_scores_bare_hits_get_a_first_stage():
    hits = [Hit("a", 0.9, "x"), Hit("b", 0.5, "y")]
    out = apply_scores(hits, np.array([0.1, 0.7]), "rerank")
    assert [h.id for h in out] == ["b", "a"]
    assert out[0].stages == {
        "first_stage": {"score": 0.5, "rank": 2},
        "rerank": {"score": pytest.approx(0.7), "rank": 1},
    }
    with pytest.raises(InputError, match="positive"):
        apply_scores(hits, np.array([0.1, 0.7]), "rerank", k=0)
