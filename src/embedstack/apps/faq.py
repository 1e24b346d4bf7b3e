"""Semantic FAQ search with a calibrated "no good answer" threshold.

An FAQ folder holds `faq.json` (the Q/A pairs, the threshold and how it was chosen) and
`index/`, a collection of the questions (and optionally the answers).

How the threshold is learned from the FAQ itself (no labelled queries needed):
- in-domain probes: each question with a third of its words dropped, and the first
  sentence of each answer asked as a question; their best score counts as a positive
  when the FAQ answers them with their own entry (a probe that ranks another entry
  first is a ranking error no threshold can fix without dropping right answers of the
  same score, so it is left out);
- off-topic probes: a fixed bank of ~50 questions from unrelated domains
  (`embedstack/data/offtopic_questions.txt`); their best score is a negative;
- the threshold is the cut with the best F1 between the two (`threshold.calibrate`).
Users with real held-out questions pass them as `held_out=[(question, pair_id|None)]`;
they replace the synthetic probes.
"""

from __future__ import annotations

import csv
import json
import logging
import random
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from embedstack.apps._files import atomic_write
from embedstack.apps.threshold import Calibration, calibrate
from embedstack.errors import CollectionError, InputError
from embedstack.progress import Progress
from embedstack.store.collection import Collection
from embedstack.text.chunking import markdown_sections, read_text

log = logging.getLogger(__name__)

FAQ_FILE = "faq.json"
INDEX_DIR = "index"
_SENTENCE = re.compile(r"(?<=[.!?])\s")
_QUESTION_KEYS = ("question", "q", "query", "title")
_ANSWER_KEYS = ("answer", "a", "response", "body")


@dataclass(frozen=True)
class QAPair:
    """One question with its answer (and the source it came from)."""

    id: str
    question: str
    answer: str


