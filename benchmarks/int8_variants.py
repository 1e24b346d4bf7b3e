"""Which int8 recipe: speed and agreement of graph variants of MiniLM-L6, same run.

    PYTHONPATH=src python benchmarks/int8_variants.py [--n 300] [--rounds 3]
                                                      [--variants fp32,q2,...] [--threads 1]

Every variant is built from the same converted float32 graph (the cached one), then all
run interleaved on two text sets (STS-B test sentences, ~10 words; SciFact sentences of
20-28 words). Speed is process CPU time with one intra-op thread by default: on a
machine shared with other work, wall-clock ratios swing with the load while CPU time
per text barely moves. Medians of the rounds; cosine is to float32 on the same texts.
Graphs are kept in ~/.cache/embedstack/int8-variants (delete it to rebuild).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from speed import sentences, stsb

VARIANTS = {
    "fp32": "float32, fused (the shipped float32 graph)",
    "fp32-unfused": "float32, as converted (no operator fusion)",
    "q2": "SHIPPED: all weight products int8 per-channel, layer 0 FFN-down float32",
    "q1": "previous: per-channel, FFN-down of layers 0-2 float32",
    "all": "every weight product int8, per-channel",
    "per-tensor": "every weight product int8, one scale per matrix",
    "q2-fastgelu": "q2 with tanh-approximated GELU (FastGelu)",
    "static-qdq": "static QDQ, activation ranges calibrated on shipped text (MinMax)",
}


def calibration_texts() -> list[str]:
    """Text shipped with the package: the demo corpus and the off-topic questions."""
    from importlib.resources import files

    data = files("embedstack") / "data"
    lines = (data / "demo" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()]
    return texts + (data / "offtopic_questions.txt").read_text(encoding="utf-8").splitlines()


def build(name: str, fused: Path, raw: Path, config: dict[str, Any], out: Path, model: Any) -> Path:
    """The graph of one variant (built once, then reused)."""
    import onnx

    from embedstack.encoders import quantize

    if name == "fp32":
        return fused
    if name == "fp32-unfused":
        return raw
    target = out / f"{name}.onnx"
    if target.is_file():
        return target
    quantize.MIN_INT8_COSINE = -1.0  # measure every variant, even ones the loader refuses
    layers = int(config.get("num_hidden_layers", 6))
    if name in ("q2", "q2-fastgelu"):
        quantize.quantize_int8(fused, target, config)
        if name == "q2-fastgelu":
            graph = onnx.load(str(target))
            for node in graph.graph.node:
                if node.op_type == "BiasGelu":
                    node.op_type = "FastGelu"
            onnx.save(graph, str(target))
    elif name == "q1":
        quantize.quantize_int8(fused, target, config, float_layers=tuple(range(layers // 2)))
    elif name == "all":
        quantize.quantize_int8(fused, target, config, float_layers=())
    elif name == "per-tensor":
        quantize.quantize_int8(fused, target, config, float_layers=(), per_channel=False)
    elif name == "static-qdq":
        static_qdq(raw, target, model)
    else:
        raise SystemExit(f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}")
    return target


def static_qdq(raw: Path, target: Path, model: Any) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    texts = calibration_texts()
    feeds = [feed(model.tokenize(texts[i : i + 16])) for i in range(0, len(texts), 16)]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    quantize_static(
        str(raw), str(target), Reader(), quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["MatMul"], per_channel=True, reduce_range=False,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax, extra_options={"MatMulConstBOnly": True},
    )  # fmt: skip


def feed(batch: Any) -> dict[str, np.ndarray]:
    return {
        "input_ids": batch.input_ids,
        "attention_mask": batch.attention_mask,
        "token_type_ids": batch.token_type_ids,
    }


def runner(path: Path, threads: int, model: Any, texts: list[str]) -> Callable[[], np.ndarray]:
    """Embed `texts` with the graph at `path` (token-sorted batches of 32, mean pooled)."""
    from embedstack.encoders.runtime import make_session

    session = make_session(path, threads=threads)
    names = {i.name for i in session.get_inputs()}
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    batches = [order[i : i + 32] for i in range(0, len(order), 32)]
    feeds = [feed(model.tokenize([texts[i] for i in b])) for b in batches]

    def run() -> np.ndarray:
        out = np.zeros((len(texts), model.hidden_size), dtype=np.float32)
        for idx, f in zip(batches, feeds, strict=True):
            (hidden,) = session.run(
                ["last_hidden_state"], {k: v for k, v in f.items() if k in names}
            )
            mask = f["attention_mask"][:, :, None]
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300, help="texts per set")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)

    from embedstack.config import cache_dir
    from embedstack.encoders.quantize import GRAPH_RECIPE
    from embedstack.encoders.resolve import resolve_model
    from embedstack.encoders.transformer import TransformerModel, _convert_native

    names = args.variants.split(",")
    root = resolve_model("minilm").path
    model = TransformerModel.from_dir(root)
    pattern = f"{model.fingerprint[:24]}-*-{GRAPH_RECIPE}-float32/model.onnx"
    fused = next(cache_dir("onnx").glob(pattern))
    out = cache_dir("int8-variants")
    out.mkdir(parents=True, exist_ok=True)
    raw = out / "raw.onnx"
    if not raw.is_file():
        _convert_native(root, model.config, raw)
    paths = {name: build(name, fused, raw, model.config, out, model) for name in names}
    left, right, _ = stsb()
    rng = np.random.default_rng(0)
    sets = {
        "STS-B": [left[i] for i in rng.permutation(len(left))[: args.n]]
        + [right[i] for i in rng.permutation(len(right))[: args.n // 2]],
        "SciFact ~24w": sentences(args.n),
    }
    runs = {
        (v, s): runner(paths[v], args.threads, model, t) for v in names for s, t in sets.items()
    }
    cpu: dict[tuple[str, str], list[float]] = {key: [] for key in runs}
    vectors: dict[tuple[str, str], np.ndarray] = {}
    load_before = os.getloadavg()
    for _ in range(args.rounds):
        for key, run in runs.items():
            start = time.process_time()
            vectors[key] = run()
            cpu[key].append(time.process_time() - start)
    load = os.getloadavg()
    table = Table(
        title=f"MiniLM-L6 graph variants: CPU time, {args.threads} intra-op thread(s), median "
        f"of {args.rounds} interleaved rounds, {args.n}+ texts per set; load average "
        f"{load_before[0]:.1f} before / {load[0]:.1f} after"
    )
    for column in ("variant", "what", *[f"{s}: x fp32 (CPU)" for s in sets]):
        table.add_column(column)
    for s in sets:
        table.add_column(f"{s}: cos vs fp32 mean (min)")
    for v in names:
        row = [v, VARIANTS[v]]
        for s in sets:
            base = np.median(cpu[("fp32", s)]) if ("fp32", s) in cpu else np.nan
            row.append(f"{base / np.median(cpu[(v, s)]):.2f}")
        for s in sets:
            ref = vectors.get(("fp32", s))
            cos = (vectors[(v, s)] * ref).sum(1) if ref is not None else np.array([np.nan])
            row.append(f"{cos.mean():.4f} ({cos.min():.3f})")
        table.add_row(*row)
    Console(width=220).print(table)


if __name__ == "__main__":
    main()
