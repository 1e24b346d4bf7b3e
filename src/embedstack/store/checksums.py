"""Checksums of the files a commit lists (vector segments, index folders).

A commit records a CRC-32 of every file it makes part of the collection; opening
verifies them once per process (results are cached by inode, size and mtime, so a file
hard-linked into the next index generation is not read twice). A flipped byte, a
truncated file or a value overwritten by hand (e.g. a float set to 1e30) is then
refused with the file named, instead of silently changing search results. CRC-32 finds
accidental damage, not tampering, and reads at memory speed.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

from embedstack.errors import StorageError

_CHUNK = 1 << 20
_CACHE: dict[tuple[int, int, int, int], str] = {}


def file_checksum(path: Path) -> str:
    """`crc32:xxxxxxxx` of the file's bytes."""
    stat = os.stat(path)
    key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key in _CACHE:
        return _CACHE[key]
    crc = 0
    with open(path, "rb") as handle:
        while block := handle.read(_CHUNK):
            crc = zlib.crc32(block, crc)
    digest = f"crc32:{crc:08x}"
    if len(_CACHE) > 100_000:
        _CACHE.clear()
    _CACHE[key] = digest
    return digest


def tree_checksums(directory: Path) -> str:
    """JSON `{relative path: checksum}` of every file under `directory`."""
    sums = {
        p.relative_to(directory).as_posix(): file_checksum(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
    return json.dumps(sums, sort_keys=True)


def verify_file(path: Path, expected: str | None, fix: str) -> None:
    """Refuse a file whose checksum differs from the committed one (None: not recorded,
    as in collections written before checksums existed)."""
    if expected is None:
        return
    actual = file_checksum(path)
    if actual != expected:
        raise StorageError(
            f"{path} is damaged: its checksum is {actual}, but the commit recorded "
            f"{expected} (the file changed on disk); {fix}"
        )


def verify_tree(directory: Path, expected: str | None, fix: str) -> None:
    """Refuse an index folder with a missing or changed file."""
    if expected is None:
        return
    try:
        sums: dict[str, str] = json.loads(expected)
    except ValueError:
        raise StorageError(f"the recorded checksums of {directory} are unreadable; {fix}") from None
    for name, digest in sums.items():
        path = directory / name
        if not path.is_file():
            raise StorageError(f"{path} is missing; {fix}")
        verify_file(path, digest, fix)
