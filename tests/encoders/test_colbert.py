"""The ColBERT encoder against a transformers forward pass on a tiny random checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tiny_models import COLBERT_DIM as DIM
from tiny_models import COLBERT_QUERY_LEN as QUERY_LEN
from tiny_models import make_tiny_colbert, make_tiny_model

from embedstack.encoders import ColbertEncoder
from embedstack.errors import ModelNotFoundError
from embedstack.search import ColbertReranker
from embedstack.search.rerank import reranker_from_config
from embedstack.similarity import maxsim
from embedstack.types import Hit

pytestmark = pytest.mark.torch


def reference(bert, linear, input_ids, attention_mask):
    import torch

    with torch.no_grad():
        hidden = bert(
            input_ids=torch.tensor(input_ids), attention_mask=torch.tensor(attention_mask)
        ).last_hidden_state
        return torch.nn.functional.normalize(linear(hidden), dim=2).numpy()


def test_query_and_document_vectors_match_transformers(tmp_path):
    bert, linear, tok = make_tiny_colbert(tmp_path / "colbert")
    encoder = ColbertEncoder(tmp_path / "colbert")
    assert encoder.dim == DIM
    q_marker, d_marker = tok.token_to_id("[unused0]"), tok.token_to_id("[unused1]")
    cls_id, sep_id, mask_id = (tok.token_to_id(t) for t in ("[CLS]", "[SEP]", "[MASK]"))

    queries = ["the cat sat ?", "dogs ran fast on the big red mat by the river house tree"]
    batch = encoder.batch(queries, "query")
    words = tok.encode("the cat sat ?", add_special_tokens=False).ids
    expected = [cls_id, q_marker, *words, sep_id] + [mask_id] * (QUERY_LEN - len(words) - 3)
    assert batch.input_ids[0].tolist() == expected
    assert batch.attention_mask[0].tolist() == [1] * (len(words) + 3) + [0] * (
        QUERY_LEN - len(words) - 3
    )
    assert batch.input_ids.shape == (2, QUERY_LEN) and batch.truncated.tolist() == [False, True]
    assert batch.input_ids[1, -1] == sep_id

    ref = reference(bert, linear, batch.input_ids, batch.attention_mask)
    ours = encoder.encode(queries, "query")
    assert all(q.shape == (QUERY_LEN, DIM) for q in ours)  # [MASK] positions kept
    assert np.abs(np.stack(ours) - ref).max() < 1e-4

    docs = ["the cat , sat on the mat .", "hello world !"]
    dbatch = encoder.batch(docs, "document")
    assert dbatch.input_ids[0, 1] == d_marker
    dref = reference(bert, linear, dbatch.input_ids, dbatch.attention_mask)
    dours = encoder.encode(docs, "document")
    for i, vectors in enumerate(dours):
        ids = dbatch.input_ids[i]
        punct = {tok.token_to_id(p) for p in ",.!"}
        keep = [j for j, t in enumerate(ids) if dbatch.attention_mask[i, j] and t not in punct]
        assert len(vectors) == len(keep)  # punctuation and padding dropped
        assert np.abs(vectors - dref[i][keep]).max() < 1e-4
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_colbert_reranker_uses_maxsim(tmp_path):
    make_tiny_colbert(tmp_path / "colbert")
    reranker = ColbertReranker(tmp_path / "colbert")
    texts = ["the cat sat on the mat", "dogs ran fast", "a blue river"]
    hits = [
        Hit(f"d{i}", 0.0, t, stages={"bm25": {"score": 1.0, "rank": i + 1}})
        for i, t in enumerate(texts)
    ]
    out = reranker.rerank("cat on a mat", hits)
    (q,) = reranker.encoder.encode(["cat on a mat"], "query")
    expected = [maxsim(q, d) for d in reranker.encoder.encode(texts, "document")]
    assert [h.id for h in out] == [f"d{i}" for i in np.argsort(expected)[::-1]]
    assert out[0].stages["colbert"]["score"] == pytest.approx(max(expected), rel=1e-5)
    assert "bm25" in out[0].stages
    again = reranker_from_config(reranker.config())
    np.testing.assert_allclose(again.score("cat on a mat", texts), expected, rtol=1e-5)


def test_wrong_architecture_is_named(tmp_path):
    make_tiny_model(tmp_path / "plain", "bert")
    with pytest.raises(ModelNotFoundError, match=r"BertModel without a ColBERT projection"):
        ColbertEncoder(tmp_path / "plain")
    make_tiny_colbert(tmp_path / "colbert")
    meta = tmp_path / "colbert" / "artifact.metadata"
    meta.write_text(json.dumps({"dim": 128}))
    with pytest.raises(ModelNotFoundError, match=r"declares dim 128 but its projection has 16"):
        ColbertEncoder(tmp_path / "colbert")


def test_colbert_index_first_stage_protocol(tmp_path):
    from embedstack.similarity import maxsim_many
    from embedstack.store.colbert import ColbertIndex

    make_tiny_colbert(tmp_path / "colbert")
    texts = [
        "the cat sat on the mat", "dogs ran fast", "a blue river", "the big red house",
        "hello world", "search the vector model", "a small tree", "the slow dog sat",
    ]  # fmt: skip
    index = ColbertIndex(str(tmp_path / "colbert"))
    rows = np.arange(10, 10 + len(texts))
    index.add(rows, texts)
    query = "the cat on a mat"
    (q,) = index.encoder.encode([query], "query")
    exact = maxsim_many(q, index.encoder.encode(texts, "document"))
    found, scores = index.search(query, 3)
    # a tiny corpus is all candidates: results equal exact MaxSim up to int8 rounding
    assert found.tolist() == (rows[np.argsort(-exact)[:3]]).tolist()
    np.testing.assert_allclose(scores, np.sort(exact)[::-1][:3], atol=0.05)
    index.delete(np.array([found[0]]))
    assert found[0] not in index.search(query, 3)[0]
    assert set(index.search(query, 5, allowed=np.array([11, 12]))[0].tolist()) <= {11, 12}
    index.save(tmp_path / "saved")
    again = ColbertIndex.load(tmp_path / "saved", index.config())
    np.testing.assert_array_equal(again.search(query, 3)[0], index.search(query, 3)[0])


def test_colbert_index_inside_a_collection(tmp_path):
    from embedstack.search.pipeline import Pipeline
    from embedstack.search.retrievers import DenseRetriever, IndexRetriever
    from embedstack.store.collection import Collection

    make_tiny_colbert(tmp_path / "colbert")
    texts = ["the cat sat on the mat", "dogs ran fast", "a blue river", "the big red house"]
    col = Collection.create(tmp_path / "col", "hash:32", indexes=())
    col.add(texts, ids=["cat", "dogs", "river", "house"])
    col.rebuild_index("colbert", {"model": str(tmp_path / "colbert")})
    hits = col.search("cat on a mat", k=2, retriever="colbert")
    reranker = ColbertReranker(tmp_path / "colbert")
    exact = reranker.score("cat on a mat", texts)
    assert [h.id for h in hits] == [
        ["cat", "dogs", "river", "house"][i] for i in np.argsort(-exact)[:2]
    ]
    assert hits[0].stages["colbert"]["rank"] == 1
    col.add(["a small tree"], ids=["tree"])  # the index follows the collection's writes
    col.delete(["dogs"])
    again = Collection.open(tmp_path / "col")
    ids = {h.id for h in again.search("tree", k=10, retriever="colbert")}
    assert "tree" in ids and "dogs" not in ids
    pipe = Pipeline([DenseRetriever(again), IndexRetriever(again, "colbert")])
    assert pipe.search("cat", k=3)[0].stages["fusion"]["rank"] == 1


def perturb_projection(file, name="linear.weight"):
    """New weights at the same path: scale and shift the projection in place."""
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(file))
    tensors[name] = (tensors[name][::-1] * 1.5 + 0.1).copy()
    save_file(tensors, str(file))


def test_colbert_space_and_the_pylate_projection_file(tmp_path):
    from safetensors.numpy import load_file, save_file

    from embedstack.encoders import MultiVectorEncoder
    from embedstack.encoders.transformer import file_sha256

    path = tmp_path / "colbert"
    make_tiny_colbert(path)
    encoder = ColbertEncoder(path)
    assert isinstance(encoder, MultiVectorEncoder)
    space = encoder.space
    assert space.fingerprint == file_sha256(path / "model.safetensors")
    assert (space.dim, space.max_tokens, space.pooling) == (DIM, 20, "tokens")
    assert (space.query_prefix, space.document_prefix) == ("[unused0]", "[unused1]")
    assert dict(space.extra)["query_maxlen"] == str(QUERY_LEN)

    tensors = load_file(str(path / "model.safetensors"))  # move to the PyLate layout
    (path / "1_Dense").mkdir()
    save_file(
        {"linear.weight": tensors.pop("linear.weight")}, str(path / "1_Dense/model.safetensors")
    )
    save_file(tensors, str(path / "model.safetensors"))
    pylate = ColbertEncoder(path)
    texts = ["the cat sat on the mat", "hello world"]
    for a, b in zip(pylate.encode(texts), encoder.encode(texts), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    perturb_projection(path / "1_Dense/model.safetensors")
    changed = ColbertEncoder(path).space  # only the projection file changed
    assert [d.split(":")[0] for d in changed.diff(pylate.space)] == ["fingerprint"]


def test_new_colbert_weights_at_the_same_path_are_refused(tmp_path):
    from embedstack.errors import SpaceMismatchError
    from embedstack.store.collection import Collection

    path = tmp_path / "colbert"
    make_tiny_colbert(path)
    texts = ["the cat sat on the mat", "dogs ran fast", "a blue river"]
    col = Collection.create(tmp_path / "col", "hash:32", indexes={"colbert": {"model": str(path)}})
    col.add(texts, ids=["cat", "dogs", "river"])
    col.close()
    old = ColbertEncoder(path).space.fingerprint
    perturb_projection(path / "model.safetensors")
    new = ColbertEncoder(path).space.fingerprint
    again = Collection.open(tmp_path / "col")
    mismatch = rf"ColBERT index .* \(fingerprint: '{old}' != '{new}'\).*--rebuild-indexes"
    with pytest.raises(SpaceMismatchError, match=mismatch):
        again.search("cat", k=2, retriever="colbert")
    with pytest.raises(SpaceMismatchError, match=mismatch):
        again.add(["a small tree"], ids=["tree"])
    assert len(again) == 3
    again.rebuild_index("colbert")
    exact = ColbertReranker(path).score("a blue river", texts)
    assert (
        again.search("a blue river", k=1, retriever="colbert")[0].id
        == ["cat", "dogs", "river"][int(np.argmax(exact))]
    )
    again.close()


def test_an_old_colbert_index_without_a_space_is_refused(tmp_path):
    from embedstack.errors import CollectionError
    from embedstack.store.colbert import ColbertIndex

    make_tiny_colbert(tmp_path / "colbert")
    index = ColbertIndex(str(tmp_path / "colbert"))
    index.add(np.arange(2), ["the cat", "a dog"])
    index.save(tmp_path / "saved")
    meta = tmp_path / "saved" / "colbert.json"  # rewrite as format 1: the bare config
    meta.write_text(json.dumps(json.loads(meta.read_text())["config"]))
    with pytest.raises(CollectionError, match=r"did not record its embedding space.*--rebuild"):
        ColbertIndex.load(tmp_path / "saved", index.config())
