"""Bring your own vectors: add, upsert and search precomputed vectors in a collection.

A collection made with `Collection.create(path, dim=384)` has no encoder: its space is
`own_space(dim)` and rows come with vectors (texts optional). A collection with an
encoder takes precomputed vectors too when the caller states their space and it equals
the collection's. Either way the rows go through the same commit as embedded texts, so
vector indexes (HNSW, compressed codes) are updated and saved with them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from embedstack.errors import CollectionError, InputError, SpaceMismatchError
from embedstack.store.changes import ChangeSet, UpsertReport, check_ids, check_metadata
from embedstack.store.indexes import VectorIndex, is_vector_index
from embedstack.store.vector_search import search_many
from embedstack.types import EmbeddingSpace

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from pathlib import Path

    from embedstack.store.flat import FlatVectors
    from embedstack.store.manifest import Manifest
    from embedstack.store.records import RecordStore


def check_own_vectors(vectors: Any, dim: int, ids: Sequence[str] | None = None) -> np.ndarray:
    """(n, dim) float32, or an error naming both dimensions / the ids holding NaN or inf."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim:
        got = arr.shape[-1] if arr.ndim else 0
        raise InputError(
            f"dimension mismatch: the vectors have {got} dimensions (shape {arr.shape}), "
            f"but this collection holds {dim}-dimensional vectors"
        )
    if np.isfinite(arr).all():  # the common case, checked without building index lists
        return arr
    bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
    if len(bad):
        names = [ids[i] if ids is not None else f"#{i}" for i in bad[:10]]
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise InputError(
            f"{len(bad)} vector(s) contain NaN or infinity: {', '.join(map(str, names))}{more}; "
            "nothing was written"
        )
    return arr


def vector_hash(text: str, vector: np.ndarray) -> str:
    """Content hash of a row given as a vector: changes when the text or vector does."""
    digest = hashlib.sha256(text.encode("utf-8"))
    digest.update(np.ascontiguousarray(vector, dtype=np.float32).tobytes())
    return digest.hexdigest()


