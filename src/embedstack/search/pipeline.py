"""One object that composes retrievers -> fusion -> reranker and explains its answers.

`Pipeline.search` returns hits whose `stages` hold every stage's score and rank, so
`explain` (and the CLI's `--explain`) can show why each hit is where it is. Each stage
serialises its own config, so a pipeline saves as a folder of small JSON files and loads
back onto a collection.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedstack.atomic import write_bytes as atomic_write_bytes
from embedstack.errors import CollectionError, InputError
from embedstack.search.fusion import (
    RRF,
    Fusion,
    LinearFusion,
    Normalization,
    check_weights,
    fusion_from_config,
)
from embedstack.search.rerank import Reranker, reranker_from_config
from embedstack.search.retrievers import DenseRetriever, IndexRetriever, Retriever
from embedstack.types import Hit

if TYPE_CHECKING:
    from embedstack.store.collection import Collection

log = logging.getLogger(__name__)

FORMAT = 1
PRESETS = ("dense", "bm25", "hybrid", "hybrid+rerank")
TUNED_FUSION_FILE = "fusion.json"

# The default hybrid: a convex combination of per-query z-scored scores, weighted toward
# dense. Chosen on the train splits of SciFact and an FAQ set (the best SciFact gain among
# settings that lose at most 0.02 to the better component on every set); see
# docs/benchmarks.md ("Hybrid retrieval") for the numbers and why plain RRF is not it.
DEFAULT_DENSE_WEIGHT = 0.6
DEFAULT_NORMALIZATION = Normalization.ZSCORE


def default_fusion(names: Sequence[str]) -> Fusion:
    """The default fusion for these retrievers: dense-weighted z-score fusion."""
    names = list(names)
    if "dense" in names and len(names) > 1:
        rest = (1.0 - DEFAULT_DENSE_WEIGHT) / (len(names) - 1)
        weights = {n: DEFAULT_DENSE_WEIGHT if n == "dense" else rest for n in names}
    else:
        weights = dict.fromkeys(names, 1.0 / len(names))
    return LinearFusion(weights, DEFAULT_NORMALIZATION)


def combine(
    query: str,
    rankings: Mapping[str, Sequence[Hit]],
    k: int,
    *,
    fusion: Fusion | None = None,
    reranker: Reranker | None = None,
    rerank_depth: int = 50,
    timings: dict[str, float] | None = None,
) -> list[Hit]:
    """Fuse (when there is more than one list), rerank the top `rerank_depth`, cut to k."""
    if k <= 0:
        raise InputError(f"k must be a positive number of results, got {k}")
    start = time.perf_counter()
    if len(rankings) == 1:
        hits = list(next(iter(rankings.values())))
    else:
        fusion = fusion or default_fusion(list(rankings))
        hits = fusion.fuse(rankings, limit=max(k, rerank_depth if reranker else k))
    if timings is not None and len(rankings) > 1:
        timings["fusion"] = time.perf_counter() - start
    if reranker is None:
        return hits[:k]
    start = time.perf_counter()
    out = reranker.rerank(query, hits[:rerank_depth], k)
    if timings is not None:
        timings["rerank"] = time.perf_counter() - start
    return out


def _retriever_name(retriever: Any) -> str:
    name = getattr(retriever, "name", None)
    if not isinstance(name, str) or not name:
        raise InputError(
            f"retriever {retriever!r} has no `name`; pass retrievers as a dict "
            "{name: retriever} to name them"
        )
    return name


@dataclass
class Explanation:
    """Each hit with every stage's score and rank, plus the per-stage latency."""

    query: str
    stages: list[str]
    hits: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for rank, hit in enumerate(self.hits, start=1):
            row: dict[str, Any] = {"rank": rank, "id": hit.id, "score": hit.score}
            for stage in self.stages:
                values = hit.stages.get(stage)
                row[stage] = None if values is None else dict(values)
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "stages": self.stages, "hits": self.rows(),
                "timings": self.timings}  # fmt: skip


