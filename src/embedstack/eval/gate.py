"""The quality gate of a migration: nDCG@10 of the old and the new version's model on a
labelled dataset, so a switch to a worse model is refused before users see it.

Both encoders run through the same `evaluate_retrieval` as `embedstack eval` (dense
retrieval over the dataset's own corpus, in a temporary collection each), so the gate
measures exactly what `eval` would report for each model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from embedstack.encoders.base import Encoder
from embedstack.eval.datasets import load_retrieval_dataset
from embedstack.eval.options import EvalOptions
from embedstack.eval.runner import evaluate_retrieval
from embedstack.progress import Progress

GATE_METRIC = "ndcg@10"


@dataclass
class GateResult:
    """Old and new scores on `dataset`; the new version passes unless it is worse by
    more than `tolerance` (absolute nDCG)."""

    dataset: str
    metric: str
    old: float
    new: float
    tolerance: float

    @property
    def passed(self) -> bool:
        """Whether the switch may go ahead."""
        return self.new >= self.old - self.tolerance

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the verdict."""
        return {**asdict(self), "passed": self.passed}


def quality_gate(
    dataset: str | Path,
    old: Encoder,
    new: Encoder,
    *,
    tolerance: float = 0.01,
    split: str = "test",
    progress: Progress | None = None,
) -> GateResult:
    """Score both encoders on a BEIR-style (or FAQ) dataset folder/file."""
    data = load_retrieval_dataset(dataset, split)
    scores = []
    for encoder in (old, new):
        options = EvalOptions(loaded=encoder, cache=False, progress=progress)
        result = evaluate_retrieval(data, "dense", options, metrics=[GATE_METRIC])
        scores.append(float(result.metrics[GATE_METRIC]))
    return GateResult(str(dataset), GATE_METRIC, scores[0], scores[1], tolerance)
