"""STS sentence pairs (TSV/CSV/JSONL with `score`, `sentence1`, `sentence2`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedstack.errors import InputError
from embedstack.eval.readers import ValidationReport, read_table


@dataclass
class StsDataset:
    """Sentence pairs with gold similarity scores."""

    name: str
    sentences1: list[str]
    sentences2: list[str]
    scores: np.ndarray
    report: ValidationReport


def load_sts(path: str | Path) -> StsDataset:
    """STS pairs from a TSV (unquoted), CSV or JSONL file with score/sentence1/sentence2."""
    source = Path(path)
    if not source.is_file():
        raise InputError(
            f"STS file {source} not found; expected TSV/CSV/JSONL with columns "
            "score, sentence1, sentence2"
        )
    report = ValidationReport()
    first: list[str] = []
    second: list[str] = []
    gold: list[float] = []
    for line, row in read_table(source):
        missing = {"score", "sentence1", "sentence2"} - set(row)
        if missing:
            raise InputError(f"{source}:{line}: missing columns {sorted(missing)}")
        try:
            score = float(row["score"])
        except ValueError:
            raise InputError(f"{source}:{line}: score {row['score']!r} is not a number") from None
        if not np.isfinite(score):
            raise InputError(f"{source}:{line}: score {row['score']!r} is not finite")
        if not row["sentence1"].strip() or not row["sentence2"].strip():
            report.add("empty_sentences", str(line))
        first.append(row["sentence1"])
        second.append(row["sentence2"])
        gold.append(score)
    if len(gold) < 2:
        raise InputError(f"{source}: needs at least 2 scored pairs to compute a correlation")
    return StsDataset(source.stem, first, second, np.asarray(gold, dtype=np.float64), report)
