"""Compare embedding setups on one dataset: quality x throughput x cost x memory.

A setup is a small TOML table (see `load_configs`); a file may hold one setup, or a
`[defaults]` table plus `[[configs]]` entries. Throughput and cost are measured, not
looked up: a fixed, seeded sample of documents is encoded without the cache and timed
(wall clock and process CPU seconds; tokens counted by the encoder). Local cost is CPU
seconds x `cpu_hour_usd`; hosted cost is tokens x `usd_per_million_tokens` (default: the
shipped price table of `embedstack.encoders.hosted.cost`). For a hosted model the timing
sample is sent to the API once more (up to 256 documents' tokens).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import random
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.encoders.base import Encoder
from embedstack.errors import InputError
from embedstack.eval.datasets import load_retrieval_dataset, load_sts
from embedstack.eval.options import EvalOptions, uncached
from embedstack.eval.presets import plan
from embedstack.eval.runner import evaluate_retrieval, evaluate_sts
from embedstack.eval.setups import SetupConfig, load_configs
from embedstack.registry import HOSTED_PROVIDERS
from embedstack.store.indexes import new_index
from embedstack.types import Kind

log = logging.getLogger(__name__)

SEED = 13
THROUGHPUT_SAMPLE = 256
_PACKAGES = ("embedstack", "numpy", "scipy", "onnxruntime", "tokenizers", "ranx", "matplotlib")


@dataclass
class SetupResult:
    """What one setup measured: quality, speed, cost and memory."""

    name: str
    config: dict[str, Any]
    quality: float
    metrics: dict[str, float]
    throughput: float  # documents per second, encoding (or indexing) one at a time
    cpu_seconds_per_doc: float
    tokens_per_doc: float
    cost_per_million: float
    cost_basis: str
    memory_bytes: int
    space: dict[str, Any] | None


@dataclass
class Comparison:
    """Every setup measured on one dataset, with the environment to reproduce it."""

    dataset: str
    kind: str  # "retrieval" | "sts"
    quality_metric: str
    rows: list[SetupResult]
    environment: dict[str, Any]
    validation: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (`results.json`)."""
        return asdict(self)


def environment() -> dict[str, Any]:
    """What a reader needs to reproduce the numbers: versions, machine, seed, time."""
    versions = {}
    for package in _PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "packages": versions,
        "seed": SEED,
        "throughput_sample": THROUGHPUT_SAMPLE,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _measure_encoder(
    encoder: Encoder, texts: list[str], batch_size: int | None
) -> tuple[float, float, float]:
    """(docs/s, CPU s/doc, tokens/doc) on a seeded sample, encoded fresh (no cache)."""
    encoder = uncached(encoder)  # hosted encoders cache by default: time the API
    sample = _sample(texts)
    encoder.encode(sample[:8], Kind.DOCUMENT, batch_size)  # warm-up: sessions, allocations
    wall, cpu = time.perf_counter(), time.process_time()
    encoder.encode(sample, Kind.DOCUMENT, batch_size)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    tokens = sum(encoder.count_tokens(sample))
    n = len(sample)
    return n / max(wall, 1e-9), cpu / n, tokens / n


def _sample(texts: list[str]) -> list[str]:
    return random.Random(SEED).sample(texts, min(THROUGHPUT_SAMPLE, len(texts)))


def _measure_indexes(
    indexes: dict[str, dict[str, Any] | None], texts: list[str]
) -> tuple[float, float]:
    """(docs/s, CPU s/doc) of building the indexes fresh over the seeded sample: with no
    encoder (e.g. BM25) indexing is the per-document work."""
    sample = _sample(texts)
    wall, cpu = time.perf_counter(), time.process_time()
    for name, config in indexes.items():
        new_index(name, config).add(np.arange(len(sample), dtype=np.int64), sample)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(sample) / max(wall, 1e-9), cpu / max(len(sample), 1)


