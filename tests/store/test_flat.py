import numpy as np
import pytest

from embedstack.similarity import Metric, scores
from embedstack.store.flat import FEW_ROWS, FlatVectors, block_scores, stacked_scores


@pytest.mark.parametrize("metric", list(Metric))
def test_block_scores_match_the_similarity_functions(metric):
    rng = np.random.default_rng(3)
    block = rng.standard_normal((300, 16)).astype(np.float32)  # past SMALL_BLOCK: einsum
    block[7] = 0.0  # zero rows score 0 under cosine, never NaN
    query = rng.standard_normal(16).astype(np.float32)
    expected = scores(query[None, :], block, metric)[0]
    np.testing.assert_allclose(block_scores(block, query, metric), expected, rtol=1e-5, atol=1e-5)
    few = block[:20]  # rescoring-sized blocks take a plain product
    np.testing.assert_allclose(
        block_scores(few, query, metric), expected[:20], rtol=1e-5, atol=1e-5
    )


def test_segments_score_and_take_across_files(tmp_path):
    rng = np.random.default_rng(4)
    flat = FlatVectors(tmp_path, 8)
    parts = [rng.standard_normal((n, 8)).astype(np.float32) for n in (3, 5, 2)]
    listing, start = [], 0
    for part in parts:
        path = flat.new_segment_path("w1")
        checksum = flat.write_segment(path, part)
        listing.append((path.name, start, len(part), checksum))
        start += len(part)
    flat.load(listing, "fix it")
    everything = np.concatenate(parts)
    assert flat.total == 10 and isinstance(flat.segments[0].array.base, np.memmap)
    query = rng.standard_normal(8).astype(np.float32)
    np.testing.assert_allclose(flat.scores(query, "dot"), everything @ query, rtol=1e-6)
    rows = np.array([1, 3, 4, 9])
    np.testing.assert_allclose(flat.scores(query, "dot", rows), everything[rows] @ query, rtol=1e-6)
    np.testing.assert_array_equal(flat.take(np.array([9, 0, 4])), everything[[9, 0, 4]])
    order = rng.permutation(10)
    np.testing.assert_array_equal(flat.take(order), everything[order])
    many = rng.integers(0, 10, FEW_ROWS * 3)  # past FEW_ROWS: one mask per segment
    np.testing.assert_array_equal(flat.take(many), everything[many])
    assert flat.take(np.zeros(0, np.int64)).shape == (0, 8)
    with pytest.raises(IndexError, match="beyond"):
        flat.take(np.array([2, 10]))


def test_take_from_a_single_segment(tmp_path):
    rng = np.random.default_rng(5)
    flat = FlatVectors(tmp_path, 4)
    vectors = rng.standard_normal((6, 4)).astype(np.float32)
    path = flat.new_segment_path("w1")
    flat.load([(path.name, 0, 6, flat.write_segment(path, vectors))], "fix it")
    rows = np.array([5, 0, 5, 2])
    taken = flat.take(rows)
    np.testing.assert_array_equal(taken, vectors[rows])
    taken[0] = 0.0  # a copy: the memory-mapped file stays untouched
    np.testing.assert_array_equal(flat.take(np.array([5])), vectors[[5]])
    with pytest.raises(IndexError, match="beyond"):
        flat.take(np.array([-1, 3]))


@pytest.mark.parametrize("metric", list(Metric))
def test_stacked_scores_equal_block_scores_per_query(metric):
    rng = np.random.default_rng(6)
    blocks = rng.standard_normal((5, 20, 16)).astype(np.float32)
    blocks[2, 3] = 0.0  # a zero row scores 0 under cosine, never NaN
    queries = rng.standard_normal((5, 16)).astype(np.float32)
    stacked = stacked_scores(blocks, queries, metric)
    assert stacked.shape == (5, 20)
    for block, query, row in zip(blocks, queries, stacked, strict=True):
        np.testing.assert_allclose(row, block_scores(block, query, metric), rtol=1e-6, atol=1e-6)
