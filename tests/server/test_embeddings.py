import asyncio
import base64

import numpy as np
import pytest

from embedstack.encoders.hashing import HashEncoder

from .conftest import make_app

pytestmark = pytest.mark.anyio


async def test_openai_shape_and_values(client):
    texts = ["the cat sat on the mat", "quantum physics"]
    r = await client.post("/v1/embeddings", json={"input": texts, "model": "hash:32"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["model"] == "hash:32"
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert all(d["object"] == "embedding" for d in body["data"])
    expected = HashEncoder(32).encode(texts)
    np.testing.assert_allclose([d["embedding"] for d in body["data"]], expected, atol=1e-7)
    assert body["usage"] == {"prompt_tokens": 8, "total_tokens": 8}


async def test_base64_and_single_string_and_default_model(client):
    r = await client.post(
        "/v1/embeddings", json={"input": "hello world", "encoding_format": "base64"}
    )
    assert r.status_code == 200, r.text
    raw = base64.b64decode(r.json()["data"][0]["embedding"])
    np.testing.assert_array_equal(
        np.frombuffer(raw, dtype="<f4"), HashEncoder(32).encode(["hello world"])[0]
    )


@pytest.mark.parametrize(
    ("payload", "status", "needle"),
    [
        ({"input": []}, 400, "empty list"),
        ({"input": ["a"], "model": "nope"}, 404, "not served"),
        ({"input": [1, "two"]}, 400, "token array"),
        ({"input": ["a"], "dimensions": 8}, 400, "dimensions"),
        ({"input": ["a"], "encoding_format": "int8"}, 400, "encoding_format"),
        ({"model": "hash:32"}, 400, "input"),
    ],
)
async def test_bad_requests_are_4xx_in_openai_error_shape(client, payload, status, needle):
    r = await client.post("/v1/embeddings", json=payload)
    assert r.status_code == status
    error = r.json()["error"]
    assert needle in error["message"] and error["type"]


async def test_malformed_json_is_400(client):
    r = await client.post(
        "/v1/embeddings", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "error" in r.json()


async def test_too_many_inputs_and_oversize_body():
    import httpx

    app = make_app(max_inputs=3, max_body_bytes=2000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/v1/embeddings", json={"input": ["a"] * 4})
        assert r.status_code == 400 and "limit is 3" in r.json()["error"]["message"]
        r = await c.post("/v1/embeddings", json={"input": ["x" * 5000]})
        assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"

        async def chunks():  # no Content-Length: refused while streaming
            for _ in range(10):
                yield b"x" * 500

        r = await c.post(
            "/v1/embeddings", content=chunks(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413


async def test_api_keys_constant_time_bearer():
    import httpx

    app = make_app(api_keys=["s3cret", "other"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/health")).status_code == 200
        r = await c.post("/v1/embeddings", json={"input": ["a"]})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        r = await c.post(
            "/v1/embeddings", json={"input": ["a"]}, headers={"Authorization": "Bearer wrong"}
        )
        assert r.status_code == 401
        r = await c.post(
            "/v1/embeddings", json={"input": ["a"]}, headers={"Authorization": "Bearer other"}
        )
        assert r.status_code == 200


async def test_models_health_metrics(client):
    assert (await client.get("/v1/models")).json()["data"][0]["id"] == "hash:32"
    assert (await client.get("/health")).json()["status"] == "ok"
    await client.post("/v1/embeddings", json={"input": ["a", "b"]})
    await client.post("/v1/embeddings", json={"input": []})
    text = (await client.get("/metrics")).text
    assert (
        'embedstack_requests_total{method="POST",route="/v1/embeddings",status="200"} 1.0' in text
    )
    assert 'embedstack_errors_total{type="invalid_request_error"} 1.0' in text
    assert "embedstack_batch_texts_bucket" in text
    assert "embedstack_request_seconds_bucket" in text


async def test_openapi_schema_lists_routes(client):
    spec = (await client.get("/openapi.json")).json()
    assert {"/v1/embeddings", "/v1/models", "/v1/collections/{name}/search"} <= set(spec["paths"])


async def test_concurrent_requests_are_batched_together():
    import httpx

    sizes: list[int] = []
    app = make_app(max_batch=64, max_wait_ms=50)
    pool = app.state.pool
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        served = await pool.get("hash:32")
        original = served.batcher._observe
        served.batcher._observe = lambda n: (sizes.append(n), original(n))
        texts = [f"text number {i}" for i in range(16)]
        results = await asyncio.gather(
            *(c.post("/v1/embeddings", json={"input": [t]}) for t in texts)
        )
    vectors = [r.json()["data"][0]["embedding"] for r in results]
    np.testing.assert_allclose(vectors, HashEncoder(32).encode(texts), atol=1e-7)
    assert sum(sizes) == 16 and max(sizes) > 1  # coalesced, each answer routed back
