"""On-disk cache of evaluation embeddings, so re-running with another retriever or k
does not re-embed the corpus.

Vectors are keyed by (embedding-space key, kind, sha256 of the text): the space key
covers model fingerprint, pooling, prefixes and max length, so any setting that changes
vectors changes the key. Every chunk of newly embedded texts is written as one shard,
`<hash>.npy` (vectors) plus `<hash>.keys.npy` ((n, 32) uint8 sha256 digests), that numpy
can inspect; an interrupted run keeps the chunks it finished.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from embedstack.config import cache_dir
from embedstack.encoders.base import Encoder
from embedstack.eval.files import write_atomic
from embedstack.types import Kind

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""`progress(task, done, total)`: called as work advances (the CLI draws a bar)."""

CHUNK = 256  # texts per encode call: small enough for a smooth progress bar


def text_digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _save_npy(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array)
    write_atomic(path, buffer.getvalue())


class VectorCache:
    """`embed(encoder, texts, kind)` returns vectors, embedding only texts not seen before
    in this embedding space. `hits` / `misses` count what the last calls did."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else cache_dir("eval")
        self.hits = 0
        self.misses = 0

    def _folder(self, encoder: Encoder, kind: Kind) -> Path:
        return self.directory / f"{encoder.space.key()}-{kind.value}"

    def _load(self, folder: Path, dim: int) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        for keys_path in sorted(folder.glob("*.keys.npy")):
            vectors_path = keys_path.with_name(keys_path.name.replace(".keys.npy", ".npy"))
            try:
                keys = np.load(keys_path)
                vectors = np.load(vectors_path, mmap_mode="r")
            except (OSError, ValueError) as exc:
                log.warning("ignoring unreadable cache shard %s: %s", keys_path, exc)
                continue
            if vectors.shape != (len(keys), dim):
                log.warning("ignoring cache shard %s: shape %s", vectors_path, vectors.shape)
                continue
            if keys.ndim != 2 or keys.shape[1] != 32:
                log.warning("ignoring cache shard %s: keys shape %s", keys_path, keys.shape)
                continue
            for i, key in enumerate(keys):
                found[key.tobytes()] = vectors[i]
        return found

    def embed(
        self,
        encoder: Encoder,
        texts: Sequence[str],
        kind: Kind | str = Kind.DOCUMENT,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> np.ndarray:
        kind = Kind.parse(kind)
        folder = self._folder(encoder, kind)
        digests = [text_digest(t) for t in texts]
        known = self._load(folder, encoder.dim) if folder.exists() else {}
        missing = list(dict.fromkeys(d for d in digests if d not in known))
        self.hits += len(texts) - sum(1 for d in digests if d not in known)
        self.misses += len(missing)
        if missing:
            first_text = {d: t for d, t in zip(digests, texts, strict=True)}
            for start in range(0, len(missing), CHUNK):
                part = missing[start : start + CHUNK]
                vectors = encoder.encode([first_text[d] for d in part], kind, batch_size)
                self._write(folder, part, vectors)  # per chunk: an interrupted run keeps its work
                known.update(zip(part, vectors, strict=True))
                if progress:
                    task = "embedding queries" if kind is Kind.QUERY else "embedding documents"
                    progress(task, start + len(part), len(missing))
        out = np.empty((len(texts), encoder.dim), dtype=np.float32)
        for i, digest in enumerate(digests):
            out[i] = known[digest]
        return out

    def _write(self, folder: Path, digests: list[bytes], vectors: np.ndarray) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(b"".join(digests)).hexdigest()[:24]
        # uint8 rows, not numpy "S32" strings: those drop trailing zero bytes of a digest
        keys = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, 32)
        # vectors first: a shard counts only once its keys file exists
        _save_npy(folder / f"{name}.npy", vectors)
        _save_npy(folder / f"{name}.keys.npy", keys)
