"""Versions on the PostgreSQL backend: one version, `v1`, and no migrations.

A PostgreSQL collection is one table in one embedding space. Re-embedding it in place
would need a second vector column per model; instead, build the new model's collection
beside it and switch the URL your application uses. Each refusal below says how.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from embedstack.errors import CollectionError
from embedstack.store.versions import CURRENT, READY, ROOT_VERSION, VersionInfo

if TYPE_CHECKING:
    from embedstack.store.manifest import Manifest
    from embedstack.types import EmbeddingSpace


def refuse_versions(what: str, location: object) -> NoReturn:
    """The one error for version operations on a PostgreSQL collection."""
    raise CollectionError(
        f"{what} is not supported for PostgreSQL collections ({location}): keep versions in "
        "a folder collection, or index the new model into a new PostgreSQL collection "
        "(`embedstack index YOUR_FILES --into 'postgresql://.../db?collection=NAME_v2' "
        "--model SPEC`) and point your application at it when it is ready"
    )


class PgVersions:
    """The versions API of `Collection`, as far as one table allows."""

    if TYPE_CHECKING:
        manifest: Manifest

        @property
        def path(self) -> str:
            """The URL with its password hidden."""

        @property
        def space(self) -> EmbeddingSpace:
            """The collection's embedding space."""

        def __len__(self) -> int: ...

    def versions(self) -> list[VersionInfo]:
        """The one version of a PostgreSQL collection."""
        return [
            VersionInfo(ROOT_VERSION, self.path, READY, len(self), self.space.to_dict(),  # type: ignore[arg-type]
                        self.manifest.model_spec, [CURRENT])
        ]  # fmt: skip

    def set_alias(self, alias: str, version: str) -> None:
        """Refused: a PostgreSQL collection has one version."""
        refuse_versions("set_alias", self.path)

    def drop_version(self, name: str) -> None:
        """Refused: a PostgreSQL collection has one version."""
        refuse_versions("drop_version", self.path)

    def migrate(self, to: Any, **options: Any) -> NoReturn:
        """Refused: build the new model's collection beside this one (see the error)."""
        refuse_versions("migrate", self.path)
