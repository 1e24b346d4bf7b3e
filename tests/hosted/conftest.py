"""Fixtures for the hosted-API tests: a loopback fake server (see fake_apis.py)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
import uvicorn
from fake_apis import KEY, FakeAPI, Sleeps, base_url

from embedstack.encoders.hosted import load_hosted


@pytest.fixture(scope="session")
def fake_server():
    api = FakeAPI()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    api.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(
        uvicorn.Config(api.app, log_level="warning", lifespan="off", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("fake API server did not start")
        time.sleep(0.01)
    yield api
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _isolated_home(monkeypatch, tmp_path):
    """Caches go to a per-test home, never the user's cache dir."""
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))


@pytest.fixture
def api(fake_server):
    fake_server.reset()
    return fake_server


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def make(api, sleeps):
    """make(provider, model, **options): an encoder pointed at the fake server."""

    def build(provider: str, model: str, /, **options: Any):
        defaults: dict[str, Any] = {
            "base_url": base_url(api, provider),
            "api_key": KEY,
            "cache": False,
            "sleep": sleeps,
            "backoff": 0.01,
            "max_retries": 2,
            "seed": 0,
        }
        if provider in ("ollama", "tei"):
            defaults.pop("api_key")
        return load_hosted(provider, model, **{**defaults, **options})

    return build
