"""Reading FAQ question/answer pairs from CSV/TSV, JSON/JSONL or Markdown."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedstack.errors import InputError
from embedstack.text.chunking import markdown_sections, read_text

_QUESTION_KEYS = ("question", "q", "query", "title")
_ANSWER_KEYS = ("answer", "a", "response", "body")


@dataclass(frozen=True)
class QAPair:
    """One question with its answer (and the source it came from)."""

    id: str
    question: str
    answer: str


def _pick(row: dict[str, Any], keys: Sequence[str]) -> str | None:
    lowered = {str(k).strip().lower(): v for k, v in row.items()}
    for key in keys:
        value = lowered.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _from_rows(rows: list[dict[str, Any]], path: Path) -> list[QAPair]:
    pairs = []
    for n, row in enumerate(rows, start=1):
        q, a = _pick(row, _QUESTION_KEYS), _pick(row, _ANSWER_KEYS)
        if q is None or a is None:
            raise InputError(
                f"{path}: entry {n} has no question/answer (keys {sorted(row)}); name the "
                "fields 'question' and 'answer'"
            )
        pairs.append(QAPair(str(row.get("id") or f"q{n}"), q, a))
    return pairs


def _from_markdown(text: str, path: Path) -> list[QAPair]:
    """Headings ending in '?' are questions (if none do, the deepest headings are)."""
    sections = [s for s in markdown_sections(text) if s.headings]
    if not sections:
        raise InputError(f"{path}: no Markdown headings; write each question as a '## ...' heading")
    asked = [s for s in sections if s.headings[-1].endswith("?")]
    if not asked:
        deepest = max(len(s.headings) for s in sections)
        asked = [s for s in sections if len(s.headings) == deepest]
    pairs: list[QAPair] = []
    for s in asked:
        body = text[s.start : s.end].split("\n", 1)
        answer = body[1].strip() if len(body) > 1 else ""
        if not answer:
            raise InputError(f"{path}: the question {s.headings[-1]!r} has no answer below it")
        pairs.append(QAPair(f"q{len(pairs) + 1}", s.headings[-1], " ".join(answer.split())))
    return pairs


def load_pairs(path: str | Path) -> list[QAPair]:
    """Q/A pairs from CSV/TSV (columns question, answer), JSONL/JSON (objects with
    question/answer) or Markdown (question headings, answer below)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".csv", ".tsv"):
        with p.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ","))
        pairs = _from_rows(rows, p)
    elif suffix in (".jsonl", ".json"):
        text = read_text(p)
        try:
            data = (
                json.loads(text)
                if suffix == ".json"
                else [json.loads(line) for line in text.splitlines() if line.strip()]
            )
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}: invalid JSON ({exc}); one object per line for .jsonl") from None
        pairs = _from_rows(list(data), p)
    elif suffix in (".md", ".markdown"):
        pairs = _from_markdown(read_text(p), p)
    else:
        raise InputError(f"{p}: unsupported FAQ format {suffix!r}; use .csv, .tsv, .jsonl or .md")
    if not pairs:
        raise InputError(f"{p}: no question/answer pairs found")
    if len({q.id for q in pairs}) != len(pairs):
        raise InputError(f"{p}: duplicate ids; give each entry its own 'id'")
    return pairs
