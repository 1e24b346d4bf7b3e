import pytest
from store_helpers import DOCS, fill
from tiny_index import LOADS

from embedstack.errors import CollectionError
from embedstack.search.retrievers import DenseRetriever, IndexRetriever, resolve_retriever
from embedstack.store import indexes
from embedstack.store.collection import Collection


def kw_ids(col, query, **kwargs):
    return [h.id for h in col.search(query, retriever="kw", **kwargs)]


def test_index_gets_adds_and_deletes_and_is_saved_with_the_collection(
    tmp_path, counting_encoder, kw_index
):
    path = tmp_path / "c"
    col = Collection.create(path, counting_encoder, indexes=("kw",))
    assert col.manifest.indexes == {"kw": {"lowercase": True}}
    fill(col)
    hits = col.search("cat fire", k=3, retriever="kw")
    assert [h.id for h in hits] == ["cat"]
    assert hits[0].stages == {"kw": {"score": 2.0, "rank": 1}}
    assert kw_ids(col, "the", where={"year": {"$gte": 2021}}) == ["dog"]
    col.delete(["dog"])
    assert kw_ids(col, "ball chased") == []
    col.upsert(["A cat chased a red ball"], ids=["fish"])
    assert kw_ids(col, "ball") == ["fish"]
    index_dirs = list((path / "indexes").iterdir())
    assert len(index_dirs) == 1  # superseded index states are removed after each commit

    reopened = Collection.open(path, counting_encoder)
    assert kw_ids(reopened, "red ball") == ["fish"]
    assert index_dirs == LOADS  # loaded from its saved folder, not rebuilt

    reopened.compact()  # renumbers rows: the index is rebuilt to match
    assert sorted(reopened._indexes["kw"].docs) == [0, 1, 2, 3]
    assert kw_ids(reopened, "red ball") == ["fish"]
    assert kw_ids(Collection.open(path, counting_encoder), "configuration") == ["code"]


def test_retrievers(tmp_path, counting_encoder, kw_index):
    col = Collection.create(tmp_path / "c", counting_encoder, indexes=("kw",))
    fill(col)
    assert isinstance(resolve_retriever(col, "dense"), DenseRetriever)
    kw = resolve_retriever(col, "kw")
    assert isinstance(kw, IndexRetriever) and kw.search("goldfish")[0].id == "fish"
    dense = DenseRetriever(col).search(DOCS["tea"][0], k=2)
    assert dense[0].id == "tea" and set(dense[0].stages) == {"dense"}

    class Fixed:
        def search(self, query, k=10, where=None):
            return col.search_index("kw", "python", k, where)

    assert [h.id for h in col.search("ignored", retriever=Fixed())] == ["code"]
    with pytest.raises(CollectionError, match=r"no 'bm25' index.*it has: kw"):
        col.search("x", retriever="bm25")
    with pytest.raises(TypeError, match="single string"):
        col.get("cat")  # type: ignore[arg-type]


def test_default_indexes_follow_the_registry(tmp_path, counting_encoder, kw_index, monkeypatch):
    monkeypatch.setattr(indexes, "DEFAULT_INDEXES", ("kw", "not-registered"))
    col = Collection.create(tmp_path / "a", counting_encoder)
    assert col.index_names == ["kw"]
    assert Collection.create(tmp_path / "b", counting_encoder, indexes=()).index_names == []


def test_bm25_default_works_before_and_after_the_sparse_module_lands(tmp_path, counting_encoder):
    col = Collection.create(tmp_path / "c", counting_encoder)
    if indexes.available("bm25"):
        assert col.index_names == ["bm25"]
    else:
        assert col.index_names == []
        with pytest.raises(CollectionError, match=r"embedstack\.store\.bm25:BM25Index"):
            Collection.create(tmp_path / "d", counting_encoder, indexes=("bm25",))
    with pytest.raises(CollectionError, match="unknown index type 'nope'"):
        Collection.create(tmp_path / "e", counting_encoder, indexes=("nope",))


def test_create_takes_index_settings_by_name(tmp_path, counting_encoder, kw_index):
    col = Collection.create(
        tmp_path / "c", counting_encoder, indexes={"kw": {"lowercase": False}, "bm25": None}
    )
    assert col.manifest.indexes["kw"] == {"lowercase": False}
    assert col.manifest.indexes["bm25"]["k1"] == indexes.new_index("bm25").config()["k1"]
    fill(col)
    assert kw_ids(col, "CAT FIRE") == []  # case-sensitive, as configured
    assert kw_ids(col, "cat fire") == ["cat"]
    assert Collection.open(tmp_path / "c", counting_encoder).manifest.indexes["kw"] == {
        "lowercase": False
    }


def test_create_rejects_a_bare_string_or_bad_settings(tmp_path, counting_encoder):
    with pytest.raises(CollectionError, match=r"indexes=\['bm25'\]"):
        Collection.create(tmp_path / "a", counting_encoder, indexes="bm25")
    with pytest.raises(CollectionError, match="must be a dict"):
        Collection.create(tmp_path / "b", counting_encoder, indexes={"bm25": "fast"})
    assert not (tmp_path / "a" / "manifest.json").exists()
