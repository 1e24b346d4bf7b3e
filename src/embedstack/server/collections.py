"""Collection endpoints: create, list, info, add/upsert, delete, get, search.

Names are plain identifiers resolved under the configured collections folder, so no
request can make the server read or write an arbitrary path.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from embedstack.errors import SpaceMismatchError
from embedstack.search.pipeline import Pipeline
from embedstack.search.rerank import CrossEncoderReranker
from embedstack.search.spec import PipelineSpec
from embedstack.server.errors import ApiError
from embedstack.server.schemas import (
    NAME_PATTERN,
    CollectionCreate,
    CollectionInfo,
    CollectionList,
    DeleteRequest,
    DeleteResult,
    DocumentOut,
    DocumentsWrite,
    HitOut,
    SearchRequest,
    SearchResponse,
    WriteResult,
)
from embedstack.store.collection import Collection

router = APIRouter(prefix="/v1/collections", tags=["collections"])
_NAME = re.compile(NAME_PATTERN)


class CollectionRegistry:
    """Open collections under one root, each guarded by a lock (collections are not
    thread-safe; writes are atomic on disk)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._open: dict[str, Any] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def path(self, name: str) -> Path:
        """The folder of collection `name`; refuses names that are not plain identifiers."""
        if self.root is None:
            raise ApiError(
                404,
                "this server has no collections folder; start it with --collections DIR",
                code="collections_disabled",
            )
        if not _NAME.fullmatch(name):  # match() would accept a trailing newline
            raise ApiError(400, f"invalid collection name {name!r}", param="name")
        return self.root / name

    def lock(self, name: str) -> threading.Lock:
        """The lock that serialises work on collection `name`."""
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def names(self) -> list[str]:
        """Names of the collections under the root."""
        if self.root is None or not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "manifest.json").exists())

    def get(self, name: str, encoders: list[Any]) -> Any:
        """Collection `name`, opened once (sharing a served encoder when the space matches)."""
        path = self.path(name)
        if name in self._open and _still_current(path, self._open[name]):
            return self._open[name]
        if name in self._open:  # `current` moved to another version: serve that one
            self._open.pop(name).close()
        if not (path / "manifest.json").exists():
            raise ApiError(404, f"no collection named {name!r}", code="collection_not_found")
        collection = None
        for encoder in encoders:  # share a served model's encoder when the space matches
            try:
                collection = Collection.open(path, encoder=encoder)
                break
            except SpaceMismatchError:
                continue
        if collection is None:
            collection = Collection.open(path)
        self._open[name] = collection
        return collection

    def create(self, name: str, encoder: Any, indexes: dict[str, Any]) -> Any:
        """Create collection `name` with this encoder and indexes."""
        path = self.path(name)
        if (path / "manifest.json").exists():
            raise ApiError(409, f"collection {name!r} already exists", code="collection_exists")
        assert self.root is not None
        self.root.mkdir(parents=True, exist_ok=True)
        collection = Collection.create(path, encoder=encoder, indexes=indexes)
        self._open[name] = collection
        return collection

    def drop(self, name: str) -> None:
        """Delete collection `name` and its folder."""
        path = self.path(name)
        if not (path / "manifest.json").exists():
            raise ApiError(404, f"no collection named {name!r}", code="collection_not_found")
        self._open.pop(name, None)
        shutil.rmtree(path)


def _still_current(path: Path, collection: Any) -> bool:
    """Whether the `current` alias still points at the version `collection` holds."""
    from embedstack.store.versions import REGISTRY, version_folder

    if not (path / REGISTRY).is_file():
        return True
    return Path(version_folder(path, None)).resolve() == Path(collection.path).resolve()


def _registry(request: Request) -> CollectionRegistry:
    state = request.app.state
    if not hasattr(state, "collections"):
        state.collections = CollectionRegistry(state.settings.collections_dir)
    return state.collections


def _served_encoders(request: Request) -> list[Any]:
    pool = request.app.state.pool
    return [pool.get_loaded(spec).encoder for spec in pool.specs]


def _info(name: str, collection: Any) -> CollectionInfo:
    space = collection.space
    return CollectionInfo(
        name=name, count=len(collection), model=space.model, dim=space.dim, space=space.to_dict()
    )


async def _locked(request: Request, name: str, work: Any) -> Any:
    """Run `work(collection)` in a thread under the collection's lock."""
    registry = _registry(request)

    def run() -> Any:
        with registry.lock(name):
            return work(registry.get(name, _served_encoders(request)))

    return await asyncio.to_thread(run)


@router.get("", response_model=CollectionList)
async def list_collections(request: Request) -> CollectionList:
    """List the collections."""
    registry = _registry(request)
    infos = []
    for name in registry.names():
        infos.append(await _locked(request, name, lambda c, n=name: _info(n, c)))
    return CollectionList(data=infos)


