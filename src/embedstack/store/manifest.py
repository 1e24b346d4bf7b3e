"""The collection manifest: what a folder holds and how to rebuild its encoder.

`manifest.json` is written once, atomically, when a collection is created; it is the
marker that a folder is a collection. Everything that changes with writes (rows, vector
segments, index state) lives in the SQLite database, which is the single commit point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedstack.atomic import write_json
from embedstack.errors import CollectionError
from embedstack.types import EmbeddingSpace

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
METRICS = ("cosine", "dot", "euclidean")


def _reindex_hint(folder: Path) -> str:
    return (
        f"re-create it with `embedstack index YOUR_FILES --into {folder}` (delete the folder first)"
    )


@dataclass
class Manifest:
    """`space` makes vectors comparable; `model_spec` is what `load_encoder` needs to
    rebuild the encoder; `indexes` maps each secondary index name to its config."""

    space: EmbeddingSpace
    model_spec: str
    metric: str = "cosine"
    indexes: dict[str, dict[str, Any]] = field(default_factory=dict)
    library_version: str = ""
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The manifest as the JSON written to the collection folder."""
        return {
            "format_version": self.format_version,
            "library_version": self.library_version,
            "model_spec": self.model_spec,
            "metric": self.metric,
            "space": self.space.to_dict(),
            "indexes": self.indexes,
        }

    def write(self, folder: Path) -> None:
        """Write the manifest into the collection folder, atomically."""
        write_json(folder / MANIFEST, self.to_dict())

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """Read a folder's manifest, with an error saying how to fix a missing or bad one."""
        path = folder / MANIFEST
        if not folder.is_dir():
            raise CollectionError(
                f"no collection at {folder}: create one with "
                f"`embedstack index YOUR_FILES --into {folder}`"
            )
        if not path.is_file():
            raise CollectionError(
                f"{path} is missing, so {folder} is not a usable collection: "
                + _reindex_hint(folder)
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            version = int(data["format_version"])
            if version > FORMAT_VERSION:
                raise CollectionError(
                    f"{path} has format version {version}, newer than this embedstack "
                    f"understands ({FORMAT_VERSION}): upgrade embedstack"
                )
            metric = str(data.get("metric", "cosine"))
            if metric not in METRICS:
                raise CollectionError(
                    f'{path} has "metric": {metric!r}, which embedstack does not know; '
                    f"use one of {', '.join(METRICS)} (the metric the collection was made with)"
                )
            return cls(
                space=EmbeddingSpace.from_dict(data["space"]),
                model_spec=str(data["model_spec"]),
                metric=metric,
                indexes={str(k): dict(v) for k, v in data.get("indexes", {}).items()},
                library_version=str(data.get("library_version", "")),
                format_version=version,
            )
        except CollectionError:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CollectionError(
                f"{path} is corrupt ({type(exc).__name__}: {exc}): " + _reindex_hint(folder)
            ) from exc