class OwnVectors:
    """The vector half of `Collection` (mixed in; uses the commit of CollectionWrites)."""

    if TYPE_CHECKING:
        path: Path
        manifest: Manifest
        _store: RecordStore
        _vectors: FlatVectors

        @property
        def space(self) -> EmbeddingSpace:
            """The collection's embedding space."""

        @property
        def index_names(self) -> list[str]:
            """Names of the collection's secondary indexes."""

        @property
        def _metric(self) -> str: ...
        def _writing(self) -> AbstractContextManager[Any]: ...
        def _stage(self, changes: ChangeSet, write: Any) -> None: ...
        def _index(self, name: str) -> Any: ...
        def _alive_rows(self) -> np.ndarray: ...

    def _own_inputs(
        self,
        ids: Sequence[str] | None,
        vectors: np.ndarray | None,
        texts: Sequence[str] | None,
        space: EmbeddingSpace | None,
    ) -> tuple[list[str], np.ndarray, list[str]]:
        if vectors is None:
            raise InputError("give texts to embed, or vectors=... (with ids) to store as they are")
        if ids is None:
            raise InputError("vectors need ids: pass ids=[...] with one id per vector")
        if self.manifest.model_spec and space is None:
            raise SpaceMismatchError(
                f"{self.path} embeds with {self.manifest.model_spec!r}: pass space=... (the "
                "EmbeddingSpace your vectors were made in, e.g. encoder.space) to add "
                "precomputed vectors, so vectors of another model are never mixed in"
            )
        if space is not None:
            space.require_same(self.space, "collection")
        id_list = check_ids(ids, len(ids))
        arr = check_own_vectors(vectors, self.space.dim, id_list)
        if arr.shape[0] != len(id_list):
            raise InputError(f"got {arr.shape[0]} vectors for {len(id_list)} ids: give one each")
        text_list = [""] * len(id_list) if texts is None else [str(t) for t in texts]
        if len(text_list) != len(id_list):
            raise InputError(f"got {len(text_list)} texts for {len(id_list)} vectors")
        return id_list, arr, text_list

    def _add_own_vectors(
        self,
        ids: Sequence[str] | None,
        vectors: np.ndarray | None,
        metadata: Sequence[dict[str, Any]] | None = None,
        *,
        texts: Sequence[str] | None = None,
        space: EmbeddingSpace | None = None,
    ) -> list[str]:
        """Store precomputed vectors under new ids (an existing id is refused)."""
        id_list, arr, text_list = self._own_inputs(ids, vectors, texts, space)
        metas = check_metadata(metadata, len(id_list))
        hashes = [vector_hash(t, v) for t, v in zip(text_list, arr, strict=True)]
        with self._writing() as write:
            clash = self._store.lookup(id_list)
            if clash:
                raise InputError(
                    f"{len(clash)} id(s) already in the collection (e.g. {next(iter(clash))!r}): "
                    "use upsert to replace them"
                )
            self._stage(ChangeSet(id_list, text_list, metas, hashes, arr), write)
        return id_list

    def _upsert_own_vectors(
        self,
        ids: Sequence[str] | None,
        vectors: np.ndarray | None,
        metadata: Sequence[dict[str, Any]] | None = None,
        *,
        texts: Sequence[str] | None = None,
        space: EmbeddingSpace | None = None,
        hashes: Sequence[str] | None = None,
    ) -> UpsertReport:
        """Insert or replace rows by id; rows whose text and vector (or given `hashes`,
        e.g. of image files) are unchanged are kept (only differing metadata updated)."""
        id_list, arr, text_list = self._own_inputs(ids, vectors, texts, space)
        metas = None if metadata is None else check_metadata(metadata, len(id_list))
        if hashes is not None and len(hashes) != len(id_list):
            raise InputError(f"got {len(hashes)} hashes for {len(id_list)} rows: give one each")
        report = UpsertReport()
        with self._writing() as write:
            existing = self._store.lookup(id_list)
            changes, picked = ChangeSet(), []
            for i, id_ in enumerate(id_list):
                meta, old = (metas[i] if metas else None), existing.get(id_)
                digest = hashes[i] if hashes is not None else vector_hash(text_list[i], arr[i])
                if old is not None and old[1] == digest:
                    if meta is not None and meta != json.loads(old[2]):
                        report.metadata_only.append(id_)
                        changes.metadata_updates[id_] = meta
                    else:
                        report.unchanged.append(id_)
                    continue
                (report.added if old is None else report.updated).append(id_)
                if old is not None:
                    changes.deleted_rows.append(old[0])
                    meta = json.loads(old[2]) if meta is None else meta
                changes.ids.append(id_)
                changes.texts.append(text_list[i])
                changes.metadata.append(meta or {})
                changes.hashes.append(digest)
                picked.append(i)
            changes.vectors = arr[picked]
            self._stage(changes, write)
        return report

    # -- search --------------------------------------------------------------------------
    def _vector_index(self) -> VectorIndex | None:
        for name in self.index_names:
            if is_vector_index(name):
                return self._index(name)
        return None

    def _search_vector_index(
        self, queries: np.ndarray, k: int, rows: np.ndarray, filtered: bool
    ) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """(rows, scores) of each query through the vector index, or None without one."""
        index = self._vector_index()
        if index is None:
            return None
        live = len(self._alive_rows())
        allowed = None if not filtered and live == self._vectors.total else rows
        return search_many(
            index,  # type: ignore[arg-type]
            self._vectors,
            self._metric,
            queries,
            k=k,
            rows=allowed,
            live=live,
            filtered=filtered,
        )


def require_encoder(manifest_spec: str, path: object) -> None:
    """A collection of own vectors has no model: text search needs vectors instead."""
    if not manifest_spec:
        raise CollectionError(
            f"{path} holds your own vectors and has no encoder: search it with "
            "search_vector(vector, k), or create the collection "
            "with a model to search by text"
        )
