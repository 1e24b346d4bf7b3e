"""GET /v1/models reports each model's real dimension without loading anything itself."""

from __future__ import annotations

import httpx
import pytest

from embedstack.encoders.hashing import HashEncoder
from embedstack.server.app import create_app
from embedstack.server.settings import ServerSettings
from live_server import running

pytestmark = pytest.mark.anyio


def counting_factory(loaded: list[str]):
    def factory(spec: str) -> HashEncoder:
        if spec == "minilm":
            raise AssertionError("the models list must not load a model")
        loaded.append(spec)
        return HashEncoder(int(spec.split(":")[1]))

    return factory


def dims(body: dict) -> dict[str, int | None]:
    return {card["id"]: card["dim"] for card in body["data"]}


async def test_dims_from_the_catalog_then_from_the_loaded_model():
    loaded: list[str] = []
    app = create_app(ServerSettings(models=["hash:16", "minilm"]), counting_factory(loaded))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        before = dims((await client.get("/v1/models")).json())
        await client.post("/v1/embeddings", json={"model": "hash:16", "input": "x"})
        after = dims((await client.get("/v1/models")).json())
    assert before == {"hash:16": None, "minilm": 384}  # catalog dim, nothing loaded
    assert after == {"hash:16": 16, "minilm": 384}
    assert loaded == ["hash:16"]


def test_preloaded_models_report_their_dim_at_startup():
    loaded: list[str] = []
    settings = ServerSettings(models=["hash:24", "hash:8"], preload=True)
    with running(create_app(settings, counting_factory(loaded))) as url:
        body = httpx.get(f"{url}/v1/models").json()
        # the batchers made at startup still serve requests (same event loop)
        vector = httpx.post(f"{url}/v1/embeddings", json={"model": "hash:8", "input": "x"})
    assert dims(body) == {"hash:24": 24, "hash:8": 8}
    assert sorted(loaded) == ["hash:24", "hash:8"]
    assert vector.status_code == 200
    assert len(vector.json()["data"][0]["embedding"]) == 8
