"""A tiny secondary index used by the collection tests to prove the plug-in plumbing.

Not a test module (no `test_` prefix): imported by tests and by crash-test subprocesses.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

LOADS: list[Path] = []


class KeywordIndex:
    """Scores a row by how many distinct query words it contains."""

    name = "kw"

    def __init__(self, lowercase: bool = True) -> None:
        self.lowercase = lowercase
        self.docs: dict[int, set[str]] = {}

    def _words(self, text: str) -> set[str]:
        return set(re.findall(r"\w+", text.lower() if self.lowercase else text))

    def config(self) -> dict[str, Any]:
        return {"lowercase": self.lowercase}

    def add(self, rows: np.ndarray, texts: list[str]) -> None:
        for row, text in zip(rows, texts, strict=True):
            self.docs[int(row)] = self._words(text)

    def delete(self, rows: np.ndarray) -> None:
        for row in rows:
            del self.docs[int(row)]  # KeyError if the collection sends an unknown row

    def save(self, directory: Path) -> None:
        data = {str(r): sorted(w) for r, w in self.docs.items()}
        (directory / "docs.json").write_text(json.dumps(data))

    @classmethod
    def load(cls, directory: Path, config: dict[str, Any]) -> KeywordIndex:
        LOADS.append(directory)
        index = cls(**config)
        data = json.loads((directory / "docs.json").read_text())
        index.docs = {int(r): set(w) for r, w in data.items()}
        return index

    def search(
        self, query: str, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        terms = self._words(query)
        scored = [
            (len(terms & words), row)
            for row, words in self.docs.items()
            if (allowed is None or row in set(allowed.tolist())) and terms & words
        ]
        scored.sort(key=lambda item: (-item[0], item[1]))
        top = scored[:k]
        return (
            np.array([r for _, r in top], dtype=np.int64),
            np.array([s for s, _ in top], dtype=np.float32),
        )
