from __future__ import annotations

import numpy as np
import pytest
from tiny_models import make_tiny_model

from embedstack.errors import InputError, ModelNotFoundError

pytestmark = pytest.mark.torch

TEXTS = [
    "the cat sat on the mat",
    "a big red house by the river",
    "search query vector",
    "hello world , the dog ran fast and the small blue tree",
]


@pytest.fixture(scope="module")
def tiny_mlm(tmp_path_factory):
    path = tmp_path_factory.mktemp("splade") / "model"
    model = make_tiny_model(path, "bert-mlm", max_positions=40)
    return path, model


def reference_weights(model, batch) -> np.ndarray:
    """The SPLADE formula in numpy on the logits of the transformers forward pass."""
    import torch

    feeds = {
        "input_ids": batch.input_ids,
        "attention_mask": batch.attention_mask,
        "token_type_ids": batch.token_type_ids,
    }
    with torch.no_grad():
        logits = model(**{k: torch.tensor(v) for k, v in feeds.items()}).logits.numpy()
    activated = np.log(1.0 + np.maximum(logits, 0.0))  # (batch, tokens, vocab)
    activated = np.where(batch.attention_mask[:, :, None] == 1, activated, -np.inf)
    return activated.max(axis=1)


def dense(vector, size: int) -> np.ndarray:
    out = np.zeros(size, dtype=np.float32)
    out[vector.indices] = vector.values
    return out


def test_document_weights_match_the_formula_on_reference_logits(tiny_mlm):
    from embedstack.encoders.splade import SpladeEncoder

    path, model = tiny_mlm
    encoder = SpladeEncoder(path)
    vectors = encoder.encode(TEXTS, "document", batch_size=3)
    expected = reference_weights(model, encoder.model.tokenize(TEXTS))
    assert expected.max() > 0 and (expected == 0).any()  # the test exercises the ReLU
    got = np.stack([dense(v, encoder.vocab_size) for v in vectors])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    for vector in vectors:
        assert vector.indices.dtype == np.int32 and np.all(np.diff(vector.indices) > 0)
        assert np.all(vector.values > 0)


def test_query_side_truncation_pruning_and_token_mode(tiny_mlm):
    from embedstack.encoders.splade import SpladeEncoder

    path, model = tiny_mlm
    long_text = TEXTS[3]
    encoder = SpladeEncoder(path, query_max_length=6, query_top_k=3)
    (query,) = encoder.encode([long_text], "query")
    encoder.model.tokenizer.enable_truncation(max_length=6)
    batch = encoder.model.tokenize([long_text])
    assert batch.input_ids.shape[1] == 6
    full = reference_weights(model, batch)[0]
    top3 = np.sort(np.argsort(-full)[:3])
    assert query.indices.tolist() == top3.tolist()
    np.testing.assert_allclose(query.values, full[top3], rtol=1e-4)

    tokens = SpladeEncoder(path, query_mode="tokens")
    (counted,) = tokens.encode(["the cat the"], "query")
    words = {
        tokens.token(i): float(v) for i, v in zip(counted.indices, counted.values, strict=True)
    }
    assert words == {"the": 2.0, "cat": 1.0}


def test_bad_settings_and_models(tiny_mlm, tmp_path):
    from embedstack.encoders.splade import SpladeEncoder

    path, _ = tiny_mlm
    with pytest.raises(InputError, match="query_mode"):
        SpladeEncoder(path, query_mode="bogus")
    with pytest.raises(InputError, match="document_top_k"):
        SpladeEncoder(path, document_top_k=0)
    plain = tmp_path / "plain"
    make_tiny_model(plain, "bert")
    with pytest.raises(ModelNotFoundError, match="masked-LM head"):
        SpladeEncoder(plain)


def test_splade_index_end_to_end(tiny_mlm, tmp_path):
    from embedstack.encoders.splade import SpladeEncoder
    from embedstack.store.sparse import SpladeIndex

    path, _ = tiny_mlm
    index = SpladeIndex(model=str(path), document_top_k=20)
    index.add(np.arange(len(TEXTS)), TEXTS)
    rows, scores = index.search("red house", k=2)
    encoder = SpladeEncoder(path, document_top_k=20)
    (query,) = encoder.encode(["red house"], "query")
    docs = encoder.encode(TEXTS, "document")
    expected = sorted(((query.dot(d), i) for i, d in enumerate(docs)), reverse=True)[:2]
    assert rows.tolist() == [i for _, i in expected]
    np.testing.assert_allclose(scores, [s for s, _ in expected], rtol=1e-4)
    index.save(tmp_path)
    again = SpladeIndex.load(tmp_path, index.config())
    assert again.search("red house", k=2)[0].tolist() == rows.tolist()


