"""`embedstack index FILE.npy|.npz|.parquet` and `embedstack compress-report`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embedstack.cli.main import app
from embedstack.eval.compress_report import PLOTS, ROW_KEYS
from embedstack.store.collection import Collection

BEIR = Path(__file__).resolve().parents[1] / "data" / "eval" / "beir_tiny"


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("EMBEDSTACK_DEBUG", raising=False)


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def vectors(n=300, d=16):
    x = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_index_npy_with_hnsw_and_binary(tmp_path):
    x = vectors()
    np.save(tmp_path / "v.npy", x)
    into = tmp_path / "c"
    result = run(
        "index", tmp_path / "v.npy", "--into", into, "--ann", "hnsw", "--storage", "binary",
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["added"], summary["total"]) == (300, 300)
    assert summary["indexes"]["hnsw"]["storage"] == "binary"
    assert summary["indexes"]["hnsw"]["rescore"] == "float32"
    col = Collection.open(into)
    assert col.search_vector(x[42], 1, exact=True)[0].id == "42"
    assert col.search_vector(x[42], 1)[0].id == "42"
    again = json.loads(run("index", tmp_path / "v.npy", "--into", into, "--json").stdout)
    assert (again["unchanged"], again["total"]) == (300, 300)


def test_index_parquet_with_ids_field(tmp_path):
    import pyarrow as pa  # the [static] extra, installed by `make dev`
    import pyarrow.parquet as pq

    x = vectors(20, 8)
    table = pa.table(
        {"doc": [f"d{i}" for i in range(20)], "vector": x.tolist(), "lang": ["en", "de"] * 10}
    )
    pq.write_table(table, tmp_path / "v.parquet")
    into = tmp_path / "p"
    result = run(
        "index", tmp_path / "v.parquet", "--ids-field", "doc", "--into", into, "--storage",
        "int8", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    col = Collection.open(into)
    hits = col.search_vector(x[3], 3, where={"lang": "de"})
    assert hits[0].id == "d3" and all(h.metadata["lang"] == "de" for h in hits)


def test_index_vectors_bad_input_is_one_line(tmp_path):
    np.save(tmp_path / "v.npy", np.full((2, 4), np.nan, dtype=np.float32))
    result = run("index", tmp_path / "v.npy", "--into", tmp_path / "c")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "NaN or infinity: 0, 1" in result.stderr
    np.save(tmp_path / "w.npy", vectors(3, 4))
    result = run("index", tmp_path / "w.npy", "--into", tmp_path / "d", "--ann", "ivf")
    assert result.exit_code == 1 and "exact, hnsw" in result.stderr


def test_compress_report_json_and_plots(tmp_path):
    out = tmp_path / "report"
    result = run("compress-report", BEIR, "--model", "hash", "--json", "--out", out)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert all(tuple(row) == ROW_KEYS for row in rows)
    kinds = {(r["storage"], r["rescore"], r["ann"]) for r in rows}
    for wanted in [("float32", "none", "exact"), ("binary", "float32", "hnsw"),
                   ("int8", "none", "exact"), ("binary", "int8", "exact"),
                   ("float32/64d", "none", "hnsw")]:  # fmt: skip
        assert wanted in kinds
    by = {(r["storage"], r["rescore"], r["ann"]): r for r in rows}
    assert by["binary", "none", "exact"]["bytes_per_vector"] == 32  # 256 bits
    assert by["float32", "none", "exact"]["bytes_per_vector"] == 1024
    # Rescoring binary candidates with float32 recovers the float32 ranking here.
    assert by["binary", "float32", "exact"]["ndcg@10"] == by["float32", "none", "exact"]["ndcg@10"]
    assert json.loads((out / "results.json").read_text()) == rows
    for name in PLOTS:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_index_flags_on_an_existing_collection_are_refused_not_ignored(tmp_path):
    np.save(tmp_path / "v.npy", vectors(20))
    into = tmp_path / "c"
    assert run("index", tmp_path / "v.npy", "--into", into).exit_code == 0
    again = run("index", tmp_path / "v.npy", "--into", into, "--ann", "hnsw")
    assert again.exit_code == 1 and "Traceback" not in again.output
    assert "new collection" in again.stderr
    assert run("index", tmp_path / "v.npy", "--into", into).exit_code == 0  # no flags: fine
