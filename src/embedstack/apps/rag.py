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

from embedstack.errors import InputError
from embedstack.registry import load_encoder
from embedstack.search.chunks import best_chunk_scores
from embedstack.search.pipeline import Pipeline
from embedstack.similarity import topk
from embedstack.store.collection import Collection
from embedstack.text.chunking import Chunk, Chunker, SemanticChunker, read_text

log = logging.getLogger(__name__)

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


def chunk_files(
    paths: Iterable[str | Path], chunker: Chunker | SemanticChunker
) -> tuple[list[Chunk], dict[str, str]]:
    """Chunks of every file and the file texts (by source path)."""
    chunks: list[Chunk] = []
    sources: dict[str, str] = {}
    for path in expand_paths(paths):
        text = read_text(path)
        sources[str(path)] = text
        chunks += chunker.chunk(text, source=str(path))
    return chunks, sources


def parent_ranges(chunks: Sequence[Chunk], parent_max_tokens: int) -> list[tuple[int, int]]:
    """Per chunk, the smallest enclosing section (its own, then each parent heading's
    with subsections, then the whole file) that holds more than the chunk and fits in
    `parent_max_tokens`; when none does, the chunk plus the neighbours that fit."""
    areas: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    for i, c in enumerate(chunks):
        for depth in range(len(c.headings) + 1):
            areas.setdefault((c.source, c.headings[:depth]), []).append(i)
    out = []
    for i, c in enumerate(chunks):
        found = None
        for depth in range(len(c.headings), -1, -1):
            members = areas[(c.source, c.headings[:depth])]
            if sum(chunks[j].tokens for j in members) > parent_max_tokens:
                break
            if len(members) > 1:
                found = (chunks[members[0]].start, max(chunks[j].end for j in members))
                break
        if found is None:
            start, end, used = c.start, c.end, c.tokens
            for j in (i - 1, i + 1):
                near = 0 <= j < len(chunks) and chunks[j].source == c.source
                if near and used + chunks[j].tokens <= parent_max_tokens:
                    start, end = min(start, chunks[j].start), max(end, chunks[j].end)
                    used += chunks[j].tokens
            found = (start, end)
        out.append(found)
    return out


def index_files(
    paths: Iterable[str | Path],
    into: str | Path,
    encoder: Any = None,
    *,
    max_tokens: int | None = None,
    overlap: int = 0,
    parent_max_tokens: int | None = None,
    semantic: bool = False,
) -> tuple[Any, list[Chunk]]:
    """Chunk files into a collection (created or updated: unchanged chunks are not
    re-embedded, chunks that disappeared from a re-indexed file are deleted)."""
    enc = encoder if encoder is not None else load_encoder()
    base = Chunker.for_encoder(enc, max_tokens, overlap)
    chunker: Chunker | SemanticChunker = SemanticChunker(enc, base) if semantic else base
    chunks, sources = chunk_files(paths, chunker)
    limit = parent_max_tokens or 4 * base.max_tokens
    metadata = []
    for c, (p_start, p_end) in zip(chunks, parent_ranges(chunks, limit), strict=True):
        metadata.append(
            {
                "source": c.source,
                "start": c.start,
                "end": c.end,
                "headings": list(c.headings),
                "tokens": c.tokens,
                "parent_start": p_start,
                "parent_end": p_end,
                "parent": sources[c.source][p_start:p_end],
            }
        )
    collection = Collection.create(into, enc, exist_ok=True)
    ids = [c.id for c in chunks]
    stale = [i for i in collection.ids() if i.rsplit("#", 1)[0] in sources and i not in set(ids)]
    if stale:
        collection.delete(stale)
    if chunks:
        collection.upsert([c.text for c in chunks], ids, metadata)
    log.info("indexed %d chunks from %d files into %s", len(chunks), len(sources), into)
    return collection, chunks


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
                "index files with `embedstack chunk FILE... --into DIR`"
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
