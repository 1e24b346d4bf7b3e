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

A cosine cut alone answers near-topic questions the FAQ does not cover, so a calibrated
FAQ also fits a `faq_refusal.RefusalModel` on the same probes (plus near-topic
negatives made from the FAQ itself): margin and word-coverage signals beside the score.
`ask` decides with it; an FAQ built with a fixed `threshold`, or by an older version,
uses the cosine cut.
"""

from __future__ import annotations

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
from embedstack.apps.faq_files import QAPair, load_pairs
from embedstack.apps.faq_refusal import RefusalModel, Signals, Vocabulary, fit, near_topic_probes
from embedstack.apps.threshold import Calibration, calibrate
from embedstack.errors import CollectionError, InputError
from embedstack.progress import Progress
from embedstack.store.collection import Collection

log = logging.getLogger(__name__)

FAQ_FILE = "faq.json"
INDEX_DIR = "index"
_SENTENCE = re.compile(r"(?<=[.!?])\s")


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
    explanation: dict[str, Any] | None = None
    """With `ask(..., explain=True)`: the signals, and how the decision was made."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what `faq ask --json` prints)."""
        out: dict[str, Any] = {
            "answer": self.answer,
            "question": self.question,
            "score": round(self.score, 4),
            "no_answer": self.no_answer,
            "id": self.id,
            "alternatives": self.alternatives,
        }
        if self.explanation is not None:
            out["explanation"] = self.explanation
        return out


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
        refusal: RefusalModel | None = None,
    ) -> None:
        self.path = path
        self.pairs = pairs
        self.by_id = {p.id: p for p in pairs}
        self.collection = collection
        self.threshold = threshold
        self.calibration = calibration
        self.index_answers = index_answers
        self.refusal = refusal
        self.vocabulary = Vocabulary({p.id: (p.question, p.answer) for p in pairs})

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
        refusal = RefusalModel.from_dict(state["refusal"]) if state.get("refusal") else None
        return cls(
            root,
            [QAPair(**p) for p in state["pairs"]],
            Collection.open(root / INDEX_DIR, encoder),
            threshold=float(state["threshold"]),
            calibration=calibration,
            index_answers=bool(state["index_answers"]),
            refusal=refusal,
        )

    def save(self) -> None:
        """Write the FAQ's pairs and threshold (atomically) beside its collection."""
        state = {
            "version": 1,
            "threshold": self.threshold,
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "refusal": self.refusal.to_dict() if self.refusal else None,
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

    def signals(self, question: str, found: list[tuple[QAPair, float]]) -> Signals:
        """The refusal signals of `question` given its matches (best first)."""
        return self.vocabulary.signals(question, [(p.id, s) for p, s in found])

    def decide(self, signals: Signals) -> bool:
        """Answer (True) or refuse: the refusal model if calibrated, else the cosine cut."""
        if self.refusal is not None:
            return self.refusal.answers(signals)
        return signals.score >= self.threshold

    def ask(self, question: str, k: int = 3, *, explain: bool = False) -> FAQAnswer:
        """The best answers to `question`, or none when the FAQ has no good answer
        (`decide`). `explain=True` adds the signals and how each weighed."""
        if not question.strip():
            raise InputError("the question is empty; ask something")
        found = self.matches(question, k=max(k, 2))
        signals = self.signals(question, found)
        found = found[:k]
        alternatives = [
            {"id": p.id, "question": p.question, "answer": p.answer, "score": round(s, 4)}
            for p, s in found
        ]
        answered = bool(found) and self.decide(signals)
        explanation = self._explain(signals, answered) if explain else None
        if not answered:
            return FAQAnswer(None, None, signals.score, True, None, alternatives, explanation)
        top, score = found[0]
        return FAQAnswer(
            top.answer, top.question, score, False, top.id, alternatives[1:], explanation
        )

    def _explain(self, signals: Signals, answered: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"signals": signals.to_dict(), "answered": answered}
        if self.refusal is None:
            out.update(method="cosine threshold", threshold=round(self.threshold, 4))
            return out
        out.update(
            method="refusal model",
            probability=round(self.refusal.probability(signals), 4),
            cut=round(self.refusal.cut, 4),
            contributions=self.refusal.contributions(signals),
            bias=round(self.refusal.bias, 4),
        )
        return out

    def calibrate(self, held_out: Sequence[tuple[str, str | None]] | None = None) -> Calibration:
        """Learn the no-answer threshold and the refusal model (see the module docstring);
        returns the cosine calibration, sets `self.refusal`."""
        # (text, pair that answers it or None, search filter, (pair, field) it was made from)
        Probe = tuple[str, str | None, dict[str, Any] | None, tuple[str, str] | None]
        probes: list[Probe]
        near: list[Probe] = []
        if held_out:
            probes = [(q, pid, None, None) for q, pid in held_out]
        else:
            rng = random.Random(0)
            only_questions = {"field": "question"}
            bank = offtopic_questions()
            probes = [
                (_dropout(p.question, rng), p.id, None, (p.id, "question")) for p in self.pairs
            ]
            probes += [
                (_SENTENCE.split(p.answer)[0], p.id, only_questions, (p.id, "answer"))
                for p in self.pairs
            ]
            probes += [(q, None, None, None) for q in bank]
            questions = {p.id: p.question for p in self.pairs}
            made = near_topic_probes(questions, self.vocabulary, bank)
            near = [(q, None, None, (pid, "question")) for q, pid in made]
        positives: list[Signals] = []
        negatives: list[Signals] = []
        cosine_negatives = 0
        for n, (text, expected, where, origin) in enumerate(probes + near):
            found = self.matches(text, k=2, where=where)
            if not found:
                continue
            source, lent = origin or (None, None)
            signals = self.vocabulary.signals(text, [(p.id, s) for p, s in found], source, lent)
            if expected is None:
                negatives.append(signals)
                cosine_negatives += n < len(probes)
            elif found[0][0].id == expected:
                positives.append(signals)
        result = calibrate(
            [s.score for s in positives], [s.score for s in negatives[:cosine_negatives]]
        )
        self.refusal = fit(positives, negatives)
        log.info(
            "faq threshold %.3f (precision %.2f, recall %.2f on %d+%d probes); refusal "
            "model F1 %.2f with %d near-topic probes",
            result.threshold,
            result.precision,
            result.recall,
            len(positives),
            cosine_negatives,
            self.refusal.calibration.f1,
            len(negatives) - cosine_negatives,
        )
        return result
