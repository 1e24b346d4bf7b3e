"""Chunk-and-retrieve for RAG: index files as token-bounded chunks, retrieve them with
their source, offsets, heading path and (optionally) the surrounding section.

Each chunk's metadata keeps `source`, `start`, `end` (character offsets into the file),
`headings`, and the parent range: the smallest enclosing Markdown section (with its
subsections) that adds context and fits in `parent_max_tokens`, else the chunk with its
neighbours. The parent text is stored with
the chunk, so retrieval never re-reads files that may have changed since indexing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from embedstack.apps.chunked import (
    ChunkedDocuments,
    chunk_documents,
    parent_ranges,
    stale_chunk_ids,
)
from embedstack.errors import InputError
from embedstack.progress import Progress
from embedstack.registry import load_encoder
from embedstack.search.chunks import best_chunk_scores
from embedstack.search.pipeline import Pipeline
from embedstack.similarity import topk
from embedstack.store.changes import UpsertReport
from embedstack.store.collection import Collection
from embedstack.store.ingest import upsert_in_batches
from embedstack.text.chunking import Chunk, Chunker, SemanticChunker
from embedstack.text.loaders import Fields, LoadResult, load_documents

log = logging.getLogger(__name__)
__all__ = [
    "chunk_files",
    "evaluate_chunk_sizes",
    "expand_paths",
    "index_chunks",
    "index_files",
    "load_for_chunking",
    "parent_ranges",
    "retrieve",
]

TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".rst", ".text")


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, and text files under directories (sorted, recursive), each once."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = (f for f in p.rglob("*") if f.is_file())
            out += sorted(f for f in found if f.suffix.lower() in TEXT_SUFFIXES)
        elif p.is_file():
            out.append(p)
        else:
            raise InputError(f"{p} does not exist; give files or folders of .md/.txt files")
    if not out:
        raise InputError("no text files found; give .md/.txt files or folders holding them")
    unique: dict[Path, Path] = {}
    for p in out:  # a file named twice (directly and inside a folder) is read once
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


def load_for_chunking(paths: Iterable[str | Path], fields: Fields | None = None) -> LoadResult:
    """Documents of `paths` through the one loader (`embedstack.text.loaders`): a
    .txt/.md file is one document, a JSONL/CSV file one per row; refuses an empty result."""
    result = load_documents(paths, fields)
    if not result.documents:
        reasons = "; ".join(str(s) for s in result.skipped[:3])
        raise InputError(
            "no documents found; give .txt/.md/.jsonl/.csv files or folders holding them"
            + (f" (skipped {reasons})" if reasons else "")
        )
    return result


def chunk_files(
    paths: Iterable[str | Path], chunker: Chunker | SemanticChunker
) -> tuple[list[Chunk], dict[str, str]]:
    """Chunks of every document under `paths` and the document texts (by source)."""
    docs = load_for_chunking(paths).documents
    chunks: list[Chunk] = []
    for doc in docs:
        chunks += chunker.chunk(doc.text, source=doc.id)
    return chunks, {doc.id: doc.text for doc in docs}


def index_chunks(
    collection: Collection,
    chunked: ChunkedDocuments,
    progress: Progress | None = None,
    *,
    max_batch: int = 1024,
) -> tuple[UpsertReport, list[str]]:
    """Upsert the chunks (unchanged ones are not re-embedded) and delete the stale
    chunks of the same documents; returns the upsert report and the deleted ids."""
    stale = stale_chunk_ids(collection.ids(), chunked)
    if stale:
        collection.delete(stale)
    report = upsert_in_batches(
        collection, chunked.texts, chunked.ids, chunked.metadata, max_batch=max_batch,
        progress=progress,
    )  # fmt: skip
    return report, stale


def index_files(
    paths: Iterable[str | Path],
    into: str | Path,
    encoder: Any = None,
    *,
    max_tokens: int | None = None,
    overlap: int = 0,
    parent_max_tokens: int | None = None,
    semantic: bool = False,
    progress: Progress | None = None,
) -> tuple[Any, list[Chunk]]:
    """Chunk files into a collection (created or updated: unchanged chunks are not
    re-embedded, chunks that disappeared from a re-indexed document are deleted)."""
    enc = encoder if encoder is not None else load_encoder()
    base = Chunker.for_encoder(enc, max_tokens, overlap)
    chunker: Chunker | SemanticChunker = SemanticChunker(enc, base) if semantic else base
    result = load_for_chunking(paths)
    chunked = chunk_documents(result.documents, chunker, parent_max_tokens)
    collection = Collection.create(into, enc, exist_ok=True)
    index_chunks(collection, chunked, progress)
    log.info("indexed %d chunks from %d documents into %s", len(chunked.chunks),
             chunked.documents, into)  # fmt: skip
    return collection, chunked.chunks


def retrieve(
    collection: Any,
    question: str,
    k: int = 5,
    *,
    parent: bool = False,
    where: dict[str, Any] | None = None,
    retriever: Any = "dense",
) -> list[dict[str, Any]]:
    """Ranked chunks as prompt-ready dicts with a citation (`[n] source:start-end`).
    `retriever` is a retriever name `embedstack search` takes ("dense", "bm25",
    "hybrid", ..., built by `Pipeline.from_spec`) or a retriever object."""
    if not question.strip():
        raise InputError("the question is empty; ask something")
    out = []
    if isinstance(retriever, str):
        retriever = Pipeline.from_spec(collection, retriever)
    hits = retriever.search(question, k=k, where=where)
    for rank, hit in enumerate(hits, start=1):
        meta = hit.metadata
        if "source" not in meta:
            raise InputError(
                f"{collection.path} was not built from chunks (record {hit.id} has no source); "
                "index files with `embedstack index FILE... --into DIR --chunk-tokens N` "
                "(or `embedstack chunk FILE... --into DIR`)"
            )
        item = {
            "rank": rank,
            "id": hit.id,
            "score": round(float(hit.score), 4),
            "source": meta["source"],
            "start": meta["start"],
            "end": meta["end"],
            "headings": meta.get("headings", []),
            "text": hit.text,
            "citation": f"[{rank}] {meta['source']}:{meta['start']}-{meta['end']}"
            + (" § " + " > ".join(meta["headings"]) if meta.get("headings") else ""),
        }
        if parent:
            item["parent"] = {
                "start": meta["parent_start"],
                "end": meta["parent_end"],
                "text": meta["parent"],
            }
        out.append(item)
    return out


def evaluate_chunk_sizes(
    docs: Mapping[str, str],
    queries: Mapping[str, str],
    qrels: Mapping[str, set[str]],
    encoder: Any,
    *,
    sizes: Sequence[int] = (64, 128, 256),
    k: int = 10,
) -> list[dict[str, Any]]:
    """Document retrieval quality when documents are indexed as chunks of each size.

    A document scores as its best chunk (MaxP). Reports recall@k, MRR@k and nDCG@10 over
    the queries with judgements, so the effect of chunk size on the user's data shows.
    `embedstack eval DATASET --chunk-tokens 64,128` does the same on a BEIR/FAQ dataset."""
    ids, texts = list(docs), [docs[d] for d in docs]
    qids = [q for q in queries if qrels.get(q)]
    if not qids:
        raise InputError("no query has relevance judgements; check the qrels ids")
    qvec = encoder.encode([queries[q] for q in qids], kind="query")
    rows = []
    for size in sizes:
        doc_scores, n_chunks = best_chunk_scores(texts, qvec, encoder, size)
        recall = mrr = ndcg = 0.0
        for qi, q in enumerate(qids):
            order = topk(doc_scores[qi], max(k, 10))[0]
            ranked = [ids[j] for j in order]
            rel = qrels[q]
            recall += len(rel & set(ranked[:k])) / len(rel)
            mrr += next((1 / (r + 1) for r, d in enumerate(ranked[:k]) if d in rel), 0.0)
            dcg = sum(1 / math.log2(r + 2) for r, d in enumerate(ranked[:10]) if d in rel)
            ndcg += dcg / sum(1 / math.log2(r + 2) for r in range(min(len(rel), 10)))
        n = len(qids)
        rows.append(
            {
                "max_tokens": size,
                "chunks": n_chunks,
                f"recall@{k}": round(recall / n, 4),
                f"mrr@{k}": round(mrr / n, 4),
                "ndcg@10": round(ndcg / n, 4),
            }
        )
    return rows
