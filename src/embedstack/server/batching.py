"""Dynamic batching: concurrent requests for one model share forward passes.

A transformer on CPU is far more efficient on a batch of 32 texts than on 32 batches of
one, so requests that arrive together are coalesced (up to `max_batch` texts, waiting at
most `max_wait` seconds for company). Inference runs in a worker thread so the event
loop keeps accepting requests meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from embedstack.encoders.base import Encoder
from embedstack.types import Kind


@dataclass
class _Job:
    texts: list[str]
    kind: Kind
    future: asyncio.Future[np.ndarray] = field(repr=False)


class DynamicBatcher:
    """Coalesces `embed` calls for one encoder; `observe(batch_texts)` sees each batch size."""

    def __init__(
        self,
        encoder: Encoder,
        max_batch: int = 64,
        max_wait: float = 0.005,
        observe: Callable[[int], None] | None = None,
    ) -> None:
        self.encoder = encoder
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._observe = observe or (lambda n: None)
        self._queue: asyncio.Queue[_Job | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self._pending: list[_Job] = []

    async def embed(self, texts: list[str], kind: Kind) -> np.ndarray:
        """Embed texts, batched with concurrent requests; resolves to their vectors."""
        if self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._run())
        assert self._queue is not None
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(texts, kind, future))
        return await future

    async def stop(self) -> None:
        """Finish every queued request, then stop the worker (graceful shutdown)."""
        if self._task is not None and self._queue is not None and not self._task.done():
            await self._queue.put(None)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)

    async def _next(self, timeout: float | None) -> _Job | None:
        assert self._queue is not None
        if self._pending:
            return self._pending.pop(0)
        if timeout is None:
            return await self._queue.get()
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._next(None)
            if first is None:
                return
            batch, size, stopping = [first], len(first.texts), False
            deadline = loop.time() + self.max_wait
            while size < self.max_batch:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await self._next(remaining)
                except asyncio.TimeoutError:
                    break
                if job is None:
                    stopping = True
                    break
                if job.kind is not first.kind or size + len(job.texts) > self.max_batch:
                    self._pending.append(job)
                    break
                batch.append(job)
                size += len(job.texts)
            await self._process(batch, loop)
            if stopping:
                while self._pending:
                    await self._process([self._pending.pop(0)], loop)
                return

    async def _process(self, batch: list[_Job], loop: asyncio.AbstractEventLoop) -> None:
        texts = [t for job in batch for t in job.texts]
        self._observe(len(texts))
        try:
            vectors = await loop.run_in_executor(
                self._executor, lambda: self.encoder.encode(texts, kind=batch[0].kind)
            )
        except Exception as exc:  # delivered to every waiting request
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        start = 0
        for job in batch:
            end = start + len(job.texts)
            if not job.future.done():
                job.future.set_result(vectors[start:end])
            start = end
