"""The tour runs on shipped data, writes a page whose images exist, and docs/guide.md
quotes exactly what the tour computes today (speeds aside, which are machine-dependent)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from apps_helpers import minilm
from tiny_models import make_tiny_model

from embedstack.apps.tour import mask_measured, run_tour
from embedstack.apps.tour.sparse import bm25_terms, splade_terms

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide.md"
pytestmark = pytest.mark.model


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.sections = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")
        if tag == "section":
            self.sections += 1


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory):
    minilm()
    root = tmp_path_factory.mktemp("tour")
    # same layout as the committed guide: docs/guide.md with its PNGs in docs/guide/
    return run_tour(root / "guide", markdown=root / "guide.md")


def test_page_parses_with_every_image_present(tour) -> None:
    page = _Page()
    page.feed(tour.html.read_text(encoding="utf-8"))
    assert page.sections == 7
    assert sorted(page.images) == ["choice.png", "map.png", "pooling.png", "similarity.png"]
    for name in page.images:
        assert (tour.html.parent / name).stat().st_size > 10_000
    assert "<!--measured-->" not in tour.html.read_text(encoding="utf-8")


def test_guide_quotes_what_the_tour_computes(tour) -> None:
    fresh = mask_measured(tour.markdown.read_text(encoding="utf-8"))
    committed = mask_measured(GUIDE.read_text(encoding="utf-8"))
    assert fresh == committed, (
        "docs/guide.md is stale: regenerate it with "
        "`embedstack tour --out docs/guide --markdown docs/guide.md`"
    )


def test_every_quoted_number_is_filled_in(tour) -> None:
    for step in tour.steps:
        prose = step.prose()
        assert "{" not in prose and "}" not in prose
    numbers = {s.key: s.numbers for s in tour.steps}
    assert numbers["vectors"]["dim"] == "384"
    assert numbers["vectors"]["norm"] == "1.000"
    assert numbers["pooling"]["best"] == "mean"  # the pooling MiniLM was trained with


def test_mask_measured_hides_only_measured_values() -> None:
    text = "embeds 1,234<!--measured--> texts at $0.05 per hour"
    assert mask_measured(text) == "embeds <measured> texts at $0.05 per hour"
    assert mask_measured("cat  ~1,234  ~2.9e-05  0.927") == "cat  <measured>  <measured>  0.927"


def test_bm25_weights_rank_rare_terms_higher() -> None:
    weights = dict(bm25_terms("The bank approved my loan."))
    assert set(weights) == {"bank", "approv", "my", "loan"}  # stop word 'the' dropped, stemmed
    assert weights["loan"] > weights["bank"]  # 'bank' also occurs in the demo corpus


@pytest.mark.torch
def test_splade_terms_come_from_the_model(tmp_path: Path) -> None:
    make_tiny_model(tmp_path / "splade", "bert-mlm", max_positions=40)
    terms = splade_terms(tmp_path / "splade", "the bank approved my loan")
    weights = [w for _, w in terms]
    assert terms and weights == sorted(weights, reverse=True) and min(weights) > 0
    assert all(isinstance(t, str) and t for t, _ in terms)
