"""Cold start of `embedstack search` on a small existing collection, vs its peers.

Each run is a new process, as a user typing the command gets: wall time from spawn to
exit, and the CPU time the process used. Runs are interleaved (embedstack, then each
peer, repeated) so a change in machine load hits all of them alike; medians are printed
with the load average before and after. Peers: a bare `python -c pass` (the floor) and
the import of sentence-transformers (or, when it is not installed, of torch +
transformers, which it imports), i.e. what a PyTorch-based search pays before any work.

    PYTHONPATH=src python benchmarks/cold_start.py --runs 5 --model minilm

One warm-up run of each command first (byte-code compiled, files in the page cache):
the numbers are for "second and later" starts, which is what a user mostly sees.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table


def build_collection(folder: Path, model: str) -> Path:
    """The 40-paragraph demo corpus, indexed with `model` (converted once if needed)."""
    from embedstack.store.collection import Collection

    corpus = resources.files("embedstack").joinpath("data/demo/corpus.jsonl").read_text("utf-8")
    rows = [json.loads(line) for line in corpus.splitlines() if line.strip()]
    col = Collection.create(folder / "kb.es", model)
    col.add([r["text"] for r in rows], ids=[r["id"] for r in rows])
    return folder / "kb.es"


def embedstack_command() -> list[str]:
    script = Path(sys.executable).with_name("embedstack")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "embedstack"]


def commands(collection: Path, baseline: Path | None) -> dict[str, list[str]]:
    query = ["search", "how do I keep knives sharp?", "--in", str(collection), "-k", "3"]
    found = {"embedstack search": [*embedstack_command(), *query]}
    if baseline is not None:  # another checkout's src/, e.g. before a change
        found["embedstack search (baseline src)"] = [
            "env",
            f"PYTHONPATH={baseline}",
            sys.executable,
            "-m",
            "embedstack",
            *query,
        ]
    if importlib.util.find_spec("sentence_transformers"):
        found["import sentence_transformers"] = [
            sys.executable,
            "-c",
            "import sentence_transformers",
        ]
    elif importlib.util.find_spec("torch") and importlib.util.find_spec("transformers"):
        found["import torch, transformers"] = [
            sys.executable,
            "-c",
            "import torch, transformers",
        ]
    found["python -c pass"] = [sys.executable, "-c", "pass"]
    return found


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default="minilm")
    parser.add_argument(
        "--baseline-src", type=Path, help="also time the `src` folder of another checkout"
    )
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    folder = Path(tempfile.mkdtemp(prefix="cold-start-"))
    try:
        baseline = None
        if args.baseline_src is not None:  # a copy: its byte-code is written there
            baseline = folder / "baseline-src"
            shutil.copytree(args.baseline_src, baseline, ignore=shutil.ignore_patterns("*.pyc"))
        todo = commands(build_collection(folder, args.model), baseline)
        for argv in todo.values():  # warm-up: byte-code, page cache, converted graph
            run_once(argv, env)
        load_before = os.getloadavg()
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in todo}
        for _ in range(args.runs):
            for name, argv in todo.items():
                times[name].append(run_once(argv, env))
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    table = Table(title=f"cold start, {args.runs} interleaved runs each (model {args.model})")
    for column in ("command", "median wall s", "min wall s", "max wall s", "median CPU s"):
        table.add_column(column, justify="left" if column == "command" else "right")
    for name, samples in times.items():
        walls = [w for w, _ in samples]
        cpus = [c for _, c in samples]
        table.add_row(
            name,
            f"{statistics.median(walls):.2f}",
            f"{min(walls):.2f}",
            f"{max(walls):.2f}",
            f"{statistics.median(cpus):.2f}",
        )
    console = Console()
    console.print(table)
    console.print(
        f"load average (1/5/15 min) before: {' '.join(f'{x:.2f}' for x in load_before)}; "
        f"after: {' '.join(f'{x:.2f}' for x in load_after)}; CPUs: {os.cpu_count()}"
    )


if __name__ == "__main__":
    main()
