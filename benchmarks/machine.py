"""Which CPU a benchmark ran on: ratios against PyTorch move with the CPU's vendor and
model (MKL picks its kernels by both; see `gemm.py`), so every speed table names it."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name, family/model numbers and widest vector unit from
    /proc/cpuinfo, with the core count. A virtual machine may name every generation
    alike ("AMD EPYC"); the numbers and flags tell them apart."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []

    pairs = [ln.split(":", 1) for ln in lines if ":" in ln]

    def field(key: str) -> str:  # the first CPU's value ("model" is not "model name")
        return next((value.strip() for name, value in pairs if name.strip() == key), "")

    flags = set(field("flags").split())
    simd = next((f for f in ("avx512f", "avx2", "neon") if f in flags), "")
    detail = ", ".join(
        part
        for part in (
            field("cpu family") and f"family {field('cpu family')} model {field('model')}",
            simd.upper().removesuffix("F"),
        )
        if part
    )
    name = field("model name") or "unknown CPU"
    return f"{name}{f' ({detail})' if detail else ''} x {os.cpu_count()}"
