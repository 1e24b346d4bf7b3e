"""embed-corpus throughput: 1 vs 2 Ray workers, and the job's overhead vs plain encoding.

    PYTHONPATH=src python benchmarks/distributed.py [--docs 2000] [--model minilm]
        [--precision int8] [--unit-rows 250] [--repeats 3] [--cpus 2]

Writes SciFact abstract sentences (cycled, unique ids) as JSONL shards, then times, in
interleaved rounds (median of `--repeats`):

- plain encoder: `load_encoder(model).encode(texts)` in this process (the peer: no job);
- parallel encoder: the existing `load_parallel(model, 2)` process pool, same texts;
- embed-corpus local: `embed_shards` in this process (units, Parquet writes, manifest);
- embed-corpus ray 1 / ray 2: the same job on a local Ray cluster with 1 and 2 actors.

Job timings include reading the shards, writing Parquet and the manifest; Ray timings
include starting the actors and loading the model in each (the Ray cluster itself is
started once, timed separately). The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

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


def sentences(n: int) -> list[str]:
    with gzip.open(DATA / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        pool = [
            s
            for line in handle
            for s in re.split(r"(?<=[.!?])\s+", json.loads(line)["text"])
            if len(s.split()) >= 5
        ]
    return [pool[i % len(pool)] for i in range(n)]


def write_shards(folder: Path, texts: list[str], shards: int = 4) -> None:
    folder.mkdir(parents=True)
    per = -(-len(texts) // shards)
    for s in range(shards):
        with open(folder / f"shard-{s}.jsonl", "w", encoding="utf-8") as fh:
            for i in range(s * per, min(len(texts), (s + 1) * per)):
                fh.write(json.dumps({"id": f"doc-{i}", "text": texts[i]}) + "\n")


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--precision", default=None)
    parser.add_argument("--unit-rows", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    args = parser.parse_args()

    import ray

    from embedstack.distributed import embed_shards
    from embedstack.registry import load_encoder, load_parallel

    options = {"precision": args.precision} if args.precision else {}
    texts = sentences(args.docs)
    console = Console(width=160)
    console.print(f"load average before: {load()}")
    start = time.perf_counter()
    ray.init(
        num_cpus=args.cpus,
        object_store_memory=200 * 1024 * 1024,
        include_dashboard=False,
        log_to_driver=False,
    )
    ray_start = time.perf_counter() - start
    tmp = Path(tempfile.mkdtemp(prefix="bench-distributed-"))
    src = tmp / "src"
    write_shards(src, texts)
    encoder = load_encoder(args.model, **options)
    encoder.encode(["warm up"])
    parallel = load_parallel(args.model, 2, **options)
    parallel.encode(["warm up"] * 4)
    runs = 0

    def job(ray_mode: str | None, workers: int) -> Callable[[], None]:
        def run() -> None:
            nonlocal runs
            runs += 1
            stats = embed_shards(
                [src], tmp / f"out-{runs}", args.model, ray=ray_mode, workers=workers,
                unit_rows=args.unit_rows, options=options,
            )  # fmt: skip
            assert stats.embedded == args.docs and not stats.failures

        return run

    configs: dict[str, Callable[[], object]] = {
        "plain encoder (1 process)": lambda: encoder.encode(texts),
        "parallel encoder (2 processes)": lambda: parallel.encode(texts),
        "embed-corpus local": job(None, 1),
        "embed-corpus ray, 1 worker": job("auto", 1),
        "embed-corpus ray, 2 workers": job("auto", 2),
    }
    times: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(args.repeats):
        for name, fn in configs.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    parallel.close()
    ray.shutdown()
    console.print(f"load average after: {load()}")

    plain = statistics.median(times["plain encoder (1 process)"])
    model = f"{args.model} {args.precision or ''}".strip()
    title = (
        f"{args.docs:,} SciFact sentences, {model}, units of {args.unit_rows}, "
        f"median of {args.repeats} (Ray start {ray_start:.1f}s)"
    )
    table = Table(title=title)
    for column in ("config", "median s", "rows/s", "vs plain encoder", "runs (s)"):
        table.add_column(column, justify="left" if column == "config" else "right")
    for name, values in times.items():
        median = statistics.median(values)
        table.add_row(
            name,
            f"{median:.2f}",
            f"{args.docs / median:,.0f}",
            f"{median / plain - 1:+.0%}",
            " ".join(f"{v:.1f}" for v in values),
        )
    console.print(table)


if __name__ == "__main__":
    main()
