"""Markdown structure the chunker cuts along: sections with their heading path, and the
paragraph, block and sentence spans inside them (all as exact character offsets).

Headings are ATX style (`#` .. `######`); a heading line inside a fenced code block
(``` or ~~~) is text, not a section break.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from embedstack.text.tokenize import Span

HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
FENCE = re.compile(r"^ {0,3}(```|~~~)")
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
SENTENCE_BREAK = re.compile(r"(?<=[.!?。！？])[\"')\]]*\s+")
# A line break ends a block when it follows a heading or fence, or starts a list item,
# quote, table row, heading or fence; other breaks are just hard-wrapped prose.
BLOCK_START = re.compile(r"[ \t]*(?:[-*+>|][ \t]|\d+[.)][ \t]|#{1,6}[ \t]|```|~~~)")


@dataclass(frozen=True)
class Section:
    """A Markdown section: its heading line and body, and the path of headings above it."""

    start: int
    end: int
    headings: tuple[str, ...]


def markdown_sections(text: str) -> list[Section]:
    """Split at ATX headings (`#` .. `######`) outside fenced code blocks."""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    start, in_fence, pos = 0, False, 0
    current: tuple[str, ...] = ()
    for line in text.splitlines(keepends=True):
        if FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else HEADING.match(line.rstrip("\r\n"))
        if match:
            if text[start:pos].strip():
                sections.append(Section(start, pos, current))
            level = len(match.group(1))
            stack = [(lvl, title) for lvl, title in stack if lvl < level]
            stack.append((level, match.group(2).strip()))
            current = tuple(title for _, title in stack)
            start = pos
        pos += len(line)
    if text[start:].strip():
        sections.append(Section(start, len(text), current))
    return sections


def trimmed_spans(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[Span]:
    """Non-blank pieces of text[start:end] between matches of `pattern`, whitespace-trimmed."""
    out: list[Span] = []
    cursor = start
    for match in pattern.finditer(text, start, end):
        out.append((cursor, match.start()))
        cursor = match.end()
    out.append((cursor, end))
    trimmed = []
    for s, e in out:
        piece = text[s:e]
        stripped = piece.strip()
        if stripped:
            s2 = s + (len(piece) - len(piece.lstrip()))
            trimmed.append((s2, s2 + len(stripped)))
    return trimmed


def line_blocks(text: str, start: int, end: int) -> list[Span]:
    """Split a paragraph at the line breaks that separate Markdown blocks."""
    blocks: list[Span] = []
    block_start = line_start = start
    while True:
        newline = text.find("\n", line_start, end)
        if newline < 0:
            break
        line = text[line_start:newline].rstrip("\r")
        nxt_end = text.find("\n", newline + 1, end)
        following = text[newline + 1 : nxt_end if nxt_end >= 0 else end]
        if HEADING.match(line) or FENCE.match(line) or BLOCK_START.match(following):
            blocks.append((block_start, newline))
            block_start = newline + 1
        line_start = newline + 1
    blocks.append((block_start, end))
    return blocks
