"""Documents as the collection will hold them: whole (with a check of their length
against the model's limit) or cut into chunks that `retrieve` understands.

One chunker for every path (`embedstack chunk`, `index --chunk-tokens`, `rag.index_files`):
each document (a .txt/.md file, a JSONL/CSV row) is one parent. A chunk's id is
`<document id>#<n>`; its metadata holds the document's own metadata plus `source` (the
document id), `start`/`end` (character offsets into the document's text), `headings`,
`tokens`, and the parent section (`parent_start`, `parent_end`, `parent` text).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from embedstack.text.chunking import Chunk, Chunker, SemanticChunker
from embedstack.text.loaders import Document
from embedstack.types import Kind

CHUNK_KEYS = ("source", "start", "end", "headings", "tokens", "parent_start", "parent_end")


@dataclass
class ChunkedDocuments:
    """Chunks of a set of documents, with the metadata each chunk is stored with."""

    chunks: list[Chunk] = field(default_factory=list)
    metadata: list[dict[str, Any]] = field(default_factory=list)
    documents: int = 0

    @property
    def ids(self) -> list[str]:
        """Chunk ids, `<document id>#<n>`."""
        return [c.id for c in self.chunks]

    @property
    def texts(self) -> list[str]:
        """Chunk texts (each a slice of its document's text)."""
        return [c.text for c in self.chunks]


def parent_ranges(chunks: Sequence[Chunk], parent_max_tokens: int) -> list[tuple[int, int]]:
    """Per chunk, the smallest enclosing section (its own, then each parent heading's
    with subsections, then the whole document) that holds more than the chunk and fits
    in `parent_max_tokens`; when none does, the chunk plus the neighbours that fit."""
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


def chunk_documents(
    documents: Iterable[Document],
    chunker: Chunker | SemanticChunker,
    parent_max_tokens: int | None = None,
) -> ChunkedDocuments:
    """Cut every document into chunks; each document is the parent of its chunks."""
    docs = list(documents)
    out = ChunkedDocuments(documents=len(docs))
    texts = {}
    for doc in docs:
        texts[doc.id] = doc.text
        out.chunks += chunker.chunk(doc.text, source=doc.id)
    base = chunker.chunker if isinstance(chunker, SemanticChunker) else chunker
    limit = parent_max_tokens or 4 * base.max_tokens
    own = {doc.id: doc.metadata for doc in docs}
    for c, (p_start, p_end) in zip(out.chunks, parent_ranges(out.chunks, limit), strict=True):
        out.metadata.append(
            {
                **own[c.source],
                "source": c.source,
                "start": c.start,
                "end": c.end,
                "headings": list(c.headings),
                "tokens": c.tokens,
                "parent_start": p_start,
                "parent_end": p_end,
                "parent": texts[c.source][p_start:p_end],
            }
        )
    return out


def stale_chunk_ids(existing: Iterable[str], chunked: ChunkedDocuments) -> list[str]:
    """Stored chunks of these documents that the new chunking no longer produces (a
    document that got shorter, or a new chunk size)."""
    sources = {c.source for c in chunked.chunks}
    fresh = set(chunked.ids)
    return [i for i in existing if "#" in i and i.rsplit("#", 1)[0] in sources and i not in fresh]


def too_long(encoder: Any, texts: Sequence[str]) -> list[int]:
    """Indices of the texts longer than `encoder` embeds (prefix and special tokens
    included), which it would cut; empty when the model has no limit."""
    limit = getattr(getattr(encoder, "space", None), "max_tokens", None)
    if not limit or not texts:
        return []
    prefixed = encoder.prefix(list(texts), Kind.DOCUMENT) if hasattr(encoder, "prefix") else texts
    counts = encoder.count_tokens(prefixed)
    return [i for i, n in enumerate(counts) if n > limit]
