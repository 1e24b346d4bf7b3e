"""Versions of a collection: several embedding spaces side by side, and aliases to them.

A collection folder is version `v1` itself (every collection made before versions
existed is `v1` with nothing to migrate). A later version `vN` is a complete collection
folder at `versions/vN/` (same manifest, database, commit, journal and checksums as any
collection), so it is written and searched by exactly the same code. `versions.json` in
the collection folder lists the versions and the aliases (`current` -> `v1`); it is
replaced atomically (write, fsync, rename) while holding the write lock of the
collection's own database, so two writers never lose each other's change. No file means
one version, `v1`, which `current` points at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedstack.atomic import write_json
from embedstack.errors import CollectionError, InputError
from embedstack.store.records import DATABASE, RecordStore

REGISTRY = "versions.json"
VERSIONS_DIR = "versions"
ROOT_VERSION = "v1"
CURRENT = "current"
BUILDING, READY, DROPPED = "building", "ready", "dropped"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_LOCK_SECONDS = 600.0


@dataclass
class Registry:
    """What `versions.json` holds: version name -> entry, and alias -> version name.

    An entry has `folder` (relative to the collection), `state` (building, ready or
    dropped) and, for versions made by a migration, the `model_spec` and `space` asked
    for (so an interrupted migration resumes only with the same model settings)."""

    versions: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {ROOT_VERSION: {"folder": ".", "state": READY}}
    )
    aliases: dict[str, str] = field(default_factory=lambda: {CURRENT: ROOT_VERSION})

    def live(self) -> list[str]:
        """Names of the versions not dropped, in creation order."""
        return [n for n, e in self.versions.items() if e.get("state") != DROPPED]

    def resolve(self, name: str) -> str:
        """A version name from a version or alias name, or a clear error."""
        target = self.aliases.get(name, name)
        entry = self.versions.get(target)
        if entry is None:
            known = ", ".join(self.live() + sorted(self.aliases)) or "none"
            raise CollectionError(f"no version or alias named {name!r} (known: {known})")
        if entry.get("state") == DROPPED:
            raise CollectionError(f"version {target!r} was dropped; pick another (`versions`)")
        return target

    def aliases_of(self, name: str) -> list[str]:
        """The aliases pointing at version `name`."""
        return sorted(a for a, v in self.aliases.items() if v == name)

    def next_name(self, root: Path) -> str:
        """`v<N+1>` after every version ever listed or left on disk (names never reused)."""
        taken = set(self.versions)
        if (root / VERSIONS_DIR).is_dir():
            taken |= {p.name for p in (root / VERSIONS_DIR).iterdir()}
        numbers = [int(n[1:]) for n in taken if re.fullmatch(r"v\d+", n)]
        return f"v{max(numbers, default=1) + 1}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON written to `versions.json`."""
        return {"format_version": 1, "aliases": self.aliases, "versions": self.versions}


def read_registry(root: Path) -> Registry:
    """The registry of the collection at `root` (the default one when there is no file)."""
    path = root / REGISTRY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Registry()
    except (OSError, ValueError) as exc:
        raise CollectionError(
            f"{path} is unreadable ({exc}): restore it from a backup, or delete it to "
            f"serve only version {ROOT_VERSION} (the collection folder itself)"
        ) from None
    if not isinstance(data, dict) or int(data.get("format_version", 0)) > 1:
        raise CollectionError(f"{path} is from a newer embedstack: upgrade embedstack")
    return Registry(versions=dict(data["versions"]), aliases=dict(data["aliases"]))


@contextmanager
def editing(root: Path) -> Iterator[Registry]:
    """Read, change and atomically rewrite the registry under the collection's write
    lock (the same lock every write takes), so concurrent edits never lose one."""
    store = RecordStore(root / DATABASE, hint=f"the collection at {root} is damaged")
    try:
        with store.writing(_LOCK_SECONDS):
            registry = read_registry(root)
            yield registry
            write_json(root / REGISTRY, registry.to_dict())
    finally:
        store.close()


def check_name(name: str, what: str = "version") -> str:
    """A version or alias name is a short identifier (it names a folder)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(
            f"{what} name {name!r} is not valid: use letters, digits, '-' or '_' "
            "(starting with a letter), e.g. v2 or current"
        )
    return name


def locate(folder: Path) -> tuple[Path, str]:
    """(collection folder, version name) of a version's folder."""
    parent = folder.parent
    if parent.name == VERSIONS_DIR and (parent.parent / REGISTRY).is_file():
        return parent.parent, folder.name
    return folder, ROOT_VERSION


def version_folder(root: Path, name: str | None) -> Path:
    """The folder that version or alias `name` (None: `current`) of `root` lives in."""
    registry = read_registry(root)
    if name is None and CURRENT not in registry.aliases:
        return root
    target = registry.resolve(name or CURRENT)
    return root / registry.versions[target]["folder"]


@dataclass
class VersionInfo:
    """One version as `versions()` lists it."""

    name: str
    folder: Path
    state: str
    rows: int
    space: dict[str, Any] | None
    model_spec: str
    aliases: list[str]

    @property
    def current(self) -> bool:
        """Whether the `current` alias points here."""
        return CURRENT in self.aliases

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the shape of `embedstack versions --json` and the server)."""
        return {
            "name": self.name,
            "current": self.current,
            "aliases": self.aliases,
            "state": self.state,
            "rows": self.rows,
            "model_spec": self.model_spec,
            "space": self.space,
            "folder": str(self.folder),
        }


def list_versions(
    root: Path, count: Callable[[str], tuple[int, dict[str, Any], str]]
) -> list[VersionInfo]:
    """Every live version of `root`; `count(name)` gives (rows, space, model spec)."""
    registry = read_registry(root)
    out = []
    for name in registry.live():
        entry = registry.versions[name]
        folder = root / entry["folder"]
        space: dict[str, Any] | None
        if (folder / "manifest.json").is_file():
            rows, space, spec = count(name)
        else:  # a migration that stopped before creating its folder
            rows, space, spec = 0, entry.get("space"), str(entry.get("model_spec", ""))
        out.append(
            VersionInfo(name, folder, str(entry["state"]), rows, space, spec,
                        registry.aliases_of(name))
        )  # fmt: skip
    return out
