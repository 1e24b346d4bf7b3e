"""Default encoder (ONNX Runtime, float32) vs sentence-transformers (PyTorch CPU), same
weights, same run: sentences/s, the ratio, and cosine agreement.

    PYTHONPATH=src python benchmarks/encode.py [--n 2000] [--batch-size 32] [--rounds 3]

Sentences from ../shared/data: a quarter STS-B test sentences and SciFact claims, the
rest SciFact abstract sentences of 12-60 words (~21 words on average). Rounds alternate
between the two encoders and the best round of each counts, which damps noise from
other work on the machine.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import re
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data next to a clone; two levels up from a worktree under wt/.
DATA = next(
    (
        p
        for p in (ROOT / ".." / "shared" / "data", ROOT / ".." / ".." / "shared" / "data")
        if p.is_dir()
    ),
    ROOT / ".." / "shared" / "data",
)


def load_sentences(n: int, seed: int = 0) -> list[str]:
    if not DATA.is_dir():
        raise SystemExit(f"benchmark data not found at {DATA.resolve()}")
    sentences: list[str] = []
    with (DATA / "stsb" / "sts-test.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            sentences += [row["sentence1"], row["sentence2"]]
    with (DATA / "scifact" / "queries.jsonl").open(encoding="utf-8") as handle:
        sentences += [json.loads(line)["text"] for line in handle]
    short = len(sentences)
    with gzip.open(DATA / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            parts = re.split(r"(?<=[.!?])\s+", json.loads(line)["text"])
            sentences += [p for p in parts if 12 <= len(p.split()) <= 60]
            if len(sentences) > 20 * n:
                break
    rng = random.Random(seed)
    stsb_and_claims, abstracts = sentences[:short], sentences[short:]
    picked = rng.sample(stsb_and_claims, n // 4) + rng.sample(abstracts, n - n // 4)
    rng.shuffle(picked)
    return picked


def timed(fn, texts: list[str]) -> tuple[float, np.ndarray]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    vectors = fn(texts)
    return time.perf_counter() - start, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--precision", default="float32")
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    from embedstack.encoders.resolve import resolve_model
    from embedstack.registry import load_encoder

    texts = load_sentences(args.n)
    ours = load_encoder("minilm", precision=args.precision)
    reference = SentenceTransformer(str(resolve_model("minilm").path), device="cpu")

    def run_ours(items: list[str]) -> np.ndarray:
        return ours.encode(items, batch_size=args.batch_size)

    def run_st(items: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return reference.encode(items, batch_size=args.batch_size, normalize_embeddings=True)

    run_ours(texts[:64]), run_st(texts[:64])  # warm up both
    best = {
        "embedstack (ONNX Runtime)": float("inf"),
        "sentence-transformers (PyTorch)": float("inf"),
    }
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, fn in zip(best, (run_ours, run_st), strict=True):
            seconds, vectors[name] = timed(fn, texts)
            best[name] = min(best[name], seconds)

    ours_v, st_v = vectors.values()
    cosines = (ours_v * st_v).sum(axis=1)
    words = np.mean([len(t.split()) for t in texts])
    table = Table(
        title=f"{len(texts)} sentences (mean {words:.1f} words), batch {args.batch_size}, "
        f"best of {args.rounds} rounds, {torch.get_num_threads()} torch threads"
    )
    for column in ("encoder", "sentences/s", "seconds"):
        table.add_column(column, justify="right" if column != "encoder" else "left")
    for name, seconds in best.items():
        table.add_row(name, f"{len(texts) / seconds:.1f}", f"{seconds:.2f}")
    console = Console()
    console.print(table)
    ratio = best["sentence-transformers (PyTorch)"] / best["embedstack (ONNX Runtime)"]
    console.print(f"speed ratio embedstack / sentence-transformers: {ratio:.2f}x")
    console.print(
        f"cosine vs sentence-transformers: mean {cosines.mean():.6f}, min {cosines.min():.6f}"
    )


if __name__ == "__main__":
    main()
