"""Clustering and a 2-D map of a collection, for exploring what is in it.

k-means (k chosen by silhouette when not given) or HDBSCAN from scikit-learn on the
stored vectors; each cluster is named by its top c-TF-IDF terms (terms frequent in the
cluster and rare in the others, as in BERTopic); the map is PCA (UMAP when installed
and asked for) drawn as a self-contained HTML page: an SVG scatter whose points show
their text on hover. Same seed, same output, byte for byte.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedstack._optional import require
from embedstack.apps._files import atomic_write
from embedstack.errors import InputError

NOISE = -1
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
    "#636363",
)


@dataclass
class Clustering:
    """Cluster labels, their top terms and 2-d coordinates of every item."""

    ids: list[str]
    texts: list[str]
    labels: np.ndarray  # cluster per item, NOISE (-1) for HDBSCAN outliers
    terms: dict[int, list[str]]
    coords: np.ndarray  # (n, 2)
    method: str
    projection: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what `cluster --json` prints)."""
        clusters = []
        for label in sorted(set(self.labels.tolist()) - {NOISE}):
            members = [self.ids[i] for i in np.flatnonzero(self.labels == label)]
            clusters.append(
                {
                    "cluster": int(label),
                    "label": ", ".join(self.terms.get(label, [])[:3]),
                    "terms": self.terms.get(label, []),
                    "size": len(members),
                    "members": members,
                }
            )
        noise = [self.ids[i] for i in np.flatnonzero(self.labels == NOISE)]
        return {
            "method": self.method,
            "projection": self.projection,
            "clusters": clusters,
            "noise": noise,
        }


def choose_k(vectors: np.ndarray, seed: int, k_max: int = 12) -> int:
    """The k in 2..min(k_max, sqrt(n) + 1) with the best silhouette (on at most 2,000
    sampled points). The sqrt bound stops tiny collections splitting into singletons,
    which silhouette rewards."""
    cluster = require("sklearn.cluster", "apps", "clustering")
    metrics = require("sklearn.metrics", "apps", "clustering")
    n = len(vectors)
    best_k, best = 2, -2.0
    for k in range(2, max(2, min(k_max, n - 1, math.isqrt(n) + 1)) + 1):
        labels = cluster.KMeans(n_clusters=k, random_state=seed, n_init=3).fit_predict(vectors)
        score = metrics.silhouette_score(
            vectors, labels, sample_size=min(n, 2000), random_state=seed
        )
        if score > best:
            best_k, best = k, float(score)
    return best_k


def cluster_vectors(
    vectors: np.ndarray,
    *,
    method: str = "kmeans",
    k: int | None = None,
    seed: int = 0,
    min_cluster_size: int = 5,
) -> np.ndarray:
    """K-means labels for the vectors (k chosen by silhouette when not given)."""
    cluster = require("sklearn.cluster", "apps", "clustering")
    n = len(vectors)
    if n < 3:
        raise InputError(f"clustering needs at least 3 items, the collection has {n}")
    if method == "kmeans":
        k = k or choose_k(vectors, seed)
        if not 1 <= k <= n:
            raise InputError(f"k must be between 1 and the number of items ({n}), got {k}")
        return cluster.KMeans(n_clusters=k, random_state=seed, n_init=10).fit_predict(vectors)
    if method == "hdbscan":
        return cluster.HDBSCAN(min_cluster_size=min_cluster_size, copy=True).fit_predict(vectors)
    raise InputError(f"unknown clustering method {method!r}; use 'kmeans' or 'hdbscan'")


def ctfidf_terms(texts: Sequence[str], labels: np.ndarray, top: int = 5) -> dict[int, list[str]]:
    """Top terms per cluster by class-based TF-IDF: tf of the term in the cluster times
    log(1 + mean words per cluster / frequency of the term over all clusters)."""
    text_mod = require("sklearn.feature_extraction.text", "apps", "cluster labels")
    names = sorted(set(labels.tolist()) - {NOISE})
    docs = [" ".join(t for t, lab in zip(texts, labels, strict=True) if lab == c) for c in names]
    try:
        vectorizer = text_mod.CountVectorizer(
            stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{2,}\b"
        )
        counts = vectorizer.fit_transform(docs).toarray().astype(np.float64)
    except ValueError:  # only stop words or no words at all
        return {c: [] for c in names}
    vocab = np.asarray(vectorizer.get_feature_names_out())
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    idf = np.log(1 + counts.sum(axis=1).mean() / np.maximum(counts.sum(axis=0), 1))
    weights = tf * idf
    out = {}
    for row, c in enumerate(names):
        order = np.lexsort((vocab, -weights[row]))[:top]
        out[c] = [str(vocab[i]) for i in order if weights[row, i] > 0]
    return out


