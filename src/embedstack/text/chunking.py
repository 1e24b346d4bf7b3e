"""Token-aware chunking that keeps exact character offsets and the Markdown heading path.

Why this shape: a chunk that is longer than the model's limit would be silently
truncated by the model, so sizes are counted in the encoder's own tokens and every
chunk is checked against the limit after it is cut. Chunks never cross a Markdown
section; inside a section they prefer to break between paragraphs, then between
sentences, and only split a sentence (at token boundaries) when it alone is too long.
Every chunk satisfies `source_text[chunk.start:chunk.end] == chunk.text`.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.errors import InputError
from embedstack.text.markdown import (
    HEADING,
    PARAGRAPH_BREAK,
    SENTENCE_BREAK,
    Section,
    line_blocks,
    markdown_sections,
    trimmed_spans,
)
from embedstack.text.tokenize import Span, Tokenizer, special_tokens, tokenizer_for

PARAGRAPH, SENTENCE, TOKENS = 2, 1, 0  # strength of the break before a piece


@dataclass(frozen=True)
class Chunk:
    """A piece of a source text. `section_start/end` bound the surrounding section,
    used for parent-document retrieval."""

    id: str
    source: str
    start: int
    end: int
    text: str
    headings: tuple[str, ...] = ()
    tokens: int = 0
    section_start: int = 0
    section_end: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The chunk as a JSON-ready dict."""
        return {
            "id": self.id,
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "headings": list(self.headings),
            "tokens": self.tokens,
        }


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    boundary: int  # strength of the break before this piece


def content_limit(encoder: Any, tokenizer: Tokenizer | None = None) -> int | None:
    """Tokens of text a document chunk may hold for `encoder`: the model's limit minus
    its special tokens and document prefix (None when the model has no limit)."""
    space = getattr(encoder, "space", None)
    limit = getattr(space, "max_tokens", None)
    if not limit:
        return None
    tokenizer = tokenizer or tokenizer_for(encoder)
    prefix = len(tokenizer.spans(getattr(space, "document_prefix", "") or ""))
    return int(limit) - special_tokens(encoder) - prefix


