"""Lazy imports of optional dependencies with an error that names the extra to install."""

from __future__ import annotations

import contextlib
import importlib
from types import ModuleType

from embedstack.errors import MissingExtraError


def require(module: str, extra: str, purpose: str = "") -> ModuleType:
    """Import `module` or raise an error with the exact pip command that fixes it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = f" for {purpose}" if purpose else ""
        raise MissingExtraError(
            f"{module!r} is needed{what} but is not installed. "
            f"Install it with: pip install 'embedstack[{extra}]'"
        ) from exc


def require_usearch(purpose: str) -> ModuleType:
    """`usearch.index`, with ONNX Runtime loaded first when it is installed.

    usearch 2.26's compiled module and onnxruntime 1.32 crash the interpreter (SIGSEGV in
    onnxruntime's native import) when usearch is loaded first, e.g. opening an HNSW
    collection and then loading its encoder. Loading onnxruntime first is safe, so every
    usearch import goes through here.
    """
    with contextlib.suppress(ImportError):  # no onnxruntime: nothing to crash into
        importlib.import_module("onnxruntime")
    return require("usearch.index", "apps", purpose)
