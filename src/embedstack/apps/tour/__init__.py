"""`embedstack tour`: the ideas behind embeddings, each shown by a real run on shipped data.

The page is generated, never hand-written: every number it quotes comes from the run that
wrote it, and a test regenerates it and compares against `docs/guide.md`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from embedstack.apps.tour.step import Step, mask_measured

__all__ = ["Tour", "mask_measured", "run_tour"]


@dataclass
class Tour:
    """What a run wrote: the steps, the HTML page and (if asked) the Markdown guide."""

    steps: list[Step]
    html: Path
    markdown: Path | None


def run_tour(
    out: str | Path,
    *,
    markdown: str | Path | None = None,
    splade: str | Path | None = None,
    cpu_usd_per_hour: float = 0.05,
    progress: object | None = None,
) -> Tour:
    """Run the seven steps and write `out/index.html` + PNGs (and `markdown` if given).

    `splade` is a SPLADE model folder (none ships offline); `cpu_usd_per_hour` prices
    local CPU time for the cost comparison.
    """
    from embedstack.apps.tour.basics import text_to_vector, why_cosine, word_token_sentence
    from embedstack.apps.tour.choose import corpus_map, local_vs_hosted
    from embedstack.apps.tour.render import to_html, to_markdown
    from embedstack.apps.tour.retrieval import pooling, search_stages
    from embedstack.apps.tour.sparse import bm25_terms, splade_terms
    from embedstack.progress import report
    from embedstack.registry import load_encoder

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    minilm, glove = load_encoder("minilm"), load_encoder("glove-50d")
    sentence = "The bank approved my loan."
    plan = [
        lambda: text_to_vector(minilm),
        lambda: why_cosine(minilm, glove, folder),
        lambda: word_token_sentence(
            minilm, glove, bm25_terms(sentence), splade_terms(splade, sentence) if splade else None
        ),
        lambda: pooling(lambda **o: load_encoder("minilm", **o), folder),
        lambda: search_stages(minilm),
        lambda: local_vs_hosted(
            {"all-MiniLM-L6-v2": minilm, "glove-50d": glove}, folder, cpu_usd_per_hour
        ),
        lambda: corpus_map(minilm, folder),
    ]
    steps = []
    for number, make in enumerate(plan, start=1):
        steps.append(make())
        report(progress, "tour", number, len(plan))  # type: ignore[arg-type]
    page = folder / "index.html"
    page.write_text(to_html(steps), encoding="utf-8")
    guide = None
    if markdown is not None:
        guide = Path(markdown)
        guide.parent.mkdir(parents=True, exist_ok=True)
        guide.write_text(to_markdown(steps, guide, folder), encoding="utf-8")
    return Tour(steps, page, guide)
