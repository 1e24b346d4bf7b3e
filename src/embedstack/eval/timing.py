"""Throughput of a comparison setup, measured more than once so noise is visible.

One timed pass on a shared machine can differ from the next by tens of percent, and a
comparison that prints one number per setup then ranks identical work as different.
So every setup is timed `REPEATS` times over the same seeded sample (local encoders and
index builds: whole passes; hosted encoders: the sample split into `REPEATS` parts, one
API pass, because every request is paid for). A report gives the median with the
low-high range, and calls two setups different only when their ranges do not overlap
and their medians differ by more than `NOISE_FLOOR`.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from embedstack.encoders.base import Encoder
from embedstack.eval.options import uncached
from embedstack.progress import Progress, report
from embedstack.store.indexes import new_index
from embedstack.types import Kind

SEED = 13
THROUGHPUT_SAMPLE = 256
REPEATS = 3
WARM_UP = 8
NOISE_FLOOR = 0.10  # medians closer than 10% are never called different


@dataclass
class Timing:
    """Per-pass throughput samples of one setup.

    Args:
        runs: documents per second of each timed pass (or part), in the order timed.
        cpu_seconds_per_doc: median process CPU seconds per document.
        tokens_per_doc: mean tokens per sampled document (0 without an encoder).
        basis: "encode" (an encoder embeds the documents) or "index" (no encoder: the
            index build, e.g. BM25, is the per-document work).
    """

    runs: list[float]
    cpu_seconds_per_doc: float
    tokens_per_doc: float
    basis: str

    @property
    def median(self) -> float:
        """The throughput a report shows."""
        return float(statistics.median(self.runs))

    @property
    def low(self) -> float:
        """The slowest pass."""
        return float(min(self.runs))

    @property
    def high(self) -> float:
        """The fastest pass."""
        return float(max(self.runs))


def sample(texts: list[str]) -> list[str]:
    """The seeded sample every setup is timed on (the same documents for all)."""
    return random.Random(SEED).sample(texts, min(THROUGHPUT_SAMPLE, len(texts)))


def _is_hosted(encoder: Encoder) -> bool:
    from embedstack.encoders.hosted.base import HostedEncoder

    return isinstance(encoder, HostedEncoder)


def measure_encoder(
    encoder: Encoder,
    texts: list[str],
    batch_size: int | None,
    progress: Progress | None = None,
) -> Timing:
    """Time encoding the seeded sample `REPEATS` times, without the cache."""
    encoder = uncached(encoder)  # hosted encoders cache by default: time the API
    docs = sample(texts)
    if _is_hosted(encoder):  # one paid pass, timed in parts
        size = max(1, -(-len(docs) // REPEATS))
        parts = [docs[i : i + size] for i in range(0, len(docs), size)]
    else:
        encoder.encode(docs[:WARM_UP], Kind.DOCUMENT, batch_size)  # sessions, allocations
        parts = [docs] * REPEATS
    runs, cpus = [], []
    for n, part in enumerate(parts, start=1):
        wall, cpu = time.perf_counter(), time.process_time()
        encoder.encode(part, Kind.DOCUMENT, batch_size)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        runs.append(len(part) / max(wall, 1e-9))
        cpus.append(cpu / len(part))
        report(progress, "timing throughput", n, len(parts))
    tokens = sum(encoder.count_tokens(docs)) / max(len(docs), 1)
    return Timing(runs, float(statistics.median(cpus)), tokens, "encode")


def measure_indexes(
    indexes: dict[str, dict[str, Any] | None],
    texts: list[str],
    progress: Progress | None = None,
) -> Timing:
    """Time building the indexes fresh over the seeded sample, `REPEATS` times."""
    docs = sample(texts)
    ids = np.arange(len(docs), dtype=np.int64)
    runs, cpus = [], []
    for n in range(1, REPEATS + 1):
        wall, cpu = time.perf_counter(), time.process_time()
        for name, config in indexes.items():
            new_index(name, config).add(ids, docs)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        runs.append(len(docs) / max(wall, 1e-9))
        cpus.append(cpu / max(len(docs), 1))
        report(progress, "timing throughput", n, REPEATS)
    return Timing(runs, float(statistics.median(cpus)), 0.0, "index")


def within_noise(a: Timing, b: Timing) -> bool:
    """Whether two setups' throughputs cannot be told apart from these samples."""
    overlap = a.low <= b.high and b.low <= a.high
    close = abs(a.median - b.median) <= NOISE_FLOOR * max(a.median, b.median)
    return overlap or close


def speed_notes(timings: dict[str, Timing]) -> dict[str, str]:
    """Per setup: "fastest", "within noise of fastest" or "0.42x fastest". Encode and
    index throughputs are different work, so each is compared within its own kind."""
    notes: dict[str, str] = {}
    for basis in ("encode", "index"):
        group = {name: t for name, t in timings.items() if t.basis == basis}
        if not group:
            continue
        best_name = max(group, key=lambda name: group[name].median)
        best = group[best_name]
        suffix = "" if basis == "encode" else " (index build)"
        for name, timing in group.items():
            if len(group) == 1:
                notes[name] = "only setup" + suffix
            elif name == best_name:
                notes[name] = "fastest" + suffix
            elif within_noise(timing, best):
                notes[name] = "within noise of fastest" + suffix
            else:
                notes[name] = f"{timing.median / best.median:.2f}x fastest" + suffix
    return notes
