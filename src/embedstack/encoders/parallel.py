"""An encoder that spreads each `encode` call over worker processes.

Each worker builds its own encoder by calling a picklable `factory` (the registry passes
`functools.partial(load_encoder, spec, **options)`), so nothing large is pickled and this
module needs nothing above the encoders layer. Worth it for encoders that are
single-threaded in Python (static word vectors, hashing, tokenisation-heavy models on
many cores); ONNX Runtime already uses every core for one process.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

import numpy as np

from embedstack.encoders.base import Batches, Encoder, check_batch_size, check_texts
from embedstack.errors import InputError
from embedstack.types import Kind

_WORKER: Encoder | None = None


def _start(factory: Callable[[], Encoder]) -> None:
    global _WORKER  # noqa: PLW0603 - one encoder per worker process
    _WORKER = factory()


def _encode_part(texts: list[str], kind: str, batch_size: int | None) -> np.ndarray:
    assert _WORKER is not None
    out: np.ndarray = _WORKER.encode(texts, kind=kind, batch_size=batch_size, normalize=False)
    return out


def _encode_raw(texts: list[str], kind: str) -> np.ndarray:
    assert _WORKER is not None
    return _WORKER.encode_batch(texts, Kind(kind))


class ParallelEncoder(Encoder):
    """Same space as `factory()`; each call is split into one part per worker."""

    def __init__(self, factory: Callable[[], Encoder], workers: int, *, spec: str = "") -> None:
        if workers < 1:
            raise InputError(f"workers must be at least 1, got {workers}")
        local = factory()
        self.space = local.space
        self.default_batch_size = local.default_batch_size
        self.zero_vector_reason = local.zero_vector_reason
        self.spec = spec
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),  # no fork of ORT threads
            initializer=_start,
            initargs=(factory,),
        )

    def iter_encode(
        self, texts: Sequence[str], kind: Kind | str = Kind.DOCUMENT, batch_size: int | None = None
    ) -> Batches:
        """Yield each worker's part (indices, raw vectors) as it finishes."""
        items = check_texts(texts)
        kind = Kind.parse(kind)
        check_batch_size(batch_size, self.default_batch_size)
        if not items:
            return
        step = -(-len(items) // self.workers)
        pending = {
            self._pool.submit(_encode_part, items[i : i + step], kind.value, batch_size): list(
                range(i, min(i + step, len(items)))
            )
            for i in range(0, len(items), step)
        }
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    idx = pending.pop(future)
                    yield idx, self.checked(future.result(), len(idx))
        finally:
            for future in pending:
                future.cancel()

    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        """One batch in one worker."""
        vectors: np.ndarray = self._pool.submit(_encode_raw, texts, kind.value).result()
        return vectors

    def close(self) -> None:
        """Stop the worker processes."""
        self._pool.shutdown(cancel_futures=True)