def test_splade_eval_preset(tiny_mlm, tmp_path):
    import json

    from embedstack.eval.datasets import load_beir
    from embedstack.eval.options import EvalOptions
    from embedstack.eval.runner import evaluate_retrieval

    path, _ = tiny_mlm
    data = tmp_path / "beir"
    (data / "qrels").mkdir(parents=True)
    rows = [{"_id": f"d{i}", "title": "", "text": text} for i, text in enumerate(TEXTS)]
    (data / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (data / "queries.jsonl").write_text(json.dumps({"_id": "q", "text": "red house"}))
    (data / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\td1\t1\n")
    options = EvalOptions(model=str(path), params={"document_top_k": 8}, cache_dir=tmp_path)
    result = evaluate_retrieval(load_beir(data), "splade", options)
    hits = result.ranked["q"][:2]
    assert len(hits) == 2 and hits[0].score >= hits[1].score > 0
    assert result.space is None and result.memory_bytes > 0


def test_roberta_masked_lm_head(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tiny_models import write_tokenizer

    from embedstack.encoders.splade import SpladeEncoder

    path = tmp_path / "roberta-mlm"
    path.mkdir()
    vocab = write_tokenizer(path, "roberta")
    config = transformers.RobertaConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=40, pad_token_id=1, bos_token_id=0,
        eos_token_id=2, type_vocab_size=1,
    )  # fmt: skip
    torch.manual_seed(1)
    model = transformers.RobertaForMaskedLM(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if not name.endswith("LayerNorm.weight") and not name.endswith("layer_norm.weight"):
                param.normal_(0.0, 0.2)
    model.eval()
    model.save_pretrained(str(path))
    encoder = SpladeEncoder(path)
    vectors = encoder.encode(TEXTS[:3], "document")
    batch = encoder.model.tokenize(TEXTS[:3])
    with torch.no_grad():
        logits = model(
            input_ids=torch.tensor(batch.input_ids),
            attention_mask=torch.tensor(batch.attention_mask),
        ).logits.numpy()
    activated = np.where(batch.attention_mask[:, :, None] == 1, np.log1p(np.maximum(logits, 0)), 0)
    expected = activated.max(axis=1)
    got = np.stack([dense(v, encoder.vocab_size) for v in vectors])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_splade_space_names_weights_tokenizer_and_settings(tiny_mlm):
    from embedstack.encoders import SparseEncoder, SpladeEncoder
    from embedstack.encoders.transformer import file_sha256

    path, _ = tiny_mlm
    encoder = SpladeEncoder(path, document_top_k=20)
    assert isinstance(encoder, SparseEncoder)
    space = encoder.space
    assert space.fingerprint == file_sha256(path / "model.safetensors")
    assert space.tokenizer == file_sha256(path / "tokenizer.json")
    assert (space.dim, space.max_tokens, space.normalize) == (encoder.vocab_size, 40, False)
    assert dict(space.extra)["document_top_k"] == "20"
    (difference,) = SpladeEncoder(path, document_top_k=10).space.diff(space)
    assert difference.startswith("extra:") and "'document_top_k': '10'" in difference


def test_new_weights_at_the_same_path_are_refused_until_rebuilt(tmp_path):
    from embedstack.encoders import SpladeEncoder
    from embedstack.encoders.transformer import file_sha256
    from embedstack.errors import SpaceMismatchError
    from embedstack.store.collection import Collection

    model = tmp_path / "mlm"
    make_tiny_model(model, "bert-mlm", seed=0)
    old = file_sha256(model / "model.safetensors")
    col = Collection.create(tmp_path / "col", "hash:32", indexes={"splade": {"model": str(model)}})
    ids = [f"d{i}" for i in range(len(TEXTS))]
    col.add(TEXTS, ids=ids)
    col.close()
    make_tiny_model(model, "bert-mlm", seed=1)  # model B overwrites model A in place
    new = file_sha256(model / "model.safetensors")
    assert new != old

    again = Collection.open(tmp_path / "col")
    mismatch = rf"fingerprint: '{old}' != '{new}'.*--rebuild-indexes"
    with pytest.raises(SpaceMismatchError, match=mismatch):
        again.search("red house", k=2, retriever="splade")
    with pytest.raises(SpaceMismatchError, match=mismatch):
        again.add(["one more text"], ids=["extra"])
    assert len(again) == len(TEXTS)  # the refused add wrote nothing
    again.rebuild_index("splade")
    rows = again.search("red house", k=len(TEXTS), retriever="splade")
    encoder = SpladeEncoder(model)
    (query,) = encoder.encode(["red house"], "query")
    expected = {i: query.dot(d) for i, d in zip(ids, encoder.encode(TEXTS), strict=True)}
    for hit in rows:
        assert hit.score == pytest.approx(expected[hit.id], rel=1e-4)
    again.close()
