"""SPLADE and ColBERT indexes in a versioned collection: each version builds its own, and
adding or querying with changed model weights is refused, naming the field that differs."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import SpaceMismatchError
from embedstack.store.collection import Collection

pytestmark = pytest.mark.torch

DOCS = {
    "cat": "the cat sat on the warm mat",
    "dog": "a dog chased the ball in the park",
    "keys": "rotate the api keys every ninety days",
}


def _perturb(folder):
    """New weights in the same model folder (what a model update looks like)."""
    for path in folder.glob("*.safetensors"):
        tensors = load_file(str(path))
        name = sorted(tensors)[0]
        tensors[name] = tensors[name] + np.float32(0.5)
        save_file(tensors, str(path))


def test_sparse_and_late_indexes_refuse_another_space_in_every_version(tmp_path):
    from tiny_models import make_tiny_colbert, make_tiny_model

    mlm, colbert = tmp_path / "mlm", tmp_path / "colbert"
    make_tiny_model(mlm, "bert-mlm", seed=0)
    make_tiny_colbert(colbert)
    indexes = {"splade": {"model": str(mlm)}, "colbert": {"model": str(colbert)}}
    folder = tmp_path / "c"
    col = Collection.create(folder, HashEncoder(64), indexes=indexes)
    col.add(list(DOCS.values()), ids=list(DOCS))
    result = col.migrate(HashEncoder(32), batch_size=2)
    col.set_alias("current", result.version)
    v2 = Collection.open(folder)
    assert v2.version == "v2" and set(v2.index_names) == {"splade", "colbert"}
    for name in ("splade", "colbert"):
        assert {h.id for h in v2.search("cat on a mat", k=3, retriever=name)} <= set(DOCS)
        assert v2.search("cat on a mat", k=1, retriever=name)

    _perturb(mlm)
    _perturb(colbert)
    for version in ("v1", "v2"):
        opened = Collection.open(folder, version=version)
        for name in ("splade", "colbert"):
            with pytest.raises(SpaceMismatchError, match="fingerprint"):
                opened.search("cat", k=1, retriever=name)
    writer = Collection.open(folder)  # v2, whose writes reach v1 too
    with pytest.raises(SpaceMismatchError, match="fingerprint"):
        writer.add(["a new text about cats"], ids=["new"])
    for version in ("v1", "v2"):
        assert "new" not in Collection.open(folder, version=version).ids()
