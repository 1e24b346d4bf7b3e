"""The dense encoder contract: implement `encode_batch`, get everything else for free.

Every dense encoder (local ONNX, hosted API, static word vectors, the hashing encoder
for tests) subclasses `Encoder`, so the rest of embedstack never cares which it has.
`encode` / `aencode` are written once here and never re-implemented: they check the
input, run `iter_encode`, check each batch and normalise. Wrappers that change how
batches are produced (the cache, hosted request batching, the process pool) override
`iter_encode` (and `aiter_encode`) only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from embedstack.errors import EmbedstackError, InputError
from embedstack.similarity import cosine
from embedstack.text.tokenize import CharTokenizer, Tokenizer
from embedstack.types import EmbeddingSpace, Kind

log = logging.getLogger(__name__)

Batches = Iterator[tuple[list[int], np.ndarray]]
"""What `iter_encode` yields: (input indices, raw vectors) per finished batch."""

_SURROGATE = re.compile("[\ud800-\udfff]")


class TextTypeError(InputError, TypeError):
    """A text that is not a `str` (still a `TypeError` for callers that catch that)."""


def check_texts(texts: Sequence[str] | str) -> list[str]:
    """Validate input texts: a list of valid Unicode `str`, checked before any tokenizer.

    A bare string is refused here (it would be embedded character by character);
    `Encoder.encode` accepts one and wraps it itself.
    """
    if isinstance(texts, str):
        raise TextTypeError(
            "texts must be a list of strings, not a single string: wrap it as [text]"
        )
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise TextTypeError(f"texts[{i}] is {type(text).__name__}, expected str")
        bad = _SURROGATE.search(text)
        if bad is not None:
            raise InputError(
                f"texts[{i}] is not valid Unicode: a lone surrogate {bad.group()!r} at character "
                f"{bad.start()} (typically an undecodable byte from a command-line argument or "
                "a file read with errors='surrogateescape'); decode the input as UTF-8 first"
            )
    return out


def check_batch_size(batch_size: int | None, default: int) -> int:
    """The batch size to use, refusing zero or negative values with a clear error."""
    size = default if batch_size is None else batch_size
    if size <= 0:
        raise InputError(f"batch_size must be positive, got {size}")
    return size


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows without touching the input; all-zero rows stay zero (never NaN)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32, copy=False)


def _normalize_option(normalize: bool | None, normalize_embeddings: bool | None) -> bool | None:
    if normalize_embeddings is None:
        return normalize
    if normalize is not None and normalize != normalize_embeddings:
        raise InputError("normalize and normalize_embeddings disagree; pass only one of them")
    return normalize_embeddings


class Encoder(ABC):
    """Turns texts into float32 vectors of shape (n, dim) in one `EmbeddingSpace`.

    Subclasses set `self.space` and implement `encode_batch`. Query/document prefixes
    from the space are applied here, once, for every encoder.
    """

    space: EmbeddingSpace
    default_batch_size: int = 32
    zero_vector_reason: str = "have no token the model knows"
    last_zero_rows: list[int] = []  # noqa: RUF012 - replaced per call, never mutated

    @property
    def dim(self) -> int:
        """Vector dimension (from the space)."""
        return self.space.dim

    @property
    def name(self) -> str:
        """Model name (from the space)."""
        return self.space.model

    @abstractmethod
    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        """Embed one batch of already-prefixed texts; return raw (n, dim) float32 vectors."""

    # -- hooks a subclass may refine -------------------------------------------------
    def prefix(self, texts: list[str], kind: Kind) -> list[str]:
        """`texts` with the space's query or document prefix in front."""
        prefix = self.space.query_prefix if kind is Kind.QUERY else self.space.document_prefix
        return [prefix + t for t in texts] if prefix else texts

    def cache_key(self) -> str:
        """What identifies this encoder's vectors in a cache (the space, plus e.g. the
        endpoint for a hosted API): two encoders share cached vectors only if equal."""
        return self.space.key()

    def count_tokens(self, texts: Iterable[str]) -> list[int]:
        """Token counts. The default is a conservative estimate (about 3 characters a
        token); encoders with a real tokenizer override it."""
        return [max(1, math.ceil(len(t) / 3)) for t in texts]

    def span_tokenizer(self) -> Tokenizer:
        """Token character spans as this model counts them, for token-aware chunking."""
        return CharTokenizer(3)

    def special_tokens(self) -> int:
        """Special tokens (e.g. [CLS], [SEP]) the model adds to every text."""
        return 0

    def encoding_call(self, prepared: list[str]) -> contextlib.AbstractContextManager[None]:
        """Entered around each `iter_encode` call with its prefixed texts (e.g. to refuse
        over-long texts first, or to report truncation once per call)."""
        return contextlib.nullcontext()

    # -- derived, final ----------------------------------------------------------------
    def iter_encode(
        self, texts: Sequence[str], kind: Kind | str = Kind.DOCUMENT, batch_size: int | None = None
    ) -> Batches:
        """Yield (input indices, raw vectors) per batch as each finishes, so a caller (the
        cache) can keep finished work. Texts are sorted by length so batches pad little."""
        items = check_texts(texts)
        kind = Kind.parse(kind)
        size = check_batch_size(batch_size, self.default_batch_size)
        prepared = self.prefix(items, kind)
        with self.encoding_call(prepared):
            for idx, planned in self.plan_batches(prepared, size):
                yield idx, self.checked(self.encode_planned(planned, kind), len(idx))

    def plan_batches(self, prepared: list[str], size: int) -> Iterator[tuple[list[int], Any]]:
        """Group prefixed texts into batches: (input indices, what `encode_planned` takes).
        By default the texts themselves, sorted by length so batches pad little; local
        transformers tokenise here instead (by token count, ahead in a thread)."""
        order = sorted(range(len(prepared)), key=lambda i: len(prepared[i]))
        for start in range(0, len(order), size):
            idx = order[start : start + size]
            yield idx, [prepared[i] for i in idx]

    def encode_planned(self, planned: Any, kind: Kind) -> np.ndarray:
        """Embed one batch from `plan_batches` (by default: `encode_batch` on its texts)."""
        return self.encode_batch(planned, kind)

    async def aiter_encode(
        self, texts: Sequence[str], kind: Kind | str = Kind.DOCUMENT, batch_size: int | None = None
    ) -> AsyncIterator[tuple[list[int], np.ndarray]]:
        """Async twin of `iter_encode`; by default the batches run in one worker thread so
        the event loop never blocks. Hosted encoders override it with real async I/O."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def produce() -> None:
            try:
                for item in self.iter_encode(texts, kind, batch_size):
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                    if stop.is_set():
                        break
            except BaseException as exc:  # handed to the awaiting side, raised there
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            loop.call_soon_threadsafe(queue.put_nowait, None)

        worker = loop.run_in_executor(None, produce)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            await worker

    def encode(
        self,
        texts: Sequence[str] | str,
        kind: Kind | str = Kind.DOCUMENT,
        batch_size: int | None = None,
        normalize: bool | None = None,
        *,
        normalize_embeddings: bool | None = None,
        convert_to_numpy: bool = True,
    ) -> Any:
        """Embed `texts`: (n, dim) float32, rows in input order; one string gives a 1-d vector.

        An empty string gets the model's vector for empty input; an empty list a (0, dim)
        array. `normalize` defaults to the space's setting. `normalize_embeddings` and
        `convert_to_numpy=False` (a list of 1-d arrays) work as in sentence-transformers.
        """
        items, single, norm = self._inputs(texts, normalize, normalize_embeddings)
        out = np.empty((len(items), self.dim), dtype=np.float32)
        for idx, vectors in self.iter_encode(items, kind, batch_size):
            out[idx] = self.checked(vectors, len(idx))
        return self._finish(out, single, norm, convert_to_numpy)

    async def aencode(
        self,
        texts: Sequence[str] | str,
        kind: Kind | str = Kind.DOCUMENT,
        batch_size: int | None = None,
        normalize: bool | None = None,
    ) -> np.ndarray:
        """Async `encode` (hosted encoders send their requests concurrently)."""
        items, single, norm = self._inputs(texts, normalize, None)
        out = np.empty((len(items), self.dim), dtype=np.float32)
        async for idx, vectors in self.aiter_encode(items, kind, batch_size):
            out[idx] = self.checked(vectors, len(idx))
        result: np.ndarray = self._finish(out, single, norm, True)
        return result

    def encode_queries(self, texts: Sequence[str] | str, **kwargs: Any) -> Any:
        """`encode(texts, kind="query")`."""
        return self.encode(texts, Kind.QUERY, **kwargs)

    def encode_documents(self, texts: Sequence[str] | str, **kwargs: Any) -> Any:
        """`encode(texts, kind="document")`."""
        return self.encode(texts, Kind.DOCUMENT, **kwargs)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosine similarity matrix (len(a), len(b)) of two sets of vectors (or single ones)."""
        return cosine(np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32))

    def checked(self, batch: np.ndarray, expected: int) -> np.ndarray:
        """`batch` as float32 if it has `expected` rows of `dim` finite values, else an error."""
        batch = np.asarray(batch, dtype=np.float32)
        if batch.shape != (expected, self.dim):
            raise EmbedstackError(
                f"{self.name} returned shape {batch.shape}, expected ({expected}, {self.dim})"
            )
        if not np.isfinite(batch).all():
            raise EmbedstackError(
                f"{self.name} produced NaN or infinite values; the vectors were not used"
            )
        return batch

    def _inputs(
        self, texts: Sequence[str] | str, normalize: bool | None, alias: bool | None
    ) -> tuple[list[str], bool, bool]:
        single = isinstance(texts, str)
        items = check_texts([texts] if isinstance(texts, str) else texts)
        norm = _normalize_option(normalize, alias)
        return items, single, self.space.normalize if norm is None else norm

    def _finish(self, out: np.ndarray, single: bool, norm: bool, as_numpy: bool) -> Any:
        zero = np.flatnonzero(~out.any(axis=1)).tolist() if len(out) else []
        self.last_zero_rows = zero
        if zero:
            log.warning(
                "%d of %d texts %s and got a zero vector (rows %s%s)",
                len(zero),
                len(out),
                self.zero_vector_reason,
                ", ".join(map(str, zero[:10])),
                ", ..." if len(zero) > 10 else "",
            )
        if norm:
            out = normalize_rows(out)
        if single:
            return out[0]
        return out if as_numpy else list(out)
