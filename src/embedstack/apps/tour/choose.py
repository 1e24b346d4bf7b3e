"""Tour steps 6-7: local vs hosted by quality, speed and cost; a map of the corpus."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.apps.tour.figures import choice_chart, scatter_map
from embedstack.apps.tour.retrieval import pair_spearman
from embedstack.apps.tour.step import Step, measured, measured_cell, num, table, tour_data
from embedstack.encoders.base import Encoder
from embedstack.encoders.hosted.cost import estimate_cost
from embedstack.text.loaders import load_documents

HOSTED = (
    "openai:text-embedding-3-small",
    "openai:text-embedding-3-large",
    "cohere:embed-v4.0",
    "voyage:voyage-3.5",
    "gemini:gemini-embedding-001",
)


def _throughput(encoder: Encoder, texts: list[str], rounds: int = 3) -> float:
    """Median texts per second over a few passes (the first pass warms up)."""
    encoder.encode(texts[:8])
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        encoder.encode(texts)
        seconds.append(time.perf_counter() - start)
    return len(texts) / float(np.median(seconds))


def local_vs_hosted(models: dict[str, Encoder], out: Path, cpu_usd_per_hour: float) -> Step:
    """Step 6: measured local speed and CPU cost next to hosted list prices (dry run)."""
    docs = load_documents([tour_data("demo/corpus.jsonl")]).documents
    texts = [d.text for d in docs] * 4
    tokens = sum(models["all-MiniLM-L6-v2"].count_tokens(texts))
    local: list[dict[str, Any]] = []
    for name, encoder in models.items():
        speed = _throughput(encoder, texts)
        token_rate = speed * tokens / len(texts)
        local.append(
            {
                "name": name,
                "texts_per_s": speed,
                "spearman": pair_spearman(encoder),
                "usd_per_million": cpu_usd_per_hour / 3600 * 1e6 / token_rate,
            }
        )
    estimates = {
        spec: estimate_cost(spec, [d.text for d in docs], cache=False, truncate=True)
        for spec in HOSTED
    }
    hosted = {spec: e.usd_per_million or 0.0 for spec, e in estimates.items()}
    choice_chart(local, hosted, out / "choice.png")
    rows = [
        [
            r["name"],
            num(r["spearman"]),
            measured_cell(r["texts_per_s"]),
            measured_cell(r["usd_per_million"], ".2g"),
        ]
        for r in local
    ]
    rows += [[spec, "(needs a key)", "(network)", f"{hosted[spec]:.2f}"] for spec in HOSTED]
    cheapest = min(HOSTED, key=hosted.__getitem__)
    minilm = next(r for r in local if r["name"] == "all-MiniLM-L6-v2")
    return Step(
        key="choose",
        title="6. Local or hosted: quality, speed and cost",
        text=(
            "A local model costs CPU time and nothing per token; a hosted one costs per "
            "token and a network round trip, and may be more accurate. On this machine "
            "all-MiniLM-L6-v2 embeds {minilm_speed} texts a second; at ${cpu} per CPU-hour "
            "(an assumption: pass `--cpu-usd-per-hour`) that is ${minilm_cost} per million "
            "tokens, against ${cheapest_price} for the cheapest hosted model listed here "
            "({cheapest}). The dry run below needs no key: embedding the {docs} demo "
            "paragraphs ({hosted_tokens} tokens by OpenAI's tokenizer) with {cheapest} would "
            "cost ${cheapest_usd}. Hosted quality cannot be measured without a key; "
            "`embedstack compare` puts any set of models, local and hosted, on your own data "
            "side by side."
        ),
        code=(
            "embedstack embed --dry-run --model openai:text-embedding-3-small --file docs.txt\n"
            "embedstack compare --dataset my-data/ --model minilm --model glove-50d"
        ),
        output=table(rows, ["model", "spearman", "texts/s", "US$ per 1M tokens"])
        + "\n\n(~ marks a value measured on this machine: it changes from run to run)",
        images=["choice.png"],
        numbers={
            "minilm_speed": measured(minilm["texts_per_s"]),
            "cpu": f"{cpu_usd_per_hour:g}",
            "minilm_cost": measured(minilm["usd_per_million"], ",.4f"),
            "cheapest": cheapest,
            "cheapest_price": f"{hosted[cheapest]:g}",
            "docs": str(len(docs)),
            "hosted_tokens": str(estimates[HOSTED[0]].tokens),
            "cheapest_usd": f"{estimates[cheapest].usd or 0:.6f}",
        },
    )


def corpus_map(encoder: Encoder, out: Path) -> Step:
    """Step 7: the demo corpus in two dimensions (PCA), coloured by topic."""
    docs = load_documents([tour_data("demo/corpus.jsonl")]).documents
    topics = [str(d.metadata["topic"]) for d in docs]
    vectors = encoder.encode([d.text for d in docs])
    centred = vectors - vectors.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    points = centred @ components[:2].T
    variance = float((singular[:2] ** 2).sum() / (singular**2).sum())
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    nearest = sims.argmax(axis=1)
    same = float(np.mean([topics[i] == topics[j] for i, j in enumerate(nearest)]))
    scatter_map(points, topics, out / "map.png", "The demo corpus, projected to 2-D (PCA)")
    counts = {t: topics.count(t) for t in sorted(set(topics))}
    return Step(
        key="map",
        title="7. A map of the corpus",
        text=(
            "Projecting the {docs} demo paragraphs' {dim}-dimensional vectors onto their two "
            "main directions (PCA) keeps {variance} of the variance: a flat map loses most "
            "of what the vectors hold, so read it as a sketch. In the full space the nearest "
            "neighbour of {same} of the paragraphs is on the same topic ({topics} topics of "
            "1 to 4 paragraphs each). `embedstack cluster` finds such groups without labels."
        ),
        code=(
            "vectors = encoder.encode(texts)\n"
            "centred = vectors - vectors.mean(0)\n"
            "points = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T"
        ),
        output=table([[t, str(n)] for t, n in counts.items()], ["topic", "paragraphs"]),
        images=["map.png"],
        numbers={
            "docs": str(len(docs)),
            "dim": str(vectors.shape[1]),
            "variance": f"{variance:.0%}",
            "same": f"{same:.0%}",
            "topics": str(len(counts)),
        },
    )
