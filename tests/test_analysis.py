from __future__ import annotations

import pytest

from embedstack.errors import InputError
from embedstack.text.analysis import Analyzer, load_stopwords, stopword_languages


def test_default_pipeline_normalises_lowercases_drops_stopwords_and_stems():
    # "ﬁ" is a ligature and "ＲＵＮＳ" full-width: NFKC maps them to plain letters.
    assert Analyzer().terms("The ﬁshes were ＲＵＮＮＩＮＧ in a river") == [
        "fish",
        "were",
        "run",
        "river",
    ]


def test_each_step_can_be_switched_off():
    plain = Analyzer(lowercase=False, normalize=None, stopwords=None, stemmer=None)
    assert plain.terms("The ﬁshes") == ["The", "ﬁshes"]
    assert Analyzer(stopwords=None, stemmer=None).terms("The cats") == ["the", "cats"]
    assert Analyzer(stopwords=["cats"], stemmer=None).terms("The cats") == ["the"]


def test_other_languages():
    german = Analyzer(stopwords="de", stemmer="german")
    assert german.terms("Die Häuser und die Katzen") == ["haus", "katz"]
    assert "german" in stopword_languages()
    assert "und" in load_stopwords("german")


def test_unknown_languages_name_the_choices():
    with pytest.raises(InputError, match="stop-word list"):
        Analyzer(stopwords="klingon")
    with pytest.raises(InputError, match="no stemmer"):
        Analyzer(stemmer="klingon")
    with pytest.raises(InputError, match="normal form"):
        Analyzer(normalize="NFX")


def test_config_round_trip():
    analyzer = Analyzer(stopwords=("foo", "bar"), stemmer="french", normalize=None)
    again = Analyzer.from_config(analyzer.config())
    assert again == analyzer
    assert again.terms("foo maisons") == analyzer.terms("foo maisons") == ["maison"]