@dataclass
class FAQAnswer:
    """`answer`/`question` are None when the best match scores below the threshold;
    `alternatives` always lists the top matches (best first)."""

    answer: str | None
    question: str | None
    score: float
    no_answer: bool
    id: str | None = None
    alternatives: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what `faq ask --json` prints)."""
        return {
            "answer": self.answer,
            "question": self.question,
            "score": round(self.score, 4),
            "no_answer": self.no_answer,
            "id": self.id,
            "alternatives": self.alternatives,
        }


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


def offtopic_questions() -> list[str]:
    """Shipped off-topic questions used as negatives when calibrating the no-answer cut."""
    text = resources.files("embedstack").joinpath("data/offtopic_questions.txt").read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _dropout(question: str, rng: random.Random) -> str:
    words = question.rstrip("?").split()
    if len(words) < 4:
        return question
    keep = sorted(rng.sample(range(len(words)), k=max(3, round(len(words) * 2 / 3))))
    return " ".join(words[i] for i in keep) + "?"


class FAQ:
    """Build once with `FAQ.build`, reopen with `FAQ.open`, then `ask`."""

    def __init__(
        self,
        path: Path,
        pairs: list[QAPair],
        collection: Any,
        *,
        threshold: float,
        calibration: Calibration | None,
        index_answers: bool,
    ) -> None:
        self.path = path
        self.pairs = pairs
        self.by_id = {p.id: p for p in pairs}
        self.collection = collection
        self.threshold = threshold
        self.calibration = calibration
        self.index_answers = index_answers

    @classmethod
    def build(
        cls,
        source: str | Path | Sequence[QAPair],
        into: str | Path,
        encoder: Any = None,
        *,
        index_answers: bool = False,
        threshold: float | None = None,
        held_out: Sequence[tuple[str, str | None]] | None = None,
        progress: Progress | None = None,
    ) -> FAQ:
        """Index `source` (a file or pairs) into `into` and calibrate the no-answer threshold."""
        pairs = load_pairs(source) if isinstance(source, (str, Path)) else list(source)
        root = Path(into)
        if (root / FAQ_FILE).exists():
            raise CollectionError(
                f"{root} already holds an FAQ; remove it or choose another --into"
            )
        if (root / INDEX_DIR).exists():
            raise CollectionError(
                f"{root / INDEX_DIR} exists but {root} has no {FAQ_FILE} (an interrupted "
                "build?); remove the folder or choose another --into"
            )
        collection = Collection.create(root / INDEX_DIR, encoder, indexes=())
        try:
            texts = [p.question for p in pairs]
            ids = [f"{p.id}:question" for p in pairs]
            meta: list[dict[str, Any]] = [{"pair": p.id, "field": "question"} for p in pairs]
            if index_answers:
                texts += [p.answer for p in pairs]
                ids += [f"{p.id}:answer" for p in pairs]
                meta += [{"pair": p.id, "field": "answer"} for p in pairs]
            collection.add(texts, ids=ids, metadata=meta, progress=progress)
            faq = cls(
                root,
                pairs,
                collection,
                threshold=threshold or 0.0,
                calibration=None,
                index_answers=index_answers,
            )
            if threshold is None:
                faq.calibration = faq.calibrate(held_out)
                faq.threshold = faq.calibration.threshold
            faq.save()
        except BaseException:
            collection.close()
            shutil.rmtree(root / INDEX_DIR, ignore_errors=True)  # ours: made just above
            raise
        return faq

    @classmethod
    def open(cls, path: str | Path, encoder: Any = None) -> FAQ:
        """Open an FAQ that `build` wrote."""
        root = Path(path)
        if not (root / FAQ_FILE).is_file():
            raise CollectionError(
                f"{root} is not an FAQ folder; make one with `embedstack faq build`"
            )
        state = json.loads((root / FAQ_FILE).read_text(encoding="utf-8"))
        calibration = Calibration(**state["calibration"]) if state.get("calibration") else None
        return cls(
            root,
            [QAPair(**p) for p in state["pairs"]],
            Collection.open(root / INDEX_DIR, encoder),
            threshold=float(state["threshold"]),
            calibration=calibration,
            index_answers=bool(state["index_answers"]),
        )

    def save(self) -> None:
        """Write the FAQ's pairs and threshold (atomically) beside its collection."""
        state = {
            "version": 1,
            "threshold": self.threshold,
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "index_answers": self.index_answers,
            "pairs": [asdict(p) for p in self.pairs],
        }
        atomic_write(self.path / FAQ_FILE, json.dumps(state, indent=1, ensure_ascii=False) + "\n")

    def matches(
        self, question: str, k: int = 3, where: dict[str, Any] | None = None
    ) -> list[tuple[QAPair, float]]:
        """Best-first (pair, score); a pair matched by question and answer counts once."""
        hits = self.collection.search(question, k=k * (2 if self.index_answers else 1), where=where)
        best: dict[str, float] = {}
        for hit in hits:
            pid = hit.metadata["pair"]
            best[pid] = max(best.get(pid, -1.0), float(hit.score))
        ranked = sorted(best.items(), key=lambda kv: -kv[1])[:k]
        return [(self.by_id[pid], score) for pid, score in ranked]

    def ask(self, question: str, k: int = 3) -> FAQAnswer:
        """The best answers to `question`, or none when the best match is below the threshold."""
        if not question.strip():
            raise InputError("the question is empty; ask something")
        found = self.matches(question, k=k)
        alternatives = [
            {"id": p.id, "question": p.question, "answer": p.answer, "score": round(s, 4)}
            for p, s in found
        ]
        if not found or found[0][1] < self.threshold:
            score = found[0][1] if found else 0.0
            return FAQAnswer(None, None, score, True, None, alternatives)
        top, score = found[0]
        return FAQAnswer(top.answer, top.question, score, False, top.id, alternatives[1:])

    def calibrate(self, held_out: Sequence[tuple[str, str | None]] | None = None) -> Calibration:
        """Learn the no-answer threshold (method in the module docstring)."""
        probes: list[tuple[str, str | None, dict[str, Any] | None]]
        if held_out:
            probes = [(q, pid, None) for q, pid in held_out]
        else:
            rng = random.Random(0)
            only_questions = {"field": "question"}
            probes = [(_dropout(p.question, rng), p.id, None) for p in self.pairs]
            probes += [(_SENTENCE.split(p.answer)[0], p.id, only_questions) for p in self.pairs]
            probes += [(q, None, None) for q in offtopic_questions()]
        positives, negatives = [], []
        for text, expected, where in probes:
            found = self.matches(text, k=1, where=where)
            if not found:
                continue
            pair, score = found[0]
            if expected is None:
                negatives.append(score)
            elif pair.id == expected:
                positives.append(score)
        result = calibrate(positives, negatives)
        log.info(
            "faq threshold %.3f (precision %.2f, recall %.2f on %d+%d probes)",
            result.threshold,
            result.precision,
            result.recall,
            len(positives),
            len(negatives),
        )
        return result
