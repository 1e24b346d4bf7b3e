"""HNSW inside a collection vs exact scan, raw usearch, faiss HNSW and Chroma.

Run from the repository root (faiss-cpu and chromadb come with the [bench] extra):

    PYTHONPATH=src python benchmarks/ann.py --n 1000000 --scifact      # the issue's run
    PYTHONPATH=src python benchmarks/ann.py --n 20000 --queries 100    # a quick check

Synthetic set: 1,000 clusters in a 32-d latent space lifted to 384 dimensions, plus
isotropic noise whose norm is 10% of each vector's norm (not per-dimension noise, which
in 384 dimensions would swamp the signal and make every point nearly equidistant, so
recall would say nothing); queries are fresh draws. Ground truth is the exact top-10.

Every index is built in its own child process from the same `.npy` file, streamed in
batches, so each build's peak RSS (`os.wait4`) is its own and the data set held by this
process does not count. The parent then opens every index and times, in interleaved
rounds (median queries/s per system):

- single: one query per call on one thread (`Collection.search_vector`, usearch
  `search(v, threads=1)`, faiss with one OpenMP thread, Chroma `query` of one vector);
- batch: all queries in one call on every core (`Collection.search_vectors`, usearch
  `search(matrix, threads=0)`, faiss `search(matrix)`, Chroma `query` of the matrix).

"embedstack" rows include everything a user gets: the SQLite read snapshot, the hit
rows' ids, texts and metadata, `Hit` objects. Chroma stores the same metadata and is
queried twice: with its default `include` (ids, distances, metadatas, documents: what
our hits carry) and for ids only (its fastest query). Unless `--separate-raw`, raw usearch
searches the very graph file our default collection saved: "usearch" loads it as usearch
users do (into usearch's own allocations); "usearch-resident" views its bytes in huge-page
RAM as a reopened collection does (store/resident.py), so ours / usearch-resident is
exactly our per-query overhead on the same graph in the same memory. With
`--huge-pages-everywhere` glibc's malloc advises huge pages too, so faiss, Chroma and
usearch's own allocations get them as well. Every system uses
the same HNSW settings (M, ef_construction, ef_search). The exact scan is the float32
collection searched with `exact=True` (unless `--separate-raw`). Exact queries/s are timed
on `--exact-queries` queries (a 1M scan is slow). Filtered search (1% and 50% of rows)
runs on the default HNSW collection against the exact filtered scan. The default HNSW
collection holds float16 codes in the graph and rescores 2k candidates with float32
(`es-hnsw-f32` is the float32 graph).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model

K = 10
SYSTEMS = ("es-exact", "es-hnsw", "es-hnsw-f32", "es-hnsw-int8", "es-hnsw-binary", "usearch",
           "usearch-resident", "faiss", "chroma", "chroma-ids")  # fmt: skip
LABELS = {
    "es-exact": "embedstack exact (float32)",
    "es-hnsw": "embedstack hnsw (default f16+f32)",
    "es-hnsw-f32": "embedstack hnsw float32",
    "es-hnsw-int8": "embedstack hnsw int8+f32",
    "es-hnsw-binary": "embedstack hnsw binary+f32",
    "usearch": "raw usearch hnsw",
    "usearch-resident": "raw usearch, huge-page RAM",
    "faiss": "faiss IndexHNSWFlat",
    "chroma": "chroma hnsw (+metadata)",
    "chroma-ids": "chroma hnsw (ids only)",
}
# searched on the default collection (its exact scan, its graph file) unless --separate-raw
REUSED = ("es-exact", "usearch", "usearch-resident")
BATCH = 100_000  # rows per add, as `embedstack index` streams a file


def clustered(n: int, dim: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points of 1,000 clusters in a 32-d latent space, mapped to `dim` dimensions, plus
    isotropic noise whose norm is 10% of the vector's norm. Like real embeddings, the
    data has a low intrinsic dimension, so a nearest neighbour is a meaningful notion."""
    rng = np.random.default_rng(seed)
    latent_dim = 32
    centres = rng.standard_normal((1000, latent_dim)).astype(np.float32)
    lift = (rng.standard_normal((latent_dim, dim)) / np.sqrt(latent_dim)).astype(np.float32)

    def draw(count: int) -> np.ndarray:
        out = np.empty((count, dim), dtype=np.float32)
        for start in range(0, count, BATCH):  # in blocks: 1M x 384 without 3 copies
            m = min(BATCH, count - start)
            latent = centres[rng.integers(0, len(centres), m)]
            latent = latent + 0.5 * rng.standard_normal((m, latent_dim)).astype(np.float32)
            x = latent @ lift
            noise = rng.standard_normal((m, dim)).astype(np.float32)
            # noise norm = 10% of the vector's norm, whatever the dimension
            scale = 0.1 * np.linalg.norm(x, axis=1, keepdims=True)
            x += noise * scale / np.linalg.norm(noise, axis=1, keepdims=True)
            out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out

    return draw(n), draw(queries)


