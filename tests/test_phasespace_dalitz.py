"""Three-body Dalitz map: conservation, bounds on the invariants, volume, isotropy."""

import math

import numpy as np
import pytest
from scipy import stats

from mlintegrate import phasespace as ps

SQRT_S = 91.2


def _invariants(p: np.ndarray) -> np.ndarray:
    """y_12, y_13, y_23 (n, 3) of massless momenta (n, 3, 4)."""
    pairs = [(0, 1), (0, 2), (1, 2)]
    return np.stack([2 * ps.dot(p[:, i], p[:, j]) / SQRT_S**2 for i, j in pairs], axis=1)


@pytest.mark.parametrize("y_min", [0.0, 0.01, 0.2])
def test_momenta_conserve_are_massless_and_respect_the_bound(y_min):
    u = np.random.default_rng(1).random((50_000, ps.DALITZ_DIM))
    u[:10, :2] = [
        [0, 0],
        [1, 1],
        [0, 1],
        [1, 0],
        [0.5, 1],
        [1, 0.5],
        [0, 0.5],
        [0.5, 0],
        *[[0.3, 0.7]] * 2,
    ]
    p, w = ps.three_body_dalitz(u, SQRT_S, y_min=y_min)
    np.testing.assert_allclose(p.sum(axis=1), [[SQRT_S, 0, 0, 0]] * len(u), atol=1e-12 * SQRT_S)
    np.testing.assert_allclose(ps.mass2(p.reshape(-1, 4)), 0.0, atol=1e-12 * SQRT_S**2)
    y = _invariants(p)
    assert y.min() >= y_min * (1 - 1e-12) and np.all(w >= 0)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("y_min", [0.0, 0.05])
def test_weight_integrates_to_the_volume_of_the_region(y_min):
    """∫ weight du = s (1 − 3y)² / (256 π³): exact by a midpoint rule (the weight is linear)."""
    u = np.full((64, ps.DALITZ_DIM), 0.5)
    u[:, 0] = (np.arange(64) + 0.5) / 64
    _, w = ps.three_body_dalitz(u, SQRT_S, y_min=y_min)
    volume = SQRT_S**2 * (1 - 3 * y_min) ** 2 / (256 * math.pi**3)
    assert w.mean() == pytest.approx(volume, rel=1e-13)
    assert ps.massless_volume(3, SQRT_S) == pytest.approx(SQRT_S**2 / (256 * math.pi**3))


def test_weighted_invariants_agree_with_rambo_diet():
    """The same measure as RAMBO on diet: weighted y_13 histograms in the region y_ij > 0.05."""
    gen = np.random.default_rng(2)
    p_d, w_d = ps.three_body_dalitz(gen.random((200_000, 5)), SQRT_S, y_min=0.05)
    p_r, w_r = ps.rambo_diet(gen.random((400_000, 5)), 3, SQRT_S)
    y_r = _invariants(p_r)
    keep = (y_r > 0.05).all(axis=1)
    w_r = np.where(keep, w_r, 0.0)
    assert w_d.mean() == pytest.approx(w_r.mean(), rel=0.01)  # the same region volume
    edges = np.linspace(0.05, 0.9, 18)
    h_d, _ = np.histogram(_invariants(p_d)[:, 1], edges, weights=w_d)
    h_r, _ = np.histogram(y_r[:, 1], edges, weights=w_r)
    np.testing.assert_allclose(h_d / h_d.sum(), h_r / h_r.sum(), atol=4e-3)


def test_orientation_is_isotropic():
    p, _ = ps.three_body_dalitz(np.random.default_rng(3).random((20_000, 5)), SQRT_S)
    for i in range(3):
        cos = p[:, i, 3] / p[:, i, 0]
        assert stats.kstest(cos, stats.uniform(-1.0, 2.0).cdf).pvalue > 1e-3


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"y_min": 0.34}, "y_min"), ({"sqrt_s": -1.0}, "sqrt_s")]
)
def test_bad_input_is_named(kwargs, match):
    args = {"sqrt_s": SQRT_S, "y_min": 0.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        ps.three_body_dalitz(np.full((2, 5), 0.5), **args)
