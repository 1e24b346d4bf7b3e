"""The architectures the built-in ONNX converter knows, apart from the converter itself.

Checking whether a converted graph is already cached needs only these names and the
converter version; keeping them here means a cached model loads without importing
`onnx` (~0.5 s), which `onnx_export` needs only to build a graph.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# Bump when the graph layout changes, so cached graphs are rebuilt.
CONVERTER_VERSION = 3


@dataclass(frozen=True)
class Family:
    """Where one architecture keeps its attention weights (relative to `...attention.`),
    and how it numbers positions: `absolute` 0..t-1, or `padded` (RoBERTa/MPNet: after
    padding_idx, skipping padding)."""

    positions: str
    query: str
    key: str
    value: str
    out: str
    norm: str
    relative_bias: bool = False


BERT = Family(
    "absolute", "self.query", "self.key", "self.value", "output.dense", "output.LayerNorm"
)
ROBERTA = replace(BERT, positions="padded")
MPNET = Family("padded", "attn.q", "attn.k", "attn.v", "attn.o", "LayerNorm", relative_bias=True)
NATIVE_TYPES = {
    "bert": BERT,
    "roberta": ROBERTA,
    "xlm-roberta": ROBERTA,
    "camembert": ROBERTA,
    "mpnet": MPNET,
}
