"""Optional export of architectures the built-in converter does not cover (MPNet,
DistilBERT, ...) through PyTorch, behind the `[torch]` extra.

Only used when the model's `model_type` is not built in; PyTorch is imported here, lazily,
so the default install never needs it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from embedstack._optional import require

log = logging.getLogger(__name__)


def export_with_torch(model_dir: Path, target: Path, opset: int = 17) -> None:
    """Export `AutoModel.from_pretrained(model_dir)` to `target` with dynamic batch/tokens."""
    torch = require("torch", "torch", "exporting this architecture to ONNX")
    transformers = require("transformers", "torch", "exporting this architecture to ONNX")
    log.info("exporting %s to ONNX with PyTorch (one-off)", model_dir)
    model = transformers.AutoModel.from_pretrained(str(model_dir), torch_dtype=torch.float32)
    model.eval()
    names = ["input_ids", "attention_mask"]
    if int(getattr(model.config, "type_vocab_size", 0) or 0) > 0:
        names.append("token_type_ids")
    dummy = {n: torch.ones((2, 8), dtype=torch.long) for n in names}

    class _Wrapper(torch.nn.Module):  # type: ignore[name-defined]
        """Return only last_hidden_state, with positional inputs in a fixed order."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *args):
            return self.model(**dict(zip(names, args, strict=True))).last_hidden_state

    axes = {n: {0: "batch", 1: "tokens"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "tokens"}
    # The legacy exporter handles dynamic axes without onnxscript; its tracer and deprecation
    # warnings are noise here (the test suite checks the exported graph against PyTorch).
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Wrapper(),
            tuple(dummy[n] for n in names),
            str(target),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )
