"""One object that composes retrievers -> fusion -> reranker and explains its answers.

`Pipeline.search` returns hits whose `stages` hold every stage's score and rank, so
`explain` (and the CLI's `--explain`) can show why each hit is where it is. Each stage
serialises its own config, so a pipeline saves as a folder of small JSON files and loads
back onto a collection. `Pipeline.from_spec(collection, "hybrid+rerank", ...)` is the one
place a retriever name becomes a pipeline (rules in `embedstack.search.spec`); search,
explain, eval, tune, the server and the apps all build theirs there.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedstack.atomic import write_json
from embedstack.errors import CollectionError, InputError
from embedstack.search.fusion import RRF, Fusion, LinearFusion, check_weights, fusion_from_config
from embedstack.search.rerank import CrossEncoderReranker, Reranker, reranker_from_config
from embedstack.search.retrievers import DenseRetriever, IndexRetriever, Retriever, search_many
from embedstack.search.spec import PipelineSpec, default_fusion, resolve_fusion
from embedstack.types import Hit

if TYPE_CHECKING:
    from embedstack.store.collection import Collection

log = logging.getLogger(__name__)

FORMAT = 1


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
        """One dict per hit: rank, id, final score and each stage's score and rank."""
        rows = []
        for rank, hit in enumerate(self.hits, start=1):
            row: dict[str, Any] = {"rank": rank, "id": hit.id, "score": hit.score}
            for stage in self.stages:
                values = hit.stages.get(stage)
                row[stage] = None if values is None else dict(values)
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what `search --explain --json` prints)."""
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
        """Stage names in order: the retrievers, then fusion and the reranker if any."""
        names = list(self.retrievers)
        if len(names) > 1:
            names.append("fusion")
        if self.reranker is not None:
            names.append(self.reranker.stage)
        return names

    @classmethod
    def from_spec(
        cls, collection: Collection, spec: str | PipelineSpec = "dense", **settings: Any
    ) -> Pipeline:
        """The pipeline a retriever name or `PipelineSpec` describes over `collection`
        (see `embedstack.search.spec`); `settings` fill `PipelineSpec` fields, e.g.
        `Pipeline.from_spec(col, "hybrid", reranker="./cross-encoder")`."""
        parsed = PipelineSpec.parse(spec, **settings)
        parsed.check()
        names = parsed.retriever_names()
        # A Postgres collection's lexical index is full-text search ("fts"), not BM25.
        available = collection.index_names
        if "bm25" in names and "bm25" not in available and "fts" in available:
            names = ["fts" if name == "bm25" else name for name in names]
        retrievers: dict[str, Retriever] = {
            name: DenseRetriever(collection)
            if name == "dense"
            else IndexRetriever(collection, name)
            for name in names
        }
        reranker = parsed.reranker
        if isinstance(reranker, (str, Path)):
            reranker = CrossEncoderReranker(reranker)
        fusion = resolve_fusion(parsed, names, collection) if len(names) > 1 else None
        return cls(retrievers, fusion, reranker, depth=parsed.depth,
                   rerank_depth=parsed.rerank_depth)  # fmt: skip

    def search(self, query: str, k: int = 10, where: dict[str, Any] | None = None) -> list[Hit]:
        """Top-k hits after every stage, each carrying every stage's score and rank."""
        return self.search_many([query], k, where)[0]

    def search_many(
        self, queries: Sequence[str], k: int = 10, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]:
        """`search` for many queries: each retriever answers all of them in one batch
        (dense embeds them in one call); fusion and reranking then run per query."""
        if k <= 0:
            raise InputError(f"k must be a positive number of results, got {k}")
        queries = list(queries)
        timings: dict[str, float] = {}
        single = len(self.retrievers) == 1 and self.reranker is None
        fetch = k if single else max(self.depth, k)  # one list, cut to k: fetch only k
        per_retriever: dict[str, list[list[Hit]]] = {}
        for name, retriever in self.retrievers.items():
            start = time.perf_counter()
            per_retriever[name] = search_many(retriever, queries, fetch, where)
            timings[name] = time.perf_counter() - start
        out = []
        for i, query in enumerate(queries):
            rankings = {name: lists[i] for name, lists in per_retriever.items()}
            steps: dict[str, float] = {}
            hits = combine(
                query, rankings, k, fusion=self.fusion, reranker=self.reranker,
                rerank_depth=self.rerank_depth, timings=steps,
            )  # fmt: skip
            out.append(hits)
            for stage, seconds in steps.items():
                timings[stage] = timings.get(stage, 0.0) + seconds
        self.last_timings = timings
        return out

    def explain(self, query: str, k: int = 10, where: dict[str, Any] | None = None) -> Explanation:
        """`search`, plus the stage names and each stage's latency."""
        hits = self.search(query, k, where)
        return Explanation(query, self.stages, hits, dict(self.last_timings))

    # -- persistence ---------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """pipeline.json: the retrievers (by kind) and the depths."""
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
            write_json(folder / name, data)

    @classmethod
    def load(cls, directory: str | Path, collection: Collection) -> Pipeline:
        """A pipeline `save` wrote, re-attached to `collection`."""
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


__all__ = ["RRF", "Explanation", "LinearFusion", "Pipeline", "combine", "default_fusion"]
