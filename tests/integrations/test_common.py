"""The pieces the adapters share: wrapping foreign embedding functions, relevance
scores, and `Collection.ids_where`."""

from __future__ import annotations

import numpy as np
import pytest

from embedstack import Collection
from embedstack.errors import InputError, SpaceMismatchError
from embedstack.integrations._common import FunctionEncoder, fill_ids, open_collection, relevance


def _fake(dim=3, scale=2.0):
    def docs(texts):
        return [[scale * len(t), 1.0, 0.0][:dim] for t in texts]

    def query(text):
        return [0.0, scale * len(text), 1.0][:dim]

    return docs, query


def test_function_encoder_uses_query_and_document_functions_unnormalised():
    docs, query = _fake()
    enc = FunctionEncoder("test:fake", docs, query, fingerprint="v1")
    assert enc.space.dim == 3 and not enc.space.normalize and enc.space.fingerprint == "v1"
    assert np.allclose(enc.encode(["ab", "c"], kind="document"), [[4, 1, 0], [2, 1, 0]])
    assert np.allclose(enc.encode(["abc"], kind="query"), [[0, 6, 1]])


def test_function_encoder_refuses_bad_outputs():
    with pytest.raises(InputError, match="empty vector"):
        FunctionEncoder("test:empty", lambda t: [[]], lambda t: [])
    enc = FunctionEncoder("test:short", lambda t: [[1.0, 2.0]], lambda t: [1.0, 2.0])
    with pytest.raises(InputError, match="1 vectors for 2 texts"):
        enc.encode(["a", "b"], kind="document", batch_size=2)


def test_collection_of_a_function_encoder_reopens_only_with_the_same_one(tmp_path):
    docs, query = _fake()
    collection, temp = open_collection(tmp_path / "c", FunctionEncoder("test:fake", docs, query))
    assert temp is None
    collection.add(["aa", "b"], ids=["x", "y"])
    collection.close()
    again, _ = open_collection(tmp_path / "c", FunctionEncoder("test:fake", docs, query))
    assert len(again) == 2
    again.close()
    with pytest.raises(SpaceMismatchError):
        open_collection(tmp_path / "c", FunctionEncoder("test:fake", *_fake(dim=2)))


def test_temporary_collection_lives_with_its_handle():
    collection, temp = open_collection(None, FunctionEncoder("test:fake", *_fake()))
    assert temp is not None and collection.path.exists()
    collection.close()
    temp.cleanup()
    assert not collection.path.exists()


def test_fill_ids_keeps_given_ids_and_makes_up_missing_ones():
    made = fill_ids(["a", None, ""], 3)
    assert made[0] == "a" and len(set(made)) == 3 and all(made)
    assert len(fill_ids(None, 2)) == 2
    with pytest.raises(InputError, match="2 ids for 3"):
        fill_ids(["a", "b"], 3)


def test_relevance_maps_scores_into_unit_interval():
    assert relevance(1.0, "cosine", True) == 1.0 and relevance(-1.0, "cosine", True) == 0.0
    assert relevance(0.0, "dot", True) == 0.5
    assert relevance(0.0, "euclidean", False) == 1.0 and relevance(-3.0, "euclidean", False) == 0.25
    assert 0.5 < relevance(2.0, "dot", False) < 1.0


def test_collection_ids_where_filters(tmp_path):
    with Collection.create(tmp_path / "c", "hash:16", indexes=()) as collection:
        collection.add(["a", "b", "c"], ids=["1", "2", "3"],
                       metadata=[{"k": 1}, {"k": 2}, {}])  # fmt: skip
        assert collection.ids() == ["1", "2", "3"]
        assert collection.ids_where({"k": {"$gte": 2}}) == ["2"]
        assert collection.ids_where({"k": None}) == ["3"]
        assert collection.ids_where({"k": 5}) == []
        collection.delete(["2"])
        assert collection.ids_where({"k": {"$in": [1, 2]}}) == ["1"]


def test_build_pipeline_prefers_from_spec_when_the_search_layer_has_it(tmp_path, monkeypatch):
    from embedstack.integrations._common import build_pipeline
    from embedstack.search.pipeline import Pipeline

    with Collection.create(tmp_path / "c", "hash:16") as collection:
        collection.add(["red apples", "green pears"], ids=["a", "p"])
        hybrid = build_pipeline(collection, "hybrid")
        assert set(hybrid.retrievers) == {"dense", "bm25"}
        assert hybrid.search("apples", k=1)[0].id == "a"
        calls = []

        def from_spec(cls, col, spec, **settings):
            calls.append((col, spec, settings))
            return "built"

        monkeypatch.setattr(Pipeline, "from_spec", classmethod(from_spec), raising=False)
        assert build_pipeline(collection, "hybrid+rerank", "cross-dir") == "built"
        assert calls == [(collection, "hybrid+rerank", {"reranker": "cross-dir"})]


def test_settings_hash_keys_on_plain_settings_not_credentials_or_objects():
    from embedstack.integrations._common import settings_hash

    class Model:
        def __init__(self, name, api_key, client=None):
            self.model, self.dim, self.api_key, self.client = name, 8, api_key, client

    assert settings_hash(Model("a", "k1")) == settings_hash(Model("a", "k2", object()))
    assert settings_hash(Model("a", "k1")) != settings_hash(Model("b", "k1"))