class Chunker:
    """Cut texts into chunks of at most `max_tokens` tokens with `overlap` tokens shared
    between neighbours (overlap is made of whole sentences or token windows)."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        max_tokens: int = 256,
        overlap: int = 0,
        *,
        markdown: bool = True,
    ) -> None:
        if max_tokens < 1:
            raise InputError(f"max_tokens must be at least 1, got {max_tokens}")
        if not 0 <= overlap < max_tokens:
            raise InputError(
                f"overlap must be between 0 and max_tokens - 1 ({max_tokens - 1}), got {overlap}"
            )
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.overlap = overlap
        self.markdown = markdown

    @classmethod
    def for_encoder(
        cls, encoder: Any, max_tokens: int | None = None, overlap: int = 0, **kwargs: Any
    ) -> Chunker:
        """A chunker using `encoder`'s tokenizer; `max_tokens` defaults to the model's
        limit minus its special tokens and document prefix, and may not exceed it."""
        tokenizer = tokenizer_for(encoder)
        room = content_limit(encoder, tokenizer)
        if max_tokens is None:
            max_tokens = room or 256
        elif room is not None and max_tokens > room:
            raise InputError(
                f"max_tokens {max_tokens} is more than {encoder.name} accepts ({room} "
                f"content tokens); use --chunk-tokens {room} or less"
            )
        return cls(tokenizer, max_tokens, overlap, **kwargs)

    # -- public -------------------------------------------------------------------------

    def chunk(self, text: str, source: str = "") -> list[Chunk]:
        """Chunk one text; ids are `source#0`, `source#1`, ..."""
        starts = [s for s, _ in self.tokenizer.spans(text)]
        sections = markdown_sections(text) if self.markdown else [Section(0, len(text), ())]
        ranges: list[tuple[int, int, Section]] = []
        for section in sections:
            pieces = self._pieces(text, section.start, section.end, starts)
            ranges.extend((s, e, section) for s, e in self._pack(pieces, starts))
        return self._finish(text, source, ranges)

    def chunk_file(self, path: str | Path) -> list[Chunk]:
        """Chunk one file's text; the path becomes the chunks' source."""
        p = Path(path)
        return self.chunk(read_text(p), source=str(path))

    def count(self, starts: list[int], start: int, end: int) -> int:
        """Tokens that begin inside text[start:end] (spans from the whole text)."""
        return bisect.bisect_left(starts, end) - bisect.bisect_left(starts, start)

    # -- internals ----------------------------------------------------------------------

    def _pieces(self, text: str, start: int, end: int, starts: list[int]) -> list[_Piece]:
        """Sentences tagged with the break before them; over-long sentences become token
        windows (small enough that overlap can be made of them)."""
        window = self.overlap or self.max_tokens
        pieces: list[_Piece] = []
        for p_start, p_end in trimmed_spans(text, start, end, PARAGRAPH_BREAK):
            first = True
            sentences = [
                span
                for b_start, b_end in line_blocks(text, p_start, p_end)
                for span in trimmed_spans(text, b_start, b_end, SENTENCE_BREAK)
            ]
            for s, e in sentences:
                boundary = PARAGRAPH if first else SENTENCE
                first = False
                if self.count(starts, s, e) <= self.max_tokens:
                    pieces.append(_Piece(s, e, boundary))
                    continue
                cuts = [s, *self._window_cuts(text, starts, s, e, window), e]
                for a, b in itertools.pairwise(cuts):
                    a_trim, b_trim = _strip_span(text, a, b)
                    if a_trim < b_trim:  # a window of only whitespace is no piece
                        pieces.append(_Piece(a_trim, b_trim, boundary))
                        boundary = TOKENS
        return pieces

    def _window_cuts(self, text: str, starts: list[int], s: int, e: int, window: int) -> list[int]:
        """Cut points every <= `window` tokens, at word starts when the window has one (so
        "##ing" pieces stay with their word), else at any token start."""
        lo, hi = bisect.bisect_left(starts, s), bisect.bisect_left(starts, e)
        cuts, i = [], lo
        while i + window < hi:
            limit = i + window
            j = limit
            while j > i and not text[starts[j] - 1].isspace():
                j -= 1
            i = j if j > i else limit
            cuts.append(starts[i])
        return cuts

    def _pack(self, pieces: Sequence[_Piece], starts: list[int]) -> list[Span]:
        """Greedy packing that prefers to end a chunk at a paragraph, then a sentence,
        once it is at least half full."""
        out: list[Span] = []
        n, i = len(pieces), 0

        def size(a: int, b: int) -> int:
            return self.count(starts, pieces[a].start, pieces[b].end)

        while i < n:
            j = i
            while j + 1 < n and size(i, j + 1) <= self.max_tokens:
                j += 1
            last = j
            if j + 1 < n:
                for level in (PARAGRAPH, SENTENCE):
                    good = [
                        b
                        for b in range(i + 1, j + 1)
                        if pieces[b].boundary >= level and size(i, b - 1) * 2 >= self.max_tokens
                    ]
                    if good:
                        last = good[-1] - 1
                        break
            out.append((pieces[i].start, pieces[last].end))
            if last + 1 >= n:
                break
            k = last + 1
            while k - 1 > i and size(k - 1, last) <= self.overlap:
                k -= 1
            while k <= last and size(k, last + 1) > self.max_tokens:
                k += 1
            i = k
        return out

    def _finish(
        self, text: str, source: str, ranges: list[tuple[int, int, Section]]
    ) -> list[Chunk]:
        chunks: list[Chunk] = []
        for start, end, section in ranges:
            for s, e, n in self._enforce(text, start, end):
                chunks.append(
                    Chunk(
                        id=f"{source}#{len(chunks)}",
                        source=source,
                        start=s,
                        end=e,
                        text=text[s:e],
                        headings=section.headings,
                        tokens=n,
                        section_start=section.start,
                        section_end=section.end,
                    )
                )
        return chunks

    def _enforce(self, text: str, start: int, end: int) -> list[tuple[int, int, int]]:
        """Re-tokenise the chunk on its own (tokenisers can differ at cut points) and
        halve it at a token boundary until every part fits."""
        spans = self.tokenizer.spans(text[start:end])
        if len(spans) <= self.max_tokens or len(spans) <= 1:
            return [(start, end, len(spans))]
        cut = start + spans[len(spans) // 2][0]
        parts = (_strip_span(text, start, cut), _strip_span(text, cut, end))
        return [part for a, b in parts if a < b for part in self._enforce(text, a, b)]


def _strip_span(text: str, start: int, end: int) -> Span:
    """The span without its leading and trailing whitespace (empty if it is all blank)."""
    piece = text[start:end]
    a = start + len(piece) - len(piece.lstrip())
    return a, max(a, start + len(piece.rstrip()))


@dataclass
class SemanticChunker:
    """Break where the similarity of adjacent sentences drops below the document's
    `percentile`-th percentile (computed over the whole text, so a coherent section is
    not split just because it is short), never right after a heading line. Groups
    larger than the limit are packed by `chunker`, so the token limit still holds."""

    encoder: Any
    chunker: Chunker
    percentile: float = 25.0

    def chunk(self, text: str, source: str = "") -> list[Chunk]:
        """Chunk one text at topic shifts; ids are `source#0`, `source#1`, ..."""
        ch = self.chunker
        starts = [s for s, _ in ch.tokenizer.spans(text)]
        sections = markdown_sections(text) if ch.markdown else [Section(0, len(text), ())]
        per_section = [(sec, ch._pieces(text, sec.start, sec.end, starts)) for sec in sections]
        flat = [text[p.start : p.end] for _, pieces in per_section for p in pieces]
        vectors = self.encoder.encode(flat, normalize=True) if flat else np.zeros((0, 1))
        all_sims: list[np.ndarray] = []
        offset = 0
        for _, pieces in per_section:
            v = vectors[offset : offset + len(pieces)]
            offset += len(pieces)
            sims = np.sum(v[:-1] * v[1:], axis=1)
            if len(sims) and HEADING.match(text[pieces[0].start : pieces[0].end]):
                sims[0] = np.inf  # keep a heading with the sentence after it
            all_sims.append(sims)
        finite = np.concatenate(all_sims) if all_sims else np.zeros(0)
        finite = finite[np.isfinite(finite)]
        threshold = float(np.percentile(finite, self.percentile)) if finite.size else -np.inf
        ranges: list[tuple[int, int, Section]] = []
        for (section, pieces), sims in zip(per_section, all_sims, strict=True):
            breaks = [i + 1 for i, sim in enumerate(sims) if sim <= threshold]
            for a, b in itertools.pairwise([0, *breaks, len(pieces)]):
                ranges.extend((s, e, section) for s, e in ch._pack(pieces[a:b], starts))
        return ch._finish(text, source, ranges)


def read_text(path: Path) -> str:
    """Read a UTF-8 text file, keeping `\\r\\n` so offsets match the bytes on disk."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not UTF-8 text ({exc.reason}); convert it first, e.g. "
            f"`iconv -f latin1 -t utf-8 {path}`"
        ) from None
