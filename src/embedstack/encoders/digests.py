"""sha256 digests of model files, remembered across processes.

A model's fingerprint (part of its embedding space) is the sha256 of its weights:
hashing 90 MB of MiniLM costs ~0.2 s, paid by every `embedstack search` before. The
digest is kept in memory per process and on disk under the cache folder, keyed by the
file's path, size, inode, mtime and ctime; any write to the file changes its ctime, so
a changed file is hashed again.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from embedstack.config import cache_dir

log = logging.getLogger(__name__)

_HASHES: dict[str, str] = {}


def _key(path: Path) -> str:
    stat = path.stat()
    parts = (str(path.resolve()), stat.st_size, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns)
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file, computed once per version of the file (see the module doc)."""
    key = _key(path)
    if key in _HASHES:
        return _HASHES[key]
    record: Path | None = None
    try:
        record = cache_dir("digests") / key
        stored = record.read_text("ascii").strip() if record.is_file() else ""
    except OSError:
        stored = ""
    if len(stored) == 64 and all(c in "0123456789abcdef" for c in stored):
        _HASHES[key] = stored
        return stored
    digest = _hash(path)
    _HASHES[key] = digest
    if record is not None:
        try:  # a cache: best effort, written whole or not at all
            partial = record.with_name(f"{key}.{os.getpid()}.tmp")
            partial.write_text(digest, "ascii")
            os.replace(partial, record)
        except OSError as exc:
            log.debug("could not remember the digest of %s: %s", path, exc)
    return digest
