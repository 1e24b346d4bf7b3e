"""Hosted encoder throughput vs the official `openai` SDK, against a local OpenAI-format
server that adds a fixed latency per request (as a real API does), plus a cached re-run.

    python benchmarks/hosted_throughput.py [--texts 2000] [--batch 100] [--latency 0.2]

Nothing leaves 127.0.0.1. The server answers deterministic pseudo-random vectors.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from embedstack.encoders.hosted import load_hosted

DIM = 256


def serve(latency: float) -> tuple[str, list[int]]:
    requests: list[int] = []

    async def embeddings(request: Request) -> Response:
        body = json.loads(await request.body())
        requests.append(len(body["input"]))
        await asyncio.sleep(latency)
        data = []
        for i, text in enumerate(body["input"]):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vec = np.random.default_rng(seed).standard_normal(DIM).astype("<f4")
            emb = base64.b64encode(vec.tobytes()).decode()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        usage = {"prompt_tokens": 0, "total_tokens": 0}
        payload = {"object": "list", "data": data, "model": body["model"], "usage": usage}
        return Response(json.dumps(payload), media_type="application/json")

    app = Starlette(routes=[Route("/v1/embeddings", embeddings, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}/v1", requests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    url, requests = serve(args.latency)
    texts = [f"passage {i}: " + "lorem ipsum dolor " * 20 for i in range(args.texts)]
    rows = []

    from openai import OpenAI

    client = OpenAI(api_key="local", base_url=url, max_retries=0)
    start, before = time.perf_counter(), len(requests)
    for i in range(0, len(texts), args.batch):
        client.embeddings.create(
            model="text-embedding-3-small", input=texts[i : i + args.batch], dimensions=DIM
        )
    rows.append(("openai SDK, sequential batches", time.perf_counter() - start, before))

    with tempfile.TemporaryDirectory() as tmp:
        for concurrency in (1, 4, 8):
            encoder = load_hosted(
                "openai",
                "text-embedding-3-small",
                base_url=url,
                api_key="local",
                dimensions=DIM,
                batch_size=args.batch,
                concurrency=concurrency,
                cache=Path(tmp) / f"c{concurrency}.sqlite",
            )
            start, before = time.perf_counter(), len(requests)
            encoder.encode(texts)
            label = f"embedstack, concurrency={concurrency}"
            rows.append((label, time.perf_counter() - start, before))
        start, before = time.perf_counter(), len(requests)
        encoder.encode(texts)  # the last encoder again: everything is cached
        rows.append(("embedstack, cached re-run", time.perf_counter() - start, before))
        stats = encoder.cache.stats()

    print(f"{args.texts} texts, {args.batch} per request, {args.latency * 1000:.0f} ms latency")
    print("| client | seconds | texts/s | requests |")
    print("| --- | ---: | ---: | ---: |")
    ends = [r[2] for r in rows[1:]] + [len(requests)]
    for (label, seconds, first), end in zip(rows, ends, strict=True):
        print(f"| {label} | {seconds:.2f} | {args.texts / seconds:,.0f} | {end - first} |")
    print(f"cache after the re-run: {stats.hits} hits, {stats.misses} misses")


if __name__ == "__main__":
    main()
