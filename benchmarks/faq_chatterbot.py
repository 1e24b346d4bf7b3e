"""Build an FAQ-style BEIR dataset from the English ChatterBot corpus (BSD licence).

`chatterbot-corpus` (PyPI, BSD licence) ships YAML conversations; the first line of each
is a short conversational question or request ("My mouse is not responding.", "Who
invented computers?") and the following lines are answers with little word overlap.
Each distinct answer set becomes a document, each distinct question a query, and a
question is relevant to every answer set given to it. Queries are split 50/50 into
train and test by a hash of their text, so tuning and reporting never share a query.

    pip install --no-deps chatterbot-corpus==1.3.3 pyyaml
    PYTHONPATH=src python benchmarks/faq_chatterbot.py OUT_DIR
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

MIN_QUESTION_WORDS = 3
MIN_ANSWER_WORDS = 4


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def build(out: Path) -> Path:
    """Write corpus.jsonl, queries.jsonl, qrels/{train,test}.tsv under `out`."""
    import chatterbot_corpus
    import yaml

    root = Path(chatterbot_corpus.__file__).parent / "data" / "english"
    docs: dict[str, str] = {}
    qrels: dict[str, set[str]] = {}
    questions: dict[str, str] = {}
    for file in sorted(root.glob("*.yml")):
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        for turns in data.get("conversations", []):
            question = str(turns[0]).strip()
            answer = " ".join(str(t).strip() for t in turns[1:])
            if len(question.split()) < MIN_QUESTION_WORDS or len(answer.split()) < MIN_ANSWER_WORDS:
                continue
            doc_id = f"a{_digest(answer)}"
            docs[doc_id] = answer
            key = " ".join(question.lower().split())
            qid = f"q{_digest(key)}"
            questions.setdefault(qid, question)
            qrels.setdefault(qid, set()).add(doc_id)
    out.mkdir(parents=True, exist_ok=True)
    (out / "qrels").mkdir(exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for doc_id, text in docs.items():
            fh.write(json.dumps({"_id": doc_id, "title": "", "text": text}) + "\n")
    with (out / "queries.jsonl").open("w", encoding="utf-8") as fh:
        for qid, text in questions.items():
            fh.write(json.dumps({"_id": qid, "text": text}) + "\n")
    for split in ("train", "test"):
        with (out / "qrels" / f"{split}.tsv").open("w", encoding="utf-8") as fh:
            fh.write("query-id\tcorpus-id\tscore\n")
            for qid, relevant in qrels.items():
                in_test = int(qid[1:], 16) % 2 == 0
                if in_test == (split == "test"):
                    for doc_id in sorted(relevant):
                        fh.write(f"{qid}\t{doc_id}\t1\n")
    (out / "SOURCE.md").write_text(
        "Built by benchmarks/faq_chatterbot.py from chatterbot-corpus "
        f"{getattr(chatterbot_corpus, '__version__', '')} (BSD licence, Gunther Cox).\n"
        f"{len(docs)} answer documents, {len(questions)} questions.\n"
    )
    return out


if __name__ == "__main__":
    target = build(Path(sys.argv[1] if len(sys.argv) > 1 else "faq-chatterbot"))
    print(target, (target / "SOURCE.md").read_text(), sep="\n")
