"""Where one HNSW query of a collection spends its time beyond the graph walk.

Run from the repository root (usearch comes with the [apps] extra):

    PYTHONPATH=src python benchmarks/search_overhead.py --n 1000000 --workdir /var/tmp
    PYTHONPATH=src python benchmarks/search_overhead.py --n 20000   # a quick look

Builds the default HNSW collection (float16 graph, float32 rescoring) of the clustered
synthetic set of `benchmarks/ann.py`, then times, in interleaved rounds, one query per
call on one thread (median ms per query):

- walk: usearch's search of the collection's own graph file, asked for as many
  candidates as the collection asks for (what raw usearch costs);
- search_vector: the whole call a user makes (read snapshot, walk, float32 rescoring,
  hit rows from SQLite, `Hit` objects);
- the same without the hit-row fetch (rows made up in memory), without the rescoring
  gather (zeros), and without both;
- Python only: `search_vector` with the walk replaced by its precomputed answer, so
  the caches stay warm.

search_vector - walk - Python only is what the walk and the rest cost each other
through the CPU caches: a walk over a large graph evicts what the Python around it
uses, and the other way round. The parts are measured by swapping internals, so this
is a profiling tool, not a peer comparison (that is `benchmarks/ann.py`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ann

K = 10


class _Replayed:
    """A graph whose search answers from a list of precomputed results, in turn."""

    def __init__(self, graph: object, answers: list) -> None:
        self.graph, self.answers, self.at = graph, answers, 0

    def search(self, *args: object, **kwargs: object) -> object:
        answer = self.answers[self.at % len(self.answers)]
        self.at += 1
        return answer

    def __len__(self) -> int:
        return len(self.graph)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self.graph, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ef-construction", type=int, default=128)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    from embedstack.store.collection import Collection

    x, q = ann.clustered(args.n, 384, args.queries)
    with tempfile.TemporaryDirectory(prefix="search-overhead-", dir=args.workdir) as tmp:
        data = Path(tmp) / "data.npy"
        np.save(data, x)
        del x
        hnsw = {"connectivity": 16, "expansion_add": args.ef_construction,
                "expansion_search": 64}  # fmt: skip
        ann.build_in_child("es-hnsw", data, Path(tmp) / "col", hnsw)
        col = Collection.open(Path(tmp) / "col")
        col.search_vector(q[0], K)
        index = col._vector_index()  # a profiling tool: it swaps internals
        graph, flat, store = index._graph, col._vectors, col._store
        count = index.settings.candidate_count(K)
        real_fetch, real_take = store.fetch_rows, flat.take

        def made_up_rows(rows: list[int]) -> dict:
            return {int(r): (str(r), "", {}) for r in rows}

        def zeros(rows: np.ndarray) -> np.ndarray:
            return np.zeros((len(rows), flat.dim), np.float32)

        def search(fetch: bool = True, gather: bool = True) -> Callable[[], object]:
            def run() -> object:
                store.fetch_rows = real_fetch if fetch else made_up_rows  # type: ignore[method-assign]
                flat.take = real_take if gather else zeros  # type: ignore[method-assign]
                return [col.search_vector(v, K) for v in q]

            return run

        answers = [graph.search(v, count, threads=1) for v in q]

        def python_only() -> object:
            store.fetch_rows, flat.take = real_fetch, real_take  # type: ignore[method-assign]
            index._graph = _Replayed(graph, answers)
            try:
                return [col.search_vector(v, K) for v in q]
            finally:
                index._graph = graph

        runs: dict[str, Callable[[], object]] = {
            "walk (usearch, same graph)": lambda: [graph.search(v, count, threads=1) for v in q],
            "search_vector": search(),
            "  without the hit-row fetch": search(fetch=False),
            "  without the rescoring gather": search(gather=False),
            "  without both": search(fetch=False, gather=False),
            "Python only (walk replayed)": python_only,
        }
        qps, _ = ann.time_rounds(runs, args.rounds, dict.fromkeys(runs, len(q)))
        store.fetch_rows, flat.take = real_fetch, real_take  # type: ignore[method-assign]
        median = {name: 1e3 / value for name, value in qps.items()}  # ms per query
        walk = median["walk (usearch, same graph)"]
        print(f"\n{args.n:,} x 384, {len(q)} queries, {count} candidates, median of "
              f"{args.rounds} interleaved rounds; load {os.getloadavg()[0]:.2f}")  # fmt: skip
        print(f"{'':34} {'ms/query':>9} {'- walk':>8}")
        for name, value in median.items():
            print(f"{name:34} {value:9.3f} {value - walk:8.3f}")
        caches = median["search_vector"] - walk - median["Python only (walk replayed)"]
        print(f"walk and Python slowing each other (caches): {caches:.3f} ms; "
              f"search_vector / walk = {walk / median['search_vector']:.2f}x raw")  # fmt: skip
        col.close()


if __name__ == "__main__":
    main()
