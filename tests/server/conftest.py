from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from embedstack.encoders.hashing import HashEncoder
from embedstack.server.app import create_app
from embedstack.server.settings import ServerSettings


def hash_factory(spec: str) -> HashEncoder:
    dim = int(spec.split(":", 1)[1]) if ":" in spec else 32
    return HashEncoder(dim)


def make_app(**overrides):
    settings = ServerSettings(models=overrides.pop("models", ["hash:32"]), **overrides)
    return create_app(settings, encoder_factory=hash_factory)


@pytest.fixture
def client() -> Iterator[httpx.AsyncClient]:
    app = make_app()
    transport = httpx.ASGITransport(app=app)
    yield httpx.AsyncClient(transport=transport, base_url="http://test")


@contextmanager
def running(app) -> Iterator[str]:
    """A real uvicorn server on a free loopback port; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
