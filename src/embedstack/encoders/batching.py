"""Less work per text: batches grouped by token count, tokenised ahead in a thread.

A transformer's cost grows with batch x longest row, so every padding token is wasted
work. `token_batches` tokenises texts in windows (without padding), sorts each window by
real token count and cuts it into batches padded only to their own longest row. Texts
are first ordered by character length across the whole call (cheap), so windows are
already homogeneous and the token sort inside a window only fixes what characters get
wrong (digits, rare words and non-Latin script take more tokens per character).

Tokenisation runs one window ahead in a background thread (`ahead`): the tokenizers
library releases the GIL while it tokenises, and ONNX Runtime releases it while the
graph runs, so the two overlap. `StageTimes` records where the time went (tokenise /
run / pool, and how long inference waited for the tokeniser) for `--profile` and the
debug log.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
U = TypeVar("U")

WINDOW_BATCHES = 8  # batches tokenised (and sorted by token count) together


@dataclass
class StageTimes:
    """Seconds per stage of one encode call, plus what the padding cost."""

    texts: int = 0
    batches: int = 0
    tokens: int = 0  # real tokens fed to the model
    padded: int = 0  # tokens including padding (batch rows x longest row)
    tokenize: float = 0.0  # in the tokeniser thread (overlaps `run`)
    wait: float = 0.0  # inference waiting for the tokeniser
    run: float = 0.0  # session.run
    pool: float = 0.0  # pooling + checks
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **seconds: float) -> None:
        """Add to some counters (thread-safe: the tokeniser thread adds too)."""
        with self._lock:
            for name, value in seconds.items():
                setattr(self, name, getattr(self, name) + value)

    @property
    def padding(self) -> float:
        """Share of fed tokens that were padding."""
        return 1.0 - self.tokens / self.padded if self.padded else 0.0

    def summary(self) -> str:
        """One line for logs and `--profile`."""
        return (
            f"{self.texts} texts in {self.batches} batches, {self.tokens} tokens "
            f"({100 * self.padding:.1f}% padding); tokenise {self.tokenize:.3f}s "
            f"(waited {self.wait:.3f}s), run {self.run:.3f}s, pool {self.pool:.3f}s"
        )


def ahead(
    items: Iterable[T], produce: Callable[[T], U], *, threaded: bool = True
) -> Generator[U, None, None]:
    """`produce(item)` for each item, in order, computed one item ahead in a thread.

    Errors in the thread are raised in the caller; closing the iterator early stops the
    thread after its current item. `threaded=False` runs inline (same results).
    """
    if not threaded:
        yield from map(produce, items)
        return
    done = object()
    out: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                out.put((produce(item), None))
        except BaseException as exc:  # handed to the consumer, raised there
            out.put((None, exc))
        out.put((done, None))

    thread = threading.Thread(target=work, name="embedstack-tokenize", daemon=True)
    thread.start()
    try:
        while True:
            value, error = out.get()
            if error is not None:
                raise error
            if value is done:
                return
            yield value
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on the full queue
            with contextlib.suppress(queue.Empty):
                out.get(timeout=0.05)
        thread.join()


def windows(order: Sequence[int], size: int) -> Iterator[list[int]]:
    """`order` in consecutive slices of `size` (the last may be shorter)."""
    for start in range(0, len(order), size):
        yield list(order[start : start + size])


def token_batches(
    texts: Sequence[str],
    batch_size: int,
    tokenize: Callable[[list[str]], list[Any]],
    pad: Callable[[list[Any]], U],
    times: StageTimes,
    *,
    threaded: bool = True,
) -> Iterator[tuple[list[int], U]]:
    """(input indices, padded batch) for every batch, fewest tokens first per window.

    `tokenize` turns texts into unpadded encodings (objects with `.ids`); `pad` turns a
    list of encodings into the model's padded batch.
    """
    by_chars = sorted(range(len(texts)), key=lambda i: len(texts[i]))

    def prepare(window: list[int]) -> list[tuple[list[int], U]]:
        start = time.perf_counter()
        encodings = tokenize([texts[i] for i in window])
        ranked = sorted(range(len(window)), key=lambda j: len(encodings[j].ids))
        batches = []
        for part in windows(ranked, batch_size):
            chosen = [encodings[j] for j in part]
            longest = max(len(e.ids) for e in chosen)
            times.add(
                tokens=sum(len(e.ids) for e in chosen), padded=longest * len(chosen), batches=1
            )
            batches.append(([window[j] for j in part], pad(chosen)))
        times.add(tokenize=time.perf_counter() - start)
        return batches

    times.add(texts=len(texts))
    first = by_chars[:batch_size]  # one batch first, so inference starts early
    parts = [first, *windows(by_chars[batch_size:], batch_size * WINDOW_BATCHES)]
    prepared = ahead(iter(parts), prepare, threaded=threaded)
    with contextlib.closing(prepared):  # stops the tokeniser thread if we are closed early
        while True:
            start = time.perf_counter()
            window = next(prepared, None)
            times.add(wait=time.perf_counter() - start)
            if window is None:
                return
            yield from window
