"""Float32 matrix products on one core: PyTorch (what sentence-transformers runs) vs ONNX
Runtime (what embedstack runs), on the shapes of a MiniLM layer.

Run from the repository root (needs the [torch] extra):

    PYTHONPATH=src python benchmarks/gemm.py

Why: the float32 ratio of `benchmarks/speed.py` and `index_throughput.py` depends on
the machine far more than on our code, because >90% of both sides is matrix products
and each side brings its own GEMM library (PyTorch: Intel MKL; ONNX Runtime: MLAS).
MKL picks its kernels by CPU vendor and model, so the same wheel can run at a different
share of the core's peak on another CPU. This prints GFLOP/s of each library on each
shape (one thread, median of interleaved rounds), so a float32 ratio can be read
against the machine it was measured on.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model

# (rows = tokens in one run, inner, outer): Q/K/V, attention output, FFN up, FFN down
SHAPES = {
    "QKV 256x384 @ 384x1152": (256, 384, 1152),
    "out 256x384 @ 384x384": (256, 384, 384),
    "FFN up 256x384 @ 384x1536": (256, 384, 1536),
    "FFN down 256x1536 @ 1536x384": (256, 1536, 384),
}


def torch_product(a: np.ndarray, b: np.ndarray) -> Callable[[], object]:
    import torch

    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    return lambda: ta @ tb


def ort_product(a: np.ndarray, b: np.ndarray, work: Path) -> Callable[[], object]:
    """One ONNX `MatMul` with `b` as a constant weight, as in a converted encoder."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "w"], ["y"])],
        "gemm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, list(a.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [a.shape[0], b.shape[1]])],
        [numpy_helper.from_array(b, "w")],
    )
    path = work / f"gemm-{a.shape[1]}x{b.shape[1]}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda: session.run(None, {"a": a})


def gflops(run: Callable[[], object], flops: float, repeats: int) -> float:
    run()
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return flops * repeats / (time.perf_counter() - start) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=200, help="products per timing")
    args = parser.parse_args()

    import onnxruntime
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="gemm-") as work:
        for name, (m, k, n) in SHAPES.items():
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            runs = {"torch": torch_product(a, b), "onnxruntime": ort_product(a, b, Path(work))}
            got: dict[str, list[float]] = {label: [] for label in runs}
            for _ in range(args.rounds):  # interleaved
                for label, run in runs.items():
                    got[label].append(gflops(run, 2.0 * m * k * n, args.repeats))
            medians = statistics.median(got["torch"]), statistics.median(got["onnxruntime"])
            rows.append((name, *medians))

    cpu = cpu_model()
    versions = f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}"
    print(f"\n{cpu}; {versions}; one thread, median of {args.rounds} interleaved rounds; "
          f"load {os.getloadavg()[0]:.2f}\n")  # fmt: skip
    print("| product (float32) | torch GFLOP/s | onnxruntime GFLOP/s | onnxruntime / torch |")
    print("|---|---:|---:|---:|")
    for name, torch_rate, ort_rate in rows:
        print(f"| {name} | {torch_rate:.0f} | {ort_rate:.0f} | {ort_rate / torch_rate:.2f} |")


if __name__ == "__main__":
    main()