def exact_top(x: np.ndarray, q: np.ndarray, k: int = K) -> np.ndarray:
    """Exact top-k by dot product (unit vectors), 64 queries at a time."""
    out = np.empty((len(q), k), dtype=np.int64)
    for start in range(0, len(q), 64):
        scores = q[start : start + 64] @ x.T
        part = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.take_along_axis(scores, part, 1).argsort(axis=1)[:, ::-1]
        out[start : start + 64] = np.take_along_axis(part, order, 1)
    return out


def folder_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


# -- builds (each in a child process) ---------------------------------------------------
def batches(data: Path, size: int = BATCH):
    from embedstack.store.vector_files import VectorFields, read_vector_batches

    for ids, vectors, _, _ in read_vector_batches(data, VectorFields(), batch_size=size):
        yield int(ids[0]), vectors


def build(system: str, data: Path, out: Path, hnsw: dict) -> None:
    """Build one system's index from the `.npy` file into `out` (a child process)."""
    if system.startswith("es-"):
        from embedstack.store.collection import Collection

        ann = {} if system == "es-exact" else {"ann": "hnsw"}
        if system in ("es-hnsw-int8", "es-hnsw-binary"):  # compressed graph, float32 rescoring
            ann.update(storage=system.rsplit("-", 1)[1], rescore="float32")
        if system == "es-hnsw-f32":  # a float32 graph (the default is float16 + rescoring)
            ann.update(storage="float32")
        settings = {"exact_below": 0, **hnsw} if ann else None
        col = Collection.create(out, dim=_dim(data), ann_settings=settings, **ann)
        for start, vectors in batches(data):
            n = len(vectors)
            ids = [str(i) for i in range(start, start + n)]
            meta = [{"p1": i % 100 == 0, "p50": i % 2 == 0} for i in range(start, start + n)]
            col.add(ids=ids, vectors=vectors, metadata=meta)
        col.close()
    elif system in ("usearch", "usearch-resident"):
        from usearch.index import Index

        index = Index(ndim=_dim(data), metric="ip", dtype="f16",  # as our default graph
                      connectivity=hnsw["connectivity"], expansion_add=hnsw["expansion_add"],
                      expansion_search=hnsw["expansion_search"])  # fmt: skip
        for start, vectors in batches(data):
            index.add(np.arange(start, start + len(vectors), dtype=np.uint64), vectors)
        index.save(str(out))
    elif system == "faiss":
        import faiss

        index = faiss.IndexHNSWFlat(_dim(data), hnsw["connectivity"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = hnsw["expansion_add"]
        for _, vectors in batches(data):
            index.add(vectors)
        faiss.write_index(index, str(out))
    elif system == "chroma":
        import chromadb

        client = chromadb.PersistentClient(path=str(out))
        col = client.create_collection(
            "bench", configuration={"hnsw": {
                "space": "cosine", "max_neighbors": hnsw["connectivity"],
                "ef_construction": hnsw["expansion_add"], "ef_search": hnsw["expansion_search"]}},
        )  # fmt: skip
        size = client.get_max_batch_size()
        for start, vectors in batches(data, size):
            n = len(vectors)  # the same metadata as our rows
            meta = [{"p1": i % 100 == 0, "p50": i % 2 == 0} for i in range(start, start + n)]
            col.add(
                ids=[str(i) for i in range(start, start + n)], embeddings=vectors, metadatas=meta
            )


def _dim(data: Path) -> int:
    return int(np.load(data, mmap_mode="r").shape[1])


def peak_rss_mb() -> float:
    """This process's peak RSS. `VmHWM` is reset by exec; `ru_maxrss` is not (a child
    started by a big parent would report the parent's size), so it is the fallback."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(next(x for x in status.splitlines() if x.startswith("VmHWM")).split()[1]) / 1024
    except (OSError, StopIteration, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_in_child(system: str, data: Path, out: Path, hnsw: dict) -> dict:
    """Run `build` in a fresh process; its wall time and its own peak RSS."""
    start = time.perf_counter()
    report = out.with_name(out.name + ".rss")
    args = [sys.executable, __file__, "--child", system, str(data), str(out), json.dumps(hnsw),
            str(report)]  # fmt: skip
    subprocess.run(args, check=True)
    seconds = time.perf_counter() - start
    info = {"build_s": seconds, "rss_mb": float(report.read_text()), "disk_mb": folder_mb(out)}
    print(f"  built {LABELS[system]:<28} in {seconds:7.1f} s, peak RSS {info['rss_mb']:7.0f} "
          f"MB, disk {info['disk_mb']:7.1f} MB; load {os.getloadavg()[0]:.1f}",
          flush=True)  # fmt: skip
    return info


# -- searchers --------------------------------------------------------------------------
Single = Callable[[np.ndarray], list[int]]
Batch = Callable[[np.ndarray], list[list[int]]]


def open_system(system: str, out: Path, hnsw: dict) -> tuple[Single, Batch]:
    """(one query per call on one thread, all queries in one call on every core)."""
    if system.startswith("es-"):
        from embedstack.store.collection import Collection

        col = Collection.open(out)
        exact = system == "es-exact"

        def single(v: np.ndarray) -> list[int]:
            return [int(h.id) for h in col.search_vector(v, K, exact=exact)]

        def batch(q: np.ndarray) -> list[list[int]]:
            return [[int(h.id) for h in hs] for hs in col.search_vectors(q, K, exact=exact)]

        return single, batch
    if system in ("usearch", "usearch-resident"):
        from usearch.index import Index

        if system == "usearch":  # as usearch users load a file: into its own allocations
            index = Index.restore(str(out))
        else:  # the bytes in huge-page RAM, viewed, as a reopened collection holds them
            from embedstack.store.resident import read_resident

            memory = read_resident(out)
            assert memory is not None, "the graph does not fit in RAM"
            index = Index.restore(memory, view=True)
            index.resident_bytes = memory
        index.expansion_search = hnsw["expansion_search"]
        return (
            lambda v: index.search(v, K, threads=1).keys.tolist(),
            lambda q: index.search(q, K, threads=0).keys.tolist(),
        )
    if system == "faiss":
        import faiss

        index = faiss.read_index(str(out))
        index.hnsw.efSearch = hnsw["expansion_search"]

        def one(v: np.ndarray) -> list[int]:
            faiss.omp_set_num_threads(1)
            return index.search(v[None, :], K)[1][0].tolist()

        def many(q: np.ndarray) -> list[list[int]]:
            faiss.omp_set_num_threads(os.cpu_count() or 1)
            return index.search(q, K)[1].tolist()

        return one, many
    import chromadb

    col = chromadb.PersistentClient(path=str(out)).get_collection("bench")
    # "chroma": Chroma's default include (ids, distances, metadatas, documents), i.e. what
    # our hits carry; "chroma-ids": ids only, Chroma's fastest query
    include = [] if system == "chroma-ids" else ["metadatas", "documents", "distances"]

    def ask(q: np.ndarray) -> list[list[int]]:
        found = col.query(query_embeddings=q, n_results=K, include=include)  # type: ignore[arg-type]
        return [[int(i) for i in ids] for ids in found["ids"]]

    return (lambda v: ask(v[None, :])[0]), ask


def our_graph(folder: Path) -> Path:
    """The base graph file a collection saved (bulk loads leave no delta)."""
    (index_dir,) = (folder / "indexes").glob("hnsw-*")
    assert not (index_dir / "delta.usearch").exists(), "bulk load left a delta graph"
    return index_dir / "graph.usearch"


def time_rounds(
    runs: dict[str, Callable[[], object]], rounds: int, count: dict[str, int]
) -> tuple[dict[str, float], dict[str, int]]:
    """Median queries/s per system over interleaved rounds, and the major page faults
    (reads from disk) each system's timed runs caused: nonzero means the indexes open
    at once did not all fit in RAM, and that system's figure includes disk reads."""
    qps: dict[str, list[float]] = {name: [] for name in runs}
    faults = dict.fromkeys(runs, 0)
    for _ in range(rounds):  # interleaved: every system runs once per round
        for name, run in runs.items():
            before = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
            start = time.perf_counter()
            run()
            qps[name].append(count[name] / (time.perf_counter() - start))
            faults[name] += resource.getrusage(resource.RUSAGE_SELF).ru_majflt - before
    return {name: statistics.median(values) for name, values in qps.items()}, faults


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)])
    )


