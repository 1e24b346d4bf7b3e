"""Tour steps 1-3: text becomes a vector; why cosine; word, token, sentence and sparse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from embedstack.apps.tour.figures import heatmap
from embedstack.apps.tour.step import Step, measured, num, table, tour_data
from embedstack.encoders.base import Encoder

SENTENCE = "Embeddings turn text into vectors."


def text_to_vector(encoder: Any) -> Step:
    """Step 1: one sentence, its tokens and ids, and the vector they become."""
    vector = encoder.encode([SENTENCE])[0]
    encoding = encoder.model.tokenizer.encode(SENTENCE)
    rows = [[tok, str(tid)] for tok, tid in zip(encoding.tokens, encoding.ids, strict=True)]
    head = ", ".join(f"{v:+.3f}" for v in vector[:6])
    output = (
        table(rows, ["token", "id"])
        + f"\n\nvector: shape {vector.shape}, dtype {vector.dtype}, L2 norm "
        + f"{np.linalg.norm(vector):.3f}\nfirst values: [{head}, ...]"
    )
    return Step(
        key="vectors",
        title="1. Text becomes a vector",
        text=(
            "A transformer encoder first cuts the text into {tokens} word pieces from a fixed "
            "vocabulary (the special tokens `[CLS]` and `[SEP]` mark the start and end), looks "
            "up an id for each, runs them through its layers, and pools the per-token outputs "
            "into one vector of {dim} numbers. embedstack scales every vector to length 1 "
            "(its L2 norm is {norm}), so comparing two texts is a single dot product."
        ),
        code=(
            "from embedstack import load_encoder\n"
            "encoder = load_encoder()  # all-MiniLM-L6-v2 on ONNX Runtime\n"
            f"vector = encoder.encode([{SENTENCE!r}])[0]\n"
            "vector.shape, np.linalg.norm(vector)"
        ),
        output=output,
        numbers={
            "tokens": str(len(encoding.ids)),
            "dim": str(vector.shape[0]),
            "norm": num(float(np.linalg.norm(vector))),
        },
    )


def why_cosine(encoder: Encoder, glove: Encoder, out: Path) -> Step:
    """Step 2: cosine vs dot vs euclidean, and a similarity heatmap of ten sentences."""
    sentences = tour_data("tour/sentences.txt").read_text(encoding="utf-8").splitlines()
    unit = encoder.encode(sentences)
    sims = unit @ unit.T
    heatmap(sims, [s[:38] for s in sentences], out / "similarity.png")
    raw = glove.encode(sentences, normalize=False)
    norms = np.linalg.norm(raw, axis=1)
    query = glove.encode(["kitten sleeping in the sun"], normalize=False)[0]
    by_dot = int(np.argmax(raw @ query))
    cosine = (raw @ query) / (norms * np.linalg.norm(query))
    by_cos = int(np.argmax(cosine))
    dist = np.linalg.norm(unit[:, None, :] - unit[None, :, :], axis=2)
    identity = float(np.max(np.abs(dist**2 - (2 - 2 * sims))))
    rows = [
        [s[:46], f"{n:.2f}", f"{d:.3f}", f"{c:.3f}"]
        for s, n, d, c in zip(sentences, norms, raw @ query, cosine, strict=True)
    ]
    output = (
        "GloVe (unnormalised) vectors vs the query 'kitten sleeping in the sun':\n"
        + table(rows, ["sentence", "norm", "dot", "cosine"])
        + f"\n\ntop by dot: {sentences[by_dot]!r}\ntop by cosine: {sentences[by_cos]!r}"
    )
    return Step(
        key="similarity",
        title="2. Cosine, dot product, euclidean distance",
        text=(
            "On unit-length vectors the three agree: the dot product is the cosine, and the "
            "squared euclidean distance is exactly 2 - 2 x cosine (largest deviation over the "
            "ten sentences below: {identity}). They part ways when lengths differ. Word-vector "
            "averages are not unit length (norms from {norm_min} to {norm_max} here): a longer "
            "vector wins a dot product for reasons that have nothing to do with meaning. "
            "Cosine looks only at direction, which is why it is the default.\n\n"
            "In the heatmap the paraphrases light up (the two cat sentences: {cat}; the two "
            "photosynthesis sentences: {plants}), related sentences share a warmer block "
            "(interest rates vs borrowing: {money}) and unrelated ones stay low "
            "(cat vs interest rates: {unrelated})."
        ),
        code=(
            "unit = encoder.encode(sentences)              # unit length\n"
            "sims = unit @ unit.T                          # cosine = dot\n"
            "raw = load_encoder('glove-50d').encode(sentences, normalize=False)"
        ),
        output=output,
        images=["similarity.png"],
        numbers={
            # float32 rounding residue: its last digits depend on the CPU's SIMD kernels
            "identity": measured(identity, ".1e"),
            "norm_min": num(float(norms.min()), 2),
            "norm_max": num(float(norms.max()), 2),
            "cat": num(float(sims[0, 1]), 2),
            "plants": num(float(sims[6, 7]), 2),
            "money": num(float(sims[3, 4]), 2),
            "unrelated": num(float(sims[0, 3]), 2),
        },
    )


def word_token_sentence(
    encoder: Any,
    glove: Any,
    bm25_terms: list[tuple[str, float]],
    splade_terms: list[tuple[str, float]] | None,
) -> Step:
    """Step 3: one word one vector (GloVe); tokens in context; a sentence; sparse terms."""
    neighbours = glove.most_similar("coffee", k=5)
    analogy = glove.analogy("man", "king", "woman", k=3)
    texts = [
        "We sat on the bank of the river.",
        "The bank approved my loan.",
        "She deposited the cheque at the bank.",
    ]
    bank = [_token_vector(t, encoder) for t in texts]
    cos = lambda a, b: float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))  # noqa: E731
    river_loan, loan_cheque = cos(bank[0], bank[1]), cos(bank[1], bank[2])
    lines = [
        "GloVe neighbours of 'coffee': " + ", ".join(f"{w} {s:.2f}" for w, s in neighbours),
        "man : king :: woman : " + ", ".join(f"{w} {s:.2f}" for w, s in analogy),
        "",
        "MiniLM's vector for the token 'bank' in context:",
        f"  river bank vs loan bank:   cosine {river_loan:.3f}",
        f"  loan bank vs cheque bank:  cosine {loan_cheque:.3f}",
        "",
        "BM25 weight of each term of 'The bank approved my loan.' in the demo corpus:",
        "  " + ", ".join(f"{t} {w:.2f}" for t, w in bm25_terms),
    ]
    if splade_terms is None:
        lines += [
            "",
            "SPLADE: no checkpoint given (none ships offline; run "
            "`embedstack tour --splade DIR` with a SPLADE model folder).",
        ]
    else:
        lines += [
            "",
            "SPLADE terms of the same sentence (top 8, including expansions):",
            "  " + ", ".join(f"{t} {w:.2f}" for t, w in splade_terms[:8]),
        ]
    return Step(
        key="kinds",
        title="3. Word, token, sentence and sparse embeddings",
        text=(
            "Word vectors (GloVe) give every word one fixed vector: 'coffee' sits near "
            "{coffee_top}, and vector arithmetic finds '{analogy_top}' for man : king :: "
            "woman : ?. But one vector per word cannot tell a river bank from a loan bank. "
            "A transformer gives each token a vector that depends on its sentence: the two "
            "financial uses of 'bank' are closer to each other ({loan_cheque}) than to the "
            "river bank ({river_loan}). Pooling those token vectors gives one sentence "
            "vector (step 1).\n\n"
            "Sparse representations keep one weight per vocabulary term instead: BM25 weighs "
            "the exact words by how rare they are in the corpus; SPLADE learns the weights "
            "and adds related terms the text does not contain. Sparse and dense vectors fail "
            "on different queries, which is why hybrid search (step 5) combines them."
        ),
        code=(
            "glove = load_encoder('glove-50d')\n"
            "glove.most_similar('coffee'); glove.analogy('man', 'king', 'woman')\n"
            "encoder.encode_tokens(['The bank approved my loan.'])[0].vectors  # per token"
        ),
        output="\n".join(lines),
        numbers={
            "coffee_top": neighbours[0][0],
            "analogy_top": analogy[0][0],
            "river_loan": num(river_loan),
            "loan_cheque": num(loan_cheque),
        },
    )


def _token_vector(text: str, encoder: Any) -> np.ndarray:
    tokens = encoder.encode_tokens([text])[0]
    return np.asarray(tokens.vectors[tokens.tokens.index("bank")])
