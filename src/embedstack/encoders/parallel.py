"""An encoder that spreads each `encode` call over worker processes.

Each worker rebuilds the encoder from its spec (`load_encoder(spec, **options)`), so
nothing large is pickled. Worth it for encoders that are single-threaded in Python
(static word vectors, hashing, tokenisation-heavy models on many cores); ONNX Runtime
already uses every core for one process, so a transformer gains little.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from embedstack.encoders.base import Encoder, check_texts, normalize_rows
from embedstack.errors import InputError
from embedstack.types import Kind

_WORKER: Encoder | None = None


def _start(spec: str, options: dict[str, Any]) -> None:
    global _WORKER  # noqa: PLW0603 - one encoder per worker process
    from embedstack.registry import load_encoder

    _WORKER = load_encoder(spec, **options)


def _encode(texts: list[str], kind: str, batch_size: int | None) -> np.ndarray:
    assert _WORKER is not None
    return _WORKER.encode(texts, kind=kind, batch_size=batch_size, normalize=False)


def _encode_raw(texts: list[str], kind: str) -> np.ndarray:
    assert _WORKER is not None
    return _WORKER._encode_batch(texts, Kind(kind))


class ParallelEncoder(Encoder):
    """`ParallelEncoder("glove-50d", workers=4)`: same space as `load_encoder(spec)`."""

    def __init__(self, spec: str, workers: int, **options: Any) -> None:
        from embedstack.registry import load_encoder

        if workers < 1:
            raise InputError(f"workers must be at least 1, got {workers}")
        local = load_encoder(spec, **options)
        self.space = local.space
        self.default_batch_size = local.default_batch_size
        self.spec = spec
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),  # no fork of ORT threads
            initializer=_start,
            initargs=(spec, options),
        )

    def encode(
        self,
        texts: Sequence[str],
        kind: Kind | str = Kind.DOCUMENT,
        batch_size: int | None = None,
        normalize: bool | None = None,
    ) -> np.ndarray:
        items = check_texts(texts)
        kind = Kind.parse(kind)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        step = -(-len(items) // self.workers)
        parts = [items[i : i + step] for i in range(0, len(items), step)]
        futures = [self._pool.submit(_encode, p, kind.value, batch_size) for p in parts]
        out = np.concatenate(
            [self._checked(f.result(), len(p)) for f, p in zip(futures, parts, strict=True)]
        )
        if normalize if normalize is not None else self.space.normalize:
            out = normalize_rows(out)
        return out

    def _encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        vectors: np.ndarray = self._pool.submit(_encode_raw, texts, kind.value).result()
        return vectors

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
