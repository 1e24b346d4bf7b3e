"""Bounded load test of `embedstack serve` on loopback: 32 concurrent clients vs 1.

Starts the server as a subprocess on 127.0.0.1, sends a fixed number of
`/v1/embeddings` requests (one sentence each, as interactive clients do) first from one
client, then from `--clients` concurrent clients, prints throughput, p50/p99 latency
and errors for both, then stops the server. Only loopback traffic; every loop is
bounded in count and time.

    PYTHONPATH=src python benchmarks/server_load.py --model minilm --requests 400
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time

import httpx
from rich.console import Console
from rich.table import Table

SENTENCES = [
    "How do I reset my password after the account was locked?",
    "The mitochondria is the powerhouse of the cell, producing most of its ATP.",
    "Quarterly revenue grew by twelve percent on strong demand in Asia.",
    "A quick brown fox jumps over the lazy dog near the river bank.",
    "Which vaccine schedule is recommended for children under five years old?",
    "The train to Berlin leaves at seven from platform nine every weekday.",
    "Gradient descent updates parameters against the direction of the gradient.",
    "She planted tomatoes, basil and peppers in the small garden behind the house.",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(url: str, model: str, requests: int, clients: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            text = f"{SENTENCES[i % len(SENTENCES)]} (request {i})"
            start = time.perf_counter()
            try:
                r = await client.post("/v1/embeddings", json={"input": [text], "model": model})
                ok = r.status_code == 200 and len(r.json()["data"]) == 1
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - start)
            errors += not ok

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(worker(client) for _ in range(clients))), 600)
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "clients": clients,
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()

    port = free_port()
    cmd = [sys.executable, "-m", "embedstack", "serve", "--port", str(port), "--model", args.model]
    server = subprocess.Popen(
        cmd, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.2)
        asyncio.run(run(url, args.model, 20, 4))  # warm-up
        single = asyncio.run(run(url, args.model, args.requests // 4, 1))
        many = asyncio.run(run(url, args.model, args.requests, args.clients))
    finally:
        server.terminate()
        server.wait(timeout=30)

    table = Table(title=f"embedstack serve, model {args.model}, 1 sentence per request")
    for column in ("clients", "requests", "req/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="right")
    for row in (single, many):
        table.add_row(
            str(row["clients"]),
            str(row["requests"]),
            f"{row['rps']:.1f}",
            f"{row['p50_ms']:.1f}",
            f"{row['p99_ms']:.1f}",
            str(row["errors"]),
        )
    console = Console()
    console.print(table)
    console.print(
        f"throughput ratio {args.clients} clients / 1 client: {many['rps'] / single['rps']:.2f}x"
    )


if __name__ == "__main__":
    main()
