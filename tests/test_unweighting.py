"""Hit-or-miss unweighting: unbiased, seeded, overweights carried."""

import numpy as np
import pytest

from mlintegrate import metrics
from mlintegrate.unweighting import unweight


def test_unweighting_is_unbiased_and_keeps_the_expected_number():
    w = np.random.default_rng(1).exponential(1.0, 200_000)
    w_max = metrics.reduced_max_weight(w, 1e-2)
    ev = unweight(w, w_max, rng=5)
    expected = metrics.expected_unweighted_events(w, w_max)
    assert abs(ev.indices.size - expected) < 5 * np.sqrt(expected)
    # σ from the events alone agrees with ⟨w⟩ within its binomial error
    sigma_err = w_max * np.sqrt(expected) / w.size
    assert abs(ev.cross_section - w.mean()) < 5 * sigma_err
    assert ev.n_overweight == np.count_nonzero(w > w_max)
    over = np.abs(ev.weights) > 1
    np.testing.assert_allclose(ev.weights[over], w[ev.indices[over]] / w_max)


def test_signed_weights_keep_their_sign():
    w = np.array([-3.0, 2.0, -0.5, 0.0])
    ev = unweight(w, 1.0, rng=0)
    assert set(ev.indices.tolist()) >= {0, 1}
    assert 3 not in ev.indices
    np.testing.assert_allclose(ev.weights[:2], [-3.0, 2.0])


def test_same_seed_same_events():
    w = np.random.default_rng(2).random(1000)
    a, b = unweight(w, 1.0, rng=7), unweight(w, 1.0, rng=7)
    np.testing.assert_array_equal(a.indices, b.indices)


@pytest.mark.parametrize("w_max", [0.0, -1.0, np.nan, np.inf])
def test_bad_wmax(w_max):
    with pytest.raises(ValueError, match="w_max"):
        unweight(np.ones(3), w_max)
