"""Tour steps 4-5: pooling choices on the shipped pairs; one search pipeline, stage by stage."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.apps.tour.figures import bars
from embedstack.apps.tour.step import Step, num, table, tour_data
from embedstack.encoders.base import Encoder
from embedstack.eval.metrics import correlation
from embedstack.search.pipeline import Pipeline
from embedstack.search.rerank import apply_scores, require_texts
from embedstack.store.collection import Collection
from embedstack.text.loaders import load_documents
from embedstack.types import Hit

POOLINGS = ("mean", "cls", "max", "last")


def read_pairs() -> tuple[list[str], list[str], np.ndarray]:
    """The tour's 40 original sentence pairs with 0-5 similarity scores (STS-B style)."""
    with tour_data("tour/pairs.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    gold = np.array([float(r["score"]) for r in rows])
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], gold


def pair_spearman(encoder: Encoder) -> float:
    """Spearman between the encoder's cosine and the gold scores of the tour's pairs."""
    left, right, gold = read_pairs()
    a, b = encoder.encode(left), encoder.encode(right)
    return correlation(np.sum(a * b, axis=1), gold).spearman


def pooling(load: Callable[..., Encoder], out: Path) -> Step:
    """Step 4: the same weights pooled four ways, scored on the shipped pairs."""
    scores = {p: pair_spearman(load(pooling=p)) for p in POOLINGS}
    bars(
        scores, "Spearman", "Pooling on the tour's 40 pairs (all-MiniLM-L6-v2)", out / "pooling.png"
    )
    best = max(scores, key=scores.__getitem__)
    return Step(
        key="pooling",
        title="4. Pooling: from token vectors to one vector",
        text=(
            "A sentence vector is a summary of token vectors, and how it is summarised "
            "matters. Mean pooling averages every token; CLS takes the first token's vector; "
            "max takes each dimension's largest value; last takes the final token (the usual "
            "choice for decoder models). all-MiniLM-L6-v2 was trained with mean pooling, and "
            "on the tour's 40 sentence pairs it scores Spearman {mean} with mean, {cls} with "
            "CLS, {max} with max and {last} with last: the best here is {best}. Use the "
            "pooling a model was trained with; `embedstack compare --preset pooling` "
            "measures it on your own pairs."
        ),
        code=(
            "for p in ['mean', 'cls', 'max', 'last']:\n"
            "    enc = load_encoder(pooling=p)\n"
            "    a, b = enc.encode(left), enc.encode(right)\n"
            "    spearman((a * b).sum(1), gold)"
        ),
        output=table([[p, num(s)] for p, s in scores.items()], ["pooling", "spearman"]),
        images=["pooling.png"],
        numbers={**{p: num(s) for p, s in scores.items()}, "best": best},
    )


class TokenMaxSim:
    """Late-interaction reranking (ColBERT's MaxSim) with a bi-encoder's token vectors:
    each query token finds its best match among a document's tokens, and the matches
    add up. No trained ColBERT checkpoint ships offline; this shows the mechanism."""

    stage = "maxsim"

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder

    def _tokens(self, texts: Sequence[str]) -> list[np.ndarray]:
        out = []
        for emb in self.encoder.encode_tokens(list(texts)):
            keep = (emb.offsets[:, 1] > emb.offsets[:, 0]) | (len(emb.offsets) == 0)
            vectors = np.asarray(emb.vectors)[keep]
            out.append(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        return out

    def rerank(self, query: str, hits: Sequence[Hit], k: int | None = None) -> list[Hit]:
        """Re-score `hits` by MaxSim against `query`."""
        q = self._tokens([query])[0]
        docs = self._tokens(require_texts(hits))
        scores = np.array([float((q @ d.T).max(axis=1).sum()) for d in docs])
        return apply_scores(hits, scores, self.stage, k)

    def config(self) -> dict[str, Any]:
        """Not saved with pipelines: the tour builds it in code."""
        return {"kind": "maxsim", "model": self.encoder.space.model}


def search_stages(encoder: Encoder) -> Step:
    """Step 5: dense, BM25, hybrid and reranked search on the demo corpus."""
    docs = load_documents([tour_data("demo/corpus.jsonl")]).documents
    queries = [q for q in tour_data("demo/queries.txt").read_text().splitlines() if q.strip()]
    with tempfile.TemporaryDirectory(prefix="embedstack-tour-") as tmp:
        collection = Collection.create(Path(tmp) / "demo.es", encoder)
        with collection:
            collection.add(
                [d.text for d in docs],
                ids=[d.id for d in docs],
                metadata=[{"topic": d.metadata["topic"]} for d in docs],
            )
            pipelines = {
                "dense": Pipeline.from_spec(collection, "dense"),
                "bm25": Pipeline.from_spec(collection, "bm25"),
                "hybrid": Pipeline.from_spec(collection, "hybrid"),
                "hybrid+maxsim": Pipeline.from_spec(collection, "hybrid"),
            }
            pipelines["hybrid+maxsim"].reranker = TokenMaxSim(encoder)
            tops = {
                name: [_top(p.search(q, k=3)) for q in queries] for name, p in pipelines.items()
            }
            explained = pipelines["hybrid+maxsim"].explain(queries[-1], k=3)
    rows = [[q[:40], *[tops[name][i] for name in pipelines]] for i, q in enumerate(queries)]
    stage_rows = [
        [str(rank), hit.id, *[_score(hit.stages.get(s)) for s in explained.stages]]
        for rank, hit in enumerate(explained.hits, start=1)
    ]
    output = (
        "top hit per query and pipeline:\n"
        + table(rows, ["query", *pipelines])
        + f"\n\nevery stage's score and rank for {queries[-1]!r}:\n"
        + table(stage_rows, ["rank", "id", *explained.stages])
    )
    agree = sum(tops["dense"][i] == tops["bm25"][i] for i in range(len(queries)))
    contrast = next(
        (
            f"For '{q}' BM25 puts '{tops['bm25'][i]}' first (shared words, not meaning) while "
            f"dense search finds '{tops['dense'][i]}'. "
            for i, q in enumerate(queries)
            if tops["dense"][i] != tops["bm25"][i]
        ),
        "",
    )
    return Step(
        key="search",
        title="5. A search pipeline, stage by stage",
        text=(
            "Minimal semantic search is three lines: embed the documents once, embed the "
            "query, return the highest cosines. Lexical search (BM25) ranks by shared words "
            "instead; on the {n} demo queries dense and BM25 agree on the top hit {agree} "
            "times. {contrast}Hybrid search fuses both rankings with reciprocal rank fusion, "
            "and a reranker then re-scores the few best with a finer model: here late "
            "interaction (MaxSim over token vectors), elsewhere a cross-encoder "
            "(`--rerank DIR`). Every stage's score and rank stay on each hit, which is what "
            "`embedstack search --explain` prints."
        ),
        code=(
            "col = Collection.create('demo.es'); col.add(texts, ids=ids)\n"
            "col.search('how do plants make their food?', k=3)           # dense\n"
            "Pipeline.from_spec(col, 'hybrid').explain(query, k=3)\n"
            "embedstack search 'keeping a loaf from going hard' --in demo.es --explain"
        ),
        output=output,
        numbers={"n": str(len(queries)), "agree": str(agree), "contrast": contrast},
    )


def _top(hits: list[Hit]) -> str:
    return hits[0].id if hits else "-"


def _score(values: dict[str, float] | None) -> str:
    return "-" if values is None else f"{values['score']:.3f} (#{int(values['rank'])})"
