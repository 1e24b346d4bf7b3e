"""Cold start of `embedstack search`: the process imports only what searching needs.

Import-based, not timed (benchmarks/cold_start.py times it): `python -X importtime`
lists every module the real CLI process imports.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from embedstack.cli import main as cli_main
from embedstack.store.collection import Collection

# Heavy or optional packages that a search on an existing collection must not import.
HEAVY = {
    "onnx",
    "scipy",
    "matplotlib",
    "torch",
    "transformers",
    "pandas",
    "pyarrow",
    "sklearn",
    "fastapi",
    "uvicorn",
    "httpx",
    "ray",
    "bm25s",
}
DOCS = ["The cat sat on the mat.", "Dogs bark loudly.", "Embeddings map text to vectors."]


# Runs the CLI as the console script does and reports `sys.modules` at exit.
PROBE = """
import atexit, json, runpy, sys
atexit.register(lambda: print("MODULES=" + json.dumps(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["embedstack", *json.loads(sys.argv[1])]
runpy.run_module("embedstack", run_name="__main__")
"""


def imported_by(args: list[str]) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Every module the `embedstack` process has imported when it exits after `args`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("MODULES=")]
    assert lines, done.stderr[-2000:]
    return set(json.loads(lines[-1].removeprefix("MODULES="))), done


def packages(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def search_imports(collection: Path) -> set[str]:
    modules, done = imported_by(["search", "cat on a mat", "--in", str(collection), "-k", "2"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "The cat sat on the mat." in done.stdout
    assert "embedstack.cli.collection" in modules and "numpy" in modules
    return modules


def test_search_imports_nothing_heavy(tmp_path):
    col = Collection.create(tmp_path / "kb.es", "hash:64")
    col.add(DOCS)
    found = packages(search_imports(tmp_path / "kb.es"))
    assert not found & HEAVY, sorted(found & HEAVY)


@pytest.mark.model
def test_search_with_minilm_does_not_import_onnx_once_the_graph_is_cached(tmp_path):
    col = Collection.create(tmp_path / "kb.es", "minilm")  # converts (imports onnx) if needed
    col.add(DOCS)
    found = packages(search_imports(tmp_path / "kb.es"))
    assert "onnxruntime" in found  # the real local model ran
    assert not found & HEAVY, sorted(found & HEAVY)


def test_other_commands_are_not_imported_by_search(tmp_path):
    col = Collection.create(tmp_path / "kb.es", "hash:64")
    col.add(DOCS)
    modules = search_imports(tmp_path / "kb.es")
    assert not {"embedstack.cli.eval", "embedstack.cli.serve", "embedstack.cli.corpus"} & modules
    assert not any(name.startswith("embedstack.eval") for name in modules)


def test_the_full_command_list_still_shows_without_a_command():
    _, done = imported_by(["--help"])
    assert done.returncode == 0
    for command in ("search", "serve", "compare", "embed-corpus", "faq"):
        assert command in done.stdout


def test_command_index_names_every_command_of_every_module():
    found: dict[str, str] = {}
    for module in cli_main.COMMAND_MODULES:
        app = typer.Typer()
        importlib.import_module(module).register(app)
        names = [
            info.name or info.callback.__name__.replace("_", "-")
            for info in app.registered_commands
        ]
        names += [group.name for group in app.registered_groups]
        for name in names:
            found[name] = module
    missing = {k: v for k, v in found.items() if cli_main.COMMAND_INDEX.get(k) != v}
    assert not missing, f"add these to COMMAND_INDEX in embedstack/cli/main.py: {missing}"
    assert set(cli_main.COMMAND_INDEX) == set(found)


def test_only_the_cli_process_registers_lazily():
    main_py = Path(cli_main.__file__)
    assert cli_main._running_as_cli("/usr/local/bin/embedstack")
    assert cli_main._running_as_cli(str(main_py))
    assert cli_main._running_as_cli(str(main_py.parent.parent / "__main__.py"))
    assert not cli_main._running_as_cli(sys.argv[0])  # pytest imports the whole app
    assert not cli_main._running_as_cli("")
