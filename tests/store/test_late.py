import numpy as np
import pytest

from embedstack.errors import CollectionError, InputError
from embedstack.similarity import maxsim, maxsim_many
from embedstack.store.late import LateIndex, LateIndexConfig, kmeans

DIM = 32


def unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def synthetic(n_docs=1000, n_queries=30, seed=0, n_topics=150, noise=0.15):
    """Documents mix tokens of 4 of `n_topics` 'topics' (token vectors of trained ColBERT
    models cluster like this); each query samples noisy tokens of one document."""
    rng = np.random.default_rng(seed)
    topics = unit(rng.normal(size=(n_topics, DIM)))
    docs = []
    for _ in range(n_docs):
        chosen = rng.choice(n_topics, size=4, replace=False)
        n = rng.integers(10, 40)
        docs.append(unit(topics[rng.choice(chosen, n)] + noise * rng.normal(size=(n, DIM))))
    queries = []
    for _ in range(n_queries):
        source = docs[rng.integers(n_docs)]
        picked = source[rng.choice(len(source), 8)]
        queries.append(unit(picked + noise * rng.normal(size=picked.shape)))
    return docs, queries


def brute_force(query, doc):
    return sum(max(float(np.dot(qt, dt)) for dt in doc) for qt in query)


def test_maxsim_matches_brute_force():
    rng = np.random.default_rng(1)
    query = unit(rng.normal(size=(5, DIM)))
    docs = [unit(rng.normal(size=(n, DIM))) for n in (1, 7, 30)]
    for doc in docs:
        assert maxsim(query, doc) == pytest.approx(brute_force(query, doc), rel=1e-5)
    np.testing.assert_allclose(
        maxsim_many(query, docs), [brute_force(query, d) for d in docs], rtol=1e-5
    )
    assert maxsim(query, np.zeros((0, DIM), np.float32)) == 0.0
    with pytest.raises(InputError, match="token matrices"):
        maxsim(query, np.ones((3, DIM + 1)))


def test_kmeans_recovers_separated_clusters():
    rng = np.random.default_rng(2)
    centers = unit(rng.normal(size=(4, DIM)))
    points = unit(np.repeat(centers, 50, axis=0) + 0.05 * rng.normal(size=(200, DIM)))
    found = kmeans(points, 4, seed=3)
    # each true center has a learned centroid within a small angle
    assert (centers @ found.T).max(axis=1).min() > 0.99


@pytest.mark.parametrize("compression", ["residual", "int8"])
def test_compressed_index_recall_of_exact_top10(compression):
    docs, queries = synthetic()
    # exact MaxSim only on 128 of 1000 documents: candidate generation must do the work
    index = LateIndex(LateIndexConfig(dim=DIM, compression=compression, candidates=128))
    index.add(docs)
    exact_scores = np.array([maxsim_many(q, docs) for q in queries])
    recalls = []
    for q, exact in zip(queries, exact_scores, strict=True):
        truth = set(np.argsort(-exact, kind="stable")[:10].tolist())
        rows, scores = index.search(q, 10)
        recalls.append(len(truth & set(rows.tolist())) / 10)
        # scores are exact MaxSim on decompressed vectors: close to the float32 ones
        np.testing.assert_allclose(scores, exact[rows], atol=0.05)
    assert np.mean(recalls) >= 0.95
    # compressed: far less than float32 token storage
    float_bytes = sum(d.nbytes for d in docs)
    assert index.nbytes < 0.4 * float_bytes


def test_delete_allowed_save_load(tmp_path):
    docs, queries = synthetic(n_docs=60, n_queries=2)
    index = LateIndex(LateIndexConfig(dim=DIM, n_centroids=16))
    index.add(docs[:40])
    index.add(docs[40:])
    assert len(index) == 60
    rows, _ = index.search(queries[0], 5)
    top = int(rows[0])
    index.delete(np.array([top]))
    assert top not in index.search(queries[0], 5)[0]
    allowed = np.array([3, 7, 11])
    assert set(index.search(queries[0], 5, allowed=allowed)[0]) <= set(allowed.tolist())
    index.save(tmp_path / "late")
    again = LateIndex.load(tmp_path / "late")
    for q in queries:
        a, b = index.search(q, 10), again.search(q, 10)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_allclose(a[1], b[1])
    with pytest.raises(CollectionError, match=r"no late\.json"):
        LateIndex.load(tmp_path)


def test_bad_shapes_and_settings():
    index = LateIndex(LateIndexConfig(dim=DIM))
    assert index.search(np.ones((2, DIM), np.float32), 3)[0].size == 0
    with pytest.raises(InputError, match=r"\(tokens, 32\)"):
        index.add([np.ones((3, 8), np.float32)])
    with pytest.raises(InputError, match="compression"):
        LateIndexConfig(dim=DIM, compression="pq")
