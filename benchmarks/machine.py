"""Which CPU a benchmark ran on: ratios against PyTorch move with the CPU's vendor and
model (MKL picks its kernels by both; see `gemm.py`), so every speed table names it."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, with the core count."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    name = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "")
    return f"{name or 'unknown CPU'} x {os.cpu_count()}"
