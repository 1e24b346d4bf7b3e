"""Incremental BM25 index: Okapi BM25 (Lucene idf), BM25+ and BM25L.

Unlike bm25s, which precomputes every (term, document) score and so must rebuild when
one document changes, this index stores raw term counts in segments
(`embedstack.store.postings`) and keeps N, the total length and every document
frequency exact on each update; scores are computed at query time from tf, df and the
document length. An add or delete therefore costs time proportional to the changed
documents, and the scores after any sequence of updates equal those of a fresh build.

Formulas follow Kamphuis et al. (ECIR 2020), as bm25s does, so scores match bm25s
with `method="lucene"` (and, for BM25+/BM25L, up to bm25s's constant per-query
non-occurrence term: here only terms present in a document contribute, as in Lv & Zhai).
"""

from __future__ import annotations

import logging
import warnings
from enum import Enum
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.errors import CollectionError, InputError
from embedstack.store.postings import (
    PostingStore,
    allowed_mask,
    check_rows,
    index_error,
    load_json,
    load_npy,
    save_json,
    save_npy,
    top_k,
)
from embedstack.text.analysis import Analyzer, EmptyQueryWarning

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
REBUILD_HINT = (
    "run `embedstack index YOUR_FILES --into COLLECTION --rebuild-indexes` (rebuilds it "
    "from the stored texts), or in Python `Collection.open(path).rebuild_index('bm25')`."
)


class Variant(str, Enum):
    """Scoring variant; idf and term-frequency parts as in Kamphuis et al. 2020."""

    LUCENE = "lucene"
    PLUS = "bm25+"
    L = "bm25l"

    @classmethod
    def parse(cls, value: str | Variant) -> Variant:
        """The variant named by value (case-insensitive), or a clear error listing them."""
        if isinstance(value, cls):
            return value
        try:
            return cls(value.lower())
        except ValueError:
            raise InputError(
                f"unknown BM25 variant {value!r}; use one of " + ", ".join(v.value for v in cls)
            ) from None


def idf(variant: Variant, df: np.ndarray, n_docs: int) -> np.ndarray:
    """Inverse document frequency per term, by the variant's formula."""
    df = df.astype(np.float64)
    if variant is Variant.LUCENE:
        return np.log1p((n_docs - df + 0.5) / (df + 0.5))
    if variant is Variant.PLUS:
        return np.log((n_docs + 1) / df)
    return np.log((n_docs + 1) / (df + 0.5))


