"""Own-vector collections with an HNSW index or compressed codes, against the exact scan."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from embedstack.errors import CollectionError, InputError, SpaceMismatchError
from embedstack.store.collection import Collection
from embedstack.store.hnsw import GRAPH, HnswIndex

DIM = 32


def clustered(n: int, seed: int = 0, clusters: int = 40, spread: float = 0.6) -> np.ndarray:
    """Unit vectors around cluster centres; neighbours are meaningful at this noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM))
    x = centres[rng.integers(0, clusters, n)] + spread * rng.standard_normal((n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def queries_near(x: np.ndarray, n: int, seed: int = 1) -> np.ndarray:
    """Queries = data points plus noise scaled to the vector norm (not per dimension)."""
    rng = np.random.default_rng(seed)
    base = x[rng.choice(len(x), n, replace=False)]
    noise = rng.standard_normal(base.shape)
    noise *= (
        0.15 * np.linalg.norm(base, axis=1, keepdims=True) / np.linalg.norm(noise, axis=1)[:, None]
    )
    return (base + noise).astype(np.float32)


def make(tmp_path, n=2000, name="c", spread=0.6, **kwargs) -> tuple[Collection, np.ndarray]:
    x = clustered(n, spread=spread)
    hnsw = {"exact_below": 0, "threads": 1}  # a small set searched through the graph
    settings = kwargs.pop("ann_settings", hnsw if kwargs.get("ann") == "hnsw" else None)
    col = Collection.create(tmp_path / name, dim=DIM, ann_settings=settings, **kwargs)
    meta = [{"one": i % 100, "half": i % 2} for i in range(n)]
    col.add(ids=[f"d{i}" for i in range(n)], vectors=x, metadata=meta)
    return col, x


def ids(hits) -> list[str]:
    return [h.id for h in hits]


def test_hnsw_recall_against_exact(tmp_path):
    col, x = make(tmp_path, ann="hnsw", rescore="none")
    recalls = []
    for q in queries_near(x, 40):
        approx, exact = ids(col.search_vector(q, 10)), ids(col.search_vector(q, 10, exact=True))
        recalls.append(len(set(approx) & set(exact)) / 10)
    assert np.mean(recalls) >= 0.95


@pytest.mark.parametrize("field", ["one", "half"])  # 1% and 50% of rows match
def test_filtered_ann_equals_exact_filtered(tmp_path, field):
    col, x = make(tmp_path, ann="hnsw", rescore="float32")
    for q in queries_near(x, 15):
        where = {field: 1}
        approx = col.search_vector(q, 10, where=where)
        exact = col.search_vector(q, 10, where=where, exact=True)
        assert len(approx) == 10
        assert ids(approx) == ids(exact)
        assert [h.score for h in approx] == pytest.approx([h.score for h in exact], abs=1e-5)
        assert all(h.metadata[field] == 1 for h in approx)


def test_filter_matching_fewer_than_k_returns_all_matches(tmp_path):
    col, x = make(tmp_path, n=500, ann="hnsw")
    col.upsert(ids=["d3"], vectors=x[3:4], metadata=[{"rare": True}])
    assert ids(col.search_vector(x[0], 10, where={"rare": True})) == ["d3"]


def test_persistence_round_trip(tmp_path):
    col, x = make(tmp_path, ann="hnsw", storage="int8", rescore="float32")
    qs = queries_near(x, 5)
    before = [ids(col.search_vector(q, 10)) for q in qs]
    col.close()
    again = Collection.open(tmp_path / "c")
    assert again.manifest.indexes["hnsw"]["storage"] == "int8"
    assert [ids(again.search_vector(q, 10)) for q in qs] == before
    assert (next((tmp_path / "c" / "indexes").glob("hnsw-*")) / GRAPH).is_file()


def test_crash_during_index_write_keeps_previous_index(tmp_path, monkeypatch):
    col, x = make(tmp_path, ann="hnsw")
    q = queries_near(x, 1)[0]
    before = ids(col.search_vector(q, 10))
    saved = HnswIndex.save

    def crash(self, directory):
        saved(self, directory)  # the new graph is half-way into its folder...
        raise OSError("disk full")  # ...when the write dies

    monkeypatch.setattr(HnswIndex, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        col.add(ids=["new"], vectors=q[None, :])
    monkeypatch.undo()
    reopened = Collection.open(tmp_path / "c")
    assert len(reopened) == 2000
    assert ids(reopened.search_vector(q, 10)) == before
    assert len(list((tmp_path / "c" / "indexes").glob("hnsw-*"))) == 1


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupted_index_is_refused_with_rebuild_command(tmp_path, damage):
    col, x = make(tmp_path, n=600, ann="hnsw")
    col.close()
    graph = next((tmp_path / "c" / "indexes").glob("hnsw-*")) / GRAPH
    blob = bytearray(graph.read_bytes())
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    else:
        blob[len(blob) // 2] ^= 0xFF
    graph.write_bytes(bytes(blob))
    col = Collection.open(tmp_path / "c")
    with pytest.raises(CollectionError, match=r"damaged.*rebuild_index\('hnsw'\)"):
        col.search_vector(x[0], 5)
    assert ids(col.search_vector(x[0], 5, exact=True))[0] == "d0"  # the reference still works
    col.rebuild_index("hnsw")
    assert ids(col.search_vector(x[0], 5))[0] == "d0"


def test_add_upsert_delete_update_the_graph_without_rebuild(tmp_path, monkeypatch):
    col, x = make(tmp_path, n=800, ann="hnsw", rescore="none")
    added: list[int] = []
    original = HnswIndex.add

    def spy(self, rows, vectors):
        added.append(len(rows))
        original(self, rows, vectors)

    monkeypatch.setattr(HnswIndex, "add", spy)
    target = -x[5]  # far from everything else
    report = col.upsert(ids=["d7", "d8"], vectors=np.stack([target, x[8]]))
    assert report.updated == ["d7"] and report.unchanged == ["d8"]
    assert ids(col.search_vector(target, 1)) == ["d7"]
    col.add(ids=["extra"], vectors=target[None, :] * 2)
    assert col.delete(["d7"]) == 1
    assert ids(col.search_vector(target, 1)) == ["extra"]
    assert "d7" not in ids(col.search_vector(target, 50))
    assert added == [1, 1]  # only the changed rows reached the graph


def test_compact_rebuilds_the_graph_from_the_kept_vectors(tmp_path):
    col, x = make(tmp_path, n=600, ann="hnsw", storage="int8")
    col.delete([f"d{i}" for i in range(0, 600, 2)])
    assert col.compact() == 300
    again = Collection.open(tmp_path / "c")
    for i in (1, 301, 599):
        assert ids(again.search_vector(x[i], 1)) == [f"d{i}"]
    assert not {h.id for h in again.search_vector(x[4], 20)} & {"d4", "d0"}


def test_binary_rescore_ordering_equals_exact_on_easy_data(tmp_path):
    # Easy: tight clusters of ~50 rows, so 32 sign bits find the right cluster and the
    # float32 rescoring of 200 candidates orders it exactly.
    col, x = make(
        tmp_path, spread=0.3, storage="binary", rescore="float32", ann_settings={"candidates": 200}
    )
    assert "compressed" in col.manifest.indexes
    for q in queries_near(x, 20):
        got, exact = col.search_vector(q, 10), col.search_vector(q, 10, exact=True)
        assert ids(got) == ids(exact)
        assert [h.score for h in got] == pytest.approx([h.score for h in exact], abs=1e-5)


@pytest.mark.parametrize("storage", ["float16", "int8"])
def test_compressed_scores_without_rescoring_are_close(tmp_path, storage):
    col, x = make(tmp_path, storage=storage, rescore="none")
    tolerance = {"float16": 1e-3, "int8": 0.03}[storage]
    for q in queries_near(x, 5):
        exact = {h.id: h.score for h in col.search_vector(q, 20, exact=True)}
        for hit in col.search_vector(q, 10):
            if hit.id in exact:
                assert hit.score == pytest.approx(exact[hit.id], abs=tolerance)


def test_matryoshka_truncation_warns_and_searches(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        col, x = make(tmp_path, storage="float32", rescore="float32", ann_settings={"dims": 16})
    assert "Matryoshka" in caplog.text
    assert ids(col.search_vector(x[0], 1)) == ["d0"]


def test_encoder_collection_takes_vectors_of_its_space(tmp_path):
    from embedstack.encoders.hashing import HashEncoder

    encoder = HashEncoder(DIM)
    col = Collection.create(tmp_path / "t", encoder, indexes=(), ann="hnsw")
    vectors = encoder.encode(["red apple", "blue sea"])
    with pytest.raises(SpaceMismatchError, match="space="):
        col.add(ids=["a", "b"], vectors=vectors)
    col.add(ids=["a", "b"], vectors=vectors, texts=["red apple", "blue sea"], space=encoder.space)
    assert col.search("red apple", k=1)[0].id == "a"


def test_bad_input_is_named(tmp_path):
    col = Collection.create(tmp_path / "c", dim=4, ann="hnsw")
    with pytest.raises(InputError, match=r"3 dimensions.*4-dimensional"):
        col.add(ids=["a"], vectors=np.ones((1, 3)))
    bad = np.ones((3, 4))
    bad[1, 2], bad[2, 0] = np.nan, np.inf
    with pytest.raises(InputError, match=r"2 vector.*NaN or infinity: b, c"):
        col.add(ids=["a", "b", "c"], vectors=bad)
    assert len(col) == 0
    with pytest.raises(InputError, match=r"5 dimensions.*4-dimensional"):
        col.search_vector(np.ones(5), 3)
    with pytest.raises(InputError, match="float32, float16, int8, binary"):
        Collection.create(tmp_path / "d", dim=4, storage="int4")
    with pytest.raises(InputError, match="exact, hnsw"):
        Collection.create(tmp_path / "e", dim=4, ann="ivf")
    with pytest.raises(InputError, match="none, float32, int8"):
        Collection.create(tmp_path / "f", dim=4, storage="binary", rescore="int4")
    with pytest.raises(CollectionError, match="search_vector"):
        col.search("text query")


def test_hnsw_defaults_to_float16_codes_with_exact_float32_scores(tmp_path):
    col, x = make(tmp_path, ann="hnsw")
    (config,) = (c for name, c in col.manifest.indexes.items() if name == "hnsw")
    assert (config["storage"], config["rescore"]) == ("float16", "float32")
    recalls = []
    for q in queries_near(x, 30):
        hits = col.search_vector(q, 10)
        exact = col.search_vector(q, 10, exact=True)
        recalls.append(len(set(ids(hits)) & set(ids(exact))) / 10)
        rows = [int(h.id[1:]) for h in hits]
        cosine = x[rows] @ q / np.linalg.norm(q)  # stored rows are unit length
        np.testing.assert_allclose([h.score for h in hits], cosine, rtol=1e-5, atol=1e-6)
    assert np.mean(recalls) >= 0.95
    explicit, _ = make(tmp_path, name="f32", ann="hnsw", storage="float32")
    assert explicit.manifest.indexes["hnsw"]["storage"] == "float32"


def test_candidate_count_follows_storage():
    from embedstack.store.vecindex import VectorSettings

    assert VectorSettings(storage="float32", rescore="none").candidate_count(10) == 10
    assert VectorSettings(storage="float16", rescore="float32").candidate_count(10) == 20
    assert VectorSettings(storage="int8", rescore="float32").candidate_count(10) == 100
    assert VectorSettings(storage="binary", rescore="int8").candidate_count(50) == 200
    assert VectorSettings(storage="float16", candidates=30).candidate_count(10) == 40
