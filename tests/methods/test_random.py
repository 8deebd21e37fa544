import numpy as np

import bench


def test_random_is_seeded(bert):
    a = bench.explain("random", bert, "free cash prize", seed=1)
    b = bench.explain("random", bert, "free cash prize", seed=1)
    c = bench.explain("random", bert, "free cash prize", seed=2)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert not np.allclose(a.scores, c.scores)
    assert np.all((a.scores >= 0) & (a.scores < 1))
