"""`embedstack search ... --retriever hybrid --rerank DIR --explain`: pipeline searches
and the per-stage table. The `search` command (cli/collection.py) delegates here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from embedstack.errors import InputError

if TYPE_CHECKING:
    from embedstack.search.pipeline import Explanation
    from embedstack.search.rerank import Reranker
    from embedstack.store.collection import Collection

RERANK_HELP = "Rerank the top hits with this cross-encoder model folder (Hugging Face layout)."
RERANK_COLBERT_HELP = (
    "Rerank the top hits by ColBERT MaxSim with this ColBERT checkpoint folder (no index "
    "needed; an alternative to --rerank)."
)
EXPLAIN_HELP = "Show every stage's score and rank for each hit, and each stage's latency."


def pipeline_search(
    collection: Collection,
    query: str,
    *,
    k: int,
    where: dict[str, Any] | None,
    retriever: str,
    rerank: Path | None,
    rerank_colbert: Path | None = None,
) -> Explanation:
    """Run the pipeline `retriever` names (plus a reranker) and explain the result."""
    from embedstack.search.pipeline import Pipeline

    reranker = make_reranker(rerank, rerank_colbert)
    pipeline = Pipeline.from_spec(collection, retriever, reranker=reranker)
    return pipeline.explain(query, k, where)


def make_reranker(rerank: Path | None, rerank_colbert: Path | None) -> Reranker | None:
    """The reranker asked for by `--rerank` (cross-encoder) or `--rerank-colbert`."""
    if rerank is not None and rerank_colbert is not None:
        raise InputError(
            "--rerank (a cross-encoder) and --rerank-colbert are alternatives: give only one"
        )
    if rerank is not None:
        from embedstack.search.rerank import CrossEncoderReranker

        return CrossEncoderReranker(rerank)
    if rerank_colbert is not None:
        from embedstack.search.colbert import ColbertReranker

        return ColbertReranker(rerank_colbert)
    return None


def _cell(values: dict[str, float] | None) -> str:
    if values is None:
        return "-"
    return f"{values['score']:.4f} (#{int(values['rank'])})"


def print_explanation(explanation: Explanation, console: Console | None = None) -> None:
    """One row per hit: final rank, id, each stage's score (#rank), a text snippet."""
    console = console or Console(emoji=False)
    table = Table(title=f"{' -> '.join(explanation.stages)} for {explanation.query!r}")
    # Scores and ids never wrap; the text snippet gives up its width first.
    table.add_column("#", justify="right", no_wrap=True, min_width=2)
    table.add_column("id", no_wrap=True, overflow="ellipsis", max_width=16)
    for stage in explanation.stages:
        table.add_column(stage, justify="right", no_wrap=True, min_width=11)
    table.add_column("text", no_wrap=True)
    # what is left of the terminal after rank, id and score columns (and borders)
    room = max(8, min(48, console.width - 5 - 20 - 14 * len(explanation.stages) - 4))
    for rank, hit in enumerate(explanation.hits, start=1):
        cells = [_cell(hit.stages.get(stage)) for stage in explanation.stages]
        text = hit.text.replace("\n", " ")
        text = text if len(text) <= room else text[: room - 1] + "…"
        table.add_row(str(rank), hit.id, *cells, text)
    console.print(table)
    if explanation.timings:
        console.print(
            "latency: "
            + ", ".join(f"{s} {t * 1000:.1f} ms" for s, t in explanation.timings.items())
        )