class Pipeline:
    """Retrievers (one or more) -> fusion (if several) -> optional reranker.

    Args:
        retrievers: a list of named retrievers (`.name`) or a dict {name: retriever}.
        fusion: `RRF` or `LinearFusion`; default `default_fusion(names)`.
        reranker: e.g. `CrossEncoderReranker(model_dir)` or `ColbertReranker(model_dir)`.
        depth: how many hits each retriever contributes to fusion.
        rerank_depth: how many fused hits the reranker re-scores.
    """

    def __init__(
        self,
        retrievers: Sequence[Retriever] | Mapping[str, Retriever],
        fusion: Fusion | None = None,
        reranker: Reranker | None = None,
        *,
        depth: int = 100,
        rerank_depth: int = 50,
    ) -> None:
        if isinstance(retrievers, Mapping):
            named = dict(retrievers)
        else:
            named = {}
            for r in retrievers:
                name = _retriever_name(r)
                if name in named:
                    raise InputError(f"two retrievers are named {name!r}: name them in a dict")
                named[name] = r
        if not named:
            raise InputError("a pipeline needs at least one retriever")
        if depth <= 0 or rerank_depth <= 0:
            raise InputError(
                f"depth and rerank_depth must be positive, got {depth}, {rerank_depth}"
            )
        self.retrievers = named
        self.fusion = fusion or (default_fusion(list(named)) if len(named) > 1 else None)
        if self.fusion is not None and self.fusion.weights is not None:
            check_weights(self.fusion.weights, list(named))
        self.reranker = reranker
        self.depth, self.rerank_depth = depth, rerank_depth
        self.last_timings: dict[str, float] = {}

    @property
    def stages(self) -> list[str]:
        names = list(self.retrievers)
        if len(names) > 1:
            names.append("fusion")
        if self.reranker is not None:
            names.append(self.reranker.stage)
        return names

    def search(self, query: str, k: int = 10, where: dict[str, Any] | None = None) -> list[Hit]:
        if k <= 0:
            raise InputError(f"k must be a positive number of results, got {k}")
        timings: dict[str, float] = {}
        rankings: dict[str, list[Hit]] = {}
        fetch = max(self.depth, k)
        for name, retriever in self.retrievers.items():
            start = time.perf_counter()
            rankings[name] = retriever.search(query, fetch, where)
            timings[name] = time.perf_counter() - start
        hits = combine(
            query, rankings, k, fusion=self.fusion, reranker=self.reranker,
            rerank_depth=self.rerank_depth, timings=timings,
        )  # fmt: skip
        self.last_timings = timings
        return hits

    def explain(self, query: str, k: int = 10, where: dict[str, Any] | None = None) -> Explanation:
        hits = self.search(query, k, where)
        return Explanation(query, self.stages, hits, dict(self.last_timings))

    # -- persistence ---------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        specs = []
        for name, r in self.retrievers.items():
            if isinstance(r, DenseRetriever):
                specs.append({"name": name, "kind": "dense"})
            elif isinstance(r, IndexRetriever):
                specs.append({"name": name, "kind": "index", "index": r.name})
            else:
                raise InputError(
                    f"retriever {name!r} ({type(r).__name__}) cannot be saved: only collection "
                    "retrievers (dense, index) are serialisable"
                )
        return {"format": FORMAT, "retrievers": specs, "depth": self.depth,
                "rerank_depth": self.rerank_depth}  # fmt: skip

    def save(self, directory: str | Path) -> None:
        """pipeline.json + fusion.json + reranker.json (each stage's own config)."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        files = {"pipeline.json": self.config()}
        if self.fusion is not None:
            files["fusion.json"] = self.fusion.config()
        if self.reranker is not None:
            files["reranker.json"] = self.reranker.config()
        for stale in ("fusion.json", "reranker.json"):
            if stale not in files and (folder / stale).exists():
                (folder / stale).unlink()
        for name, data in files.items():
            _write_json(folder / name, data)

    @classmethod
    def load(cls, directory: str | Path, collection: Collection) -> Pipeline:
        folder = Path(directory)
        if not (folder / "pipeline.json").is_file():
            raise CollectionError(f"{folder} has no pipeline.json: save a pipeline there first")
        config = json.loads((folder / "pipeline.json").read_text())
        if config.get("format") != FORMAT:
            raise CollectionError(f"{folder}/pipeline.json has format {config.get('format')}")
        retrievers: dict[str, Retriever] = {}
        for spec in config["retrievers"]:
            if spec["kind"] == "dense":
                retrievers[spec["name"]] = DenseRetriever(collection)
            else:
                retrievers[spec["name"]] = IndexRetriever(collection, spec["index"])
        fusion = reranker = None
        if (folder / "fusion.json").is_file():
            fusion = fusion_from_config(json.loads((folder / "fusion.json").read_text()))
        if (folder / "reranker.json").is_file():
            reranker = reranker_from_config(json.loads((folder / "reranker.json").read_text()))
        return cls(retrievers, fusion, reranker, depth=config["depth"],
                   rerank_depth=config["rerank_depth"])  # fmt: skip

    @classmethod
    def preset(
        cls, name: str, collection: Collection, rerank: str | Path | Reranker | None = None
    ) -> Pipeline:
        """`dense`, `bm25`, `hybrid` (dense + BM25, default or tuned fusion) or
        `hybrid+rerank` (plus a cross-encoder from `rerank`, a model folder)."""
        from embedstack.search.rerank import CrossEncoderReranker

        if name not in PRESETS:
            raise InputError(
                f"unknown pipeline preset {name!r}; choose one of {', '.join(PRESETS)}"
            )
        if name == "hybrid+rerank" and rerank is None:
            raise InputError("the hybrid+rerank preset needs a reranker: pass rerank=MODEL_DIR")
        reranker = CrossEncoderReranker(rerank) if isinstance(rerank, (str, Path)) else rerank
        if name in ("dense", "bm25"):
            retriever = (
                DenseRetriever(collection)
                if name == "dense"
                else IndexRetriever(collection, "bm25")
            )
            return cls([retriever], reranker=reranker)
        return cls(
            {"dense": DenseRetriever(collection), "bm25": IndexRetriever(collection, "bm25")},
            tuned_fusion(collection.path),
            reranker,
        )


def tuned_fusion(folder: Path) -> Fusion | None:
    """Fusion settings that `embedstack tune --into` stored in a collection, if any."""
    path = Path(folder) / TUNED_FUSION_FILE
    if not path.is_file():
        return None
    return fusion_from_config(json.loads(path.read_text()))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=2, sort_keys=True).encode())


__all__ = ["RRF", "Explanation", "LinearFusion", "Pipeline", "combine", "default_fusion"]
