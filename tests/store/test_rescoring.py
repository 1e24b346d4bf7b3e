"""A batch's float32 rescoring, done for all queries at once, ranks as `topk` does."""

import numpy as np

from embedstack.similarity import Metric, topk
from embedstack.store.flat import block_scores
from embedstack.store.vector_search import _rescored_together


def test_batched_rescoring_ranks_as_topk_per_query():
    rng = np.random.default_rng(7)
    queries = rng.standard_normal((4, 8)).astype(np.float32)
    blocks = rng.standard_normal((4, 12, 8)).astype(np.float32)
    blocks[1, 2] = blocks[1, 5] = 10 * queries[1]  # a tie at the top: earlier ranks first
    blocks[3, 0] = np.nan  # a NaN score ranks below every number
    candidates = [rng.permutation(1000)[:12] for _ in range(4)]
    together = _rescored_together(blocks, queries, candidates, 5, "dot")
    for block, query, cand, (rows, top) in zip(blocks, queries, candidates, together, strict=True):
        best, expected = topk(block_scores(block, query, Metric.DOT), 5)
        np.testing.assert_array_equal(rows, cand[best])
        np.testing.assert_array_equal(top, expected)
    assert together[1][0][:2].tolist() == [candidates[1][2], candidates[1][5]]
    assert candidates[3][0] not in together[3][0]