def token_price(config: SetupConfig) -> float | None:
    """USD per million tokens for a hosted model (the config's own price, else the shipped
    price table, see `embedstack.encoders.hosted.cost`); None for a local model."""
    if config.usd_per_million_tokens is not None:
        return float(config.usd_per_million_tokens)
    provider, sep, model = (config.model or "").partition(":")
    if not sep or provider not in HOSTED_PROVIDERS:
        return None
    from embedstack.encoders.hosted.cost import ENV_PRICES, load_prices

    prices = load_prices()
    for key in (f"{provider}:{model}", f"{provider}:*"):
        if key in prices:
            return prices[key]
    raise InputError(
        f"config {config.name!r}: no price known for {config.model}; set "
        f"usd_per_million_tokens in the config or add it to a price file named by {ENV_PRICES}"
    )


def _cost(
    config: SetupConfig, price: float | None, cpu_per_doc: float, tokens_per_doc: float
) -> tuple[float, str]:
    if price is not None:
        return tokens_per_doc * price, "tokens"
    return cpu_per_doc * 1e6 / 3600 * config.cpu_hour_usd, "cpu"


def is_sts_file(path: Path) -> bool:
    """Whether `path` is an STS pairs file (a header with sentence1 and sentence2)."""
    if not path.is_file() or path.suffix not in (".tsv", ".csv", ".txt"):
        return False
    with path.open(encoding="utf-8") as handle:
        header = handle.readline().lower()
    return "sentence1" in header and "sentence2" in header


def run_comparison(
    dataset_path: Path,
    configs: list[SetupConfig],
    split: str = "test",
    options: EvalOptions | None = None,
) -> Comparison:
    """Evaluate every config on one dataset (retrieval, or STS if it is a pairs file).
    `options` gives the caching and progress; each config brings its own model."""
    base = options or EvalOptions()
    sts = is_sts_file(dataset_path)
    if sts:
        sts_data = load_sts(dataset_path)
        texts = sts_data.sentences1 + sts_data.sentences2
        name, validation = sts_data.name, sts_data.report.to_dict()
    else:
        data = load_retrieval_dataset(dataset_path, split)
        texts = list(data.doc_texts().values())
        name, validation = data.name, data.report.to_dict()
    prices = {config.name: token_price(config) for config in configs}  # fail before running
    rows = []
    for config in configs:
        log.info("comparing %s", config.name)
        options = replace(
            base, model=config.model, encoder_options=dict(config.encoder_options),
            batch_size=config.batch_size, params=dict(config.params), loaded=None,
        )  # fmt: skip
        if sts:
            result = evaluate_sts(sts_data, options.encoder(), config.batch_size, base.progress)
            metrics = {"spearman": result.spearman, "pearson": result.pearson}
            quality, memory = result.spearman, len(texts) * options.encoder().dim * 4
        else:
            run = evaluate_retrieval(data, config.retriever, options)
            metrics, quality, memory = run.metrics, run.metrics["ndcg@10"], run.memory_bytes
        encoder = options.loaded
        if encoder is not None:
            throughput, cpu_per_doc, tokens_per_doc = _measure_encoder(
                encoder, texts, config.batch_size
            )
        else:  # no encoder (e.g. BM25): the index build is the per-document work
            indexes = plan(config.retriever, dict(config.params), config.model).indexes
            throughput, cpu_per_doc = _measure_indexes(indexes, texts)
            tokens_per_doc = 0.0
        cost, basis = _cost(config, prices[config.name], cpu_per_doc, tokens_per_doc)
        rows.append(
            SetupResult(
                name=config.name,
                config=asdict(config),
                quality=quality,
                metrics=metrics,
                throughput=throughput,
                cpu_seconds_per_doc=cpu_per_doc,
                tokens_per_doc=tokens_per_doc,
                cost_per_million=cost,
                cost_basis=basis,
                memory_bytes=memory,
                space=encoder.space.to_dict() if encoder is not None else None,
            )
        )
    return Comparison(
        dataset=name,
        kind="sts" if sts else "retrieval",
        quality_metric="spearman" if sts else "ndcg@10",
        rows=rows,
        environment=environment(),
        validation=validation,
    )


__all__ = [
    "Comparison",
    "SetupConfig",
    "SetupResult",
    "environment",
    "is_sts_file",
    "load_configs",
    "run_comparison",
    "token_price",
]
