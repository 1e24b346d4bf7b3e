"""What a pipeline is made of, as data: the one set of rules that turns a retriever name
such as `hybrid+rerank` into retrievers, fusion and reranker.

`Pipeline.from_spec(collection, spec)` builds from a `PipelineSpec`; `embedstack search`,
`explain`, `eval`, `tune`, the server and the apps all go through it, so the same name
means the same ranking everywhere. A name is parts joined by `+`:

- `dense` (the collection's vectors), `hybrid` (= `dense+bm25`), or any index of the
  collection (`bm25`, `splade`, `colbert`, ...): the retrievers, fused when several;
- a final `rerank`: rerank with the spec's reranker (required then).

A reranker given without `+rerank` is applied too (`search --retriever hybrid --rerank
DIR`). Several retrievers are fused by the spec's fusion, else the fusion `embedstack
tune --into` committed to the collection, else `default_fusion`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedstack.errors import InputError
from embedstack.search.fusion import Fusion, LinearFusion, Normalization, fusion_from_config
from embedstack.search.rerank import Reranker

if TYPE_CHECKING:
    from embedstack.store.collection import Collection

log = logging.getLogger(__name__)

PRESETS = ("dense", "bm25", "splade", "colbert", "hybrid", "hybrid+rerank")
HYBRID = ("dense", "bm25")
RERANK = "rerank"
TUNED_FUSION_KEY = "fusion"  # the collection setting `embedstack tune --into` writes
LEGACY_FUSION_FILE = "fusion.json"  # where tune wrote it before settings were committed

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


@dataclass(frozen=True)
class PipelineSpec:
    """A retriever name (see the module doc) plus the settings of its later stages.

    Args:
        retriever: e.g. `dense`, `bm25`, `hybrid`, `hybrid+rerank`, `dense+splade`.
        reranker: a `Reranker`, or a cross-encoder model folder.
        fusion: a `Fusion` or its config dict; None means tuned, else default.
        depth: hits each retriever hands to fusion or the reranker.
        rerank_depth: fused hits the reranker re-scores.
    """

    retriever: str = "dense"
    reranker: Reranker | str | Path | None = None
    fusion: Fusion | Mapping[str, Any] | None = None
    depth: int = 100
    rerank_depth: int = 50

    @classmethod
    def parse(cls, spec: str | PipelineSpec, **settings: Any) -> PipelineSpec:
        """A spec from a name or a spec; `settings` that are not None replace its fields."""
        base = cls(spec) if isinstance(spec, str) else spec
        if not isinstance(base, PipelineSpec):
            raise InputError(f"a pipeline spec is a retriever name or a PipelineSpec, got {spec!r}")
        given = {key: value for key, value in settings.items() if value is not None}
        return replace(base, **given) if given else base

    @property
    def parts(self) -> list[str]:
        """The `+`-separated parts of the name, stripped and lower-cased."""
        parts = [p.strip().lower() for p in self.retriever.split("+")]
        if not self.retriever.strip() or any(not p for p in parts):
            raise InputError(
                f"retriever {self.retriever!r} is not a name such as dense, bm25, hybrid or "
                "hybrid+rerank"
            )
        return parts

    @property
    def wants_reranker(self) -> bool:
        """Whether the name ends in `+rerank`, so a reranker is required."""
        return self.parts[-1] == RERANK

    def retriever_names(self) -> list[str]:
        """The retrievers the name asks for, in order, `hybrid` expanded to dense + BM25."""
        parts = self.parts[:-1] if self.wants_reranker else self.parts
        if not parts or RERANK in parts:
            raise InputError(
                f"retriever {self.retriever!r}: `rerank` comes last, after the retrievers "
                "it reranks, e.g. hybrid+rerank or bm25+rerank"
            )
        names: list[str] = []
        for part in parts:
            for name in HYBRID if part == "hybrid" else (part,):
                if name in names:
                    raise InputError(f"retriever {self.retriever!r} names {name!r} twice")
                names.append(name)
        return names

    def check(self) -> None:
        """Refuse bad depths and a `+rerank` name without a reranker, before any work."""
        if self.depth <= 0 or self.rerank_depth <= 0:
            raise InputError(
                f"depth and rerank_depth must be positive, got {self.depth}, {self.rerank_depth}"
            )
        self.retriever_names()
        if self.wants_reranker and self.reranker is None:
            raise InputError(
                f"the {self.retriever} pipeline needs a reranker: pass rerank=MODEL_DIR (a "
                "cross-encoder folder; --rerank DIR on the command line)"
            )


def resolve_fusion(spec: PipelineSpec, names: Sequence[str], collection: Collection) -> Fusion:
    """The spec's fusion, else the collection's tuned one (if it fits), else the default."""
    if isinstance(spec.fusion, Fusion):
        return spec.fusion
    if spec.fusion is not None:
        return fusion_from_config(dict(spec.fusion))
    tuned = tuned_fusion(collection)
    if tuned is not None and (tuned.weights is None or set(tuned.weights) <= set(names)):
        return tuned
    return default_fusion(names)


def tuned_fusion(collection: Collection) -> Fusion | None:
    """The fusion `embedstack tune --into` committed to this collection, if any (a
    `fusion.json` beside the collection, from older versions, is still read)."""
    config = collection.get_setting(TUNED_FUSION_KEY)
    if config is None:
        legacy = Path(collection.path) / LEGACY_FUSION_FILE
        if not legacy.is_file():
            return None
        config = json.loads(legacy.read_text())
        log.info("using the tuned fusion in %s (re-run tune --into to commit it)", legacy)
    return fusion_from_config(config)


def store_tuned_fusion(collection: Collection, fusion: Fusion) -> None:
    """Commit `fusion` as the collection's hybrid fusion (used by `hybrid` from now on)."""
    collection.set_setting(TUNED_FUSION_KEY, fusion.config())
