"""Lexical analysis for BM25: normalise, lowercase, split, drop stop words, stem.

The steps and their order follow bm25s (lowercase -> regex split -> stop words on the
unstemmed token -> Snowball stem) so an index built here scores like bm25s given the
same settings; NFKC normalisation is added in front so that ligatures, full-width
letters and compatibility forms match their plain spelling.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any, Literal

from embedstack.errors import InputError

# Stop-word lists by language name, vendored from bm25s (from NLTK / stopwords-iso; MIT,
# see data/stopwords/LICENSE.txt) so that the core install needs no bm25s.
_STOPWORDS_FILE = "data/stopwords/stopwords.json"
_ISO_CODES = {
    "en": "english",
    "de": "german",
    "nl": "dutch",
    "fr": "french",
    "es": "spanish",
    "pt": "portuguese",
    "it": "italian",
    "ru": "russian",
    "sv": "swedish",
    "no": "norwegian",
    "zh": "chinese",
    "tr": "turkish",
    "ko": "korean",
    "da": "danish",
}
DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_MAX_CACHED_WORDS = 1_000_000


class EmptyQueryWarning(UserWarning):
    """A query had no searchable terms left after analysis, so nothing can match."""


def stopword_languages() -> list[str]:
    """Languages with a built-in stop-word list."""
    return sorted(_stopword_lists())


def stemmer_languages() -> list[str]:
    """Languages PyStemmer (Snowball) can stem."""
    import Stemmer

    return sorted(Stemmer.algorithms())


@cache
def _stopword_lists() -> dict[str, list[str]]:
    text = resources.files("embedstack").joinpath(_STOPWORDS_FILE).read_text("utf-8")
    lists: dict[str, list[str]] = json.loads(text)
    return lists


def _language(name: str) -> str:
    return _ISO_CODES.get(name.lower(), name.lower())


def load_stopwords(spec: str | Iterable[str] | None) -> frozenset[str]:
    """A stop-word set from a language name or ISO code, an explicit list, or None."""
    if spec is None:
        return frozenset()
    if isinstance(spec, str):
        language = _language(spec)
        lists = _stopword_lists()
        if language not in lists:
            raise InputError(
                f"no built-in stop-word list for {spec!r}. Choose one of "
                f"{', '.join(stopword_languages())}, pass your own list of words, "
                "or turn stop words off (stopwords=None)."
            )
        return frozenset(lists[language])
    return frozenset(word.lower() for word in spec)


@dataclass(frozen=True)
class Analyzer:
    """Turns text into index terms. Its `config()` is saved with every index, so the
    same analysis runs at query time as at indexing time.

    Args:
        lowercase: lowercase before matching stop words and stemming.
        normalize: a `unicodedata` normal form ("NFKC" default) or None to skip.
        stopwords: a language name / ISO code ("english" default), a list of words,
            or None for no stop words.
        stemmer: a Snowball language for PyStemmer ("english" default) or None.
        token_pattern: regex whose matches are the tokens (default: words of 2+ chars,
            as in scikit-learn and bm25s).
    """

    lowercase: bool = True
    normalize: Literal["NFC", "NFKC", "NFD", "NFKD"] | None = "NFKC"
    stopwords: str | tuple[str, ...] | None = "english"
    stemmer: str | None = "english"
    token_pattern: str = DEFAULT_TOKEN_PATTERN

    def __post_init__(self) -> None:
        if self.normalize not in (None, "NFC", "NFKC", "NFD", "NFKD"):
            raise InputError(
                f"unknown unicode normal form {self.normalize!r}; use NFKC, NFC, NFKD, NFD or None"
            )
        if isinstance(self.stopwords, list):
            object.__setattr__(self, "stopwords", tuple(self.stopwords))
        if self.stemmer is not None:
            language = _language(self.stemmer)
            if language not in stemmer_languages():
                raise InputError(
                    f"PyStemmer has no stemmer for {self.stemmer!r}. Choose one of "
                    f"{', '.join(stemmer_languages())}, or turn stemming off (stemmer=None)."
                )
            object.__setattr__(self, "stemmer", language)
        self._stopword_set  # noqa: B018 - validates the stop-word setting up front
        try:
            re.compile(self.token_pattern)
        except re.error as exc:
            raise InputError(
                f"token_pattern {self.token_pattern!r} is not a regex: {exc}"
            ) from None

    def __getstate__(self) -> dict[str, Any]:
        """Drop the cached stemmer (a C object) so analyzers can be copied and pickled."""
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    @cached_property
    def _stopword_set(self) -> frozenset[str]:
        return load_stopwords(self.stopwords)

    @cached_property
    def _split(self) -> Any:
        return re.compile(self.token_pattern).findall

    @cached_property
    def _stem_words(self) -> Any:
        if self.stemmer is None:
            return None
        import Stemmer

        return Stemmer.Stemmer(self.stemmer).stemWords

    @cached_property
    def _lookup(self) -> dict[str, str | None]:
        """word -> its term (None for a stop word). Words repeat far more than they are
        new, so each distinct word is checked and stemmed once, as bm25s does."""
        return {}

    def _learn(self, words: list[str]) -> None:
        lookup = self._lookup
        if len(lookup) > _MAX_CACHED_WORDS:
            lookup.clear()
        stop = self._stopword_set
        fresh = [w for w in dict.fromkeys(words) if w not in stop]
        lookup.update(dict.fromkeys(words))  # stop words stay None
        stem = self._stem_words
        lookup.update(zip(fresh, stem(fresh) if stem is not None else fresh, strict=True))

    def terms(self, text: str) -> list[str]:
        """The index terms of one text, in order, repeats kept (they are term counts)."""
        if self.normalize:
            text = unicodedata.normalize(self.normalize, text)
        if self.lowercase:
            text = text.lower()
        words = self._split(text)
        lookup = self._lookup
        try:
            return [term for w in words if (term := lookup[w]) is not None]
        except KeyError:  # a word never seen before
            self._learn([w for w in words if w not in lookup])
            return [term for w in words if (term := lookup[w]) is not None]

    def analyze(self, texts: Iterable[str]) -> list[list[str]]:
        """The terms of each text."""
        return [self.terms(text) for text in texts]

    def config(self) -> dict[str, Any]:
        """The settings that define this analyzer, saved with an index."""
        stopwords = self.stopwords
        return {
            "lowercase": self.lowercase,
            "normalize": self.normalize,
            "stopwords": list(stopwords) if isinstance(stopwords, tuple) else stopwords,
            "stemmer": self.stemmer,
            "token_pattern": self.token_pattern,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Analyzer:
        """An analyzer from saved settings, refusing unknown keys."""
        known = {"lowercase", "normalize", "stopwords", "stemmer", "token_pattern"}
        unknown = set(config) - known
        if unknown:
            raise InputError(f"unknown analyzer settings: {sorted(unknown)}")
        values = dict(config)
        if isinstance(values.get("stopwords"), list):
            values["stopwords"] = tuple(values["stopwords"])
        return cls(**values)
