"""The README's examples run, so they cannot drift from the code.

Every fenced block of README.md is collected in order and run in one working folder
holding tiny stand-ins for the files the examples name (`./my-notes`, `./my-beir-data`,
`./splade-model`, ...; the repository's `examples/`, `src/` and `tests/` are linked in):

- `python` blocks are executed (a few get their free variables from `SETUP`);
- `bash` blocks run each `embedstack ...` line through the real command-line app;
- `console` blocks run each `$ embedstack ...` line and check the output shown under it
  (numbers masked, unless the block is marked `exact`; lines with `...` are elided);
- `toml` blocks whose first line names a file (`# minilm.toml — ...`) are written there.

Shell lines run in-process (typer's CliRunner over the same app the console script
runs) rather than as subprocesses: ~40 interpreter start-ups with model loads would
take minutes; `test_the_console_script_runs_the_quick_start` runs one real subprocess.

Markers, an HTML comment right above a block (invisible on GitHub):
`<!-- readme-test: skip REASON -->` (needs a server, an API key, large data, ...),
`<!-- readme-test: skip-lines TEXT: REASON -->` (shell lines containing TEXT),
`<!-- readme-test: rerun -->` (run the block twice: it must resume, not fail),
`<!-- readme-test: exact -->` (compare console output without masking numbers),
`<!-- readme-test: fresh -->` (run in an empty folder: it makes names used above).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DATA = REPO / "tests" / "data" / "eval"
ANNOTATION = re.compile(r"<!--\s*readme-test:\s*(.*?)\s*-->")
FENCE = re.compile(r"^```(\S*)\s*$")
RUNNABLE = ("python", "bash", "console")


@dataclass
class Block:
    """One fenced block of the README."""

    lang: str
    code: str
    line: int
    marks: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        """`L<line of the opening fence>-<language>`."""
        return f"L{self.line}-{self.lang}"

    @property
    def skip_reason(self) -> str | None:
        found = [m[len("skip ") :] for m in self.marks if m.startswith("skip ")]
        return found[0] if found else None

    def skipped_lines(self) -> dict[str, str]:
        """Substring -> reason, from `skip-lines TEXT: REASON` marks."""
        out = {}
        for mark in self.marks:
            if mark.startswith("skip-lines "):
                text, _, reason = mark[len("skip-lines ") :].partition(": ")
                out[text.strip()] = reason.strip()
        return out


def readme_blocks(text: str) -> list[Block]:
    """Fenced blocks in order, each with the markers written just above it."""
    blocks: list[Block] = []
    marks: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if fence and fence.group(1):
            body = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            blocks.append(Block(fence.group(1), "\n".join(body) + "\n", i - len(body), marks))
            marks = []
        elif (found := ANNOTATION.search(line)) is not None:
            marks = [*marks, found.group(1)]
        elif line.strip():
            marks = []
        i += 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))
TO_RUN = [b for b in BLOCKS if b.lang in RUNNABLE and b.skip_reason is None]

# Free variables of some Python blocks (keyed by a line of the block).
SETUP: dict[str, str] = {
    "col.upsert(texts, ids=ids)": (
        'texts = ["Backups run nightly at 02:00.", "Rotate keys every 90 days."]\n'
        'ids = ["backups", "keys"]\n'
    ),
    "col.search_vector(query, k=10": (
        "import numpy as np\n"
        "rng = np.random.default_rng(0)\n"
        "vectors = rng.normal(size=(300, 384)).astype(np.float32)\n"
        "ids = [f'v{i}' for i in range(300)]\n"
        "metadata = [{'lang': 'en' if i % 2 else 'de'} for i in range(300)]\n"
        "query = vectors[1]\n"
        "new_vector = rng.normal(size=384).astype(np.float32)\n"
        "queries = vectors[:3]\n"
    ),
    "report = compare(profile(reference_vectors": (
        "from embedstack import Collection, load_encoder\n"
        "encoder = load_encoder('hash:64')\n"
        "reference_vectors = encoder.encode([f'note {i} about tides' for i in range(200)])\n"
        "new_vectors = encoder.encode([f'item {i} on invoices' for i in range(80)])\n"
    ),
}


def setup_for(block: Block) -> str:
    return "".join(code for key, code in SETUP.items() if key in block.code)


# -- the working folder ------------------------------------------------------------------

NOTES = {
    "keys.md": "# Keys\n\nRotate the API keys every 90 days; the old key works for a day.",
    "backups.md": "# Backups\n\nBackups run nightly at 02:00 and are kept for 30 days.",
    "errors.txt": "Error E1234 means the disk is full: delete old logs to free space.",
}


def _write_data(root: Path) -> None:
    for folder in ("my-notes", "notes", "docs"):
        (root / folder).mkdir()
        for name, text in NOTES.items():
            (root / folder / name).write_text(text, encoding="utf-8")
    rows = [
        {"id": "f1", "text": "To reset your password, use the link on the login page.", "lang": "en"},
        {"id": "f2", "text": "Pour changer le mot de passe, suivez le lien.", "lang": "fr"},
    ]  # fmt: skip
    (root / "faq.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    (root / "table.csv").write_text(
        "id,answer\nt1,Invoices are sent on the first day of the month.\n"
        "t2,Refunds take five working days.\n",
        encoding="utf-8",
    )
    (root / "faq.csv").write_text(
        "question,answer_id,answer\n"
        "How often do keys rotate?,a1,Keys rotate every 90 days.\n"
        "When do backups run?,a2,Backups run nightly at 02:00.\n"
        "What does E1234 mean?,a3,E1234 means the disk is full.\n",
        encoding="utf-8",
    )
    shutil.copytree(DATA / "beir_tiny", root / "my-beir-data")
    shutil.copy(DATA / "sts_tiny.tsv", root / "pairs.tsv")
    lines = [f"line {i}: the tide comes in twice a day near harbour {i % 7}" for i in range(60)]
    (root / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "shards").mkdir()
    for part in range(2):
        shard = [{"id": f"s{part}-{i}", "text": f"shard {part} row {i}"} for i in range(5)]
        (root / "shards" / f"part-{part}.jsonl").write_text(
            "\n".join(json.dumps(r) for r in shard), encoding="utf-8"
        )
    vectors = np.random.default_rng(1).normal(size=(20, 384)).astype(np.float32)
    np.save(root / "vectors.npy", vectors)
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"doc_id": [f"p{i}" for i in range(20)], "embedding": vectors.tolist()})
    pq.write_table(table, root / "vectors.parquet")
    for name in ("examples", "src", "tests"):
        (root / name).symlink_to(REPO / name, target_is_directory=True)


def _write_models(root: Path) -> None:
    from tiny_models import make_numpy_bert, make_tiny_colbert, make_tiny_model, write_tokenizer

    make_numpy_bert(root / "my-bert-model")
    make_tiny_model(root / "splade-model", arch="bert-mlm")
    make_tiny_colbert(root / "colbertv2.0")
    import torch
    import transformers

    cross = root / "ms-marco-MiniLM-L-6-v2"
    cross.mkdir()
    vocab = write_tokenizer(cross, "bert")
    config = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=40, num_labels=1,
    )  # fmt: skip
    torch.manual_seed(1)
    transformers.BertForSequenceClassification(config).eval().save_pretrained(str(cross))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The folder the examples run in, with a fresh EMBEDSTACK_HOME that reuses the
    converted ONNX graphs of the real one (converting MiniLM again costs ~15 s)."""
    from embedstack.config import home

    real_home = home()
    root = tmp_path_factory.mktemp("readme")
    saved = {k: os.environ.get(k) for k in ("EMBEDSTACK_HOME", "EMBEDSTACK_MODEL", "COLUMNS")}
    new_home = root / ".embedstack-home"
    new_home.mkdir()
    for shared in ("onnx", "static"):
        (real_home / shared).mkdir(parents=True, exist_ok=True)
        (new_home / shared).symlink_to(real_home / shared, target_is_directory=True)
    os.environ["EMBEDSTACK_HOME"] = str(new_home)
    os.environ.pop("EMBEDSTACK_MODEL", None)
    os.environ["COLUMNS"] = "100"
    _write_data(root)
    _write_models(root)
    for block in BLOCKS:  # TOML setups the compare example reads
        first = block.code.splitlines()[0] if block.code.strip() else ""
        named = re.match(r"#\s*([\w.-]+\.toml)\b", first)
        if block.lang == "toml" and named:
            (root / named.group(1)).write_text(block.code, encoding="utf-8")
    cwd = Path.cwd()
    os.chdir(root)
    try:
        yield root
    finally:
        os.chdir(cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# -- running blocks ------------------------------------------------------------------------

runner = CliRunner()


def _mask(text: str) -> str:
    return " ".join(re.sub(r"\d+(?:\.\d+)?", "#", text).split())


def run_embedstack(command: str) -> str:
    """Run one `embedstack ...` shell line through the app; return stdout + stderr."""
    from embedstack.cli.main import app

    words = shlex.split(command, comments=True)
    out_file = None
    if ">" in words:
        at = words.index(">")
        words, out_file = words[:at], words[at + 1]
    assert words[0] == "embedstack", f"not an embedstack command: {command!r} (mark it)"
    result = runner.invoke(app, words[1:])
    assert result.exit_code == 0, f"{command!r} exited {result.exit_code}:\n{result.output}"
    if out_file:
        Path(out_file).write_text(result.stdout, encoding="utf-8")
    return result.output


def shell_lines(block: Block) -> Iterator[str]:
    """Logical lines (continuations joined), comments and skipped lines left out."""
    text = block.code.replace("\\\n", " ")
    skipped = block.skipped_lines()
    for line in text.splitlines():
        comment = line.lstrip().startswith("#")
        if line.strip() and not comment and not any(s in line for s in skipped):
            yield line


def check_console(block: Block) -> None:
    exact = "exact" in block.marks
    skipped = block.skipped_lines()
    parts = re.split(r"^\$ ", block.code, flags=re.MULTILINE)[1:]
    for part in parts:
        command, *expected = part.rstrip("\n").split("\n")
        if any(s in command for s in skipped):
            continue
        output = run_embedstack(command)
        if expected and expected[0].lstrip().startswith(("{", "[")):
            json.loads(output[output.index(expected[0].strip()[0]) :])  # valid JSON
            continue
        norm = (lambda t: " ".join(t.split())) if exact else _mask
        actual, at = norm(output), 0
        for line in expected:
            if "..." in line or not line.strip():
                continue
            found = actual.find(norm(line), at)
            assert found >= 0, f"README output line not printed by {command!r}: {line!r}\n{output}"
            at = found + len(norm(line))


# One namespace for every Python block: the README reads as one session (an import in
# the quick start serves the blocks below it), as doctest runs a file.
NAMESPACE: dict[str, Any] = {"__name__": "__readme__"}


def run_block(block: Block) -> None:
    if "fresh" in block.marks:  # its own empty folder: it creates names used above
        folder = Path.cwd() / f"fresh-{block.id}"
        folder.mkdir(exist_ok=True)
        cwd = Path.cwd()
        os.chdir(folder)
        try:
            return run_block(Block(block.lang, block.code, block.line, []))
        finally:
            os.chdir(cwd)
    if block.lang == "python":
        for _ in range(2 if "rerun" in block.marks else 1):
            code = setup_for(block) + block.code
            exec(compile(code, f"{README}:{block.line}", "exec"), NAMESPACE)
    elif block.lang == "bash":
        for line in shell_lines(block):
            run_embedstack(line)
    else:
        check_console(block)


_done: dict[str, BaseException | None] = {}


def run_in_order(block: Block) -> None:
    """Run the blocks before `block` (once each; their failures are their own tests'),
    then `block`: later examples use what earlier ones made (./notes.es, ./kb.es)."""
    for earlier in TO_RUN:
        if earlier is block:
            break
        if earlier.id not in _done:
            try:
                run_block(earlier)
                _done[earlier.id] = None
            except (Exception, SystemExit) as exc:  # reported by that block's own test
                _done[earlier.id] = exc
    if block.id in _done:
        if _done[block.id] is not None:
            raise _done[block.id]  # type: ignore[misc]
        return
    try:
        run_block(block)
    except BaseException as exc:
        _done[block.id] = exc
        raise
    _done[block.id] = None


@pytest.mark.parametrize("block", TO_RUN, ids=[b.id for b in TO_RUN])
def test_readme_block_runs(block: Block, workspace: Path) -> None:
    run_in_order(block)


# -- the markers themselves ----------------------------------------------------------------


def test_most_examples_run_and_every_skip_says_why() -> None:
    runnable = [b for b in BLOCKS if b.lang in RUNNABLE]
    assert len(TO_RUN) >= 0.6 * len(runnable), f"only {len(TO_RUN)} of {len(runnable)} run"
    for block in runnable:
        for mark in block.marks:
            assert mark.split()[0] in ("skip", "skip-lines", "rerun", "exact", "fresh"), mark
        if block.skip_reason is not None:
            assert len(block.skip_reason) > 10, f"{block.id}: say why it is skipped"
        for text, reason in block.skipped_lines().items():
            assert text in block.code and reason, f"{block.id}: skip-lines {text!r}"


def test_every_setup_matches_a_block() -> None:
    for key in SETUP:
        assert any(key in b.code for b in TO_RUN), f"SETUP key {key!r} matches no README block"


def test_the_parser_reads_marks_and_blocks() -> None:
    text = (
        "intro\n<!-- readme-test: skip needs a server -->\n```bash\nembedstack serve\n```\n"
        "```python\nx = 1\n```\n"
    )
    first, second = readme_blocks(text)
    assert (first.lang, first.skip_reason, first.line) == ("bash", "needs a server", 3)
    assert (second.lang, second.marks, second.code) == ("python", [], "x = 1\n")


def test_the_console_script_runs_the_quick_start(tmp_path: Path) -> None:
    """One real subprocess: the `embedstack` entry point, as a user types it."""
    (tmp_path / "my-notes").mkdir()
    (tmp_path / "my-notes" / "keys.md").write_text(NOTES["keys.md"], encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    index = [sys.executable, "-m", "embedstack", "index", "./my-notes", "--into", "./n.es"]
    search = [sys.executable, "-m", "embedstack", "search", "rotate keys", "--in", "./n.es"]
    for args in ([*index, "-m", "hash"], [*search, "-k", "1", "--json"]):
        done = subprocess.run(
            args, cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["id"].endswith("keys.md")
