"""Deciding when an FAQ has no good answer from several signals, not one cosine cut.

A single threshold on the best cosine cannot tell "what is good to eat?" (in the FAQ)
from "give me a lasagna recipe" (not in it): both score high because they share a
topic. What differs is lexical: the second asks about a word the matched entry (and
often the whole FAQ) never mentions. So each question gets four signals:

- `score`: cosine of the best match;
- `margin`: best minus second-best score (a clear winner vs a shrug between entries);
- `coverage`: IDF-weighted share of the question's content words (stop words out,
  stemmed) found in the matched entry's question or answer;
- `known`: IDF-weighted share of them found anywhere in the FAQ.

A logistic model over the standardised signals (L2-regularised, classes weighted
equally, no negative weight: every signal is "higher = more answerable") is fitted on
the probes the cosine threshold is calibrated on, plus near-topic negatives made from
the FAQ itself (each question with its rarest content word swapped for a word from the
off-topic bank). A probe made from an entry is judged as if that entry's text had not
lent it its words (see `Vocabulary.signals`), or every synthetic probe would look
perfectly covered. The probability cut is chosen with `threshold.calibrate` (best F1);
`contributions` explains a decision signal by
signal (`faq ask --explain`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from embedstack.apps.threshold import Calibration, calibrate
from embedstack.text.analysis import Analyzer, load_stopwords

FEATURES = ("score", "margin", "coverage", "known")
FIELDS = ("question", "answer")
# Beyond the index stop words: the words every question is made of, which say nothing
# about what it asks.
_QUESTION_WORDS = """what whats how why when where which who whom whose can could do does did
done i im me my mine you your yours we our us he she him her his its them from about any some
would should shall may might must have has had am been being so than too very just here tell
please there"""
QUESTION_WORDS = frozenset(_QUESTION_WORDS.split())


def question_analyzer() -> Analyzer:
    """English analysis with question words dropped too (stemmed, lowercased)."""
    return Analyzer(stopwords=tuple(sorted(load_stopwords("english") | QUESTION_WORDS)))


L2 = 1.0  # ridge on the standardised weights: a few hundred probes, four signals


@dataclass(frozen=True)
class Signals:
    """What `ask` measures about its best match (see the module docstring)."""

    score: float
    margin: float
    coverage: float
    known: float

    def vector(self) -> np.ndarray:
        """The signals in `FEATURES` order."""
        return np.array([self.score, self.margin, self.coverage, self.known])

    def to_dict(self) -> dict[str, float]:
        """JSON-able form, rounded for display."""
        return {k: round(v, 4) for k, v in asdict(self).items()}


class Vocabulary:
    """IDF of the FAQ's terms (each entry = its question and answer), for the lexical
    signals. A term the FAQ never uses weighs as much as the rarest one it does."""

    def __init__(
        self, entries: dict[str, tuple[str, str]], analyzer: Analyzer | None = None
    ) -> None:
        self.analyzer = analyzer or question_analyzer()
        self.fields = {
            pid: {
                name: frozenset(self.analyzer.terms(text))
                for name, text in zip(FIELDS, texts, strict=True)
            }
            for pid, texts in entries.items()
        }
        self.terms = {
            pid: fields["question"] | fields["answer"] for pid, fields in self.fields.items()
        }
        df: dict[str, int] = {}
        for terms in self.terms.values():
            for term in terms:
                df[term] = df.get(term, 0) + 1
        self.df = df
        n = max(len(self.terms), 1)
        self.idf = {term: math.log(1 + n / count) for term, count in df.items()}
        self.unknown_idf = math.log(1 + n)

    def weights(self, question: str) -> dict[str, float]:
        """The question's distinct content terms and their IDF."""
        return {t: self.idf.get(t, self.unknown_idf) for t in self.analyzer.terms(question)}

    def signals(
        self,
        question: str,
        found: Sequence[tuple[str, float]],
        source: str | None = None,
        lent: str | None = None,
    ) -> Signals:
        """Signals of `question` given its best-first (pair id, score) matches.

        A calibration probe made from the `lent` field ("question" or "answer") of entry
        `source` is judged as if that text had not lent it its words, as a real
        paraphrase would be: `coverage` looks at the entry's other field only, and
        `known` counts only words other entries use."""
        score = found[0][1] if found else 0.0
        margin = score - found[1][1] if len(found) > 1 else score
        weights = self.weights(question)
        total = sum(weights.values())
        if not found or total == 0:  # only stop words: nothing lexical to judge by
            return Signals(score, margin, 1.0 if found else 0.0, 1.0)
        best = found[0][0]
        entry = self.terms.get(best, frozenset())
        if lent is not None and best == source:
            entry = self.fields[best][FIELDS[1 - FIELDS.index(lent)]]
        coverage = sum(w for t, w in weights.items() if t in entry) / total
        own = self.terms.get(source, frozenset()) if source is not None else frozenset()
        known = sum(w for t, w in weights.items() if self.df.get(t, 0) > (t in own)) / total
        return Signals(score, margin, coverage, known)