def project_2d(vectors: np.ndarray, seed: int = 0, method: str = "pca") -> np.ndarray:
    """2-d coordinates for the map: PCA (or UMAP when installed and asked for)."""
    if method == "umap":
        umap = require("umap", "apps", "UMAP maps (pip install umap-learn)")
        return np.asarray(umap.UMAP(n_components=2, random_state=seed).fit_transform(vectors))
    if method != "pca":
        raise InputError(f"unknown projection {method!r}; use 'pca' or 'umap'")
    decomposition = require("sklearn.decomposition", "apps", "2-D maps")
    coords = decomposition.PCA(n_components=2, random_state=seed).fit_transform(vectors)
    # PCA's component signs are arbitrary: fix them so maps are stable across versions.
    signs = np.sign(coords[np.abs(coords).argmax(axis=0), [0, 1]])
    return np.asarray(coords * np.where(signs == 0, 1, signs), dtype=np.float64)


def cluster_items(
    ids: Sequence[str],
    texts: Sequence[str],
    vectors: np.ndarray,
    *,
    method: str = "kmeans",
    k: int | None = None,
    seed: int = 0,
    projection: str = "pca",
    min_cluster_size: int = 5,
) -> Clustering:
    """Cluster texts end to end: embed, choose k, label, name clusters, project."""
    vectors = np.asarray(vectors, dtype=np.float32)
    labels = cluster_vectors(
        vectors, method=method, k=k, seed=seed, min_cluster_size=min_cluster_size
    )
    return Clustering(
        ids=list(ids),
        texts=list(texts),
        labels=np.asarray(labels, dtype=np.int64),
        terms=ctfidf_terms(texts, np.asarray(labels)),
        coords=project_2d(vectors, seed, projection),
        method=method,
        projection=projection,
    )


def cluster_collection(collection: Any, **options: Any) -> Clustering:
    """Cluster every record of a collection by its stored vector (nothing re-embedded)."""
    ids = collection.ids()
    records = collection.get(ids)
    vectors = np.stack([r.vector for r in records]) if records else np.zeros((0, 1))
    return cluster_items([r.id for r in records], [r.text for r in records], vectors, **options)


def to_html(result: Clustering, title: str = "embedstack cluster map", width: int = 900) -> str:
    """A standalone page: SVG scatter (hover a point for its id, cluster and text) and a
    legend of cluster labels. No scripts, no external files."""
    pad, height = 20, int(width * 0.7)
    xy = result.coords
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi - lo == 0, 1, hi - lo)
    px = pad + (xy - lo) / span * np.array([width - 2 * pad, height - 2 * pad])
    points = []
    for i, (x, y) in enumerate(px):
        label = int(result.labels[i])
        colour = "#bbbbbb" if label == NOISE else _PALETTE[label % len(_PALETTE)]
        name = "noise" if label == NOISE else ", ".join(result.terms.get(label, [])[:3])
        tip = html.escape(f"{result.ids[i]} [{label}: {name}]\n{result.texts[i][:300]}")
        points.append(
            f'<circle cx="{x:.1f}" cy="{height - y:.1f}" r="5" fill="{colour}">'
            f"<title>{tip}</title></circle>"
        )
    legend = "".join(
        f'<li><span style="background:{_PALETTE[c["cluster"] % len(_PALETTE)]}"></span>'
        f"{c['cluster']}: {html.escape(c['label'])} ({c['size']})</li>"
        for c in result.to_dict()["clusters"]
    )
    meta = html.escape(json.dumps({"method": result.method, "projection": result.projection}))
    return (
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:1.5em}circle{opacity:.8}"
        "circle:hover{r:9;opacity:1;stroke:#000}li{list-style:none;margin:.2em 0}"
        "li span{display:inline-block;width:.9em;height:.9em;margin-right:.5em;"
        "border-radius:50%}</style>"
        f"<h1>{html.escape(title)}</h1><p>{len(result.ids)} items, {meta}. "
        "Hover a point to read it.</p>"
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'style="border:1px solid #ddd">{"".join(points)}</svg><ul>{legend}</ul>'
    )


def write_html(result: Clustering, path: str | Path, **options: Any) -> Path:
    """Write the HTML map of `result` to `path` (atomically) and return the path."""
    target = Path(path)
    atomic_write(target, to_html(result, **options))
    return target
