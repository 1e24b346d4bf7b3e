"""HNSW inside a collection vs exact scan, raw usearch, faiss HNSW and Chroma.

Run from the repository root (faiss-cpu and chromadb come with the [bench] extra):

    PYTHONPATH=src python benchmarks/ann.py --n 100000 [--scifact]

Synthetic set: 1,000 clusters in a 32-d latent space lifted to 384 dimensions, plus
isotropic noise whose norm is 10% of each vector's norm (not per-dimension noise, which
in 384 dimensions would swamp the signal and make every point nearly equidistant, so
recall would say nothing); queries are fresh draws. Ground truth is the exact top-10.

Every system gets the same vectors, the same HNSW settings (M=16, ef_construction=128,
ef_search=64) and answers one query per call, single-threaded, in interleaved rounds;
the table shows the median queries/s per system. Build time, recall@10, the process's
peak RSS after each build and on-disk size are reported. `--scifact` repeats the run on
SciFact MiniLM embeddings (cached by the eval vector cache after the first run).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from embedstack.store.collection import Collection

M, EF_ADD, EF_SEARCH, K = 16, 128, 64, 10
Searcher = Callable[[np.ndarray], list[int]]


def clustered(n: int, dim: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points of 1,000 clusters in a 32-d latent space, mapped to `dim` dimensions, plus
    isotropic noise whose norm is 10% of the vector's norm. Like real embeddings, the
    data has a low intrinsic dimension, so a nearest neighbour is a meaningful notion."""
    rng = np.random.default_rng(seed)
    latent_dim = 32
    centres = rng.standard_normal((1000, latent_dim)).astype(np.float32)
    lift = (rng.standard_normal((latent_dim, dim)) / np.sqrt(latent_dim)).astype(np.float32)

    def draw(count: int) -> np.ndarray:
        latent = centres[rng.integers(0, len(centres), count)]
        latent = latent + 0.5 * rng.standard_normal((count, latent_dim)).astype(np.float32)
        x = latent @ lift
        noise = rng.standard_normal((count, dim)).astype(np.float32)
        # noise norm = 10% of the vector's norm, whatever the dimension
        scale = 0.1 * np.linalg.norm(x, axis=1, keepdims=True)
        x += noise * scale / np.linalg.norm(noise, axis=1, keepdims=True)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    return draw(n), draw(queries)


def exact_top(x: np.ndarray, q: np.ndarray, k: int = K) -> np.ndarray:
    out = np.empty((len(q), k), dtype=np.int64)
    for start in range(0, len(q), 256):
        s = q[start : start + 256] @ x.T
        part = np.argpartition(-s, k, axis=1)[:, :k]
        order = np.take_along_axis(s, part, 1).argsort(axis=1)[:, ::-1]
        out[start : start + 256] = np.take_along_axis(part, order, 1)
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def build_embedstack(x: np.ndarray, root: Path, **create) -> tuple[Collection, Path]:
    path = root / f"es-{create.get('ann', 'exact')}-{create.get('storage', 'float32')}"
    settings = {"exact_below": 0, "connectivity": M, "expansion_add": EF_ADD,
                "expansion_search": EF_SEARCH} if create.get("ann") == "hnsw" else None  # fmt: skip
    col = Collection.create(path, dim=x.shape[1], ann_settings=settings, **create)
    ids = [str(i) for i in range(len(x))]
    for start in range(0, len(x), 100_000):  # streamed, as `embedstack index` does
        col.add(ids=ids[start : start + 100_000], vectors=x[start : start + 100_000])
    return col, path


