"""The local dense encoder: a Hugging Face checkpoint on ONNX Runtime, pooled.

`load_local("minilm")` (the default) or `load_local("/path/to/model")` gives an
`OnnxEncoder`. Texts longer than the model's `max_length` are cut; that is never silent:
by default one warning per `encode` call gives the count, `truncate="error"` refuses.
Batches are formed by token count and tokenised ahead in a thread
(`embedstack.encoders.batching`); each call's stage times are in `last_profile` and in
the debug log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.encoders.base import Encoder, check_batch_size, check_texts
from embedstack.encoders.batching import StageTimes, token_batches
from embedstack.encoders.pooling import Pooling, pool, pooling_from_config
from embedstack.encoders.resolve import resolve_model
from embedstack.encoders.transformer import TokenBatch, TransformerModel
from embedstack.errors import InputError, TruncationError
from embedstack.text.tokenize import HFTokenizer, Tokenizer
from embedstack.types import EmbeddingSpace, Kind

log = logging.getLogger(__name__)

TRUNCATE_POLICIES = ("warn", "error")
# Largest slice (rows x longest row, in tokens) one session.run gets, per intra-op
# thread: small slices keep each layer's activations in cache. On MiniLM (1 thread, CPU
# time) 256 beat whole batches of 32 by 1.2x (float32) to 1.35x (int8) on ~24-word
# sentences; 128 and 512 were close behind. See docs/benchmarks.md ("run slice").
RUN_TOKENS_PER_THREAD = 256
OPTIONS = (
    "pooling",
    "normalize",
    "max_length",
    "truncate",
    "query_prefix",
    "document_prefix",
    "precision",
    "device",
    "providers",
    "threads",
    "spin",
)


@dataclass
class TokenEmbeddings:
    """One text's contextual token vectors. `offsets` are (start, end) character spans in
    the text as given (without any prefix); special and prefix tokens have (0, 0)."""

    tokens: list[str]
    offsets: np.ndarray
    vectors: np.ndarray


def prompts_from_config(model_dir: Path) -> tuple[str, str]:
    """(query, document) prefixes from config_sentence_transformers.json `prompts`."""
    path = model_dir / "config_sentence_transformers.json"
    if not path.is_file():
        return "", ""
    prompts = json.loads(path.read_text(encoding="utf-8")).get("prompts") or {}
    document = next((prompts[k] for k in ("document", "passage", "corpus") if prompts.get(k)), "")
    return str(prompts.get("query") or ""), str(document)


class OnnxEncoder(Encoder):
    """Dense vectors from a `TransformerModel`: tokenize, run, pool, (normalise).

    `tokenize_ahead=False` tokenises each window inline instead of in a thread (same
    vectors; for debugging and the equality test).
    """

    tokenize_ahead: bool = True
    run_tokens: int = 0  # set per model from its threads; 0 runs whole batches
    last_profile: StageTimes | None = None

    def __init__(
        self,
        model: TransformerModel,
        *,
        model_id: str,
        pooling: Pooling | str,
        normalize: bool = True,
        query_prefix: str = "",
        document_prefix: str = "",
        truncate: str = "warn",
    ) -> None:
        if truncate not in TRUNCATE_POLICIES:
            raise InputError(f"truncate must be one of {TRUNCATE_POLICIES}, got {truncate!r}")
        self.model = model
        self.run_tokens = RUN_TOKENS_PER_THREAD * max(1, model.threads)
        self.pooling = Pooling.parse(pooling)
        self.truncate = truncate
        # per-thread truncation count: encode may run in threads; one call (sync, or
        # async through `Encoder.aiter_encode`'s single worker) stays in one thread
        self._calls = threading.local()
        self._counter: Any = None
        self.space = EmbeddingSpace(
            model=model_id,
            dim=model.hidden_size,
            fingerprint=model.fingerprint,
            tokenizer=model.tokenizer_hash,
            pooling=self.pooling.value,
            normalize=normalize,
            query_prefix=query_prefix,
            document_prefix=document_prefix,
            max_tokens=model.max_length,
            precision=model.precision,
        )

    def encoding_call(self, prepared: list[str]) -> contextlib.AbstractContextManager[None]:
        """Refuse over-long texts first (truncate="error"); warn once per call otherwise."""
        return self._truncation_report(prepared)

    @contextlib.contextmanager
    def _truncation_report(self, prepared: list[str]) -> Iterator[None]:
        self._check_lengths(prepared)
        self._calls.truncated = 0
        self._calls.times = times = StageTimes()
        yield
        self._warn_truncated(self._calls.truncated)
        self.last_profile = times
        log.debug("%s encode: %s", self.name, times.summary())

    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        """Tokenize, run the graph and pool one batch."""
        return self.encode_planned(self.model.tokenize(texts), kind)

    def plan_batches(self, prepared: list[str], size: int) -> Iterator[tuple[list[int], Any]]:
        """Padded `TokenBatch`es grouped by token count, tokenised one window ahead."""
        yield from token_batches(
            prepared,
            size,
            self.model.encode_unpadded,
            self.model.pad,
            self._times(),
            threaded=self.tokenize_ahead,
        )

    def encode_planned(self, planned: TokenBatch, kind: Kind) -> np.ndarray:
        """Run the graph on one tokenised batch and pool it, in slices of at most
        `run_tokens` (rows x longest row) so activations stay in cache."""
        self._count_truncated(planned.truncated)
        n, width = planned.input_ids.shape
        step = max(1, self.run_tokens // max(width, 1)) if self.run_tokens else n
        parts = []
        times = self._times()
        for first in range(0, n, step):
            part = planned.rows(first, first + step) if step < n else planned
            start = time.perf_counter()
            hidden = self.model.hidden_states(part)
            ran = time.perf_counter()
            parts.append(pool(hidden, part.attention_mask, self.pooling))
            times.add(run=ran - start, pool=time.perf_counter() - ran)
        if not parts:  # an empty batch
            return np.zeros((0, self.model.hidden_size), dtype=np.float32)
        return parts[0] if len(parts) == 1 else np.vstack(parts)

    def _times(self) -> StageTimes:
        times = getattr(self._calls, "times", None)
        if times is None:  # encode_batch called directly, outside an encode call
            times = self._calls.times = StageTimes()
        return times

    def span_tokenizer(self) -> Tokenizer:
        """The model's own tokenizer, so chunks are counted in the tokens it sees."""
        return HFTokenizer(self.model.tokenizer)

    def special_tokens(self) -> int:
        """[CLS]/[SEP]-style tokens the tokenizer adds to every text."""
        return int(self.model.tokenizer.num_special_tokens_to_add(False))

    def count_tokens(self, texts: Iterable[str]) -> list[int]:
        """Tokens each text has before truncation, special tokens included (no prefix)."""
        if self._counter is None:
            from tokenizers import Tokenizer

            self._counter = Tokenizer.from_str(self.model.tokenizer.to_str())
            self._counter.no_truncation()
            self._counter.no_padding()
        items = check_texts(list(texts))
        return [len(e.ids) for e in self._counter.encode_batch(items)] if items else []

    def encode_tokens(
        self, texts: Sequence[str], kind: Kind | str = Kind.DOCUMENT, batch_size: int | None = None
    ) -> list[TokenEmbeddings]:
        """Each text's contextual token vectors (not pooled, not normalised)."""
        items = check_texts(texts)
        prepared = self.prefix(items, Kind.parse(kind))
        self._check_lengths(prepared)
        self._calls.truncated = 0
        shift = np.array([len(p) - len(t) for p, t in zip(prepared, items, strict=True)])
        order = sorted(range(len(prepared)), key=lambda i: len(prepared[i]))
        size = check_batch_size(batch_size, self.default_batch_size)
        out: list[TokenEmbeddings | None] = [None] * len(items)
        for start in range(0, len(order), size):
            idx = order[start : start + size]
            batch = self.model.tokenize([prepared[i] for i in idx])
            self._count_truncated(batch.truncated)
            hidden = self.model.hidden_states(batch)
            for row, i in enumerate(idx):
                n = len(batch.tokens[row])
                spans = np.clip(batch.offsets[row, :n] - shift[i], 0, None)  # prefix -> (0, 0)
                out[i] = TokenEmbeddings(batch.tokens[row], spans, hidden[row, :n].copy())
        self._warn_truncated(self._calls.truncated)
        return [t for t in out if t is not None]

    def _check_lengths(self, prepared: list[str]) -> None:
        if self.truncate != "error" or not prepared:
            return
        limit = self.model.max_length
        too_long = [i for i, n in enumerate(self.count_tokens(prepared)) if n > limit]
        if too_long:
            shown = ", ".join(map(str, too_long[:20])) + (" ..." if len(too_long) > 20 else "")
            raise TruncationError(
                f"{len(too_long)} text(s) exceed {self.name}'s {limit} tokens (indices {shown}); "
                "split them into chunks first, or pass truncate='warn' to cut them"
            )

    def _count_truncated(self, flags: np.ndarray) -> None:
        self._calls.truncated = getattr(self._calls, "truncated", 0) + int(flags.sum())

    def _warn_truncated(self, count: int) -> None:
        if count:
            log.warning(
                "%d text(s) were longer than %s's %d tokens and were truncated; chunk long "
                "texts or pass truncate='error' to refuse them",
                count,
                self.name,
                self.model.max_length,
            )


