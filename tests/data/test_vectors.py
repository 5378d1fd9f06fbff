import numpy as np

from infoclust.data.vectors import standardised


def test_standardised_centres_and_scales_each_dimension_and_leaves_a_constant_one_at_zero():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(5, 3, 200), rng.uniform(0, 255, 200), np.full(200, 7.0)])
    z = standardised(x)
    assert z.dtype == np.float32 and z.shape == x.shape
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z[:, :2].std(0), 1, atol=1e-5)
    assert np.all(z[:, 2] == 0)
