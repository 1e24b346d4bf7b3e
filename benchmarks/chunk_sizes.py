"""How chunk size changes retrieval on SciFact (documents scored by their best chunk).

Corpus: every document judged for a test query plus a seeded random sample of the rest
(`--distractors`), so it runs in minutes on a laptop CPU; queries: the 300 test claims.

    python benchmarks/chunk_sizes.py [--sizes 64 128 254] [--distractors 1500] [--model minilm]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import time
from pathlib import Path

from embedstack.apps.rag import evaluate_chunk_sizes
from embedstack.registry import load_encoder

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "scifact"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 254])
    parser.add_argument("--distractors", type=int, default=1500)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    qrels: dict[str, set[str]] = {}
    with (args.data / "qrels" / "test.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            qrels.setdefault(row["query-id"], set()).add(row["corpus-id"])
    with gzip.open(args.data / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        corpus = {d["_id"]: f"{d['title']}\n\n{d['text']}" for d in map(json.loads, handle)}
    with (args.data / "queries.jsonl").open(encoding="utf-8") as handle:
        queries = {q["_id"]: q["text"] for q in map(json.loads, handle) if q["_id"] in qrels}
    judged = set().union(*qrels.values())
    others = sorted(set(corpus) - judged)
    keep = judged | set(random.Random(0).sample(others, min(args.distractors, len(others))))
    docs = {d: corpus[d] for d in sorted(keep)}
    encoder = load_encoder(args.model)
    started = time.perf_counter()
    rows = evaluate_chunk_sizes(docs, queries, qrels, encoder, sizes=args.sizes, k=10)
    elapsed = time.perf_counter() - started
    print(f"SciFact test: {len(queries)} queries, {len(docs)} documents, model {args.model}")
    print("| max_tokens | chunks | recall@10 | MRR@10 | nDCG@10 |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['max_tokens']} | {r['chunks']} | {r['recall@10']:.4f} | {r['mrr@10']:.4f} "
            f"| {r['ndcg@10']:.4f} |"
        )
    print(f"total {elapsed:.0f} s")


if __name__ == "__main__":
    main()
