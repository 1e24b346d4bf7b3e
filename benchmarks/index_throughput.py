"""End-to-end indexing throughput: `embedstack index` vs doing it with sentence-transformers.

    PYTHONPATH=src python benchmarks/index_throughput.py [--n 5000] [--rounds 3]
                                                         [--threads N] [--no-lancedb]

The same N SciFact abstracts (title + abstract, from shared/data) as one JSONL file, each
path started as a fresh process so imports and model loading count for everyone:
- `embedstack index docs.jsonl --into DIR` (float32, and int8 via `--model
  'minilm?precision=int8'`), the CLI exactly as a user runs it (BM25 index included);
- sentence-transformers: read the JSONL, `encode(batch_size=32)`, `np.save` the vectors
  and write the ids (what a user without embedstack would do);
- sentence-transformers + LanceDB (`pip install 'embedstack[bench]'`): the same vectors
  written to an embedded LanceDB table with ids and texts, if lancedb is installed.
Rounds are interleaved, every figure is a median; wall time and the child processes' CPU
time are both shown, with the load average. `--threads 1` pins PyTorch and ONNX Runtime
to one thread (CPU-time ratios are then robust to other work on a shared machine).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
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
        for p in (ROOT.parent / "shared" / "data", ROOT.parents[1] / "shared" / "data")
        if p.is_dir()
    ),
    ROOT.parent / "shared" / "data",
)

ST_SCRIPT = """
import json, sys, numpy as np, torch
from sentence_transformers import SentenceTransformer
from embedstack.encoders.resolve import resolve_model
docs, out, threads, lance = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
if threads:
    torch.set_num_threads(threads)
rows = [json.loads(line) for line in open(docs, encoding="utf-8")]
model = SentenceTransformer(str(resolve_model("minilm").path), device="cpu")
with torch.inference_mode():
    vectors = model.encode([r["text"] for r in rows], batch_size=32, normalize_embeddings=True)
if lance:
    import lancedb
    db = lancedb.connect(out)
    db.create_table("docs", data=[
        {"id": r["id"], "text": r["text"], "vector": v} for r, v in zip(rows, vectors)
    ])
else:
    import pathlib
    pathlib.Path(out).mkdir(parents=True, exist_ok=True)
    np.save(out + "/vectors.npy", vectors)
    json.dump([r["id"] for r in rows], open(out + "/ids.json", "w"))
"""


def write_docs(path: Path, n: int) -> int:
    with gzip.open(DATA / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for _, line in zip(range(n), handle, strict=False)]
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            text = (row["title"] + " " + row["text"]).strip()
            out.write(json.dumps({"id": row["_id"], "text": text}) + "\n")
    return len(rows)


def run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed:\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000, help="SciFact abstracts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="0: library defaults")
    parser.add_argument("--no-lancedb", action="store_true")
    args = parser.parse_args()

    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    work = Path(tempfile.mkdtemp(prefix="index-throughput-"))
    docs = work / "docs.jsonl"
    count = write_docs(docs, args.n)
    suffix = f"?threads={args.threads}" if args.threads else ""
    int8 = f"minilm?precision=int8{'&threads=' + str(args.threads) if args.threads else ''}"

    def commands(source: Path) -> dict[str, Callable[[Path], list[str]]]:
        """Each path's command for a documents file, given its output folder."""
        cli = [sys.executable, "-m", "embedstack", "index", str(source), "--json", "--into"]
        st = [sys.executable, "-c", ST_SCRIPT, str(source)]
        found: dict[str, Callable[[Path], list[str]]] = {
            "sentence-transformers + np.save": lambda o: [*st, str(o), str(args.threads), "0"],
            "embedstack index (fp32)": lambda o: [*cli, str(o), "--model", f"minilm{suffix}"],
            "embedstack index (int8)": lambda o: [*cli, str(o), "--model", int8],
        }
        if not args.no_lancedb and importlib.util.find_spec("lancedb") is not None:
            found["sentence-transformers + LanceDB"] = lambda o: [
                *st, str(o), str(args.threads), "1"
            ]  # fmt: skip
        return found

    # warm-up on a few documents: builds the cached ONNX graphs once (so no round pays the
    # one-off conversion) and brings every path's files into the page cache
    warm = work / "warm.jsonl"
    write_docs(warm, min(count, 64))
    for command in commands(warm).values():
        run(command(work / "warm"), env)
        shutil.rmtree(work / "warm", ignore_errors=True)
    paths = commands(docs)
    load_before = os.getloadavg()
    walls: dict[str, list[float]] = {name: [] for name in paths}
    cpus: dict[str, list[float]] = {name: [] for name in paths}
    for r in range(args.rounds):
        for name, command in paths.items():
            out = work / f"out-{r}"
            wall, cpu = run(command(out), env)
            walls[name].append(wall)
            cpus[name].append(cpu)
            shutil.rmtree(out, ignore_errors=True)
    load = os.getloadavg()
    shutil.rmtree(work, ignore_errors=True)

    wall = {k: float(np.median(v)) for k, v in walls.items()}
    cpu = {k: float(np.median(v)) for k, v in cpus.items()}
    base = "sentence-transformers + np.save"
    table = Table(
        title=f"Indexing {count} SciFact abstracts (title + abstract), fresh process each, "
        f"median of {args.rounds} interleaved rounds; threads: {args.threads or 'default'}; "
        f"{cpu_model()}, load average {load_before[0]:.1f} before / {load[0]:.1f} after"
    )
    for column in ("path", "wall s", "docs/s", "x ST (wall)", "CPU s", "x ST (CPU)"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name in paths:
        table.add_row(
            name,
            f"{wall[name]:.1f}",
            f"{count / wall[name]:.0f}",
            f"{wall[base] / wall[name]:.2f}",
            f"{cpu[name]:.1f}",
            f"{cpu[base] / cpu[name]:.2f}",
        )
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