def load_local(spec_or_path: str | None = None, **options: Any) -> OnnxEncoder:
    """Resolve a model (see `embedstack.encoders.resolve`) and build its encoder.

    Options: pooling (default from `1_Pooling/config.json`, else mean), normalize (True),
    max_length (the model's), truncate ("warn" | "error"), query_prefix / document_prefix
    (default from the model's sentence-transformers prompts), precision ("float32" | "int8"),
    device ("cpu", "cuda", ...) or providers (ONNX Runtime provider names), threads
    (intra-op threads; default one per core), spin (idle threads busy-wait; default
    only when the machine is not busy at load time).
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise InputError(f"unknown option(s) {unknown} for a local model; accepted: {OPTIONS}")
    resolved = resolve_model(spec_or_path)
    log.debug("loading %s from %s", resolved.spec, resolved.source)
    model = TransformerModel.from_dir(
        resolved.path,
        max_length=options.get("max_length"),
        precision=options.get("precision") or "float32",
        device=options.get("device"),
        providers=options.get("providers"),
        threads=options.get("threads"),
        spin=options.get("spin"),
    )
    query_prefix, document_prefix = prompts_from_config(resolved.path)
    pooling = options.get("pooling") or pooling_from_config(resolved.path) or Pooling.MEAN
    return OnnxEncoder(
        model,
        model_id=resolved.spec,
        pooling=pooling,
        normalize=bool(options.get("normalize", True)),
        query_prefix=options.get("query_prefix", query_prefix) or "",
        document_prefix=options.get("document_prefix", document_prefix) or "",
        truncate=options.get("truncate") or "warn",
    )
