from __future__ import annotations

import numpy as np
import pytest

from embedstack.apps.cluster import NOISE, cluster_items, ctfidf_terms, to_html, write_html
from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import InputError

TEXTS = [
    *(f"the cat chased a mouse around the garden {i}" for i in range(6)),
    *(f"stock markets and bond prices fell at the exchange {i}" for i in range(6)),
    *(f"the football team scored a goal in the match {i}" for i in range(6)),
]
IDS = [f"t{i}" for i in range(len(TEXTS))]


def _vectors():
    return HashEncoder(128).encode(TEXTS)


def test_kmeans_finds_topics_and_names_them():
    result = cluster_items(IDS, TEXTS, _vectors(), k=3, seed=0)
    groups = [set(result.labels[i * 6 : i * 6 + 6].tolist()) for i in range(3)]
    assert all(len(g) == 1 for g in groups) and len(set.union(*groups)) == 3
    names = {tuple(result.terms[next(iter(g))][:2]) for g in groups}
    flat = {t for n in names for t in n}
    assert {"cat", "stock", "football"} & flat
    data = result.to_dict()
    assert sorted(c["size"] for c in data["clusters"]) == [6, 6, 6] and data["noise"] == []


def test_k_chosen_by_silhouette_when_not_given():
    result = cluster_items(IDS, TEXTS, _vectors(), seed=0)
    assert len(set(result.labels.tolist())) == 3


def test_deterministic_under_seed(tmp_path):
    a = cluster_items(IDS, TEXTS, _vectors(), k=3, seed=7)
    b = cluster_items(IDS, TEXTS, _vectors(), k=3, seed=7)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.coords, b.coords)
    pa, pb = write_html(a, tmp_path / "a.html"), write_html(b, tmp_path / "b.html")
    assert pa.read_bytes() == pb.read_bytes()
    page = pa.read_text()
    assert page.count("<circle") == len(TEXTS) and "<title>t0 [" in page
    assert "<script" not in page and "http" not in page  # self-contained


def test_hdbscan_marks_noise():
    rng = np.random.default_rng(0)
    blobs = np.concatenate(
        [rng.normal(0, 0.05, (10, 4)), rng.normal(3, 0.05, (10, 4)), [[9, 9, 9, 9]]]
    )
    texts = ["alpha"] * 10 + ["beta"] * 10 + ["outlier"]
    result = cluster_items(
        [str(i) for i in range(21)], texts, blobs, method="hdbscan", min_cluster_size=5
    )
    assert result.labels[-1] == NOISE and result.to_dict()["noise"] == ["20"]
    assert "outlier" in to_html(result)


def test_ctfidf_prefers_distinctive_terms():
    labels = np.array([0, 0, 1, 1])
    terms = ctfidf_terms(
        ["apple library", "apple library", "banana library", "banana library"], labels
    )
    assert terms[0][0] == "apple" and terms[1][0] == "banana"


def test_bad_input():
    with pytest.raises(InputError, match="at least 3"):
        cluster_items(["a", "b"], ["x", "y"], np.eye(2))
    with pytest.raises(InputError, match="method"):
        cluster_items(IDS, TEXTS, _vectors(), method="dbscan")
