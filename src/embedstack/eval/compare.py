"""Compare embedding setups on one dataset: quality x throughput x cost x memory.

A setup is a small TOML table (see `load_configs`); a file may hold one setup, or a
`[defaults]` table plus `[[configs]]` entries. Every setup is checked before any work
(`compare_checks`); a setup that still fails while running is kept in the result with
its `error`, so the setups that finished are never lost. Throughput and cost are
measured, not looked up: a fixed, seeded sample of documents is encoded without the
cache and timed several times (`timing`: median and range; wall clock and process CPU
seconds; tokens counted by the encoder). Local cost is CPU seconds x `cpu_hour_usd`;
hosted cost is tokens x `usd_per_million_tokens` (default: the shipped price table of
`embedstack.encoders.hosted.cost`). For a hosted model the timing sample is sent to the
API once more (up to 256 documents' tokens).
"""

from __future__ import annotations

import importlib.metadata
import logging
import math
import os
import platform
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from embedstack.errors import EmbedstackError
from embedstack.eval.compare_checks import CheckedSetup, check_setups, token_price
from embedstack.eval.datasets import RetrievalDataset, StsDataset, load_retrieval_dataset, load_sts
from embedstack.eval.options import EvalOptions
from embedstack.eval.presets import plan
from embedstack.eval.runner import evaluate_retrieval, evaluate_sts
from embedstack.eval.setups import SetupConfig, load_configs
from embedstack.eval.timing import (
    REPEATS,
    SEED,
    THROUGHPUT_SAMPLE,
    Timing,
    measure_encoder,
    measure_indexes,
    speed_notes,
)

log = logging.getLogger(__name__)

_PACKAGES = ("embedstack", "numpy", "scipy", "onnxruntime", "tokenizers", "ranx", "matplotlib")
_NUMBERS = (
    "quality",
    "throughput",
    "throughput_low",
    "throughput_high",
    "cpu_seconds_per_doc",
    "tokens_per_doc",
    "cost_per_million",
    "memory_bytes",
)


@dataclass
class SetupResult:
    """What one setup measured: quality, speed, cost and memory; or why it failed.

    `throughput` is the median documents per second of the timed passes
    (`throughput_runs`, range `throughput_low`..`throughput_high`); `throughput_basis`
    is "encode", or "index" for a setup without an encoder (e.g. BM25).
    `throughput_note` says how it compares with the fastest setup, within noise or not.
    A setup that failed while running has `error` set and no numbers.
    """

    name: str
    config: dict[str, Any]
    quality: float
    metrics: dict[str, float]
    throughput: float
    cpu_seconds_per_doc: float
    tokens_per_doc: float
    cost_per_million: float
    cost_basis: str
    memory_bytes: int
    space: dict[str, Any] | None
    throughput_runs: list[float] = field(default_factory=list)
    throughput_low: float = math.nan
    throughput_high: float = math.nan
    throughput_basis: str = "encode"
    throughput_note: str = ""
    error: str | None = None

    @classmethod
    def failed(cls, config: SetupConfig, error: str) -> SetupResult:
        """The row of a setup that failed while running."""
        nan = math.nan
        return cls(config.name, asdict(config), nan, {}, nan, nan, nan, nan, "", 0, None,
                   error=error)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form; a failed setup's numbers are null."""
        out = asdict(self)
        if self.error is not None:
            out.update({key: None for key in _NUMBERS})
        return out


