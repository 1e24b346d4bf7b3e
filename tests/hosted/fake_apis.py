"""A fake of every hosted embedding API, served by uvicorn on 127.0.0.1 in a thread.

Each provider lives under its own prefix (`/openai/v1/embeddings`, `/cohere/v2/embed`,
...) and answers in that provider's documented response shape. Tests queue actions
(`api.then(...)`) to make the next requests fail in specific ways and read back every
request the encoder sent (`api.calls`). Nothing here ever contacts a real host.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from embedstack.encoders.hosted import provider_class

KEY = "sk-test-SECRET-0123456789"
DIM_FIELDS = ("dimensions", "output_dimension", "outputDimensionality")
# fixed-size models get no dimensions field: the fake answers with their native size
# inputs per request each real API accepts (as its reference or its own errors state);
# the fake refuses more with a 400, as the real one does
MAX_INPUTS = {"openai": 2048, "azure": 2048, "cohere": 96, "voyage": 1000, "gemini": 100}
MAX_INPUTS.update({"jina": 2048, "jina-embeddings-v4": 512, "tei": 32})
NATIVE_DIMS = {
    "jina-embeddings-v2-base-en": 768,
    "mistral-embed": 1024,
    "all-minilm": 384,
    "embed-english-v3.0": 1024,
}


def fake_vector(text: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


@dataclass
class Call:
    provider: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def texts(self) -> list[str]:
        body = self.body
        if self.provider == "gemini":
            return [r["content"]["parts"][0]["text"] for r in body["requests"]]
        for name in ("input", "texts", "inputs"):
            if name in body:
                return list(body[name])
        raise KeyError("no texts in body")


@dataclass
class FakeAPI:
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    script: deque = field(default_factory=deque)
    default_dim: int = 8

    def then(self, *actions: tuple) -> FakeAPI:
        self.script.extend(actions)
        return self

    def reset(self) -> None:
        self.calls.clear()
        self.script.clear()

    def texts_sent(self) -> list[str]:
        return [t for c in self.calls for t in c.texts]

    # -- the ASGI app -------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        provider = request.url.path.strip("/").split("/")[0]
        raw = await request.body()
        body = json.loads(raw)
        self.calls.append(Call(provider, request.url.path, dict(request.headers), body))
        action = self.script.popleft() if self.script else ("ok",)
        name = action[0]
        if name == "status":
            headers = action[3] if len(action) > 3 else {}
            return JSONResponse(action[2], status_code=action[1], headers=headers)
        if name == "sleep":
            await asyncio.sleep(action[1])
        if name == "malformed":
            return Response('{"data": [', media_type="application/json")
        call = self.calls[-1]
        texts = call.texts
        limit = MAX_INPUTS.get(body.get("model", ""), MAX_INPUTS.get(provider))
        if limit is not None and len(texts) > limit:
            return JSONResponse({"error": f"at most {limit} inputs"}, status_code=400)
        dim = next((body[f] for f in DIM_FIELDS if f in body), None)
        if provider == "gemini":
            dim = body["requests"][0].get("outputDimensionality")
        dim = dim or NATIVE_DIMS.get(body.get("model", ""), self.default_dim)
        vectors = [fake_vector(t, dim) for t in texts]
        if name == "fewer":
            vectors = vectors[:-1]
        if name == "wrong_dim":
            vectors = [np.append(v, 1.0).astype(np.float32) for v in vectors]
        if name == "nan":
            vectors[0][0] = np.nan
        if name == "zero":
            vectors[-1] = np.zeros_like(vectors[-1])
        tokens = sum(len(t.split()) for t in texts)
        return self.respond(provider, body, vectors, tokens)

    def respond(self, provider: str, body: dict, vectors: list, tokens: int) -> Response:
        def floats(v: np.ndarray) -> list[float]:
            return [float(x) for x in v]

        if provider in ("openai", "azure", "voyage", "jina", "mistral"):
            b64 = body.get("encoding_format") == "base64"
            data = [
                {
                    "object": "embedding",
                    "index": i,
                    "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode()
                    if b64
                    else floats(v),
                }
                for i, v in enumerate(vectors)
            ]
            data.reverse()  # the index field, not the order, says which input it is
            usage = {"total_tokens": tokens}
            if provider != "voyage":
                usage["prompt_tokens"] = tokens
            payload: Any = {"object": "list", "data": data, "model": "m", "usage": usage}
        elif provider == "cohere":
            payload = {
                "id": "abc",
                "embeddings": {"float": [floats(v) for v in vectors]},
                "texts": body["texts"],
                "meta": {"billed_units": {"input_tokens": tokens}},
                "response_type": "embeddings_by_type",
            }
        elif provider == "gemini":
            payload = {"embeddings": [{"values": floats(v)} for v in vectors]}
        elif provider == "ollama":
            payload = {
                "model": body["model"],
                "embeddings": [floats(v) for v in vectors],
                "prompt_eval_count": tokens,
            }
        else:  # tei
            payload = [floats(v) for v in vectors]
        return Response(json.dumps(payload), media_type="application/json")

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=["POST"])])


class Sleeps(list):
    """Injectable sleep: records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def base_url(api: FakeAPI, provider: str) -> str:
    """The fake's URL for a provider, keeping the real base URL's path (e.g. `/v1`)."""
    path = httpx.URL(provider_class(provider).default_base_url).path.rstrip("/")
    return f"{api.url}/{provider}{path}"