def systems(x: np.ndarray, root: Path, with_chroma: bool) -> dict[str, tuple[Searcher, dict]]:
    out: dict[str, tuple[Searcher, dict]] = {}

    def timed(name: str, build: Callable[[], tuple[Searcher, float]]) -> None:
        start = time.perf_counter()
        search, disk = build()
        out[name] = (search, {"build_s": time.perf_counter() - start, "rss_mb": peak_rss_mb(),
                              "disk_mb": disk})  # fmt: skip
        print(f"  built {name:<28} in {out[name][1]['build_s']:7.1f} s", flush=True)

    def es_exact() -> tuple[Searcher, float]:
        col, path = build_embedstack(x, root)
        return (lambda q: [int(h.id) for h in col.search_vector(q, K, exact=True)]), folder_mb(path)

    def es(storage: str, rescore: str) -> Callable[[], tuple[Searcher, float]]:
        def build() -> tuple[Searcher, float]:
            col, path = build_embedstack(x, root, ann="hnsw", storage=storage, rescore=rescore)
            return (lambda q: [int(h.id) for h in col.search_vector(q, K)]), folder_mb(path)

        return build

    def raw_usearch() -> tuple[Searcher, float]:
        from usearch.index import Index

        index = Index(ndim=x.shape[1], metric="cos", dtype="f32", connectivity=M,
                      expansion_add=EF_ADD, expansion_search=EF_SEARCH)  # fmt: skip
        index.add(np.arange(len(x), dtype=np.uint64), x)
        index.save(str(root / "raw.usearch"))
        size = (root / "raw.usearch").stat().st_size / 2**20
        return (lambda q: index.search(q, K, threads=1).keys.tolist()), size

    def faiss_hnsw() -> tuple[Searcher, float]:
        import faiss

        index = faiss.IndexHNSWFlat(x.shape[1], M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = EF_ADD
        index.add(x)
        index.hnsw.efSearch = EF_SEARCH
        faiss.write_index(index, str(root / "faiss.index"))

        def search(q: np.ndarray) -> list[int]:
            return index.search(q[None, :], K)[1][0].tolist()

        return search, (root / "faiss.index").stat().st_size / 2**20

    def chroma() -> tuple[Searcher, float]:
        import chromadb

        client = chromadb.PersistentClient(path=str(root / "chroma"))
        col = client.create_collection(
            "bench", configuration={"hnsw": {"space": "cosine", "max_neighbors": M,
                                             "ef_construction": EF_ADD, "ef_search": EF_SEARCH}},
        )  # fmt: skip
        batch = client.get_max_batch_size()
        for start in range(0, len(x), batch):
            part = x[start : start + batch]
            col.add(ids=[str(i) for i in range(start, start + len(part))], embeddings=part)

        def search(q: np.ndarray) -> list[int]:
            found = col.query(query_embeddings=q[None, :], n_results=K, include=[])
            return [int(i) for i in found["ids"][0]]

        return search, folder_mb(root / "chroma")

    timed("embedstack exact (float32)", es_exact)
    timed("embedstack hnsw float32", es("float32", "none"))
    timed("embedstack hnsw binary+f32", es("binary", "float32"))
    timed("raw usearch hnsw", raw_usearch)
    timed("faiss IndexHNSWFlat", faiss_hnsw)
    if with_chroma:
        timed("chroma hnsw", chroma)
    return out


def run(name: str, x: np.ndarray, q: np.ndarray, rounds: int, with_chroma: bool) -> None:
    import faiss

    faiss.omp_set_num_threads(1)  # one query per call, one thread, for every system
    print(f"\n== {name}: {len(x):,} x {x.shape[1]}, {len(q)} queries; load {os.getloadavg()}")
    truth = exact_top(x, q)
    with tempfile.TemporaryDirectory(prefix="ann-bench-") as tmp:
        built = systems(x, Path(tmp), with_chroma)
        qps: dict[str, list[float]] = {n: [] for n in built}
        recall: dict[str, float] = {}
        for _ in range(rounds):  # interleaved: every system runs once per round
            for sys_name, (search, _) in built.items():
                start = time.perf_counter()
                found = [search(v) for v in q]
                qps[sys_name].append(len(q) / (time.perf_counter() - start))
                recall[sys_name] = float(np.mean(
                    [len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)]
                ))  # fmt: skip
        print(f"load after: {os.getloadavg()}")
        exact_qps = statistics.median(qps["embedstack exact (float32)"])
        print(f"{'system':<28} {'recall@10':>9} {'q/s':>9} {'vs exact':>9} {'build s':>8} "
              f"{'peak RSS MB':>11} {'disk MB':>8}")  # fmt: skip
        for sys_name, (_, info) in built.items():
            median = statistics.median(qps[sys_name])
            print(f"{sys_name:<28} {recall[sys_name]:9.3f} {median:9.0f} "
                  f"{median / exact_qps:8.1f}x {info['build_s']:8.1f} {info['rss_mb']:11.0f} "
                  f"{info['disk_mb']:8.1f}")  # fmt: skip
        shutil.rmtree(tmp, ignore_errors=True)


def filtered(x: np.ndarray, q: np.ndarray) -> None:
    """Filtered HNSW search at 1% and 50% selectivity against the exact filtered scan."""
    print(f"\n== filtered search, {len(x):,} rows; load {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="ann-filter-") as tmp:
        path = Path(tmp) / "c"
        col = Collection.create(path, dim=x.shape[1], ann="hnsw", rescore="float32",
                                ann_settings={"exact_below": 0})  # fmt: skip
        meta = [{"p1": i % 100 == 0, "p50": i % 2 == 0} for i in range(len(x))]
        ids = [str(i) for i in range(len(x))]
        for start in range(0, len(x), 100_000):
            part = slice(start, start + 100_000)
            col.add(ids=ids[part], vectors=x[part], metadata=meta[part])
        for field in ("p1", "p50"):
            where = {field: True}
            col.search_vector(q[0], K, where=where)  # warm the filter cache
            times, same, full = [], 0, 0
            for v in q:
                start = time.perf_counter()
                ann = [h.id for h in col.search_vector(v, K, where=where)]
                times.append(time.perf_counter() - start)
                exact = [h.id for h in col.search_vector(v, K, where=where, exact=True)]
                same += ann == exact
                full += len(ann) == K
            print(f"{field}: identical to exact filtered top-10 in {same}/{len(q)} queries, "
                  f"{full}/{len(q)} with k results, median {1000 * statistics.median(times):.2f} "
                  "ms/query")  # fmt: skip


def scifact_vectors(queries: int) -> tuple[np.ndarray, np.ndarray]:

    from embedstack.eval.datasets import load_beir
    from embedstack.registry import load_encoder
    from embedstack.types import Kind

    root = Path(__file__).resolve().parents[1]
    data = next(p for p in (root.parent / "shared/data/scifact",
                            root.parents[1] / "shared/data/scifact") if p.exists())  # fmt: skip
    dataset = load_beir(data)
    encoder = load_encoder("minilm", cache=True)  # embedded once, then read from the cache
    docs = encoder.encode([d.full_text for d in dataset.corpus.values()], kind=Kind.DOCUMENT)
    qs = encoder.encode(list(dataset.queries.values())[:queries], kind=Kind.QUERY)
    return docs, qs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-chroma", action="store_true")
    parser.add_argument("--scifact", action="store_true", help="also SciFact MiniLM vectors")
    parser.add_argument("--only-scifact", action="store_true", help="skip the synthetic set")
    args = parser.parse_args()
    if not args.only_scifact:
        x, q = clustered(args.n, args.dim, args.queries)
        run("clustered synthetic", x, q, args.rounds, not args.no_chroma)
        filtered(x, q[:100])
    if args.scifact or args.only_scifact:
        docs, qs = scifact_vectors(args.queries)
        run("SciFact MiniLM", docs, qs, args.rounds, not args.no_chroma)


if __name__ == "__main__":
    main()
