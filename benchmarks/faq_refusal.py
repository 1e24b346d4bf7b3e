"""FAQ refusal: the calibrated cosine threshold alone vs the combined refusal model.

Two FAQ sets, each calibrated the way `embedstack faq build` does it (synthetic probes
from the FAQ + the off-topic bank; nothing below is seen in calibration), then asked
hand-written held-out probes (`benchmarks/data/faq_refusal_probes.json`):

- library: `examples/faq/library-faq.md` (30 entries); 25 paraphrases and 10 unrelated
  questions from `tests/data/faq_probes.json`, plus 20 near-topic off-topic questions;
- chit-chat: the English ChatterBot corpus (BSD licence), its factual/chit-chat
  categories (one entry per distinct question); 25 paraphrases, 20 near-topic off-topic
  questions (a recipe vs "what is good to eat?", a planet distance vs "how far is the
  sun"), 8 unrelated ones.

Refusal is the positive class: precision = refused off-topic / all refused, recall =
refused off-topic / all off-topic. "answered right" counts paraphrases answered with
one of their expected entries.

    pip install --no-deps chatterbot-corpus==1.3.3 pyyaml
    PYTHONPATH=src python benchmarks/faq_refusal.py [--model minilm]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from embedstack.apps.faq import FAQ
from embedstack.apps.faq_files import QAPair
from embedstack.registry import load_encoder

ROOT = Path(__file__).resolve().parents[1]
PROBES = ROOT / "benchmarks" / "data" / "faq_refusal_probes.json"
CHITCHAT = ("ai", "botprofile", "computers", "food", "health", "history", "literature",
            "money", "movies", "politics", "science", "sports", "trivia")  # fmt: skip


def chitchat_pairs() -> list[QAPair]:
    """One entry per distinct question of the ChatterBot categories above."""
    import chatterbot_corpus
    import yaml

    root = Path(chatterbot_corpus.__file__).parent / "data" / "english"
    seen: dict[str, QAPair] = {}
    for name in CHITCHAT:
        data = yaml.safe_load((root / f"{name}.yml").read_text(encoding="utf-8"))
        for turns in data.get("conversations", []):
            question = str(turns[0]).strip()
            answer = " ".join(str(t).strip() for t in turns[1:])
            if len(question.split()) < 3 or len(answer.split()) < 4:
                continue
            key = " ".join(question.lower().split())
            seen.setdefault(key, QAPair(f"c{len(seen) + 1}", question, answer))
    return list(seen.values())


def score(faq: FAQ, probes: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per decision rule: refusal precision/recall and the per-group rates."""
    asked: list[tuple[str, Any, list[str] | None]] = []
    asked += [("paraphrase", q, expected) for q, expected in probes["paraphrases"]]
    asked += [("near_topic", q, None) for q in probes["near_topic"]]
    asked += [("unrelated", q, None) for q in probes["unrelated"]]
    rules = {
        "cosine threshold": lambda s: s.score >= faq.threshold,
        "combined model": lambda s: faq.refusal is not None and faq.refusal.answers(s),
    }
    out: dict[str, dict[str, float]] = {}
    for rule, answers in rules.items():
        counts = dict.fromkeys(("tp", "fp", "fn", "right", "near", "unrelated"), 0)
        for group, question, expected in asked:
            found = faq.matches(question, k=2)
            answered = bool(found) and answers(faq.signals(question, found))
            off_topic = group != "paraphrase"
            if not answered and off_topic:
                counts["tp"] += 1
                counts[group if group == "unrelated" else "near"] += 1
            elif not answered:
                counts["fp"] += 1
            elif off_topic:
                counts["fn"] += 1
            elif expected and found[0][0].question in expected:
                counts["right"] += 1
        refused = counts["tp"] + counts["fp"]
        off = counts["tp"] + counts["fn"]
        out[rule] = {
            "precision": counts["tp"] / refused if refused else 1.0,
            "recall": counts["tp"] / off if off else 1.0,
            "near-topic refused": counts["near"] / max(len(probes["near_topic"]), 1),
            "unrelated refused": counts["unrelated"] / max(len(probes["unrelated"]), 1),
            "paraphrases answered right": counts["right"] / max(len(probes["paraphrases"]), 1),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="minilm")
    args = parser.parse_args()
    encoder = load_encoder(args.model)
    held_out = json.loads(PROBES.read_text())
    shipped = json.loads((ROOT / "tests" / "data" / "faq_probes.json").read_text())
    library = {
        "paraphrases": [(q, [expected]) for q, expected in shipped["paraphrases"]],
        "unrelated": shipped["unrelated"],
        "near_topic": held_out["library"]["near_topic"],
    }
    sets: list[tuple[str, Path | list[QAPair], dict[str, Any]]] = [
        ("library (30 entries)", ROOT / "examples" / "faq" / "library-faq.md", library),
        ("chit-chat", chitchat_pairs(), held_out["chitchat"]),
    ]
    load = os.getloadavg()
    print(f"model {args.model}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    header = ("FAQ set", "rule", "refusal P", "refusal R", "near-topic refused",
              "unrelated refused", "paraphrases right")  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, source, probes) in enumerate(sets):
            faq = FAQ.build(source, Path(tmp) / f"faq{n}", encoder)
            label = name if isinstance(source, Path) else f"{name} ({len(faq.pairs)} entries)"
            for rule, m in score(faq, probes).items():
                print(
                    f"| {label} | {rule} | {m['precision']:.2f} | {m['recall']:.2f} | "
                    f"{m['near-topic refused']:.2f} | {m['unrelated refused']:.2f} | "
                    f"{m['paraphrases answered right']:.2f} |"
                )


if __name__ == "__main__":
    main()
