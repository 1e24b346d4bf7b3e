"""Running a corpus's requests concurrently and handing back each answer as it lands.

Both runners yield (input indices, vectors) per finished request, in completion order,
so the cache stores every answer at once: a run killed halfway keeps what came back.
After a failure, requests not yet sent are dropped, those in flight still finish and are
yielded (their vectors are paid for), then the first error is raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import numpy as np

Job = tuple[list[int], Callable[[], np.ndarray]]
AsyncJob = tuple[list[int], Callable[[], Awaitable[np.ndarray]]]


def run_threads(jobs: Sequence[Job], concurrency: int) -> Iterator[tuple[list[int], np.ndarray]]:
    """Run `jobs` on up to `concurrency` threads; yield each result as it completes."""
    if concurrency == 1 or len(jobs) <= 1:
        for idx, job in jobs:
            yield idx, job()
        return
    error: BaseException | None = None
    with ThreadPoolExecutor(concurrency, thread_name_prefix="embedstack-http") as pool:
        pending: dict[Future[np.ndarray], list[int]] = {pool.submit(job): idx for idx, job in jobs}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    idx = pending.pop(future)
                    if future.cancelled():
                        continue
                    problem = future.exception()
                    if problem is None:
                        yield idx, future.result()
                    elif error is None:
                        error = problem
                        for queued in pending:  # running ones cannot be cancelled: they finish
                            queued.cancel()
        finally:
            for future in pending:
                future.cancel()
    if error is not None:
        raise error


async def run_tasks(
    jobs: Sequence[AsyncJob], concurrency: int
) -> AsyncIterator[tuple[list[int], np.ndarray]]:
    """Run `jobs` with up to `concurrency` in flight; yield each result as it completes."""
    gate = asyncio.Semaphore(concurrency)
    failed = asyncio.Event()

    async def run(idx: list[int], job: Callable[[], Awaitable[np.ndarray]]) -> Any:
        async with gate:
            if failed.is_set():
                return None  # not sent: an earlier request failed
            return idx, await job()

    tasks = [asyncio.ensure_future(run(idx, job)) for idx, job in jobs]
    error: Exception | None = None
    try:
        for next_done in asyncio.as_completed(tasks):
            try:
                item = await next_done
            except Exception as exc:
                error = error or exc
                failed.set()
                continue
            if item is not None:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if error is not None:
        raise error