def run(name: str, x: np.ndarray, q: np.ndarray, args: argparse.Namespace, root: Path) -> None:
    hnsw = {"connectivity": args.m, "expansion_add": args.ef_construction,
            "expansion_search": args.ef_search}  # fmt: skip
    print(f"\n== {name}: {len(x):,} x {x.shape[1]}, {len(q)} queries, M={args.m} "
          f"ef_construction={args.ef_construction} ef_search={args.ef_search}; "
          f"{cpu_model()}; load {os.getloadavg()}", flush=True)  # fmt: skip
    work = root / name.split(maxsplit=1)[0].lower()
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data.npy"
    np.save(data, x)
    truth = exact_top(x, q)
    del x  # the indexes opened below need the RAM more (the caller holds no reference)
    # Unless --separate-raw, the exact scan and raw usearch use the default collection
    # (exact=True) and its graph file: the same data, one build less each.
    reuse = not args.separate_raw and "es-hnsw" not in args.skip
    wanted = [s for s in SYSTEMS if s not in args.skip and not (reuse and s in REUSED)]
    wanted = [s for s in wanted if s != "chroma-ids"]  # the chroma index, queried for ids
    outs = {s: work / s for s in wanted}
    built = {s: build_in_child(s, data, outs[s], hnsw) for s in wanted}
    if reuse:
        nothing = {"build_s": float("nan"), "rss_mb": float("nan")}
        outs["es-exact"] = outs["es-hnsw"]
        built = {"es-exact": {**nothing, "disk_mb": folder_mb(outs["es-exact"] / "vectors")},
                 **built}  # fmt: skip
        for raw in ("usearch", "usearch-resident"):
            if raw not in args.skip:
                outs[raw] = our_graph(outs["es-hnsw"])
                built[raw] = {**nothing, "disk_mb": folder_mb(outs[raw])}
    if "chroma" in built and "chroma-ids" not in args.skip:
        outs["chroma-ids"] = outs["chroma"]
        built["chroma-ids"] = {**built["chroma"], "build_s": float("nan"), "rss_mb": float("nan")}
    opened = {s: open_system(s, outs[s], hnsw) for s in built}
    exact_q = q[: args.exact_queries]
    for single, batch in opened.values():  # warm up: page the indexes in
        single(q[0])
        batch(q[:32])
    found = {s: [single(v) for v in q] for s, (single, _) in opened.items() if s != "es-exact"}
    found["es-exact"] = [opened["es-exact"][0](v) for v in exact_q]
    singles = {s: (lambda f=f, qq=(exact_q if s == "es-exact" else q): [f(v) for v in qq])
               for s, (f, _) in opened.items()}  # fmt: skip
    batches_ = {s: (lambda f=b, qq=(exact_q if s == "es-exact" else q): f(qq))
                for s, (_, b) in opened.items()}  # fmt: skip
    count = {s: len(exact_q if s == "es-exact" else q) for s in opened}
    single_qps, single_faults = time_rounds(singles, args.rounds, count)
    batch_qps, batch_faults = time_rounds(batches_, args.rounds, count)
    print(f"load after: {os.getloadavg()}")
    paged = {
        s: (single_faults[s], batch_faults[s])
        for s in opened
        if single_faults[s] or batch_faults[s]
    }
    print("major page faults while timed (single, batch): " + (str(paged) if paged else "none"))
    exact = single_qps["es-exact"]
    print(f"{'system':<28} {'recall@10':>9} {'q/s 1x1':>8} {'vs exact':>8} {'q/s batch':>9} "
          f"{'build s':>8} {'peak RSS MB':>11} {'disk MB':>8}")  # fmt: skip
    for s, info in built.items():
        r = recall(found[s], truth[: len(found[s])])
        print(f"{LABELS[s]:<28} {r:9.3f} {single_qps[s]:8.0f} {single_qps[s] / exact:7.1f}x "
              f"{batch_qps[s]:9.0f} {info['build_s']:8.1f} {info['rss_mb']:11.0f} "
              f"{info['disk_mb']:8.1f}")  # fmt: skip
    ours = "es-hnsw"
    for peer in ("usearch", "usearch-resident", "faiss", "chroma", "chroma-ids"):
        if ours in built and peer in built:
            print(f"{LABELS[ours]} / {LABELS[peer]}: {single_qps[ours] / single_qps[peer]:.2f}x "
                  f"single, {batch_qps[ours] / batch_qps[peer]:.2f}x batch")  # fmt: skip
    for compressed in ("es-hnsw-f32", "es-hnsw-int8", "es-hnsw-binary"):
        if compressed in built and "chroma" in built:
            one = single_qps[compressed] / single_qps["chroma"]
            many = batch_qps[compressed] / batch_qps["chroma"]
            print(f"{LABELS[compressed]} / chroma: {one:.2f}x single, {many:.2f}x batch")
    if ours in built:
        graph = our_graph(outs[ours]).stat().st_size / 2**20
        print(f"default hnsw build peak RSS / graph file: {built[ours]['rss_mb'] / graph:.2f}x "
              f"({built[ours]['rss_mb']:.0f} MB / {graph:.0f} MB); / whole collection "
              f"{built[ours]['rss_mb'] / built[ours]['disk_mb']:.2f}x")  # fmt: skip
        if args.filtered:
            filtered(outs[ours], q[: args.filter_queries])
    del opened
    shutil.rmtree(work, ignore_errors=True)