class BM25Index:
    """A BM25 secondary index keyed by the collection's integer row ids.

    Args:
        analyzer: how texts become terms, as an `Analyzer` or its config dict (default:
            NFKC, lowercase, English stop words, English Snowball stemmer).
        variant: "lucene" (Okapi BM25 with Lucene's idf, default), "bm25+" or "bm25l".
        k1, b: the usual BM25 saturation and length-normalisation parameters.
        delta: the lower bound added by BM25+ and BM25L (ignored by "lucene").
    """

    name = "bm25"

    def __init__(
        self,
        analyzer: Analyzer | dict[str, Any] | None = None,
        variant: str | Variant = Variant.LUCENE,
        k1: float = 1.5,
        b: float = 0.75,
        delta: float = 0.5,
    ) -> None:
        if k1 < 0 or not 0 <= b <= 1 or delta < 0:
            raise InputError(
                f"BM25 needs k1 >= 0, 0 <= b <= 1, delta >= 0 (got {k1}, {b}, {delta})"
            )
        if isinstance(analyzer, dict):
            analyzer = Analyzer.from_config(analyzer)
        self.analyzer = analyzer or Analyzer()
        self.variant = Variant.parse(variant)
        self.k1, self.b, self.delta = float(k1), float(b), float(delta)
        self.vocab: dict[str, int] = {}
        self.df = np.zeros(0, dtype=np.int64)
        self.doc_len = np.zeros(0, dtype=np.int64)
        self.n_docs = 0
        self.total_len = 0
        self.postings = PostingStore(self.name)
        self._norm: np.ndarray | None = None

    # -- configuration ----------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The settings that define this index, saved with it and compared on load."""
        return {
            "variant": self.variant.value,
            "k1": self.k1,
            "b": self.b,
            "delta": self.delta,
            "analyzer": self.analyzer.config(),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any] | None = None) -> BM25Index:
        """An empty index from saved or user settings, refusing unknown keys."""
        values = dict(config or {})
        unknown = set(values) - {"analyzer", "variant", "k1", "b", "delta"}
        if unknown:
            raise InputError(f"unknown BM25 settings: {sorted(unknown)}")
        return cls(**values)

    @classmethod
    def build(cls, rows: np.ndarray, texts: list[str], **config: Any) -> BM25Index:
        """A fresh index over `texts` stored under `rows`."""
        index = cls.from_config(config)
        index.add(rows, texts)
        return index

    def __len__(self) -> int:
        return self.n_docs

    @property
    def avg_len(self) -> float:
        """Mean document length in tokens (0 when empty)."""
        return self.total_len / self.n_docs if self.n_docs else 0.0

    # -- updates ----------------------------------------------------------------------
    def add(self, rows: np.ndarray, texts: list[str]) -> None:
        """Index new documents. Rows already in the index are refused: use `upsert`."""
        rows = check_rows(rows, "bm25 add")
        if len(rows) != len(texts):
            raise InputError(f"bm25 add: {len(rows)} rows but {len(texts)} texts")
        present = self.postings.contains(rows)
        if present.any():
            raise InputError(
                f"bm25 add: rows {rows[present][:10].tolist()} are already indexed; "
                "use upsert() to replace them"
            )
        if len(rows) == 0:
            return
        vocab = self.vocab
        docs = self.analyzer.analyze(texts)
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        flat = list(chain.from_iterable(docs))
        for term in dict.fromkeys(flat):  # distinct terms, in first-seen order
            if term not in vocab:
                vocab[term] = len(vocab)
        ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
        n_terms = len(vocab)
        key = np.repeat(np.arange(len(docs), dtype=np.int64), lengths) * n_terms + ids
        pairs, tf = np.unique(key, return_counts=True)
        doc, term = np.divmod(pairs, n_terms)
        if len(self.df) < n_terms:
            self.df = np.concatenate([self.df, np.zeros(n_terms - len(self.df), np.int64)])
        self.df += np.bincount(term, minlength=n_terms)
        self._set_lengths(rows, lengths)
        self.n_docs += len(rows)
        self.total_len += int(lengths.sum())
        self.postings.add(
            rows, rows=rows[doc], terms=term, values=tf.astype(np.float32), n_terms=n_terms
        )
        self._norm = None

    def delete(self, rows: np.ndarray) -> None:
        """Remove documents; unknown rows are an error and nothing is removed."""
        rows = check_rows(rows, "bm25 delete")
        self.postings.require_present(rows, "bm25 delete", REBUILD_HINT)
        if len(rows) == 0:
            return
        terms = self.postings.remove(rows)
        self.df -= np.bincount(terms, minlength=len(self.df))
        self.n_docs -= len(rows)
        self.total_len -= int(self.doc_len[rows].sum())
        self.doc_len[rows] = 0
        self._norm = None

    def upsert(self, rows: np.ndarray, texts: list[str]) -> None:
        """Replace the documents under `rows` (adding those not yet indexed)."""
        rows = check_rows(rows, "bm25 upsert")
        self.delete(rows[self.postings.contains(rows)])
        self.add(rows, texts)

    def compact(self) -> None:
        """Merge all segments into one and drop deleted postings (optional tidy-up)."""
        self.postings.compact(len(self.vocab))

    def _set_lengths(self, rows: np.ndarray, lengths: np.ndarray) -> None:
        top = int(rows.max()) + 1
        if top > len(self.doc_len):
            grown = np.zeros(max(top, 2 * len(self.doc_len)), dtype=np.int64)
            grown[: len(self.doc_len)] = self.doc_len
            self.doc_len = grown
        self.doc_len[rows] = lengths

    # -- search -----------------------------------------------------------------------
    def search(
        self, query: str, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows by BM25 score (best first; ties by row id), only rows that match."""
        if k <= 0:
            raise InputError(f"k must be a positive number of hits, got {k}")
        scores = self.score_all(query)
        if scores is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if allowed is not None:
            scores[~allowed_mask(allowed, len(scores))] = 0.0
        return top_k(scores, k)

    def score_all(self, query: str) -> np.ndarray | None:
        """Scores of every row slot (0 where nothing matches); None if the query is empty."""
        terms = self.analyzer.terms(query)
        if not terms:
            reason = "is empty" if not query.strip() else "has only stop words or no words"
            warnings.warn(
                f"the BM25 query {query!r} {reason} after analysis, so nothing can match; "
                "use content words (or turn stop words off for this index)",
                EmptyQueryWarning,
                stacklevel=3,
            )
            return None
        counts: dict[int, int] = {}
        for term in terms:
            tid = self.vocab.get(term)
            if tid is not None and self.df[tid] > 0:
                counts[tid] = counts.get(tid, 0) + 1
        if not counts:
            return None
        ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        qtf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        weights = idf(self.variant, self.df[ids], self.n_docs) * qtf
        rows, tf, qweight = self.postings.postings(ids, weights)
        norm = self._length_norm()[rows]
        tf = tf.astype(np.float64)
        k1 = self.k1
        if self.variant is Variant.LUCENE:
            tfc = tf / (k1 * norm + tf)
        elif self.variant is Variant.PLUS:
            tfc = (k1 + 1) * tf / (k1 * norm + tf) + self.delta
        else:
            c = tf / norm
            tfc = (k1 + 1) * (c + self.delta) / (k1 + c + self.delta)
        return np.bincount(rows, weights=qweight * tfc, minlength=len(self.doc_len))

    def _length_norm(self) -> np.ndarray:
        if self._norm is None or len(self._norm) != len(self.doc_len):
            avg = self.avg_len or 1.0
            self._norm = (1 - self.b) + self.b * self.doc_len / avg
        return self._norm

    # -- persistence --------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write plain .npy + JSON files (segments are written once, then reused)."""
        directory = Path(directory)
        self.postings.save(directory)
        save_npy(directory / "bm25.df.npy", self.df)
        save_npy(directory / "bm25.doc_len.npy", self.doc_len)
        save_json(directory / "bm25.terms.json", list(self.vocab))
        save_json(
            directory / "bm25.json",
            {
                "format": FORMAT_VERSION,
                "config": self.config(),
                "n_docs": self.n_docs,
                "total_len": self.total_len,
                "postings": self.postings.state(),
            },
        )
        self.postings.remove_stale_files(directory)

    @classmethod
    def load(cls, directory: Path, config: dict[str, Any] | None = None) -> BM25Index:
        """Read a saved index, refusing a format or settings it was not built with."""
        directory = Path(directory)
        fail = index_error("BM25", REBUILD_HINT)
        meta = load_json(directory / "bm25.json", fail)
        try:
            if meta["format"] != FORMAT_VERSION:
                fail(directory / "bm25.json", f"format {meta['format']}, not {FORMAT_VERSION}")
            saved = meta["config"]
            index = cls.from_config(saved)
            if config is not None and cls.from_config(config).config() != index.config():
                raise CollectionError(
                    f"the BM25 index in {directory} was built with {saved}, but the "
                    f"collection asks for {config}. Rebuild it: {REBUILD_HINT}"
                )
            terms = load_json(directory / "bm25.terms.json", fail)
            index.vocab = {term: i for i, term in enumerate(terms)}
            index.df = load_npy(directory / "bm25.df.npy", fail, copy=True)
            index.doc_len = load_npy(directory / "bm25.doc_len.npy", fail, copy=True)
            index.n_docs, index.total_len = int(meta["n_docs"]), int(meta["total_len"])
            index.postings = PostingStore.load(directory, "bm25", meta["postings"], fail)
        except (KeyError, TypeError) as exc:
            fail(directory / "bm25.json", f"missing the field {exc}")
        if len(index.df) != len(index.vocab) or len(index.vocab) != len(set(terms)):
            fail(directory / "bm25.df.npy", "inconsistent with bm25.terms.json")
        live = index.postings.live_rows
        if len(live) and live[-1] >= len(index.doc_len):
            fail(directory / "bm25.doc_len.npy", "shorter than the rows it must describe")
        if int((index.postings.generation >= 0).sum()) != index.n_docs:
            fail(directory / "bm25.generation.npy", "inconsistent with bm25.json")
        return index
