"""`embedstack serve`: the HTTP server (OpenAI-compatible embeddings + collections)."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import typer

from embedstack._optional import require
from embedstack.config import default_model_spec

log = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: str = typer.Option(
        "127.0.0.1", help="Interface to bind; loopback unless told otherwise."
    ),
    port: int = typer.Option(8000, help="TCP port."),
    collections: Path | None = typer.Option(
        None, "--collections", help="Folder holding collections served under /v1/collections."
    ),
    model: list[str] = typer.Option(
        [], "--model", "-m", help="Model spec to serve (repeatable; the first is the default)."
    ),
    api_key: list[str] = typer.Option(
        [], "--api-key", envvar="EMBEDSTACK_API_KEYS", help="Required bearer key (repeatable)."
    ),
    cors_origin: list[str] = typer.Option([], "--cors-origin", help="Allowed CORS origin."),
    max_batch: int = typer.Option(64, help="Most texts per dynamically batched forward pass."),
    max_wait_ms: float = typer.Option(5.0, help="How long a request waits for batch company."),
    max_body_mb: float = typer.Option(4.0, help="Largest request body accepted, in MiB."),
    max_inputs: int = typer.Option(2048, help="Most texts per embeddings request."),
    reranker: Path | None = typer.Option(
        None, "--reranker", help="Cross-encoder model folder for search requests with rerank."
    ),
    index_model: list[str] = typer.Option(
        [],
        "--index-model",
        help="NAME=MODEL_DIR (splade or colbert): collections created over HTTP may ask for it.",
    ),
) -> None:
    """Serve embeddings and collections over HTTP.

    Examples:

      embedstack serve                                 # default model on 127.0.0.1:8000

      embedstack serve --collections ./collections --api-key $KEY

      curl -s localhost:8000/v1/embeddings -H 'Content-Type: application/json' \\
        -d '{"input": ["hello world"], "model": "minilm"}'
    """
    require("fastapi", "server", "embedstack serve")
    uvicorn = require("uvicorn", "server", "embedstack serve")
    from embedstack.server.app import create_app
    from embedstack.server.settings import ServerSettings

    keys = [k for value in api_key for k in value.split(",") if k.strip()]
    index_models = _parse_index_models(index_model)
    if not _is_loopback(host) and not keys:
        log.warning("binding %s without --api-key: anyone on the network can use it", host)
    settings = ServerSettings(
        models=model or [default_model_spec()],
        collections_dir=collections,
        api_keys=keys,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        max_inputs=max_inputs,
        cors_origins=cors_origin,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        preload=True,
        reranker=reranker,
        index_models=index_models,
    )
    uvicorn.run(
        create_app(settings), host=host, port=port, log_level="info", timeout_graceful_shutdown=30
    )


def _parse_index_models(values: list[str]) -> dict[str, Path]:
    from embedstack.errors import InputError

    out: dict[str, Path] = {}
    for value in values:
        name, sep, folder = value.partition("=")
        if not sep or name not in ("splade", "colbert") or not folder:
            raise InputError(f"--index-model takes splade=DIR or colbert=DIR, got {value!r}")
        if not Path(folder).is_dir():
            raise InputError(f"--index-model {name}: {folder} is not a folder")
        out[name] = Path(folder)
    return out


def register(app: typer.Typer) -> None:
    """Add the serve command to the CLI app."""
    app.command("serve")(serve)
