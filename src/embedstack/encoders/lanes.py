"""Run lanes: one single-threaded ONNX Runtime session run from N threads at once.

On CPU, a batch is split into N contiguous row slices of equal size that run
concurrently (ONNX Runtime releases the GIL), each on one core, instead of one run whose
every operator is split across N intra-op threads. No operator waits at a barrier for
the slowest thread, and each core keeps its own slice's activations in its own cache.
Measured on MiniLM with 2 cores against one 2-thread session (`encode`, 5 runs, medians):
~240-token abstracts 1.02-1.04x faster in float32 and 1.2-1.25x in int8 (whose small
quantisation operators parallelise poorly), ~20-token STS-B sentences 1.04x in float32.
One session serves every lane, so the weights are held once.

A batch of one row runs on one core. The slices must be balanced (equal rows of equal
width): two lanes given 24 and 8 rows ran 1.35x slower than one 2-thread run.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class RunLanes:
    """Runs `run(rows slice)` on up to `lanes` balanced row slices concurrently."""

    def __init__(self, lanes: int) -> None:
        self.lanes = max(1, int(lanes))
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0  # a forked child must not use its parent's (threadless) pool
        self._lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(
                    self.lanes - 1, thread_name_prefix="embedstack-lane"
                )
                self._pool_pid = os.getpid()
            return self._pool

    def split(self, rows: int) -> list[tuple[int, int]]:
        """Contiguous (start, stop) row ranges, one per lane used, sizes differing by ≤1."""
        parts = min(self.lanes, rows)
        if parts <= 0:
            return []
        bounds = [rows * i // parts for i in range(parts + 1)]
        return list(itertools.pairwise(bounds))

    def map(self, run: Callable[[int, int], Any], rows: int) -> list[Any]:
        """`run(start, stop)` for each lane's rows, in order; the caller's thread takes
        the first slice, so one lane needs no pool at all."""
        ranges = self.split(rows)
        if len(ranges) <= 1:
            return [run(*r) for r in ranges]
        pool = self._executor()
        futures = [pool.submit(run, *r) for r in ranges[1:]]
        first = run(*ranges[0])
        return [first, *(future.result() for future in futures)]
