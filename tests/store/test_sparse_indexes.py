"""BM25 and SPLADE inside a collection: same ids, updates, filters, repair."""

from __future__ import annotations

import numpy as np
import pytest

from embedstack.errors import CollectionError
from embedstack.store.collection import Collection
from embedstack.store.indexes import INDEX_TYPES

DOCS = {
    "a": "The cat sat on the mat",
    "b": "Dogs chase cats in the garden",
    "c": "Vector search with dense embeddings",
    "d": "Keyword search with BM25 scoring",
}


def make(tmp_path, counting_encoder) -> Collection:
    col = Collection.create(tmp_path / "col", counting_encoder)
    col.add(list(DOCS.values()), list(DOCS), [{"n": i} for i in range(len(DOCS))])
    return col


def ids(hits) -> list[str]:
    return [h.id for h in hits]


def test_bm25_is_the_default_and_follows_updates(tmp_path, counting_encoder):
    col = make(tmp_path, counting_encoder)
    assert col.index_names == ["bm25"]
    assert INDEX_TYPES["splade"] == "embedstack.store.sparse:SpladeIndex"
    hits = col.search("cats", k=5, retriever="bm25")
    assert ids(hits) == ["b", "a"] or ids(hits) == ["a", "b"]
    assert hits[0].stages["bm25"]["rank"] == 1
    assert ids(col.search("search", k=5, retriever="bm25", where={"n": {"$gte": 3}})) == ["d"]
    col.upsert(["nothing about felines"], ["b"])
    col.delete(["a"])
    assert ids(col.search("cats", k=5, retriever="bm25")) == []
    assert ids(col.search("felines", k=5, retriever="bm25")) == ["b"]
    col.close()
    with Collection.open(tmp_path / "col", counting_encoder) as again:
        assert ids(again.search("felines", k=5, retriever="bm25")) == ["b"]
        again.compact()  # renumbers rows and rebuilds the index
        assert ids(again.search("keyword", k=5, retriever="bm25")) == ["d"]


def test_damaged_bm25_files_refuse_and_rebuild_repairs(tmp_path, counting_encoder):
    make(tmp_path, counting_encoder).close()
    (folder,) = (tmp_path / "col" / "indexes").glob("bm25-*")
    (folder / "bm25.df.npy").unlink()
    col = Collection.open(tmp_path / "col", counting_encoder)
    with pytest.raises(CollectionError, match=r"bm25\.df\.npy is missing.*--rebuild-indexes"):
        col.search("cats", retriever="bm25")
    col.rebuild_index("bm25")
    assert set(ids(col.search("cats", retriever="bm25"))) == {"a", "b"}
    col.close()
    with Collection.open(tmp_path / "col", counting_encoder) as again:
        assert set(ids(again.search("cats", retriever="bm25"))) == {"a", "b"}


def test_rebuild_with_new_settings_and_saves_reuse_segments(tmp_path, counting_encoder):
    col = make(tmp_path, counting_encoder)
    col.rebuild_index("bm25", {"variant": "bm25+", "analyzer": {"stemmer": None}})
    assert col.manifest.indexes["bm25"]["variant"] == "bm25+"
    assert ids(col.search("cats", retriever="bm25")) == ["b"]  # no stemming: cat != cats
    (before,) = (tmp_path / "col" / "indexes").glob("bm25-*")
    segment = next(before.glob("bm25.seg*.rows.npy"))
    inode = segment.stat().st_ino
    col.add(["one more cat"], ["e"])
    (after,) = (tmp_path / "col" / "indexes").glob("bm25-*")
    assert after != before
    assert (after / segment.name).stat().st_ino == inode  # hard-linked, not rewritten
    col.close()


def test_search_rows_are_the_collections_rows(tmp_path, counting_encoder):
    col = make(tmp_path, counting_encoder)
    index = col._index("bm25")
    rows, scores = index.search("search", 5, None)
    assert sorted(rows.tolist()) == [2, 3]
    assert np.all(scores > 0)
    col.close()
