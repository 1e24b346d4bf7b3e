import pytest

from embedstack.errors import InputError
from embedstack.store.collection import Collection

ROWS = {
    "a": {"lang": "en", "year": 2019, "score": 0.5, "draft": True},
    "b": {"lang": "de", "year": 2021, "score": 1.5, "draft": False},
    "c": {"lang": "en", "year": "2022"},
    "d": {"year": 2023, "tags": None},
    "e": {},
}


@pytest.fixture
def col(tmp_path, counting_encoder):
    collection = Collection.create(tmp_path / "c", counting_encoder, indexes=())
    collection.add([f"text {i}" for i in ROWS], ids=list(ROWS), metadata=list(ROWS.values()))
    return collection


def ids(col, where):
    return {h.id for h in col.search("text", k=10, where=where)}


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"lang": "en"}, {"a", "c"}),
        ({"lang": "en", "year": 2019}, {"a"}),
        ({"draft": True}, {"a"}),
        ({"draft": False}, {"b"}),
        ({"lang": None}, {"d", "e"}),
        ({"tags": None}, {"a", "b", "c", "d", "e"}),
        ({"lang": {"$in": ["de", "fr"]}}, {"b"}),
        ({"lang": {"$in": []}}, set()),
        ({"lang": {"$nin": ["en"]}}, {"b", "d", "e"}),
        ({"lang": {"$nin": []}}, {"a", "b", "c", "d", "e"}),
        ({"lang": {"$in": [None, "de"]}}, {"b", "d", "e"}),  # null: missing or JSON null
        ({"lang": {"$in": [None]}}, {"d", "e"}),
        ({"lang": {"$nin": [None, "de"]}}, {"a", "c"}),
        ({"lang": {"$nin": [None]}}, {"a", "b", "c"}),
        ({"lang": {"$ne": "en"}}, {"b", "d", "e"}),
        ({"year": {"$gt": 2019}}, {"b", "d"}),  # "2022" is a string: not compared
        ({"year": {"$gte": 2019, "$lt": 2023}}, {"a", "b"}),
        ({"year": {"$lte": 2021}}, {"a", "b"}),
        ({"year": {"$gte": "2020"}}, {"c"}),
        ({"score": {"$gt": 1}}, {"b"}),
        ({"score": {"$lt": 1.0}}, {"a"}),
        ({"tags": {"$exists": True}}, {"d"}),  # present with a null value
        ({"lang": {"$exists": False}}, {"d", "e"}),
        ({"$or": [{"lang": "de"}, {"year": 2023}]}, {"b", "d"}),
        ({"$and": [{"lang": "en"}, {"$or": [{"draft": True}, {"year": "2022"}]}]}, {"a", "c"}),
        ({"lang": "en", "$or": [{"score": {"$exists": True}}, {"year": {"$gt": 2022}}]}, {"a"}),
    ],
)
def test_where_operators(col, where, expected):
    assert ids(col, where) == expected


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"year": {"$regex": "x"}}, "unknown filter operator '\\$regex'"),
        ({"$nor": [{"a": 1}]}, "unknown filter operator '\\$nor'.*\\$and, \\$or"),
        ({"$and": {"lang": "en"}}, "\\$and needs a non-empty list"),
        ({"$or": []}, "\\$or needs a non-empty list"),
        ({"$or": ["lang"]}, "each filter in \\$or must be a dict"),
        ({"$and": [{"$or": [{"year": {"$near": 1}}]}]}, "unknown filter operator '\\$near'"),
        ({"year": {"$near": 1}}, "\\$exists; combinators \\$and, \\$or"),
        ({"lang": {"$exists": "yes"}}, "\\$exists for 'lang' needs true or false"),
        ({"lang": {"$in": "en"}}, "\\$in for 'lang' needs a list"),
        ({"lang": ["en"]}, "must be a string, number, boolean or null"),
        ({"year": {"$gt": None}}, "needs a value"),
        ({"lang": {}}, "empty operator dict"),
        ({'we"ird': 1}, "bad filter field"),
    ],
)
def test_bad_filters_say_what_to_do(col, where, message):
    with pytest.raises(InputError, match=message):
        col.search("text", where=where)


def test_where_must_be_a_dict(col):
    with pytest.raises(InputError, match="where must be a dict"):
        col.search("text", where=[("lang", "en")])  # type: ignore[arg-type]


def test_cached_filter_results_follow_writes(col, tmp_path, counting_encoder):
    other = Collection.open(tmp_path / "c", counting_encoder)
    assert ids(col, {"lang": "fr"}) == set() and ids(other, {"lang": "fr"}) == set()
    col.upsert(["text e"], ids=["e"], metadata=[{"lang": "fr"}])  # metadata-only change
    assert ids(col, {"lang": "fr"}) == {"e"}
    assert ids(other, {"lang": "fr"}) == {"e"}  # another handle sees the commit too
    other.delete(["e"])
    assert ids(col, {"lang": "fr"}) == set()
