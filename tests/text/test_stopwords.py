"""The vendored stop-word lists are bm25s's, byte for byte, and ship with their licence."""

from importlib import resources

import pytest

from embedstack.text.analysis import _ISO_CODES, load_stopwords, stopword_languages

LISTS = {
    "english": "STOPWORDS_EN",
    "english_plus": "STOPWORDS_EN_PLUS",
    "german": "STOPWORDS_GERMAN",
    "dutch": "STOPWORDS_DUTCH",
    "french": "STOPWORDS_FRENCH",
    "spanish": "STOPWORDS_SPANISH",
    "portuguese": "STOPWORDS_PORTUGUESE",
    "italian": "STOPWORDS_ITALIAN",
    "russian": "STOPWORDS_RUSSIAN",
    "swedish": "STOPWORDS_SWEDISH",
    "norwegian": "STOPWORDS_NORWEGIAN",
    "chinese": "STOPWORDS_CHINESE",
    "turkish": "STOPWORDS_TURKISH",
    "korean": "STOPWORDS_KOREAN",
    "danish": "STOPWORDS_DANISH",
}


def test_vendored_lists_equal_bm25s():
    bm25s_lists = pytest.importorskip("bm25s.stopwords")
    assert stopword_languages() == sorted(LISTS)
    for language, name in LISTS.items():
        assert load_stopwords(language) == frozenset(getattr(bm25s_lists, name)), language


def test_every_iso_code_has_a_list():
    for code, language in _ISO_CODES.items():
        assert load_stopwords(code) == load_stopwords(language)
        assert load_stopwords(code)


def test_licence_ships_with_the_lists():
    folder = resources.files("embedstack").joinpath("data/stopwords")
    notice = folder.joinpath("LICENSE.txt").read_text("utf-8")
    assert "MIT License" in notice and "Xing Han Lu" in notice
