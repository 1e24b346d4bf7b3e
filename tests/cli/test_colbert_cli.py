"""ColBERT from the CLI: `index --colbert`, `search --retriever colbert`, `--rerank-colbert`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_models import make_tiny_colbert
from typer.testing import CliRunner

from embedstack.cli.main import app

pytestmark = pytest.mark.torch

DOCS = {
    "cat": "the cat sat on the mat",
    "dogs": "a dog ran fast",
    "river": "a blue river",
    "house": "the big red house",
    "world": "hello world",
}


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EMBEDSTACK_MODEL", "hash:64")
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(scope="module")
def colbert(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "colbert"
    make_tiny_colbert(path)
    return path


def write_docs(path: Path, docs: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in docs.items()))
    return path


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def exact_maxsim(colbert: Path, query: str, docs: dict[str, str]) -> dict[str, float]:
    from embedstack.search.colbert import ColbertReranker

    scores = ColbertReranker(colbert).score(query, list(docs.values()))
    return dict(zip(docs, scores.tolist(), strict=True))


def maxsim_order(colbert: Path, query: str, docs: dict[str, str]) -> list[str]:
    scores = exact_maxsim(colbert, query, docs)
    return sorted(scores, key=lambda i: -scores[i])


def search_hits(*args) -> list[dict]:
    result = run("search", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_colbert_hits(hits: list[dict], colbert: Path, query: str, docs: dict[str, str]) -> None:
    """The index's best hit is the exact MaxSim best and every score is exact MaxSim up
    to the compression error (close lower ranks may swap)."""
    exact = exact_maxsim(colbert, query, docs)
    assert hits[0]["id"] == max(exact, key=exact.__getitem__)
    for hit in hits:
        assert hit["score"] == pytest.approx(exact[hit["id"]], abs=0.05)


def test_index_with_colbert_then_search_it(colbert, tmp_path):
    into = tmp_path / "c.es"
    result = run(
        "index", write_docs(tmp_path / "a.jsonl", DOCS), "--into", into, "--colbert", colbert
    )
    assert result.exit_code == 0, result.output
    indexes = json.loads((into / "manifest.json").read_text())["indexes"]
    assert set(indexes) == {"bm25", "colbert"}
    assert indexes["colbert"]["model"] == str(colbert.resolve())
    query = "cat on a mat"
    hits = search_hits(query, "--in", into, "--retriever", "colbert", "-k", "3")
    assert len(hits) == 3
    assert_colbert_hits(hits, colbert, query, DOCS)

    more = {"tree": "a small tree", "slow": "the slow dog sat"}
    again = run(
        "index", write_docs(tmp_path / "b.jsonl", more), "--into", into, "--colbert", colbert
    )
    assert again.exit_code == 0, again.output
    hits = search_hits("small tree", "--in", into, "--retriever", "colbert", "-k", "7")
    assert sorted(h["id"] for h in hits) == sorted([*DOCS, *more])  # followed the new docs
    assert_colbert_hits(hits, colbert, "small tree", DOCS | more)


def test_colbert_added_to_an_existing_collection(colbert, tmp_path):
    docs, into = write_docs(tmp_path / "a.jsonl", DOCS), tmp_path / "c.es"
    assert run("index", docs, "--into", into, "--no-bm25").exit_code == 0
    missing = run("search", "cat", "--in", into, "--retriever", "colbert")
    assert missing.exit_code == 1 and "no 'colbert' index" in missing.stderr
    result = run("index", docs, "--into", into, "--colbert", colbert)
    assert result.exit_code == 0, result.output
    assert "nothing to embed" in result.stdout  # only the ColBERT index was built
    hits = search_hits("blue river", "--in", into, "--retriever", "colbert", "-k", "2")
    assert_colbert_hits(hits, colbert, "blue river", DOCS)


def test_rerank_colbert_reorders_another_retrievers_hits(colbert, tmp_path):
    into = tmp_path / "c.es"
    assert run("index", write_docs(tmp_path / "a.jsonl", DOCS), "--into", into).exit_code == 0
    query = "the cat sat on a big red mat"
    first = [h["id"] for h in search_hits(query, "--in", into, "--retriever", "bm25")]
    assert len(first) >= 2
    result = run(
        "search", query, "--in", into, "--retriever", "bm25", "--rerank-colbert", colbert,
        "--explain", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    explanation = json.loads(result.stdout)
    assert explanation["stages"] == ["bm25", "colbert"]
    ids = [row["id"] for row in explanation["hits"]]
    assert ids == maxsim_order(colbert, query, {i: DOCS[i] for i in first})
    assert all(row["bm25"] is not None and row["colbert"]["rank"] == n + 1
               for n, row in enumerate(explanation["hits"]))  # fmt: skip

    hybrid = run(
        "search", query, "--in", into, "--retriever", "hybrid", "--rerank-colbert", colbert,
        "--explain", "--json",
    )  # fmt: skip
    assert hybrid.exit_code == 0, hybrid.output
    assert json.loads(hybrid.stdout)["stages"] == ["dense", "bm25", "fusion", "colbert"]


def test_rerank_options_are_alternatives_and_bad_folders_are_named(colbert, tmp_path):
    into = tmp_path / "c.es"
    assert run("index", write_docs(tmp_path / "a.jsonl", DOCS), "--into", into).exit_code == 0
    both = run("search", "cat", "--in", into, "--rerank", colbert, "--rerank-colbert", colbert)
    assert both.exit_code == 1 and "give only one" in both.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = run("search", "cat", "--in", into, "--rerank-colbert", empty)
    assert bad.exit_code == 1 and "error:" in bad.stderr and str(empty) in bad.stderr
    bad_index = run("index", tmp_path / "a.jsonl", "--into", into, "--colbert", empty)
    assert bad_index.exit_code == 1 and str(empty) in bad_index.stderr


def test_collection_create_takes_colbert_settings(colbert, tmp_path):
    from embedstack.store.collection import Collection

    settings = {"model": str(colbert), "compression": "int8", "nprobe": 4}
    col = Collection.create(tmp_path / "c", "hash:32", indexes={"bm25": None, "colbert": settings})
    assert col.manifest.indexes["colbert"]["compression"] == "int8"
    col.add(list(DOCS.values()), ids=list(DOCS))
    hits = Collection.open(tmp_path / "c").search("hello world", k=2, retriever="colbert")
    assert_colbert_hits(
        [{"id": h.id, "score": h.score} for h in hits], colbert, "hello world", DOCS
    )
    assert Collection.create(tmp_path / "d", "hash:32", indexes=("bm25",)).index_names == ["bm25"]


def test_new_colbert_weights_are_refused_until_the_index_is_rebuilt(tmp_path):
    from safetensors.numpy import load_file, save_file

    colbert = tmp_path / "colbert"
    make_tiny_colbert(colbert)
    docs, into = write_docs(tmp_path / "a.jsonl", DOCS), tmp_path / "c.es"
    assert run("index", docs, "--into", into, "--colbert", colbert).exit_code == 0
    tensors = load_file(str(colbert / "model.safetensors"))
    tensors["linear.weight"] = (tensors["linear.weight"][::-1] + 0.1).copy()
    save_file(tensors, str(colbert / "model.safetensors"))  # new weights, same folder
    refused = run("search", "blue river", "--in", into, "--retriever", "colbert")
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "fingerprint:" in refused.stderr and "--rebuild-indexes" in refused.stderr
    rebuilt = run("index", docs, "--into", into, "--rebuild-indexes")
    assert rebuilt.exit_code == 0, rebuilt.output
    hits = search_hits("blue river", "--in", into, "--retriever", "colbert", "-k", "2")
    assert_colbert_hits(hits, colbert, "blue river", DOCS)  # scored with the new weights
