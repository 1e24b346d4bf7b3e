"""ONNX Runtime sessions: which hardware runs a graph, and with which thread settings.

Every local graph (transformer encoders, CLIP towers) gets its session here, so the
device choice and the CPU tuning live in one place. `device="cuda"` (or an explicit
`providers=[...]` list) needs an ONNX Runtime build that has that provider, e.g.
`pip install onnxruntime-gpu`; asking for one that is missing is an error listing what
this build has, never a silent fall-back to CPU.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embedstack.errors import EmbedstackError, InputError

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
# device name -> the provider it means; CPU is appended as the fall-back for the ops a
# hardware provider does not implement (ONNX Runtime assigns each op to the first
# provider in the list that has a kernel for it).
DEVICES = {
    "cpu": CPU,
    "cuda": "CUDAExecutionProvider",
    "gpu": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "migraphx": "MIGraphXExecutionProvider",
    "directml": "DmlExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "qnn": "QNNExecutionProvider",
}
_INSTALL_HINT = {
    "CUDAExecutionProvider": "pip install onnxruntime-gpu (and a matching CUDA/cuDNN)",
    "TensorrtExecutionProvider": "pip install onnxruntime-gpu with TensorRT installed",
    "ROCMExecutionProvider": "an onnxruntime build for ROCm",
    "DmlExecutionProvider": "pip install onnxruntime-directml (Windows)",
    "OpenVINOExecutionProvider": "pip install onnxruntime-openvino",
    "QNNExecutionProvider": "pip install onnxruntime-qnn",
}


class ProviderUnavailableError(EmbedstackError):
    """The requested ONNX Runtime execution provider is not in the installed build."""


def available_providers() -> list[str]:
    """Execution providers of the installed ONNX Runtime build."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


def resolve_providers(
    device: str | None = None, providers: Sequence[str] | None = None
) -> list[str]:
    """The provider list for `device` ("cpu", "cuda", ...) or an explicit `providers` list.

    Both unset means CPU. Every named provider must be available; CPU is appended so ops
    a hardware provider lacks still run.
    """
    if device is not None and providers is not None:
        raise InputError("pass either device=... or providers=[...], not both")
    if providers is not None:
        if isinstance(providers, str):
            providers = [providers]
        wanted = [str(p) for p in providers]
        if not wanted:
            raise InputError("providers=[] names no execution provider; omit it for CPU")
    else:
        name = (device or "cpu").strip().lower().split(":")[0]
        if name not in DEVICES:
            raise InputError(
                f"unknown device {device!r}; use one of {sorted(set(DEVICES))} or pass "
                "providers=[...] with ONNX Runtime provider names"
            )
        wanted = [DEVICES[name]]
    have = available_providers()
    missing = [p for p in wanted if p not in have]
    if missing:
        hints = "; ".join(f"{p}: {_INSTALL_HINT[p]}" for p in missing if p in _INSTALL_HINT)
        raise ProviderUnavailableError(
            f"ONNX Runtime provider(s) {missing} are not available in this installation "
            f"(available: {have}). {'Install ' + hints + '. ' if hints else ''}"
            "Or use device='cpu'."
        )
    return wanted if CPU in wanted else [*wanted, CPU]


def cpu_count() -> int:
    """Cores this process may run on (its affinity mask, not the machine's total)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def lane_count(providers: Sequence[str], threads: int | None) -> int:
    """Run lanes for a session (encoders/lanes.py): on CPU one per core to use, each a
    single-threaded run; a hardware provider parallelises inside its run, so one."""
    if list(providers)[:1] != [CPU]:
        return 1
    return max(1, threads or cpu_count())


def machine_is_busy() -> bool:
    """True when the 1-minute load average already fills every core we may use."""
    try:
        return os.getloadavg()[0] >= cpu_count()
    except OSError:  # no load average on this platform
        return False


# ONNX Runtime fusions that make CPU runs slower: residual + LayerNorm as one
# `SkipLayerNormalization` costs 4x `Add` + `LayerNormalization` on ORT 1.32 (MiniLM,
# 256 tokens: 6.1 vs 1.4 ms per run; see encoders/quantize.py, benchmarks/ort_ops.py).
SLOWER_FUSIONS = ["SkipLayerNormFusion"]


def make_session(
    path: Path,
    providers: Sequence[str] | None = None,
    threads: int | None = None,
    spin: bool | None = None,
) -> Any:
    """An inference session with every graph optimisation on and one intra-op thread per
    core (`threads` overrides; 1 is the setting for CPU-time measurements).

    `spin`: whether idle intra-op threads busy-wait for the next op. Spinning saves the
    wake-up latency on an idle machine, but on a busy one it burns the cores other work
    needs: measured with int8 MiniLM on 2 threads at load average 8, turning it off cut
    wall time per text from 9.4 to 4.2 ms (~24 words) and from 3.9 to 1.9 ms (short).
    None (default) spins only if the machine is not already busy when the model loads.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or cpu_count()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    spinning = not machine_is_busy() if spin is None else spin
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    chosen = list(providers) if providers else [CPU]
    session = ort.InferenceSession(
        str(path), options, providers=chosen, disabled_optimizers=SLOWER_FUSIONS
    )
    if chosen[0] != CPU and session.get_providers()[0] != chosen[0]:
        # e.g. onnxruntime-gpu installed but no CUDA driver: ORT itself falls back silently
        raise ProviderUnavailableError(
            f"{chosen[0]} is installed but could not start (session runs on "
            f"{session.get_providers()}); check the driver/runtime libraries or use device='cpu'"
        )
    log.debug("session for %s on %s (spinning %s)", path.name, session.get_providers(), spinning)
    return session
