"""The encoder layer imports only downward: catalog/config/types/errors/similarity and
text below it, never the registry, store, search, eval, apps, server or cli above it
(not even inside functions). `text` never imports encoders; `catalog` imports nothing."""

from __future__ import annotations

import ast
from pathlib import Path

import embedstack

SRC = Path(embedstack.__file__).parent
ABOVE_ENCODERS = ("registry", "store", "search", "eval", "apps", "drift", "server", "cli")
# SPLADE/ColBERT get their own bases (and drop their upward imports) in a parallel change
PENDING = {"splade.py", "colbert.py"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return [n for n in names if n == "embedstack" or n.startswith("embedstack.")]


def _above(module: str, layers: tuple[str, ...]) -> bool:
    return any(module == f"embedstack.{x}" or module.startswith(f"embedstack.{x}.") for x in layers)


def test_encoders_never_import_upward():
    bad = {
        f"{path.relative_to(SRC)}: {module}"
        for path in (SRC / "encoders").rglob("*.py")
        if path.name not in PENDING
        for module in _imports(path)
        if _above(module, ABOVE_ENCODERS)
    }
    assert not bad


def test_text_and_catalog_sit_below_the_encoders():
    for path in (SRC / "text").rglob("*.py"):
        assert not [m for m in _imports(path) if _above(m, ("encoders", *ABOVE_ENCODERS))], path
    assert _imports(SRC / "catalog.py") == []


def test_static_and_words_have_no_cycle():
    assert not [m for m in _imports(SRC / "encoders" / "words.py") if "static" in m]
