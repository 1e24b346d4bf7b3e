"""FastAPI app: OpenAI-compatible `/v1/embeddings`, models, collections, health, metrics.

A thin shell over the library: each route validates, calls one library function (in a
worker thread or through the dynamic batcher), and formats. Errors use OpenAI's
`{"error": {...}}` shape so OpenAI clients surface them properly.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from embedstack import __version__
from embedstack.encoders.base import Encoder
from embedstack.errors import BusyError, EmbedstackError, ModelNotFoundError, StorageError
from embedstack.registry import load_encoder
from embedstack.server import collections as collection_routes
from embedstack.server.errors import ApiError, error_body
from embedstack.server.guards import ApiKeyAuth, BodyLimit
from embedstack.server.metrics import ServerMetrics
from embedstack.server.models import ModelPool
from embedstack.server.schemas import (
    EmbeddingItem,
    EmbeddingsRequest,
    EmbeddingsResponse,
    ErrorResponse,
    ModelCard,
    ModelList,
    Usage,
)
from embedstack.server.settings import ServerSettings
from embedstack.server.tokens import decode_token_arrays
from embedstack.types import Kind

log = logging.getLogger(__name__)
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 409, 413, 422, 500, 503)
}
INPUT_SHAPES = (
    "input: must be a string, a list of strings, a token array (a list of integer "
    "cl100k_base token ids) or a list of token arrays"
)


def create_app(
    settings: ServerSettings | None = None,
    encoder_factory: Callable[[str], Encoder] = load_encoder,
) -> FastAPI:
    """Build the app. `encoder_factory` turns a model spec into an encoder (tests inject)."""
    settings = settings or ServerSettings()
    metrics = ServerMetrics()
    pool = ModelPool(
        settings.models, metrics, settings.max_batch, settings.max_wait_ms / 1000, encoder_factory
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.preload:  # every served model, so /v1/models knows each dimension
            for spec in pool.specs:
                await pool.get(spec)
        yield
        await pool.close()  # in-flight batches finish first

    app = FastAPI(title="embedstack", version=__version__, lifespan=lifespan, responses=ERRORS)
    app.state.pool, app.state.settings, app.state.metrics = pool, settings, metrics
    _install_error_handlers(app, metrics)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[..., Any]) -> Response:
        start = time.perf_counter()
        response: Response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        metrics.latency.labels(route).observe(time.perf_counter() - start)
        return response

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "models": pool.specs}

    @app.get("/metrics", response_class=Response)
    async def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(content=body, media_type=content_type)

    @app.get("/v1/models", response_model=ModelList)
    async def list_models() -> ModelList:
        return ModelList(data=[ModelCard(id=spec, dim=pool.dim(spec)) for spec in pool.specs])

    @app.post("/v1/embeddings", response_model=EmbeddingsResponse)
    async def embeddings(body: EmbeddingsRequest) -> EmbeddingsResponse:
        items = _input_items(body.input)
        if not items:
            raise ApiError(400, "'input' is an empty list: send at least one text", param="input")
        if len(items) > settings.max_inputs:
            raise ApiError(
                400,
                f"'input' has {len(items)} texts; the limit is {settings.max_inputs} per request",
                param="input",
            )
        if isinstance(items[0], str):
            texts = cast("list[str]", items)
        else:  # token arrays (LangChain's OpenAIEmbeddings sends these by default)
            texts = await asyncio.to_thread(decode_token_arrays, cast("list[list[int]]", items))
        spec = pool.resolve(body.model)
        if spec is None:
            raise ApiError(
                404,
                f"model {body.model!r} is not served here; GET /v1/models lists the served ids",
                kind="invalid_request_error",
                code="model_not_found",
                param="model",
            )
        served = await pool.get(spec)
        encoder = served.encoder
        if body.dimensions is not None and body.dimensions != encoder.dim:
            raise ApiError(
                400,
                f"model {spec!r} makes {encoder.dim}-d vectors and does not support "
                f"'dimensions'={body.dimensions}; omit it",
                param="dimensions",
            )
        counts = encoder.count_tokens(texts)
        limit = encoder.space.max_tokens
        if limit:
            too_long = [i for i, n in enumerate(counts) if n > limit]
            if too_long:
                shown = ", ".join(f"input[{i}] ({counts[i]} tokens)" for i in too_long[:5])
                raise ApiError(
                    400,
                    f"{len(too_long)} input(s) exceed the model's {limit}-token limit: {shown}. "
                    "Split long texts into chunks (embedstack chunk) before embedding.",
                    param="input",
                    code="context_length_exceeded",
                )
        vectors = await served.batcher.embed(texts, Kind.parse(body.input_type))
        data = [
            EmbeddingItem(index=i, embedding=_format(vec, body.encoding_format))
            for i, vec in enumerate(vectors)
        ]
        used = int(sum(counts))
        return EmbeddingsResponse(
            data=data, model=spec, usage=Usage(prompt_tokens=used, total_tokens=used)
        )

    app.include_router(collection_routes.router)
    from embedstack.server.ui import install_ui  # the browser page at /ui/

    install_ui(app, settings.collections_dir, settings.reranker)

    # Added innermost first: BodyLimit -> CORS (preflights need no key) -> ApiKeyAuth -> app.
    app.add_middleware(ApiKeyAuth, keys=settings.api_keys)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app


def _input_items(value: str | list[str] | list[int] | list[list[int]]) -> list[Any]:
    """One item per text: a string or a token array (a flat id list is one text)."""
    if isinstance(value, str) or (value and isinstance(value[0], int)):
        return [value]
    return list(value)


def _format(vector: np.ndarray, encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode()
    return vector.astype(float).tolist()


def _install_error_handlers(app: FastAPI, metrics: ServerMetrics) -> None:
    def reply(
        status: int, message: str, kind: str, code: str | None, param: str | None = None
    ) -> JSONResponse:
        metrics.errors.labels(kind).inc()
        return JSONResponse(error_body(message, kind, code, param), status_code=status)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return reply(exc.status, exc.message, exc.kind, exc.code, exc.param)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems: list[str] = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p != "body"]
            shape = loc[:1] == ["input"] and err.get("type") != "missing"
            if shape and request.url.path == "/v1/embeddings":
                problem = INPUT_SHAPES  # one clear line instead of one per union member
            else:
                problem = f"{'.'.join(loc) or 'body'}: {err.get('msg', 'invalid')}"
            if problem not in problems:
                problems.append(problem)
            if len(problems) == 5:
                break
        return reply(
            400,
            "invalid request: " + "; ".join(problems),
            "invalid_request_error",
            "invalid_request",
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return reply(exc.status_code, str(exc.detail), "invalid_request_error", "http_error")

    @app.exception_handler(ModelNotFoundError)
    async def model_missing(request: Request, exc: ModelNotFoundError) -> JSONResponse:
        return reply(404, str(exc), "invalid_request_error", "model_not_found")

    @app.exception_handler(BusyError)
    async def busy(request: Request, exc: BusyError) -> JSONResponse:
        response = reply(503, str(exc), "server_error", "busy")
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(StorageError)
    async def damaged(request: Request, exc: StorageError) -> JSONResponse:
        log.error("damaged collection data on %s: %s", request.url.path, exc)
        return reply(500, str(exc), "server_error", "storage_damaged")

    @app.exception_handler(EmbedstackError)
    async def library_error(request: Request, exc: EmbedstackError) -> JSONResponse:
        return reply(400, str(exc), "invalid_request_error", type(exc).__name__)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return reply(
            500, "internal server error; see the server log", "server_error", "internal_error"
        )
