import json

import pytest
from typer.testing import CliRunner

from embedstack.cli.main import app


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EMBEDSTACK_MODEL", "hash:64")


def test_demo_prints_ranked_results_for_each_query():
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "indexed 40 paragraphs with hash:64" in result.stdout
    assert result.stdout.count("query: ") == 4
    assert "how do plants make their food?" in result.stdout


def test_demo_json_and_own_query():
    result = CliRunner().invoke(app, ["demo", "--json", "-k", "2", "-q", "volcano lava magma"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["documents"] == 40 and out["model"] == "hash:64"
    (answer,) = out["queries"]
    assert answer["query"] == "volcano lava magma" and len(answer["hits"]) == 2
    assert answer["hits"][0]["id"] == "volcanoes"
    assert set(answer["hits"][0]) == {"id", "score", "text", "metadata"}


@pytest.mark.model
def test_demo_with_the_default_model_finds_the_meaning(monkeypatch):
    monkeypatch.delenv("EMBEDSTACK_MODEL")
    result = CliRunner().invoke(app, ["demo", "--json", "-k", "1"])
    assert result.exit_code == 0, result.output
    top = [q["hits"][0]["id"] for q in json.loads(result.stdout)["queries"]]
    assert top == ["photosynthesis", "blue-sky", "rotate-keys", "stale-bread"]
