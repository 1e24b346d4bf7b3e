"""Drift detection: false-positive rate on same-distribution resamples, and power.

Run from the repository root:

    PYTHONPATH=src python benchmarks/drift_calibration.py [--seeds 100]
        [--scifact ../shared/data/scifact --model hash:256|minilm]

Synthetic part: an anisotropic Gaussian (d=32, a common offset, uneven variances, like
real embeddings); the reference and the new batch are independent draws. Rows: how
often `embedstack.drift.compare` flags drift (alpha 0.05) with no change, and with a
mean shift, a random rotation, or a share of rows from another cluster. Text part
(with --scifact): random disjoint splits of the SciFact corpus (same distribution)
vs the shipped demo corpus and image captions (other topics), embedded with --model.
No peer library tracks drift, so there is no comparison column; this is a statistics
check, not a timing benchmark (times are shown only to size runs).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from embedstack.drift import compare, profile
from embedstack.types import EmbeddingSpace

DIM = 32
SPACE = EmbeddingSpace(model="synthetic", dim=DIM, normalize=False)
ROOT = Path(__file__).resolve().parent.parent


def _generator() -> Callable[[np.random.Generator, int], np.ndarray]:
    gen = np.random.default_rng(1234)
    basis = np.linalg.qr(gen.standard_normal((DIM, DIM)))[0]
    scales = np.linspace(2.0, 0.2, DIM)
    mean = gen.standard_normal(DIM)

    def draw(rng: np.random.Generator, n: int) -> np.ndarray:
        return (mean + (rng.standard_normal((n, DIM)) * scales) @ basis).astype(np.float32)

    return draw


def _rate(
    seeds: int, n_ref: int, n_new: int, change: Callable[[np.ndarray, np.random.Generator], None]
) -> tuple[float, float]:
    draw = _generator()
    flagged, start = 0, time.perf_counter()
    for seed in range(seeds):
        rng = np.random.default_rng(10_000 + seed)
        prof = profile(draw(rng, n_ref), SPACE, seed=seed)
        new = draw(rng, n_new)
        change(new, rng)
        flagged += compare(prof, new, SPACE, seed=seed).drift
    return flagged / seeds, (time.perf_counter() - start) / seeds


def synthetic(seeds: int, n_ref: int, n_new: int) -> list[tuple[str, float, float]]:
    unit = np.full(DIM, 1.0 / np.sqrt(DIM), dtype=np.float32)

    def shift(size: float) -> Callable[[np.ndarray, np.random.Generator], None]:
        def apply(new: np.ndarray, rng: np.random.Generator) -> None:
            new += size * unit

        return apply

    def rotate(new: np.ndarray, rng: np.random.Generator) -> None:
        new[:] = new @ np.linalg.qr(rng.standard_normal((DIM, DIM)))[0]

    def contaminate(share: float) -> Callable[[np.ndarray, np.random.Generator], None]:
        def apply(new: np.ndarray, rng: np.random.Generator) -> None:
            k = int(share * len(new))
            new[:k] = rng.standard_normal((k, DIM)) * 0.5 + 4 * unit * np.sqrt(DIM) / 2

        return apply

    cases: list[tuple[str, Callable[[np.ndarray, np.random.Generator], None]]] = [
        ("no change (resample)", lambda new, rng: None),
        ("mean shift 0.25 (unit dir.)", shift(0.25)),
        ("mean shift 0.5", shift(0.5)),
        ("mean shift 1.0", shift(1.0)),
        ("random rotation", rotate),
        ("5% rows from another cluster", contaminate(0.05)),
        ("10% rows from another cluster", contaminate(0.10)),
    ]
    rows = []
    for name, change in cases:
        count = seeds if name.startswith("no change") else max(10, seeds // 4)
        rate, secs = _rate(count, n_ref, n_new, change)
        rows.append((f"{name} [{count} seeds]", rate, secs))
    return rows


def texts(
    scifact: Path, model: str, seeds: int, n_ref: int, n_new: int
) -> list[tuple[str, float, float]]:
    from embedstack.registry import load_encoder

    with gzip.open(scifact / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh]
    corpus = [f"{d.get('title', '')}. {d['text']}"[:1000] for d in docs]
    demo = [
        json.loads(line)["text"]
        for line in (ROOT / "src/embedstack/data/demo/corpus.jsonl").read_text().splitlines()
    ]
    captions = [
        json.loads(line)["text"]
        for line in (ROOT / "tests/data/dedup_captions.jsonl").read_text().splitlines()
    ]
    encoder = load_encoder(model)
    pool = np.random.default_rng(0).permutation(len(corpus))[: n_ref + n_new * 2]
    vectors = encoder.encode([corpus[i] for i in pool])
    other = {"demo corpus (40 docs)": encoder.encode(demo), "captions": encoder.encode(captions)}
    rows = []
    start, flagged = time.perf_counter(), 0
    for seed in range(seeds):
        order = np.random.default_rng(seed).permutation(len(vectors))
        prof = profile(vectors[order[:n_ref]], encoder.space, seed=seed)
        flagged += compare(
            prof, vectors[order[n_ref : n_ref + n_new]], encoder.space, seed=seed
        ).drift
    rows.append(
        (
            f"SciFact resample [{seeds} splits]",
            flagged / seeds,
            (time.perf_counter() - start) / seeds,
        )
    )
    prof = profile(vectors[:n_ref], encoder.space)
    for name, vecs in other.items():
        start = time.perf_counter()
        rows.append(
            (
                f"SciFact vs {name}",
                float(compare(prof, vecs, encoder.space).drift),
                time.perf_counter() - start,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--ref", type=int, default=500, help="reference rows")
    parser.add_argument("--new", type=int, default=200, help="new rows per run")
    parser.add_argument("--scifact", type=Path, help="folder with corpus.jsonl.gz")
    parser.add_argument("--model", default="hash:256")
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"reference {args.ref} rows, new {args.new} rows, alpha 0.05, 200 permutations\n")
    rows = synthetic(args.seeds, args.ref, args.new)
    if args.scifact:
        rows += texts(args.scifact, args.model, max(10, args.seeds // 5), args.ref, args.new)
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  flagged  s/run")
    for name, rate, secs in rows:
        print(f"{name:<{width}}  {rate:7.0%}  {secs:5.2f}")


if __name__ == "__main__":
    main()
