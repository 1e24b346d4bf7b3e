"""Semantic dedup thresholds, calibrated per encoder and never borrowed from another.

A cosine threshold only means something for the model it was chosen on: the same pair of
paraphrases scores 0.8 with one model and 0.95 with another. So the default threshold
is looked up by what fixes document cosines in an embedding space (weights, pooling,
document prefix); an encoder without an entry gets no default, and dedup asks
for `--threshold` or `--calibrate` instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from embedstack.errors import InputError
from embedstack.types import EmbeddingSpace


@dataclass(frozen=True)
class KnownThreshold:
    """A calibrated semantic threshold and where the number comes from."""

    model: str
    threshold: float
    source: str


# (weights fingerprint, pooling, document prefix) -> threshold
SEMANTIC_THRESHOLDS: dict[tuple[str, str, str], KnownThreshold] = {
    (
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "mean",
        "",
    ): KnownThreshold(
        model="all-MiniLM-L6-v2 (minilm, mean pooling)",
        threshold=0.8,
        source=(
            "calibrate_dedup (max F1) on the calibration half of "
            "tests/data/dedup_captions.jsonl (STS-B captions with injected duplicates) "
            "chose 0.786; rounded to 0.8 (benchmarks/dedup_quality.py, docs/benchmarks.md)"
        ),
    ),
}


class UncalibratedEncoderError(InputError):
    """No semantic threshold is known for this encoder's embedding space."""


def space_key(space: EmbeddingSpace) -> tuple[str, str, str]:
    """The fields of a space that fix document-to-document cosine similarities."""
    return (space.fingerprint, space.pooling, space.document_prefix)


def known_threshold(encoder: Any) -> KnownThreshold | None:
    """The calibrated threshold for this encoder's space, or None."""
    return SEMANTIC_THRESHOLDS.get(space_key(encoder.space))


def semantic_threshold(encoder: Any) -> float:
    """The calibrated threshold for `encoder`; refuses an encoder without one."""
    known = known_threshold(encoder)
    if known is None:
        raise UncalibratedEncoderError(
            f"no calibrated semantic-duplicate threshold for {encoder.space.model} "
            "(thresholds differ between models, so another model's is never used): pass "
            "--threshold T (a cosine similarity; Deduplicator(semantic_threshold=T)), or "
            "run --calibrate FILE with a JSONL of {text, group} examples "
            "(calibrate_dedup) to choose one for this model"
        )
    return known.threshold
