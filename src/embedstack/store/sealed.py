"""A checksummed header for an index folder, so damage is found before it is used.

`seal` writes `SEAL.json` last: a magic string, the index kind, a format version and
the size and CRC-32 of every other file. `verify` refuses a folder whose seal is missing,
foreign or newer, or whose files were truncated or changed, with the command that
rebuilds the index. A damaged ANN graph would otherwise return plausible garbage.
"""

from __future__ import annotations

import json
from pathlib import Path

from embedstack.errors import CollectionError
from embedstack.store.checksums import file_checksum

SEAL = "SEAL.json"
MAGIC = "embedstack-sealed-index"
FORMAT = 1


def crc32_file(path: Path) -> int:
    """CRC-32 of a file, shared with the commit's checksums (store/checksums.py caches
    it by inode, size and mtime), so a large graph file is read once, not twice."""
    return int(file_checksum(path).removeprefix("crc32:"), 16)


def seal(
    directory: Path,
    kind: str,
    known: dict[str, dict[str, int]] | None = None,
    format: int = FORMAT,
) -> None:
    """Write `SEAL.json` for the files now in `directory` (call last). `known` gives the
    entries of files hard-linked from an earlier sealed folder (same bytes), so a large
    unchanged file is not read again; `format` is the index kind's layout version."""
    known = known or {}
    files = {
        p.name: known.get(p.name) or {"size": p.stat().st_size, "crc32": crc32_file(p)}
        for p in sorted(directory.iterdir())
        if p.is_file() and p.name != SEAL
    }
    blob = {"magic": MAGIC, "kind": kind, "format": format, "files": files}
    (directory / SEAL).write_text(json.dumps(blob, indent=1), encoding="utf-8")


def sealed_entry(directory: Path, name: str) -> dict[str, int] | None:
    """The size and CRC the seal of `directory` records for `name` (None if it has none)."""
    try:
        header = json.loads((directory / SEAL).read_text(encoding="utf-8"))
        entry = header["files"][name]
        return {"size": int(entry["size"]), "crc32": int(entry["crc32"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def verify(directory: Path, kind: str, rebuild: str, newest: int = FORMAT) -> None:
    """Raise `CollectionError` naming the damage and `rebuild` unless the folder is intact
    (`newest`: the newest layout version of this index kind the caller can read)."""

    def fail(problem: str) -> CollectionError:
        return CollectionError(
            f"the {kind} index in {directory} is damaged ({problem}); the collection will "
            f"not search it. Rebuild it: {rebuild}"
        )

    try:
        header = json.loads((directory / SEAL).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise fail(f"{SEAL} is missing") from None
    except (OSError, ValueError) as exc:
        raise fail(f"{SEAL} is unreadable: {exc}") from None
    if not isinstance(header, dict) or header.get("magic") != MAGIC or header.get("kind") != kind:
        raise fail(f"{SEAL} does not describe a {kind} index")
    if int(header.get("format", 0)) > newest:
        raise CollectionError(
            f"the {kind} index in {directory} has format {header['format']}, newer than "
            f"this embedstack understands ({newest}): upgrade embedstack"
        )
    for name, expected in dict(header.get("files", {})).items():
        path = directory / name
        if not path.is_file():
            raise fail(f"{name} is missing")
        size = path.stat().st_size
        if size != expected["size"]:
            raise fail(f"{name} has {size} bytes, expected {expected['size']}: truncated?")
        if crc32_file(path) != expected["crc32"]:
            raise fail(f"{name} fails its checksum")
