"""Where an encoder graph spends its time, per ONNX operator, fused two ways.

Run from the repository root:

    PYTHONPATH=src python benchmarks/ort_ops.py                       # MiniLM, 256 tokens
    PYTHONPATH=src python benchmarks/ort_ops.py --tokens 32 --rows 16 # short sentences

Converts the model once (as the loader does), then fuses it twice with ONNX Runtime's
transformer optimiser: with residual + LayerNorm fused into `SkipLayerNormalization` (the
peer: the optimiser's and the session's default) and without (what `encoders/quantize.py`
ships, loaded with that session fusion disabled as `encoders/runtime.py` does), each in
float32 and int8 (the shipped recipe). Every graph runs the same random token batch on
one intra-op thread with ONNX Runtime's profiler on, in interleaved rounds; the table
gives the median milliseconds per run of each operator type and in total.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import tempfile
from pathlib import Path

from embedstack.encoders.quantize import fuse, probe_batch, quantize_int8
from embedstack.encoders.resolve import resolve_model
from embedstack.encoders.runtime import SLOWER_FUSIONS
from embedstack.encoders.transformer import _convert_native


def profile(
    path: Path, feeds: dict, runs: int, work: Path, disabled: list[str]
) -> dict[str, float]:
    """Milliseconds per run of each operator type (ONNX Runtime's profiler)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_profiling = True
    options.profile_file_prefix = str(work / path.stem)
    session = ort.InferenceSession(
        str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=disabled
    )
    names = {i.name for i in session.get_inputs()}
    feed = {k: v for k, v in feeds.items() if k in names}
    for _ in range(runs):
        session.run(None, feed)
    events = json.loads(Path(session.end_profiling()).read_text())
    per_op: collections.Counter[str] = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"]
    return {op: micros / runs / 1000 for op, micros in per_op.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--rows", type=int, default=1)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--runs", type=int, default=20, help="runs per graph per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    root = Path(resolve_model(args.model).path)
    config = json.loads((root / "config.json").read_text())
    work = Path(tempfile.mkdtemp(prefix="ort-ops-"))
    _convert_native(root, config, work / "raw.onnx")
    graphs = {}
    for label, skip in (("SkipLayerNorm fused (peer)", True), ("Add + LayerNorm (shipped)", False)):
        name = "skip" if skip else "plain"
        if not fuse(work / "raw.onnx", work / f"{name}-fp32.onnx", config, skip_layer_norm=skip):
            raise SystemExit(f"fusion failed for {args.model} (see the log)")
        quantize_int8(work / f"{name}-fp32.onnx", work / f"{name}-int8.onnx", config)
        graphs[f"{label} fp32"] = work / f"{name}-fp32.onnx"
        graphs[f"{label} int8"] = work / f"{name}-int8.onnx"

    feeds = probe_batch(config, rows=args.rows, tokens=args.tokens)
    feeds["attention_mask"][:] = 1  # every row full length: the long-text case
    rounds: dict[str, list[dict[str, float]]] = {label: [] for label in graphs}
    for _ in range(args.rounds):
        for label, path in graphs.items():
            disabled = [] if "peer" in label else SLOWER_FUSIONS
            rounds[label].append(profile(path, feeds, args.runs, work, disabled))

    load = os.getloadavg()[0]
    print(
        f"\n{args.model}: {args.rows} row(s) x {args.tokens} tokens, 1 thread, "
        f"{args.runs} runs x {args.rounds} interleaved rounds, load average {load:.2f}\n"
    )
    ops = sorted({op for runs in rounds.values() for r in runs for op in r})
    medians = {
        label: {op: statistics.median(r.get(op, 0.0) for r in runs) for op in ops}
        for label, runs in rounds.items()
    }
    totals = {
        label: statistics.median(sum(r.values()) for r in runs) for label, runs in rounds.items()
    }
    shown = [op for op in ops if max(m[op] for m in medians.values()) >= 0.05]
    print("| graph | " + " | ".join(shown) + " | total ms |")
    print("|---|" + "---:|" * (len(shown) + 1))
    for label in graphs:
        cells = " | ".join(f"{medians[label][op]:.2f}" for op in shown)
        print(f"| {label} | {cells} | **{totals[label]:.2f}** |")
    for precision in ("fp32", "int8"):
        peer = totals[f"SkipLayerNorm fused (peer) {precision}"]
        ours = totals[f"Add + LayerNorm (shipped) {precision}"]
        print(f"{precision}: shipped graph {peer / ours:.2f}x the SkipLayerNorm-fused graph")


if __name__ == "__main__":
    main()
