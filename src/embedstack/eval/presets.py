"""`eval --retriever NAME --param KEY=VALUE` -> the pipeline spec and the corpus indexes.

The retriever names are the ones `embedstack search` takes (`dense`, `bm25`, `splade`,
`colbert`, `hybrid`, `hybrid+rerank`, or any `+` combination, see
`embedstack.search.spec`). Parameters are split by who owns them:

- the pipeline's own: `fusion` (a config such as `{"kind": "rrf", "k": 60}`), `depth`,
  `rerank` (a cross-encoder folder; default `$EMBEDSTACK_RERANKER`), `rerank_depth`;
- BM25's: `variant`, `k1`, `b`, `delta` and the analyzer's `lowercase`, `normalize`,
  `stopwords`, `stemmer`, `token_pattern`;
- the rest go to a SPLADE or ColBERT index, whose model folder is `--model` (or
  `model=`). Unknown parameters are refused, never ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from embedstack.errors import InputError
from embedstack.search.spec import PRESETS, PipelineSpec
from embedstack.store.indexes import INDEX_TYPES

RERANKER_ENV = "EMBEDSTACK_RERANKER"
PIPELINE_KEYS = ("fusion", "depth", "rerank", "rerank_depth")
ANALYZER_KEYS = ("lowercase", "normalize", "stopwords", "stemmer", "token_pattern")
BM25_KEYS = ("variant", "k1", "b", "delta")
MODEL_INDEXES = ("splade", "colbert")  # indexes whose model folder is --model


@dataclass
class EvalPlan:
    """What an evaluation of one preset needs: its pipeline and the corpus indexes."""

    name: str
    spec: PipelineSpec
    indexes: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    @property
    def retrievers(self) -> list[str]:
        """The retrievers of the pipeline, e.g. ["dense", "bm25"] for hybrid."""
        return self.spec.retriever_names()

    @property
    def dense(self) -> bool:
        """Whether the corpus must be embedded with the evaluated model."""
        return "dense" in self.retrievers


def plan(name: str, params: dict[str, Any], model: str | None = None) -> EvalPlan:
    """The plan for preset `name` with `--param` settings `params` and `--model`."""
    spec = PipelineSpec(name)
    try:
        names = spec.retriever_names()
    except InputError as exc:
        raise InputError(f"{exc}; available presets: {', '.join(sorted(PRESETS))}") from None
    unknown = [n for n in names if n != "dense" and n not in INDEX_TYPES]
    if unknown:
        raise InputError(
            f"unknown retriever preset {name!r}; available: {', '.join(sorted(PRESETS))}"
        )
    rest = dict(params)
    own = {key: rest.pop(key) for key in PIPELINE_KEYS if key in rest}
    reranker = own.get("rerank") or (os.environ.get(RERANKER_ENV) if spec.wants_reranker else None)
    if spec.wants_reranker and not reranker:
        raise InputError(
            f"the {name} preset needs a cross-encoder model folder: set {RERANKER_ENV}="
            "/path/to/model (or pass --param rerank=/path/to/model)"
        )
    spec = PipelineSpec(
        name,
        reranker=reranker,
        fusion=own.get("fusion"),
        depth=int(own.get("depth", 100)),
        rerank_depth=int(own.get("rerank_depth", 50)),
    )
    spec.check()
    indexes: dict[str, dict[str, Any] | None] = {}
    for index in names:
        if index == "bm25":
            indexes["bm25"] = _bm25_config(rest)
        elif index in MODEL_INDEXES:
            indexes[index] = _model_config(index, rest, model)
        elif index != "dense":
            indexes[index] = None
    if rest:
        owners = [n for n in names if n in ("bm25", *MODEL_INDEXES)] or names
        known = ", ".join(PIPELINE_KEYS + (BM25_KEYS + ANALYZER_KEYS if "bm25" in names else ()))
        raise InputError(f"unknown {'/'.join(owners)} parameters {sorted(rest)}; use {known}")
    return EvalPlan(name, spec, indexes)


def _bm25_config(params: dict[str, Any]) -> dict[str, Any]:
    analyzer = {key: params.pop(key) for key in ANALYZER_KEYS if key in params}
    config: dict[str, Any] = {key: params.pop(key) for key in BM25_KEYS if key in params}
    if analyzer:
        config["analyzer"] = analyzer
    return config


def _model_config(index: str, params: dict[str, Any], model: str | None) -> dict[str, Any]:
    settings = {key: params.pop(key) for key in list(params)}  # the rest is theirs
    settings.setdefault("model", model)
    if not settings["model"]:
        checkpoint = "*ForMaskedLM checkpoint such as naver/splade-v3"
        if index == "colbert":
            checkpoint = "ColBERT checkpoint such as colbert-ir/colbertv2.0"
        raise InputError(
            f"the {index} preset needs a model folder: pass --model PATH (a Hugging Face "
            f"{checkpoint})"
        )
    return settings
