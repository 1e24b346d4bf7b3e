"""Read tensors from `model.safetensors` as numpy, bfloat16 included.

`safetensors.numpy` does the work, but numpy has no bfloat16, and many recent checkpoints
store their weights that way; those tensors are read from the file's byte ranges and
widened to float32 (exact: bfloat16 is the top half of a float32).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from embedstack.errors import EmbedstackError


class SafetensorsFile:
    """Open once, read many tensors by name; use as a context manager."""

    def __init__(self, path: Path) -> None:
        from safetensors.numpy import safe_open

        self.path = path
        with path.open("rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(size))
        header.pop("__metadata__", None)
        self._meta: dict[str, dict[str, Any]] = header
        self._data_start = 8 + size
        self._handle: Any = safe_open(str(path), framework="np")

    def __enter__(self) -> SafetensorsFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the memory map."""
        self._handle = None

    def names(self) -> list[str]:
        """Tensor names in the file."""
        return list(self._meta)

    def get(self, name: str) -> np.ndarray:
        """One tensor as a numpy array."""
        meta = self._meta.get(name)
        if meta is None:
            tail = name.rsplit(".", 2)[-2:]
            similar = [n for n in self._meta if n.split(".")[-2:] == tail][:5]
            raise EmbedstackError(
                f"no tensor {name!r} in {self.path}; tensors with the same ending: {similar}"
            )
        if meta["dtype"] != "BF16":
            return np.asarray(self._handle.get_tensor(name))
        start, end = (int(v) for v in meta["data_offsets"])
        raw = np.fromfile(
            self.path, dtype="<u2", count=(end - start) // 2, offset=self._data_start + start
        )
        widened = (raw.astype(np.uint32) << 16).view(np.float32)
        return widened.reshape([int(d) for d in meta["shape"]])