@router.post("", response_model=CollectionInfo, status_code=201)
async def create_collection(body: CollectionCreate, request: Request) -> CollectionInfo:
    """Create a collection with a served model."""
    pool = request.app.state.pool
    spec = pool.resolve(body.model)
    if spec is None:
        raise ApiError(404, f"model {body.model!r} is not served here", code="model_not_found")
    registry = _registry(request)
    configured = request.app.state.settings.index_models
    indexes: dict[str, Any] = {"bm25": None} if body.bm25 else {}
    for index_name in body.indexes:
        if index_name not in configured:
            offered = ", ".join(sorted(configured)) or "none"
            raise ApiError(
                400,
                f"index {index_name!r} is not offered by this server (offered: {offered}); "
                f"start it with --index-model {index_name}=MODEL_DIR",
                param="indexes",
                code="index_not_configured",
            )
        indexes[index_name] = {"model": str(Path(configured[index_name]).resolve())}

    def run() -> CollectionInfo:
        with registry.lock(body.name):
            collection = registry.create(body.name, pool.get_loaded(spec).encoder, indexes)
            return _info(body.name, collection)

    return await asyncio.to_thread(run)


@router.get("/{name}", response_model=CollectionInfo)
async def collection_info(name: str, request: Request) -> CollectionInfo:
    """Size, model and embedding space of a collection."""
    return await _locked(request, name, lambda c: _info(name, c))


@router.get("/{name}/versions")
async def collection_versions(name: str, request: Request) -> dict[str, Any]:
    """The collection's versions (space, rows, state) and which `current` points at."""

    def work(collection: Any) -> dict[str, Any]:
        listed = [v.to_dict() for v in collection.versions()]
        for item in listed:
            item.pop("folder")  # server paths stay private
        current = next((v["name"] for v in listed if v["current"]), None)
        return {"collection": name, "current": current, "versions": listed}

    return dict(await _locked(request, name, work))


@router.get("/{name}/drift")
async def collection_drift(name: str, request: Request) -> dict[str, Any]:
    """The drift history of the current version (read-only: `embedstack drift` runs
    the checks): its reference profile, and every snapshot, oldest first."""
    from embedstack.drift import drift_dir, load_profile, load_snapshots

    def work(collection: Any) -> dict[str, Any]:
        folder = drift_dir(collection)
        profile = load_profile(folder)
        snapshots = [s.to_dict() for s in load_snapshots(folder)]
        return {
            "collection": name,
            "version": getattr(collection, "version", "v1"),
            "profile": None if profile is None else profile.summary(),
            "drift": snapshots[-1]["drift"] if snapshots else None,
            "snapshots": snapshots,
        }

    return dict(await _locked(request, name, work))


@router.delete("/{name}")
async def drop_collection(name: str, request: Request) -> dict[str, Any]:
    """Delete a collection."""
    registry = _registry(request)

    def run() -> None:
        with registry.lock(name):
            registry.drop(name)

    await asyncio.to_thread(run)
    return {"deleted": name}


@router.post("/{name}/documents", response_model=WriteResult)
async def write_documents(name: str, body: DocumentsWrite, request: Request) -> WriteResult:
    """Add or upsert documents."""
    texts = [d.text for d in body.documents]
    metadata = [d.metadata for d in body.documents]
    ids = [d.id for d in body.documents]
    if body.mode == "upsert" and any(i is None for i in ids):
        raise ApiError(400, "upsert needs an 'id' on every document", param="documents")

    def work(collection: Any) -> list[str]:
        if body.mode == "add":
            given = None if all(i is None for i in ids) else ids
            return list(collection.add(texts, ids=given, metadata=metadata))
        collection.upsert(texts, ids=ids, metadata=metadata)
        return [str(i) for i in ids]

    written = await _locked(request, name, work)
    return WriteResult(ids=written, count=len(written))


@router.post("/{name}/documents/delete", response_model=DeleteResult)
async def delete_documents(name: str, body: DeleteRequest, request: Request) -> DeleteResult:
    """Delete documents by id."""
    deleted = await _locked(request, name, lambda c: c.delete(body.ids))
    return DeleteResult(deleted=int(deleted))


@router.get("/{name}/documents/{doc_id}", response_model=DocumentOut)
async def get_document(name: str, doc_id: str, request: Request) -> DocumentOut:
    """One document by id."""
    records = await _locked(request, name, lambda c: c.get([doc_id]))
    if not records:
        raise ApiError(404, f"no document {doc_id!r} in {name!r}", code="document_not_found")
    record = records[0]
    return DocumentOut(id=record.id, text=record.text, metadata=dict(record.metadata))


@router.post("/{name}/search", response_model=SearchResponse)
async def search(name: str, body: SearchRequest, request: Request) -> SearchResponse:
    """Search with any retriever name (`Pipeline.from_spec`), optionally reranked."""
    spec = PipelineSpec(body.retriever)
    reranker = _reranker(request) if body.rerank or spec.wants_reranker else None

    def work(collection: Any) -> list[Any]:
        pipeline = Pipeline.from_spec(collection, spec, reranker=reranker)
        return pipeline.search(body.query, k=body.k, where=body.where)

    hits = await _locked(request, name, work)
    return SearchResponse(
        hits=[
            HitOut(id=h.id, score=h.score, text=h.text, metadata=h.metadata, stages=h.stages)
            for h in hits
        ]
    )


def _reranker(request: Request) -> Any:
    """The cross-encoder configured at start-up (never a path from the request)."""
    state = request.app.state
    folder = state.settings.reranker
    if folder is None:
        raise ApiError(
            400,
            "this server has no reranker; start it with --reranker MODEL_DIR to allow "
            "'rerank' and 'hybrid+rerank'",
            param="rerank",
            code="reranker_not_configured",
        )
    if getattr(state, "reranker", None) is None:
        state.reranker = CrossEncoderReranker(folder)
    return state.reranker