def near_topic_probes(
    questions: dict[str, str], vocabulary: Vocabulary, foreign: Sequence[str], seed: int = 0
) -> list[tuple[str, str]]:
    """(probe, source pair id): each question with its rarest content word replaced by
    a word the FAQ never uses (drawn from `foreign` texts): close to the FAQ's topic,
    yet not answered by it."""
    rng = random.Random(seed)
    analyzer = vocabulary.analyzer
    words = sorted(
        {
            w
            for text in foreign
            for w in text.rstrip("?").split()
            if w.isalpha()
            and len(w) > 3
            and any(t not in vocabulary.idf for t in analyzer.terms(w))
        }
    )
    probes = []
    for pid, question in questions.items():
        tokens = question.rstrip("?").split()
        rarity = [
            (max((vocabulary.idf.get(t, 0.0) for t in analyzer.terms(tok)), default=0.0), i)
            for i, tok in enumerate(tokens)
        ]
        rarity = [(w, i) for w, i in rarity if w > 0]
        if not rarity or not words:
            continue
        tokens[max(rarity)[1]] = rng.choice(words)
        probes.append((" ".join(tokens) + "?", pid))
    return probes


@dataclass
class RefusalModel:
    """Logistic model over standardised signals; answer when P(in scope) >= `cut`."""

    weights: list[float]
    bias: float
    mean: list[float]
    scale: list[float]
    cut: float
    calibration: Calibration
    features: tuple[str, ...] = field(default=FEATURES)

    def _z(self, signals: Signals) -> np.ndarray:
        return (signals.vector() - np.array(self.mean)) / np.array(self.scale)

    def probability(self, signals: Signals) -> float:
        """P(the best match really answers the question)."""
        logit = float(self._z(signals) @ np.array(self.weights)) + self.bias
        return 1.0 / (1.0 + math.exp(-max(min(logit, 40.0), -40.0)))

    def answers(self, signals: Signals) -> bool:
        """Whether to answer (True) or refuse."""
        return self.probability(signals) >= self.cut

    def contributions(self, signals: Signals) -> dict[str, float]:
        """Each signal's push on the log-odds (positive: towards answering)."""
        parts = self._z(signals) * np.array(self.weights)
        return {name: round(float(v), 4) for name, v in zip(self.features, parts, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored in faq.json)."""
        out = asdict(self)
        out["features"] = list(self.features)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RefusalModel:
        """The model `to_dict` wrote."""
        data = dict(data)
        data["calibration"] = Calibration(**data["calibration"])
        data["features"] = tuple(data.get("features", FEATURES))
        return cls(**data)


def _newton(z: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
    """L2-regularised weighted logistic regression (last column: the unpenalised bias)."""
    ridge = np.diag([L2] * (z.shape[1] - 1) + [0.0])
    beta = np.zeros(z.shape[1])
    for _ in range(50):  # Newton steps (IRLS); converges in a handful
        p = 1 / (1 + np.exp(-np.clip(z @ beta, -40, 40)))
        grad = z.T @ (sample_weight * (p - y)) + ridge @ beta
        hess = (z * (sample_weight * p * (1 - p))[:, None]).T @ z + ridge
        step = np.linalg.solve(hess + 1e-9 * np.eye(len(beta)), grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def fit(positives: Sequence[Signals], negatives: Sequence[Signals]) -> RefusalModel:
    """Fit the model on in-scope (positive) and out-of-scope probes, then pick its
    probability cut with the best F1 on the same probes."""
    x = np.array([s.vector() for s in [*positives, *negatives]], dtype=np.float64)
    y = np.array([1.0] * len(positives) + [0.0] * len(negatives))
    if not len(positives) or not len(negatives):
        calibrate([s.score for s in positives], [s.score for s in negatives])  # raises
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    sample_weight = np.where(y == 1, len(y) / (2 * len(positives)), len(y) / (2 * len(negatives)))
    # Every signal is "higher = more answerable", so no weight may be negative: a signal
    # the probes cannot tell apart gets weight 0 (refit without it) instead of a sign
    # flip that would refuse a question for matching its entry better.
    free = list(range(len(FEATURES)))
    while True:
        beta = np.zeros(len(FEATURES) + 1)
        beta[[*free, len(FEATURES)]] = _newton(z[:, [*free, len(FEATURES)]], y, sample_weight)
        negative = [i for i in free if beta[i] < 0]
        if not negative:
            break
        free.remove(min(negative, key=lambda i: beta[i]))
    model = RefusalModel(
        weights=[float(b) for b in beta[:-1]],
        bias=float(beta[-1]),
        mean=[float(m) for m in mean],
        scale=[float(s) for s in scale],
        cut=0.5,
        calibration=Calibration(0.5, 0.0, 0.0, 0.0, 0, 0),
    )
    result = calibrate(
        [model.probability(s) for s in positives], [model.probability(s) for s in negatives]
    )
    model.cut = result.threshold
    model.calibration = Calibration(
        **{**asdict(result), "method": "logistic(" + ",".join(FEATURES) + ")+max-f1"}
    )
    return model
