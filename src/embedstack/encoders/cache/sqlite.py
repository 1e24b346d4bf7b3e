"""The SQLite backend of `VectorCache`: one file, WAL mode, one transaction per write,
opened through the one SQLite helper (`embedstack.sqlite`: pragmas, numbered
migrations, newer-schema refusal) that collections use too.

Rows are (cache key, kind, sha256 of the text) -> a raw float32 blob. Safe to share
between threads and between processes; the default store of `CachedEncoder`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from embedstack.config import cache_dir
from embedstack.encoders.cache.store import VectorCache
from embedstack.sqlite import open_database, write_transaction

log = logging.getLogger(__name__)

_MIGRATIONS = {
    1: """
    CREATE TABLE IF NOT EXISTS embeddings (
        space   TEXT    NOT NULL,
        kind    TEXT    NOT NULL,
        hash    TEXT    NOT NULL,
        dim     INTEGER NOT NULL,
        vector  BLOB    NOT NULL,
        created REAL    NOT NULL,
        PRIMARY KEY (space, kind, hash)
    ) WITHOUT ROWID;
    """,
}


def default_sqlite_path() -> Path:
    """`embeddings/cache.sqlite` under `EMBEDSTACK_HOME` (or the user cache dir)."""
    return cache_dir("embeddings") / "cache.sqlite"


class SqliteVectorCache(VectorCache):
    """`VectorCache` in one SQLite file (default: `default_sqlite_path()`)."""

    backend = "sqlite"

    def __init__(self, path: str | Path | None = None, memory_items: int = 4096) -> None:
        super().__init__(memory_items)
        self.path = Path(path).expanduser() if path else default_sqlite_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = open_database(
            self.path,
            _MIGRATIONS,
            create=True,
            synchronous="NORMAL",  # a lost last write is re-embedded, never wrong
            hint="delete the file to start a fresh cache, or pass another path",
        )

    def _lookup(self, key: str, kind: str, hashes: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):  # stay under SQLite's variable limit
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT hash, dim, vector FROM embeddings "
                f"WHERE space=? AND kind=? AND hash IN ({marks})",
                (key, kind, *chunk),
            ).fetchall()
            for digest, dim, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32) if len(blob) == 4 * dim else None
                if vector is None or not np.isfinite(vector).all():
                    log.warning("ignoring a corrupt cache entry %s (will re-embed)", digest)
                    continue
                found[digest] = vector
        return found

    def _store(self, key: str, kind: str, hashes: list[str], vectors: np.ndarray) -> None:
        now = time.time()
        dim = int(vectors.shape[1])
        rows = [(key, kind, h, dim, vectors[i].tobytes(), now) for i, h in enumerate(hashes)]
        with write_transaction(self._db):
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?, ?)", rows
            )

    def _count(self) -> int:
        count: int = self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        return count

    def _clear(self, key: str | None) -> int:
        with write_transaction(self._db):
            if key is None:
                cur = self._db.execute("DELETE FROM embeddings")
            else:
                cur = self._db.execute("DELETE FROM embeddings WHERE space=?", (key,))
            return cur.rowcount

    def close(self) -> None:
        """Close the database connection."""
        super().close()
        with self._lock:
            self._db.close()


EmbeddingCache = SqliteVectorCache
"""The historical name of the SQLite backend (kept: it is public API)."""
