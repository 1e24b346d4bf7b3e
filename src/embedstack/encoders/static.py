"""Static (word-level) embeddings: a sentence vector is a weighted mean of table rows.

No neural network runs at encode time, so this is two to three orders of magnitude faster
than a transformer, at a measured cost in quality (see docs/benchmarks.md). Supported
tables: GloVe / word2vec text, word2vec binary, model2vec folders (what `embedstack
distill` writes) and the shipped GloVe 6B 50d (`glove-50d`).

Weighting:
- `mean`: every in-vocabulary token counts the same.
- `sif`: smooth inverse frequency (Arora et al. 2017), weight `a / (a + p(w))`, so very
  common words ("the", "of") barely count. Word-vector files carry no counts, so `p(w)`
  is estimated from the word's rank with Zipf's law, `p(rank r) = 1 / (r * H_V)`; this
  relies on the file being sorted by frequency, as GloVe and word2vec files are.
  (Only the weighting; the paper's common-component removal needs a fitted corpus.)

Text whose tokens are all out of vocabulary gets a zero vector, never NaN; its row
indices are kept in `last_zero_rows` after each `encode` and logged as a warning
(`Encoder.encode` does that for every encoder).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.encoders.base import Encoder
from embedstack.encoders.words import analogy, most_similar
from embedstack.encoders.wordvec import (
    WordTable,
    read_glove_package,
    read_model2vec,
    read_text_vectors,
    read_word2vec_binary,
)
from embedstack.errors import InputError
from embedstack.types import EmbeddingSpace, Kind

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"\w+(?:[-.']\w+)*")
_CONTRACTIONS = ("n't", "'s", "'re", "'ll", "'ve", "'d", "'m")


class Weighting(str, Enum):
    """How word vectors are averaged into a sentence vector."""

    MEAN = "mean"
    SIF = "sif"


def zipf_probabilities(size: int) -> np.ndarray:
    """Word probabilities from frequency rank (1-based): `p(r) = 1 / (r * H_size)`."""
    inverse_ranks = 1.0 / np.arange(1, size + 1, dtype=np.float64)
    return inverse_ranks / inverse_ranks.sum()


def sif_weights(probabilities: np.ndarray, a: float = 1e-3) -> np.ndarray:
    """Smooth inverse frequency: `a / (a + p)`."""
    return (a / (a + probabilities)).astype(np.float32)


class StaticEncoder(Encoder):
    """Sentence vectors as weighted means of word (or subword) vectors.

    Word tables are looked up with a simple word tokenizer (lowercased when the table
    is, as GloVe is); model2vec tables use their own `tokenizer.json`.
    """

    default_batch_size = 4096
    zero_vector_reason = "have no in-vocabulary token"

    def __init__(
        self,
        table: WordTable,
        *,
        name: str,
        weighting: Weighting | str = Weighting.MEAN,
        sif_a: float = 1e-3,
        lowercase: bool | None = None,
        normalize: bool = True,
    ) -> None:
        self.table = table
        self.vectors = table.vectors
        self.weighting = Weighting(weighting)
        self.last_zero_rows: list[int] = []
        self._unit: np.ndarray | None = None
        self._tokenizer: Any = None
        weights = np.ones(len(table.words), dtype=np.float32)
        if table.tokenizer_json is not None:
            from tokenizers import Tokenizer

            if self.weighting is Weighting.SIF:
                raise InputError(
                    "weighting='sif' needs a frequency-sorted word table; model2vec models "
                    "already bake SIF weights in at distillation: use weighting='mean'"
                )
            self._tokenizer = Tokenizer.from_str(table.tokenizer_json)
            self._tokenizer.no_padding()
            self._tokenizer.no_truncation()
            unk = json.loads(table.tokenizer_json)["model"].get("unk_token")
            self._unk_id = self._tokenizer.token_to_id(unk) if unk else None
            tokenizer_id = f"tokenizer.json:{table.fingerprint[:16]}"
            self.lowercase = False
        else:
            self.lowercase = _is_lowercase(table.words) if lowercase is None else lowercase
            self.index = {word: row for row, word in enumerate(table.words)}
            tokenizer_id = f"words{'-lower' if self.lowercase else ''}-v1"
        if self.weighting is Weighting.SIF:
            weights = sif_weights(zipf_probabilities(len(table.words)), sif_a)
        if table.weights is not None:
            weights = weights * table.weights
        self.weights = weights
        pooling = f"sif(a={sif_a:g},zipf-rank)" if self.weighting is Weighting.SIF else "mean"
        self.space = EmbeddingSpace(
            model=name,
            dim=int(table.vectors.shape[1]),
            fingerprint=table.fingerprint,
            tokenizer=tokenizer_id,
            pooling=pooling,
            normalize=normalize,
        )

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Table rows for each text, out-of-vocabulary tokens dropped."""
        if self._tokenizer is not None:
            encoded = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
            return [[i for i in e.ids if i != self._unk_id] for e in encoded]
        return [self._word_rows(text) for text in texts]

    def _word_rows(self, text: str) -> list[int]:
        if self.lowercase:
            text = text.lower()
        rows: list[int] = []
        index = self.index
        for token in _TOKEN.findall(text.replace("’", "'")):
            row = index.get(token, index.get(token + "."))  # "u.s" -> "u.s."
            if row is not None:
                rows.append(row)
                continue
            for suffix in _CONTRACTIONS:  # "don't" -> "do" "n't"; "cat's" -> "cat" "'s"
                if token.endswith(suffix) and len(token) > len(suffix):
                    parts = [token[: -len(suffix)], suffix]
                    break
            else:
                parts = re.split(r"[-.']", token)
            rows.extend(index[p] for p in parts if p in index)
        return rows

    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        """Weighted mean of each text's table rows (zero when no token is known)."""
        ids = self.token_ids(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        lengths = np.array([len(i) for i in ids])
        filled = np.flatnonzero(lengths)
        if filled.size == 0:
            return out
        flat = np.fromiter((r for i in ids for r in i), dtype=np.int64, count=int(lengths.sum()))
        weighted = np.asarray(self.vectors[flat], dtype=np.float32) * self.weights[flat, None]
        starts = np.concatenate(([0], np.cumsum(lengths[filled])[:-1]))
        out[filled] = np.add.reduceat(weighted, starts, axis=0) / lengths[filled, None]
        return out

    def count_tokens(self, texts: Iterable[str]) -> list[int]:
        """In-vocabulary tokens per text (the rows that are averaged)."""
        return [len(rows) for rows in self.token_ids(list(texts))]

    def unit_vectors(self) -> np.ndarray:
        """The table with unit-length rows (computed once), for word similarity."""
        if self._unit is None:
            table = np.asarray(self.vectors, dtype=np.float32)
            norms = np.linalg.norm(table, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            self._unit = table / norms
        return self._unit

    @property
    def words(self) -> list[str]:
        """The table's entries, in row order."""
        return self.table.words

    def row_of(self, word: str) -> int | None:
        """The table row of one entry (lowercased when the table is), or None."""
        key = word.lower() if self.lowercase else word
        if self._tokenizer is not None:
            row: int | None = self._tokenizer.token_to_id(key)
            return row
        return self.index.get(key)

    def most_similar(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The `k` table entries closest to `word` by cosine."""
        return most_similar(self, word, k)

    def analogy(self, a: str, b: str, c: str, k: int = 5) -> list[tuple[str, float]]:
        """`a` is to `b` as `c` is to ...? (`analogy("man", "king", "woman")` -> queen)."""
        return analogy(self, a, b, c, k)


def _is_lowercase(words: list[str]) -> bool:
    return not any(w != w.lower() for w in words[:50_000])


def read_table(path: Path) -> WordTable:
    """Pick the reader for a file or folder."""
    if path.is_dir():
        if (path / "model.safetensors").exists() and (path / "tokenizer.json").exists():
            return read_model2vec(path)
        candidates = sorted(p for ext in ("txt", "vec", "bin") for p in path.glob(f"*.{ext}"))
        if len(candidates) != 1:
            found = ", ".join(p.name for p in candidates) or "none"
            raise InputError(
                f"{path}: expected a model2vec folder (model.safetensors + tokenizer.json) or "
                f"exactly one word-vector file (.txt/.vec/.bin), found: {found}. "
                "Pass the file itself instead."
            )
        path = candidates[0]
    if path.suffix == ".bin":
        return read_word2vec_binary(path)
    return read_text_vectors(path)


def load_static(spec_or_path: str, **options: Any) -> StaticEncoder:
    """Registry entry point: `glove-50d`, a word-vector file, or a static-model folder.

    Options: `weighting` ("mean" | "sif"; GloVe defaults to "sif"), `sif_a`,
    `lowercase` (default: detected from the table), `normalize`.
    """
    known = {"weighting", "sif_a", "lowercase", "normalize"}
    unknown = set(options) - known
    if unknown:
        raise InputError(
            f"static encoders do not take {sorted(unknown)}; accepted options: {sorted(known)}"
        )
    if spec_or_path == "glove-50d":
        options.setdefault("weighting", Weighting.SIF)
        return StaticEncoder(read_glove_package(), name="glove-50d", **options)
    path = Path(spec_or_path).expanduser()
    table = read_table(path)
    if table.tokenizer_json is None:
        options.setdefault("weighting", Weighting.SIF)
    return StaticEncoder(table, name=path.resolve().name, **options)
