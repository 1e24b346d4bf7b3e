"""The `.npy` shard backend of `VectorCache`: a folder numpy can inspect and memory-map.

Each (cache key, kind) has a folder `v2-<key>-<kind>`; every write adds one shard,
`<name>.npy` ((n, dim) float32 raw vectors) plus `<name>.keys.npy` ((n, 32) uint8 sha256
digests of the texts). Both are written atomically, vectors first: a shard counts only
once its keys file exists, so an interrupted run keeps every shard it finished. Suited to
bulk corpora (evaluation datasets); shards are indexed once per process and then only
new ones are read. (v1 folders, `<key>-<kind>`, held normalised vectors: never read.)
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from embedstack import atomic
from embedstack.config import cache_dir
from embedstack.encoders.cache.store import VectorCache

log = logging.getLogger(__name__)

PREFIX = "v2-"


def default_shard_dir() -> Path:
    """`shards/` under `EMBEDSTACK_HOME` (or the user cache dir)."""
    return cache_dir("shards")


class _Folder:
    """The shards of one (key, kind) read so far: digest -> (shard, row)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.rows: dict[bytes, tuple[str, int]] = {}
        self.vectors: dict[str, np.ndarray] = {}


class ShardVectorCache(VectorCache):
    """`VectorCache` as a folder of `.npy` shards (default: `default_shard_dir()`)."""

    backend = "npy-shards"

    def __init__(self, directory: str | Path | None = None, memory_items: int = 4096) -> None:
        super().__init__(memory_items)
        self.path = Path(directory).expanduser() if directory else default_shard_dir()
        self._folders: dict[Path, _Folder] = {}

    def _folder(self, key: str, kind: str) -> Path:
        return self.path / f"{PREFIX}{key}-{kind}"

    def _index(self, folder: Path) -> _Folder:
        """The folder's index, after reading any shard another process added since."""
        index = self._folders.setdefault(folder, _Folder())
        if not folder.is_dir():
            return index
        for keys_path in sorted(folder.glob("*.keys.npy")):
            name = keys_path.name.removesuffix(".keys.npy")
            if name in index.seen:
                continue
            index.seen.add(name)
            try:
                keys = np.load(keys_path)
                vectors = np.load(folder / f"{name}.npy", mmap_mode="r")
            except (OSError, ValueError) as exc:
                log.warning("ignoring unreadable cache shard %s: %s", keys_path, exc)
                continue
            if keys.ndim != 2 or keys.shape[1] != 32 or vectors.shape[:1] != keys.shape[:1]:
                log.warning(
                    "ignoring cache shard %s: shapes %s, %s", name, keys.shape, vectors.shape
                )
                continue
            index.vectors[name] = vectors
            for row, digest in enumerate(keys):
                index.rows[digest.tobytes()] = (name, row)
        return index

    def _lookup(self, key: str, kind: str, hashes: list[str]) -> dict[str, np.ndarray]:
        index = self._index(self._folder(key, kind))
        found: dict[str, np.ndarray] = {}
        for digest in hashes:
            where = index.rows.get(bytes.fromhex(digest))
            if where is None:
                continue
            vector = np.array(index.vectors[where[0]][where[1]], dtype=np.float32)
            if vector.ndim != 1 or not np.isfinite(vector).all():
                log.warning("ignoring a corrupt cache entry in shard %s (will re-embed)", where[0])
                continue
            found[digest] = vector
        return found

    def _store(self, key: str, kind: str, hashes: list[str], vectors: np.ndarray) -> None:
        folder = self._folder(key, kind)
        folder.mkdir(parents=True, exist_ok=True)
        digests = [bytes.fromhex(h) for h in hashes]
        name = hashlib.sha256(b"".join(digests)).hexdigest()[:24]
        # uint8 rows, not numpy "S32" strings: those drop trailing zero bytes of a digest
        keys = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, 32)
        atomic.write_npy(folder / f"{name}.npy", vectors)  # vectors first: see the module doc
        atomic.write_npy(folder / f"{name}.keys.npy", keys)

    def _shard_folders(self, key: str | None = None) -> list[Path]:
        if not self.path.is_dir():
            return []
        pattern = f"{PREFIX}{key}-*" if key else f"{PREFIX}*"
        return sorted(p for p in self.path.glob(pattern) if p.is_dir())

    def _count(self) -> int:
        total = 0
        for folder in self._shard_folders():
            unique: set[bytes] = set()
            for keys_path in folder.glob("*.keys.npy"):
                try:
                    keys = np.load(keys_path)
                except (OSError, ValueError):
                    continue
                unique.update(row.tobytes() for row in keys)
            total += len(unique)
        return total

    def _clear(self, key: str | None) -> int:
        removed = 0
        for folder in self._shard_folders(key):
            removed += len(self._index(folder).rows)
            self._folders.pop(folder, None)
            atomic.remove(folder)
        return removed