@dataclass
class Comparison:
    """Every setup measured on one dataset, with the environment to reproduce it."""

    dataset: str
    kind: str  # "retrieval" | "sts"
    quality_metric: str
    rows: list[SetupResult]
    environment: dict[str, Any]
    validation: dict[str, Any]

    @property
    def finished(self) -> list[SetupResult]:
        """The setups that ran to the end."""
        return [r for r in self.rows if r.error is None]

    @property
    def failed(self) -> list[SetupResult]:
        """The setups that failed while running."""
        return [r for r in self.rows if r.error is not None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (`results.json`)."""
        out = asdict(self)
        out["rows"] = [r.to_dict() for r in self.rows]
        return out


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
        "throughput_repeats": REPEATS,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


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


def _load(dataset_path: Path, split: str) -> RetrievalDataset | StsDataset:
    if is_sts_file(dataset_path):
        return load_sts(dataset_path)
    return load_retrieval_dataset(dataset_path, split)


def run_comparison(
    dataset_path: Path,
    configs: list[SetupConfig],
    split: str = "test",
    options: EvalOptions | None = None,
) -> Comparison:
    """Evaluate every config on one dataset (retrieval, or STS if it is a pairs file).
    `options` gives the caching and progress; each config brings its own model. Every
    config is checked first (one error lists every problem); a config that fails later
    is kept as a row with its `error` and the others still run."""
    base = options or EvalOptions()
    sts = is_sts_file(dataset_path)
    data: RetrievalDataset | StsDataset | None = None
    problems = []
    try:
        data = _load(dataset_path, split)
    except (EmbedstackError, OSError) as exc:
        problems.append(f"dataset {dataset_path}: {exc}")
    checked = check_setups(configs, sts=sts, problems=problems)
    assert data is not None  # check_setups raised otherwise
    if isinstance(data, StsDataset):
        texts = data.sentences1 + data.sentences2
    else:
        texts = list(data.doc_texts().values())
    rows, timings = [], {}
    for config in configs:
        log.info("comparing %s", config.name)
        setup = checked.pop(config.name)  # drop the loaded encoder once it has run
        try:
            row, timing = _run_one(setup, data, texts, base)
        except Exception as exc:  # keep the setups that finished
            log.warning("setup %s failed: %s", config.name, exc, exc_info=True)
            rows.append(SetupResult.failed(config, f"{type(exc).__name__}: {exc}"))
            continue
        rows.append(row)
        timings[config.name] = timing
    notes = speed_notes(timings)
    for row in rows:
        row.throughput_note = notes.get(row.name, "")
    return Comparison(
        dataset=data.name,
        kind="sts" if sts else "retrieval",
        quality_metric="spearman" if sts else "ndcg@10",
        rows=rows,
        environment=environment(),
        validation=data.report.to_dict(),
    )


def _run_one(
    setup: CheckedSetup,
    data: RetrievalDataset | StsDataset,
    texts: list[str],
    base: EvalOptions,
) -> tuple[SetupResult, Timing]:
    config = setup.config
    options = replace(
        base, model=config.model, encoder_options=dict(config.encoder_options),
        batch_size=config.batch_size, params=dict(config.params), loaded=setup.encoder,
    )  # fmt: skip
    if isinstance(data, StsDataset):
        result = evaluate_sts(data, options.encoder(), config.batch_size, base.progress)
        metrics = {"spearman": result.spearman, "pearson": result.pearson}
        quality, memory = result.spearman, len(texts) * options.encoder().dim * 4
    else:
        run = evaluate_retrieval(data, config.retriever, options)
        metrics, quality, memory = run.metrics, run.metrics["ndcg@10"], run.memory_bytes
    encoder = options.loaded
    if encoder is not None:
        timing = measure_encoder(encoder, texts, config.batch_size, base.progress)
    else:  # no encoder (e.g. BM25): the index build is the per-document work
        indexes = plan(config.retriever, dict(config.params), config.model).indexes
        timing = measure_indexes(indexes, texts, base.progress)
    cost, basis = _cost(config, setup.price, timing.cpu_seconds_per_doc, timing.tokens_per_doc)
    row = SetupResult(
        name=config.name,
        config=asdict(config),
        quality=quality,
        metrics=metrics,
        throughput=timing.median,
        cpu_seconds_per_doc=timing.cpu_seconds_per_doc,
        tokens_per_doc=timing.tokens_per_doc,
        cost_per_million=cost,
        cost_basis=basis,
        memory_bytes=memory,
        space=encoder.space.to_dict() if encoder is not None else None,
        throughput_runs=timing.runs,
        throughput_low=timing.low,
        throughput_high=timing.high,
        throughput_basis=timing.basis,
    )
    return row, timing


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
