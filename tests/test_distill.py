import json

import numpy as np
import pytest

from embedstack.encoders.static import StaticEncoder
from embedstack.errors import InputError, ModelNotFoundError
from embedstack.registry import load_encoder

pytestmark = pytest.mark.torch

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB = [
    *SPECIAL,
    *["the", "cat", "dog", "sat", "on", "mat", "a", "ran", "fast", "slow", "##s", "red", "blue"],
]


def _tiny_bert(directory):
    """A randomly initialised 2-layer BERT in Hugging Face layout, built offline."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    config = transformers.BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    transformers.BertModel(config).save_pretrained(directory)
    tokenizer = Tokenizer(models.WordPiece({t: i for i, t in enumerate(VOCAB)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
    )
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "BertTokenizerFast"})
    )
    (directory / "vocab.txt").write_text("\n".join(VOCAB))
    return directory


def test_distill_tiny_model_and_load_it(tmp_path):
    pytest.importorskip("model2vec.distill")
    from model2vec import StaticModel

    from embedstack.encoders.distill import distill

    source = _tiny_bert(tmp_path / "bert")
    out = distill(str(source), tmp_path / "static", pca_dims=8)
    encoder = load_encoder(str(out))
    assert isinstance(encoder, StaticEncoder) and encoder.dim == 8
    texts = ["the cat sat on the mat", "a red dog ran fast", "cats"]
    reference = StaticModel.from_pretrained(str(out)).encode(texts)
    np.testing.assert_allclose(encoder.encode(texts), reference, atol=1e-3)
    with pytest.raises(InputError, match="not empty"):
        distill(str(source), out)


def test_distill_refuses_unknown_model(tmp_path):
    from embedstack.encoders.distill import resolve_model_dir

    with pytest.raises(ModelNotFoundError, match="nothing is downloaded"):
        resolve_model_dir(str(tmp_path / "missing"))
    with pytest.raises(InputError, match="already a static model"):
        resolve_model_dir("glove-50d")
