"""The versions half of `Collection`: list, migrate, alias, drop; writes reach every version.

A `Collection` object is one version (the one `current` pointed at when it was opened,
or the one named with `Collection.open(DIR, version=...)`), so a search never mixes two
spaces. Its writes go to its own version first, then to every other live version (each
embeds with its own encoder), which keeps a version under construction and the previous
one (for rollback) in step. A version that missed a write (its encoder failed, the
process died in between) is brought back in step by `migrate` and by `set_alias`, which
both compare rows by content hash before they finish.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedstack.errors import CollectionError, EmbedstackError
from embedstack.progress import Progress
from embedstack.store.changes import UpsertReport
from embedstack.store.indexes import is_vector_index
from embedstack.store.manifest import MANIFEST, Manifest
from embedstack.store.opening import resolve_encoder
from embedstack.store.version_sync import same_rows, sync, sync_ids
from embedstack.store.versions import (
    BUILDING,
    CURRENT,
    DROPPED,
    READY,
    REGISTRY,
    VERSIONS_DIR,
    VersionInfo,
    check_name,
    editing,
    list_versions,
    read_registry,
)
from embedstack.store.writes import CollectionWrites

if TYPE_CHECKING:
    import numpy as np

    from embedstack.encoders.base import Encoder
    from embedstack.store.collection import Collection
    from embedstack.types import EmbeddingSpace

log = logging.getLogger(__name__)
_SYNC_ROUNDS = 3  # catch-up passes when writes keep landing while a migration finishes


@dataclass
class MigrationResult:
    """What `migrate` did: the version built (or resumed), texts embedded by this run,
    and its row count (equal to the source's when it finished)."""

    version: str
    source: str
    embedded: int
    rows: int
    resumed: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


class CollectionVersions(CollectionWrites):
    """Mixed into `Collection` before the write half, so its writes are mirrored."""

    if TYPE_CHECKING:
        path: Path
        root: Path
        version: str
        manifest: Manifest
        _siblings: dict[str, Collection]

        @property
        def space(self) -> EmbeddingSpace:
            """The collection's embedding space."""

        def __len__(self) -> int: ...
        def ids_where(self, where: dict[str, Any]) -> list[str]:
            """Ids of the rows a metadata filter matches."""

    # -- writes reach every version ------------------------------------------------------
    def add(self, texts: Any = None, ids: Any = None, metadata: Any = None, **kw: Any) -> list[str]:
        """`CollectionWrites.add`, then the same rows into every other live version."""
        self._refuse_dropped()
        out = super().add(texts, ids, metadata, **kw)
        self._mirror(out)
        return out

    def upsert(
        self, texts: Any = None, ids: Any = None, metadata: Any = None, **kw: Any
    ) -> UpsertReport:
        """`CollectionWrites.upsert`, then the changed rows into every other live version."""
        self._refuse_dropped()
        out = super().upsert(texts, ids, metadata, **kw)
        self._mirror(out.added + out.updated + out.metadata_only)
        return out

    def upsert_vectors(
        self, vectors: np.ndarray, ids: Sequence[str], *args: Any, **kw: Any
    ) -> UpsertReport:
        """`CollectionWrites.upsert_vectors`; other versions embed the rows' texts."""
        self._refuse_dropped()
        out = super().upsert_vectors(vectors, ids, *args, **kw)
        self._mirror(out.added + out.updated + out.metadata_only)
        return out

    def delete(
        self, ids: Sequence[str] | None = None, *, where: dict[str, Any] | None = None
    ) -> int:
        """`CollectionWrites.delete`, then the same rows out of every other live version."""
        self._refuse_dropped()
        mirrored = self._has_siblings()
        gone = list(ids) if ids is not None and not isinstance(ids, str) else None
        if mirrored and gone is None and where is not None:
            gone = self.ids_where(where)  # the rows to check in the other versions after
        count = super().delete(ids, where=where)
        if mirrored and gone:
            self._mirror(gone)
        return count

    def _upsert_here(self, texts: Any, ids: Any, metadata: Any, **kw: Any) -> UpsertReport:
        """This version only (what a migration batch and a mirrored write use)."""
        return CollectionWrites.upsert(self, texts, ids, metadata, **kw)

    def _delete_here(self, ids: Sequence[str]) -> int:
        """This version only."""
        return CollectionWrites.delete(self, ids)

    def _has_siblings(self) -> bool:
        return (self.root / REGISTRY).is_file() and len(read_registry(self.root).live()) > 1

    def _refuse_dropped(self) -> None:
        if (self.root / REGISTRY).is_file():
            entry = read_registry(self.root).versions.get(self.version, {})
            if entry.get("state") == DROPPED:
                raise CollectionError(
                    f"version {self.version} of {self.root} was dropped: reopen the "
                    f"collection (`Collection.open({str(self.root)!r})`) to write to it"
                )

    def _mirror(self, ids: Sequence[str]) -> None:
        if not ids or not (self.root / REGISTRY).is_file():
            return
        registry = read_registry(self.root)
        for name in registry.live():
            folder = self.root / registry.versions[name]["folder"]
            if name == self.version or not (folder / MANIFEST).is_file():
                continue
            try:
                sync_ids(self, self._sibling(name), ids)  # type: ignore[arg-type]
            except EmbedstackError as exc:
                log.warning(
                    "version %s of %s did not get this write (%s); it is brought in step "
                    "by `embedstack migrate` or when an alias is switched to it",
                    name, self.root, exc,
                )  # fmt: skip

    def _sibling(self, name: str) -> Collection:
        """Another version of this collection, opened once (its encoder from its manifest)."""
        from embedstack.store.collection import Collection

        if name not in self._siblings:
            self._siblings[name] = Collection.open(self.root, version=name)
        return self._siblings[name]

    # -- versions ------------------------------------------------------------------------
    def versions(self) -> list[VersionInfo]:
        """Every live version: name, state, rows, space, model spec and its aliases."""

        def count(name: str) -> tuple[int, dict[str, Any], str]:
            from embedstack.store.collection import Collection

            with Collection.open(self.root, version=name) as one:
                return len(one), one.space.to_dict(), one.manifest.model_spec

        return list_versions(self.root, count)

    def set_alias(self, alias: str, version: str) -> None:
        """Point `alias` (e.g. "current") at `version`, atomically. Switching `current`
        first brings the target in step with the version `current` points at now, so a
        rollback serves the same rows. Open collections keep their version; reopen."""
        check_name(alias, "alias")
        registry = read_registry(self.root)
        if alias in registry.versions:
            raise CollectionError(f"{alias!r} is a version name: choose another alias name")
        target = registry.resolve(version)
        if registry.versions[target]["state"] != READY:
            raise CollectionError(
                f"version {target} is still being built: finish it with `embedstack migrate "
                f"{self.root} --to-model {registry.versions[target].get('model_spec', 'SPEC')}`"
            )
        now = registry.aliases.get(alias)
        if alias == CURRENT and now is not None and now != target:
            source, goal = self._sibling_or_self(now), self._sibling_or_self(target)
            if not same_rows(source, goal):
                sync(source, goal)
        with editing(self.root) as fresh:
            fresh.resolve(target)  # not dropped meanwhile
            fresh.aliases[alias] = target

    def _sibling_or_self(self, name: str) -> Collection:
        return self if name == self.version else self._sibling(name)  # type: ignore[return-value]

    def drop_version(self, name: str) -> None:
        """Delete version `name` and its vectors. The version an alias points at is
        refused (point the alias elsewhere first); version v1 (the collection folder
        itself) is emptied, since the folder keeps the collection's registry."""
        check_name(name)
        with editing(self.root) as registry:
            if name in registry.aliases and name not in registry.versions:
                raise CollectionError(f"{name!r} is an alias: drop a version name instead")
            registry.resolve(name)
            pointing = registry.aliases_of(name)
            if pointing:
                other = next((v for v in registry.live() if v != name), "vN")
                raise CollectionError(
                    f"version {name} is what {', '.join(pointing)} points at: point it at "
                    f"another version first (`embedstack alias {self.root} current {other}`)"
                )
            registry.versions[name]["state"] = DROPPED
            folder = self.root / registry.versions[name]["folder"]
        self._siblings.pop(name, None)
        if folder.resolve() != self.root.resolve():
            shutil.rmtree(folder, ignore_errors=True)
            return
        from embedstack.store.collection import Collection

        with Collection(self.root, Manifest.read(self.root), None) as root:
            root._delete_here(root.ids())
            root.compact()
        shutil.rmtree(self.root / "drift", ignore_errors=True)  # the profile of v1's vectors

    def migrate(
        self, to: Encoder | str, *, batch_size: int = 64, progress: Progress | None = None
    ) -> MigrationResult:
        """Build (or resume building) a version embedded by `to` from the stored texts of
        the `current` version, beside it; `current` keeps serving until you switch with
        `set_alias("current", result.version)`. Killed and re-run with the same model
        settings, it embeds only the rows no committed batch holds yet."""
        from embedstack.store.collection import Collection

        encoder, spec = resolve_encoder(to)
        registry = read_registry(self.root)
        source = self._sibling_or_self(registry.resolve(CURRENT))
        name, resumed = self._target(registry, encoder.space, spec, source)
        folder = self.root / read_registry(self.root).versions[name]["folder"]
        if (folder / MANIFEST).is_file():
            target = Collection.open(self.root, encoder, version=name)
        else:
            target = Collection.create(
                folder, encoder, indexes=_index_configs(source, encoder.space.dim),
                metric=source.manifest.metric,
            )  # fmt: skip
        self._siblings[name] = target
        result = sync(source, target, batch_size=batch_size, progress=progress)
        for _ in range(_SYNC_ROUNDS):
            if same_rows(source, target):
                break
            result.embedded += sync(source, target, batch_size=batch_size).embedded
        else:
            raise CollectionError(
                f"version {name} has {len(target)} rows but {source.version} has "
                f"{len(source)}: writes kept landing meanwhile; run migrate again"
            )
        with editing(self.root) as fresh:
            fresh.versions[name]["state"] = READY
        return MigrationResult(name, source.version, result.embedded, len(target), resumed)

    def _target(
        self, registry: Any, space: EmbeddingSpace, spec: str, source: Collection
    ) -> tuple[str, bool]:
        """The version a migration to `space` builds: the unfinished one, or a new one."""
        from embedstack.types import EmbeddingSpace as Space

        for name in registry.live():
            entry = registry.versions[name]
            recorded = entry.get("space")
            folder = self.root / entry["folder"]
            ready = entry["state"] == READY and (folder / MANIFEST).is_file()
            if ready and name != source.version and Manifest.read(folder).space == space:
                return name, True  # built before and kept: bring it in step, reuse it
            if entry["state"] != BUILDING:
                continue
            if recorded is not None and Space.from_dict(recorded) == space:
                return name, True
            differences = "; ".join(Space.from_dict(recorded).diff(space)) if recorded else ""
            raise CollectionError(
                f"version {name} of {self.root} is being built in another embedding space "
                f"({differences}): re-run with its settings (--to-model "
                f"{entry.get('model_spec')}) to finish it, or drop it first "
                f"(`embedstack versions {self.root} --drop {name}`)"
            )
        if source.space == space:
            raise CollectionError(
                f"{self.root} already serves this embedding space ({source.version}): "
                "nothing to migrate; choose another model or settings"
            )
        with editing(self.root) as fresh:
            name = fresh.next_name(self.root)
            fresh.versions[name] = {
                "folder": f"{VERSIONS_DIR}/{name}",
                "state": BUILDING,
                "model_spec": spec,
                "space": space.to_dict(),
            }
        return name, False


def _index_configs(source: Collection, dim: int) -> dict[str, dict[str, Any]]:
    """The source version's secondary indexes for a new version of dimension `dim` (a
    vector index keeps its settings, but not a Matryoshka cut wider than the new model)."""
    configs = {}
    for name, recorded in source.manifest.indexes.items():
        config = dict(recorded)
        if is_vector_index(name) and (config.get("dims") or 0) >= dim:
            config["dims"] = None
        configs[name] = config
    return configs
