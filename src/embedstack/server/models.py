"""The models a server serves: loaded once, each behind its own dynamic batcher."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from embedstack.catalog import catalog_entry
from embedstack.encoders.base import Encoder
from embedstack.registry import load_encoder
from embedstack.server.batching import DynamicBatcher
from embedstack.server.metrics import ServerMetrics


@dataclass
class ServedModel:
    """One loaded encoder and the batcher that feeds it requests."""

    id: str
    encoder: Encoder
    batcher: DynamicBatcher


class ModelPool:
    """Maps request model names (the served spec, or the model's own id) to encoders."""

    def __init__(
        self,
        specs: list[str],
        metrics: ServerMetrics,
        max_batch: int,
        max_wait: float,
        factory: Callable[[str], Encoder] = load_encoder,
    ) -> None:
        if not specs:
            raise ValueError("serve at least one model")
        self.specs = list(dict.fromkeys(specs))
        self._metrics, self._factory = metrics, factory
        self._max_batch, self._max_wait = max_batch, max_wait
        self._loaded: dict[str, ServedModel] = {}
        self._lock = asyncio.Lock()

    @property
    def default(self) -> str:
        """The spec served when a request names no model."""
        return self.specs[0]

    def resolve(self, name: str | None) -> str | None:
        """The served spec for a requested name, or None when it is not served."""
        if name is None:
            return self.default
        if name in self.specs:
            return name
        for spec, served in self._loaded.items():
            if served.encoder.space.model == name:
                return spec
        return None

    def dim(self, spec: str) -> int | None:
        """The vector dimension of `spec` without loading it: the loaded encoder's, else the
        catalog's; None when neither is known yet (it is once the model is loaded)."""
        if spec in self._loaded:
            return self._loaded[spec].encoder.dim
        entry = catalog_entry(spec)
        return entry.dim if entry else None

    def get_loaded(self, spec: str) -> ServedModel:
        """Load synchronously (for collection work already in a thread)."""
        if spec not in self._loaded:
            encoder = self._factory(spec)
            observe = self._metrics.batch_size.labels(model=spec).observe
            batcher = DynamicBatcher(encoder, self._max_batch, self._max_wait, observe)
            self._loaded[spec] = ServedModel(spec, encoder, batcher)
        return self._loaded[spec]

    async def get(self, spec: str) -> ServedModel:
        """The served model for `spec`, loaded on first use."""
        if spec in self._loaded:
            return self._loaded[spec]
        async with self._lock:
            if spec not in self._loaded:
                await asyncio.to_thread(self.get_loaded, spec)
        return self._loaded[spec]

    async def close(self) -> None:
        """Stop every batcher and release the encoders."""
        for served in self._loaded.values():
            await served.batcher.stop()