def filtered(folder: Path, q: np.ndarray) -> None:
    """Filtered HNSW search at 1% and 50% selectivity against the exact filtered scan."""
    from embedstack.store.collection import Collection

    print(f"\n== filtered search; load {os.getloadavg()}")
    col = Collection.open(folder)
    for field in ("p1", "p50"):
        where = {field: True}
        col.search_vector(q[0], K, where=where)  # warm the filter cache
        # One pass each: an exact scan between two graph queries would evict the graph
        # from the caches and time every graph query cold.
        times, exact_times, answers = [], [], []
        for v in q:
            start = time.perf_counter()
            answers.append([h.id for h in col.search_vector(v, K, where=where)])
            times.append(time.perf_counter() - start)
        same = full = 0
        for v, ann in zip(q, answers, strict=True):
            start = time.perf_counter()
            exact = [h.id for h in col.search_vector(v, K, where=where, exact=True)]
            exact_times.append(time.perf_counter() - start)
            same += ann == exact
            full += len(ann) == K
        print(f"{field}: identical to exact filtered top-10 in {same}/{len(q)} queries, "
              f"{full}/{len(q)} with k results, median {1000 * statistics.median(times):.2f} "
              f"ms/query (exact filtered scan {1000 * statistics.median(exact_times):.2f} ms)",
              )  # fmt: skip
    col.close()


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
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, system, data, out, hnsw, report = sys.argv
        build(system, Path(data), Path(out), json.loads(hnsw))
        Path(report).write_text(str(peak_rss_mb()))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--exact-queries", type=int, default=30)
    parser.add_argument("--filter-queries", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=128)
    parser.add_argument("--ef-search", type=int, default=64)
    parser.add_argument("--skip", nargs="*", default=[], choices=SYSTEMS)
    parser.add_argument(
        "--separate-raw",
        action="store_true",
        help="build raw usearch separately (default: search our graph file)",
    )
    parser.add_argument("--no-filtered", dest="filtered", action="store_false")
    parser.add_argument("--scifact", action="store_true", help="also SciFact MiniLM vectors")
    parser.add_argument("--only-scifact", action="store_true", help="skip the synthetic set")
    parser.add_argument("--workdir", type=Path, default=None, help="where indexes are built")
    parser.add_argument(
        "--huge-pages-everywhere",
        action="store_true",
        help="rerun with glibc's malloc advising huge pages (GLIBC_TUNABLES), so faiss, "
        "Chroma and usearch's own allocations get them too, not only our resident graph",
    )
    args = parser.parse_args()
    tunable = "glibc.malloc.hugetlb=1"
    if args.huge_pages_everywhere and tunable not in os.environ.get("GLIBC_TUNABLES", ""):
        env = {**os.environ, "GLIBC_TUNABLES": tunable}  # read by glibc at start: re-exec
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    print(f"GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '')!r}")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ann-bench-", dir=args.workdir) as tmp:
        if not args.only_scifact:
            run("synthetic clustered", *clustered(args.n, args.dim, args.queries), args, Path(tmp))
        if args.scifact or args.only_scifact:
            docs, qs = scifact_vectors(args.queries)
            run("SciFact MiniLM", docs, qs, args, Path(tmp))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
