"""The browser page: search any collection and see ranked results with their scores.

Static files ship in `embedstack/ui/static` (plain HTML/CSS/JS: no CDN, no build step).
The page talks to a small JSON API under `/ui/api`: the collections, a text search with
a retriever choice (dense/bm25/hybrid/rerank, per-stage scores as `search --explain`
shows them) and query-by-image for image collections (the upload is sent as base64
JSON). `embedstack ui DIR` serves it alone; `embedstack serve --collections DIR` adds it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import threading
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from embedstack.errors import EmbedstackError
from embedstack.store.manifest import MANIFEST

STATIC_FILES = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
MAX_UPLOAD = 20 * 1024 * 1024


class UiSearch(BaseModel):
    """Body of the page's text search."""

    collection: str
    query: str = Field(max_length=4000)
    retriever: str = "dense"
    k: int = Field(12, ge=1, le=100)


class UiImageSearch(BaseModel):
    """Body of the page's search by example image."""

    collection: str
    image: str = Field(description="base64 bytes of the image (a data: URL is accepted)")
    k: int = Field(12, ge=1, le=100)


class UiCollections:
    """The collections the page may see: one folder, or every collection under a root.
    Names come from the folder listing, so no request can reach another path."""

    def __init__(self, folder: Path | None, reranker: Path | None = None) -> None:
        self.folder, self.reranker = folder, reranker
        self._open: dict[str, Any] = {}
        self._lock = threading.Lock()

    def paths(self) -> dict[str, Path]:
        """Collection name -> folder, for the collections the page may open."""
        if self.folder is None or not self.folder.is_dir():
            return {}
        if (self.folder / MANIFEST).is_file():
            return {self.folder.resolve().name: self.folder}
        found = (p for p in sorted(self.folder.iterdir()) if (p / MANIFEST).is_file())
        return {p.name: p for p in found}

    def open(self, name: str) -> tuple[Any, Any]:
        """(collection, dual encoder or None), opened once and shared."""
        from embedstack.apps.images import is_image_collection, open_image_collection
        from embedstack.store.collection import Collection

        path = self.paths().get(name)
        if path is None:
            raise EmbedstackError(f"no collection named {name!r}")
        with self._lock:
            if name not in self._open:
                collection = Collection.open(path)
                if is_image_collection(collection):
                    collection.close()
                    self._open[name] = open_image_collection(path)
                else:
                    self._open[name] = (collection, None)
            return self._open[name]

    def describe(self, name: str) -> dict[str, Any]:
        """What the page shows for a collection: kind, size, model and retrievers it may use."""
        collection, dual = self.open(name)
        retrievers = ["dense", *(n for n in ("bm25",) if n in collection.index_names)]
        if "bm25" in retrievers:
            retrievers.append("hybrid")
            if self.reranker is not None and dual is None:
                retrievers.append("rerank")
        return {"name": name, "kind": "image" if dual else "text", "count": len(collection),
                "model": collection.space.model, "retrievers": retrievers}  # fmt: skip


def _hit(name: str, hit: Any) -> dict[str, Any]:
    out = hit.to_dict()
    thumb = hit.metadata.get("thumbnail")
    out["thumbnail"] = f"/ui/thumb/{name}/{thumb}" if thumb else None
    return out


def _search(state: UiCollections, body: UiSearch) -> list[dict[str, Any]]:
    from embedstack.search.pipeline import Pipeline

    collection, _ = state.open(body.collection)
    if body.retriever not in state.describe(body.collection)["retrievers"]:
        raise EmbedstackError(f"retriever {body.retriever!r} is not available for this collection")
    spec = "hybrid+rerank" if body.retriever == "rerank" else body.retriever
    reranker = state.reranker if spec.endswith("+rerank") else None
    pipeline = Pipeline.from_spec(collection, spec, reranker=reranker)
    return [_hit(body.collection, h) for h in pipeline.search(body.query, k=body.k)]


def _search_image(state: UiCollections, body: UiImageSearch) -> list[dict[str, Any]]:
    from embedstack.encoders.images import load_image

    collection, dual = state.open(body.collection)
    if dual is None:
        raise EmbedstackError("query-by-image needs an image collection (embedstack index-images)")
    data = body.image.split(",", 1)[1] if body.image.startswith("data:") else body.image
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise EmbedstackError("the uploaded image is not valid base64") from None
    if len(raw) > MAX_UPLOAD:
        raise EmbedstackError(f"the uploaded image is over {MAX_UPLOAD // 2**20} MiB")
    vector = dual.image.encode_images([load_image(raw)])[0]
    return [_hit(body.collection, h) for h in collection.search_vector(vector, k=body.k)]


def ui_router(state: UiCollections) -> APIRouter:
    """The API routes and static files of the browser search page."""
    router = APIRouter(tags=["ui"], include_in_schema=False)
    static = resources.files("embedstack.ui").joinpath("static")

    async def guarded(work: Any, *args: Any) -> Any:
        try:
            return await asyncio.to_thread(work, *args)
        except EmbedstackError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    @router.get("/ui")
    async def redirect() -> Response:
        return RedirectResponse("/ui/")

    @router.get("/ui/")
    async def page() -> Response:
        return Response(static.joinpath("index.html").read_bytes(), media_type="text/html")

    @router.get("/ui/static/{name}")
    async def asset(name: str) -> Response:
        if name not in STATIC_FILES:
            return JSONResponse({"error": "not found"}, status_code=404)
        return Response(static.joinpath(name).read_bytes(), media_type=STATIC_FILES[name])

    @router.get("/ui/api/collections")
    async def collections() -> Any:
        return await guarded(lambda: [state.describe(n) for n in state.paths()])

    @router.post("/ui/api/search")
    async def search(body: UiSearch) -> Any:
        return await guarded(lambda: {"hits": _search(state, body)})

    @router.post("/ui/api/search-image")
    async def search_image(body: UiImageSearch) -> Any:
        return await guarded(lambda: {"hits": _search_image(state, body)})

    @router.get("/ui/thumb/{name}/{relative:path}")
    async def thumbnail(name: str, relative: str) -> Response:
        folder = state.paths().get(name)
        if folder is not None and relative.startswith("thumbnails/"):
            target = (folder / relative).resolve()
            if target.is_relative_to(folder.resolve() / "thumbnails") and target.is_file():
                return FileResponse(target, media_type="image/jpeg")
        return JSONResponse({"error": "not found"}, status_code=404)

    return router


def install_ui(app: FastAPI, folder: Path | None, reranker: Path | None = None) -> None:
    """Add the page and its API to an app (used by `embedstack serve`)."""
    app.include_router(ui_router(UiCollections(folder, reranker)))


def create_ui_app(folder: Path, reranker: Path | None = None) -> FastAPI:
    """The app `embedstack ui DIR` runs: the page and its API only."""
    if not folder.is_dir():
        raise EmbedstackError(f"{folder} is not a folder: give a collection or a folder of them")
    app = FastAPI(title="embedstack ui", docs_url=None, redoc_url=None, openapi_url=None)
    install_ui(app, folder, reranker)
    return app
