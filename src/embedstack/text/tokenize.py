"""Token spans for chunking: the encoder's own tokenizer, behind a one-method protocol.

Chunk sizes are counted in the tokens the model will actually see, so a chunk that
fits here fits the model. Anything that maps a text to token character spans
satisfies `Tokenizer`: a Hugging Face `tokenizers.Tokenizer`, a word tokenizer, or a
character estimate. Each encoder says which one it uses (`Encoder.span_tokenizer`), so
this module never needs to know the encoder classes (it sits below them).
"""

from __future__ import annotations

import re
from typing import Any, Protocol

Span = tuple[int, int]

_WORD = re.compile(r"\w+", re.UNICODE)


class Tokenizer(Protocol):
    """`spans(text)` -> character `(start, end)` of each content token (no specials)."""

    def spans(self, text: str) -> list[Span]:
        """Character spans of the content tokens of `text`."""


class WordTokenizer:
    """Word tokens (`\\w+`), e.g. for the hashing encoder: fast and dependency-free."""

    def spans(self, text: str) -> list[Span]:
        """Spans of the `\\w+` runs."""
        return [m.span() for m in _WORD.finditer(text)]


class CharTokenizer:
    """A conservative estimate for encoders without a tokenizer: one token per
    `chars_per_token` characters (the base `Encoder.count_tokens` uses 3)."""

    def __init__(self, chars_per_token: int = 3) -> None:
        self.chars_per_token = chars_per_token

    def spans(self, text: str) -> list[Span]:
        """One span per `chars_per_token` characters."""
        step = self.chars_per_token
        return [(i, min(i + step, len(text))) for i in range(0, len(text), step)]


class HFTokenizer:
    """A Hugging Face `tokenizers.Tokenizer`; truncation and padding are switched off on
    a copy so long texts are counted in full (the packaged MiniLM bakes in 128)."""

    def __init__(self, tokenizer: Any) -> None:
        from tokenizers import Tokenizer as _Tok

        self._tok = _Tok.from_str(tokenizer.to_str())
        self._tok.no_truncation()
        self._tok.no_padding()

    @classmethod
    def from_file(cls, path: str) -> HFTokenizer:
        """Load a `tokenizer.json` file."""
        from tokenizers import Tokenizer as _Tok

        return cls(_Tok.from_file(path))

    def spans(self, text: str) -> list[Span]:
        """Spans of the tokenizer's content tokens (no specials)."""
        offsets = self._tok.encode(text, add_special_tokens=False).offsets
        # Zero-width offsets (rare normaliser artefacts) still count as a token.
        return [(int(s), int(e)) for s, e in offsets]


def _find_hf_tokenizer(encoder: Any) -> Any | None:
    for owner in (encoder, getattr(encoder, "model", None)):
        tok = getattr(owner, "tokenizer", None) if owner is not None else None
        if tok is not None and hasattr(tok, "encode") and hasattr(tok, "to_str"):
            return tok
    return None


def tokenizer_for(encoder: Any) -> Tokenizer:
    """The tokenizer that matches `encoder`: what its `span_tokenizer()` gives (every
    dense `Encoder` has one); for other models, their Hugging Face tokenizer when they
    carry one, else a character estimate."""
    method = getattr(encoder, "span_tokenizer", None)
    if callable(method):
        tokenizer: Tokenizer = method()
        return tokenizer
    hf = _find_hf_tokenizer(encoder)
    return HFTokenizer(hf) if hf is not None else CharTokenizer()


def special_tokens(encoder: Any) -> int:
    """How many special tokens (e.g. [CLS] and [SEP]) the model adds to every text."""
    method = getattr(encoder, "special_tokens", None)
    if callable(method):
        return int(method())
    hf = _find_hf_tokenizer(encoder)
    return 0 if hf is None else int(hf.num_special_tokens_to_add(False))
