"""Quality, memory and latency of every vector storage, on your own qrels.

`compress_report` embeds a retrieval dataset once, then builds one own-vector collection
per setting (float32 / float16 / int8 / binary, binary rescored with int8 or float32,
Matryoshka truncations; each with an exact scan and with HNSW) and scores the same
queries through `Collection.search_vector`, the path users search with. Each row has
exactly `storage`, `rescore`, `ann`, `ndcg@10`, `recall@100`, `bytes_per_vector` and
`ms_per_query`; `write_plots` draws nDCG@10 retained against bytes and against latency.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedstack._optional import require
from embedstack.encoders.base import Encoder
from embedstack.eval.datasets import RetrievalDataset
from embedstack.eval.metrics import evaluate
from embedstack.store.collection import Collection
from embedstack.store.compress import warn_matryoshka
from embedstack.types import Kind

ROW_KEYS = (
    "storage",
    "rescore",
    "ann",
    "ndcg@10",
    "recall@100",
    "bytes_per_vector",
    "ms_per_query",
)
PLOTS = ("ndcg_vs_bytes.png", "ndcg_vs_latency.png")


@dataclass(frozen=True)
class Setting:
    """One storage setting of the sweep (Matryoshka `dims` or None)."""

    storage: str
    rescore: str
    dims: int | None = None

    @property
    def label(self) -> str:
        """The `storage` column: e.g. "binary" or "float32/192d"."""
        return self.storage if self.dims is None else f"{self.storage}/{self.dims}d"


def default_settings(dim: int) -> list[Setting]:
    """The sweep the issue asks for: every storage, binary rescored, two truncations."""
    settings = [
        Setting("float32", "none"),
        Setting("float16", "none"),
        Setting("int8", "none"),
        Setting("binary", "none"),
        Setting("binary", "int8"),
        Setting("binary", "float32"),
    ]
    for dims in (dim // 2, dim // 4):
        if dims >= 8:
            settings.append(Setting("float32", "none", dims))
    return settings


def _bytes_per_vector(collection: Collection) -> float:
    index = collection._vector_index()
    if index is None:
        return float(collection.space.dim * 4)
    return float(index.bytes_per_vector)  # type: ignore[attr-defined]


def _run(
    folder: Path,
    *,
    setting: Setting,
    ann: str,
    docs: tuple[list[str], np.ndarray],
    queries: tuple[list[str], np.ndarray],
    dataset: RetrievalDataset,
) -> dict[str, Any]:
    ann_settings: dict[str, Any] = {"dims": setting.dims} if setting.dims else {}
    if ann == "hnsw":
        ann_settings["exact_below"] = 0  # measure the graph even on a small corpus
    collection = Collection.create(
        folder,
        dim=docs[1].shape[1],
        ann=ann,
        storage=setting.storage,
        rescore=setting.rescore,
        ann_settings=ann_settings,
    )
    with collection:
        collection.add(ids=docs[0], vectors=docs[1])
        depth = min(100, len(docs[0]))
        run: dict[str, dict[str, float]] = {}
        start = time.perf_counter()
        for qid, vector in zip(queries[0], queries[1], strict=True):
            hits = collection.search_vector(vector, depth)
            run[qid] = {h.id: float(len(hits) - i) for i, h in enumerate(hits)}
        elapsed = time.perf_counter() - start
        scores = evaluate(dataset.qrels, run, ["ndcg@10", "recall@100"])
        return {
            "storage": setting.label,
            "rescore": setting.rescore,
            "ann": ann,
            "ndcg@10": round(scores["ndcg@10"], 5),
            "recall@100": round(scores["recall@100"], 5),
            "bytes_per_vector": round(_bytes_per_vector(collection), 2),
            "ms_per_query": round(1000 * elapsed / max(len(queries[0]), 1), 4),
        }


def compress_report(
    dataset: RetrievalDataset,
    encoder: Encoder,
    *,
    settings: list[Setting] | None = None,
    anns: tuple[str, ...] = ("exact", "hnsw"),
) -> list[dict[str, Any]]:
    """One row per (setting, ann); rows are dicts with exactly `ROW_KEYS`. Wrap the
    encoder in a cache (`load_encoder(spec, cache=True)`) to embed a dataset only once."""
    doc_ids = list(dataset.corpus)
    texts = [dataset.corpus[d].full_text for d in doc_ids]
    qids = [q for q in dataset.queries if dataset.qrels.get(q)]
    qtexts = [dataset.queries[q] for q in qids]
    doc_vectors = encoder.encode(texts, kind=Kind.DOCUMENT)
    query_vectors = encoder.encode(qtexts, kind=Kind.QUERY)
    chosen = settings or default_settings(encoder.space.dim)
    for dims in sorted({s.dims for s in chosen if s.dims}, reverse=True):
        warn_matryoshka(encoder.space.model, dims, encoder.space.dim)
    rows = []
    quiet = logging.getLogger("embedstack.store.compress")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # warned once above, with the model's name
    with tempfile.TemporaryDirectory(prefix="embedstack-compress-") as tmp:
        for n, setting in enumerate(chosen):
            for ann in anns:
                folder = Path(tmp) / f"{n}-{ann}"
                docs, queries = (doc_ids, doc_vectors), (qids, query_vectors)
                rows.append(
                    _run(
                        folder,
                        setting=setting,
                        ann=ann,
                        docs=docs,
                        queries=queries,
                        dataset=dataset,
                    )
                )
    quiet.setLevel(level)
    return rows


def retained(rows: list[dict[str, Any]]) -> list[float]:
    """Each row's nDCG@10 as a share of the float32 exact row's."""
    base = next(
        (r["ndcg@10"] for r in rows if (r["storage"], r["ann"]) == ("float32", "exact")),
        max(r["ndcg@10"] for r in rows),
    )
    return [r["ndcg@10"] / base if base else 0.0 for r in rows]


def write_plots(rows: list[dict[str, Any]], out: Path, title: str) -> list[Path]:
    """nDCG@10 retained against bytes per vector and against latency, as PNGs."""
    matplotlib = require("matplotlib", "eval", "drawing compress-report plots")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    share = retained(rows)
    written = []
    for filename, key, xlabel in (
        (PLOTS[0], "bytes_per_vector", "bytes per vector in RAM"),
        (PLOTS[1], "ms_per_query", "ms per query"),
    ):
        fig, ax = plt.subplots(figsize=(7, 4.6), dpi=100)
        for ann, marker in (("exact", "o"), ("hnsw", "^")):
            picked = [(r, s) for r, s in zip(rows, share, strict=True) if r["ann"] == ann]
            if not picked:
                continue
            ax.scatter(
                [r[key] for r, _ in picked], [s for _, s in picked], marker=marker, label=ann
            )
            for r, s in picked:
                name = r["storage"] + ("" if r["rescore"] == "none" else f"+{r['rescore']}")
                ax.annotate(
                    name, (r[key], s), textcoords="offset points", xytext=(4, 3), fontsize=7
                )
        values = [r[key] for r in rows if r[key] > 0]
        if values and max(values) / min(values) > 20:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("nDCG@10 retained (vs float32 exact)")
        ax.set_title(f"{title}: quality vs {xlabel}")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / filename)
        plt.close(fig)
        written.append(out / filename)
    return written
