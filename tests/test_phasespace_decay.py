"""Two-body decays and the Breit-Wigner mapping."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mlintegrate import phasespace as ps

MZ, GZ = 91.1876, 2.4952


def _parents(n_events: int, seed: int, mass: float) -> np.ndarray:
    """Parents of the given mass with random momenta up to 3 * mass (boosts up to gamma ~ 3)."""
    rng = np.random.default_rng(seed)
    p3 = rng.normal(size=(n_events, 3)) * mass
    e = np.sqrt(mass**2 + (p3**2).sum(axis=1))
    return np.column_stack([e, p3])


@pytest.mark.parametrize("kernel", ["numba", "numpy"])
@pytest.mark.parametrize(("m1", "m2"), [(0.0, 0.0), (80.4, 4.7), (0.105, 0.0), (60.0, 60.0)])
def test_daughters_on_shell_and_conserve(kernel: str, m1: float, m2: float) -> None:
    mass = 173.0 if m1 + m2 < 173.0 else 200.0
    parent = _parents(20_000, seed=1, mass=mass)
    u = np.random.default_rng(2).random((20_000, 2))
    p, w = ps.two_body_decay(u, parent, m1, m2, kernel=kernel)
    assert p.shape == (20_000, 2, 4)
    assert np.abs(p.sum(axis=1) - parent).max() <= 1e-12 * parent[:, 0].max()
    for i, m in enumerate((m1, m2)):
        off = np.abs(ps.mass2(p[:, i]) - m * m) / p[:, i, 0] ** 2
        assert off.max() <= 1e-12
    exact = ps.two_body_volume(mass**2, m1, m2)
    assert np.abs(w / exact - 1.0).max() <= 1e-12


def test_decay_isotropic_in_rest_frame() -> None:
    parent = _parents(20_000, seed=3, mass=125.1)
    u = np.random.default_rng(4).random((20_000, 2))
    p, _ = ps.two_body_decay(u, parent, 4.18, 4.18)
    rest = ps.boost_to_rest(p[:, 0], parent)
    cos = ps.cos_theta(rest)
    phi = ps.phi(rest)
    assert stats.kstest(cos, stats.uniform(-1.0, 2.0).cdf).pvalue > 1e-3
    assert stats.kstest(phi, stats.uniform(-math.pi, 2 * math.pi).cdf).pvalue > 1e-3
    # the map is cos(theta) = 2 u_0 - 1, phi = 2 pi u_1 exactly, up to rounding
    assert np.abs(cos - (2 * u[:, 0] - 1)).max() < 1e-12
    # rest-frame momentum has the two-body magnitude
    pstar = math.sqrt(ps.kallen(125.1**2, 4.18**2, 4.18**2)) / (2 * 125.1)
    assert np.allclose(np.linalg.norm(rest[:, 1:], axis=1), pstar, rtol=1e-11)


def test_decay_twins_agree_and_broadcast() -> None:
    u = np.random.default_rng(5).random((1000, 2))
    parent = _parents(1000, seed=6, mass=91.1876)
    m1 = np.full(1000, 0.000511)
    a = ps.two_body_decay(u, parent, m1, 0.000511, kernel="numba")
    b = ps.two_body_decay(u, parent, m1, 0.000511, kernel="numpy")
    assert np.abs(a[0] - b[0]).max() <= 1e-13 * parent[:, 0].max()
    assert np.abs(a[1] / b[1] - 1.0).max() <= 1e-13
    single, _ = ps.two_body_decay(u[:3], [100.0, 0.0, 0.0, 0.0], 0.0, 0.0)
    assert np.allclose(single[:, :, 0], 50.0, rtol=1e-15)


def test_decay_below_threshold_and_errors() -> None:
    u = np.full((2, 2), 0.3)
    p, w = ps.two_body_decay(u, [[10.0, 0, 0, 0], [30.0, 0, 0, 0]], 10.0, 10.0)
    assert w[0] == 0.0 and w[1] > 0.0 and np.all(np.isfinite(p))
    with pytest.raises(ValueError, match="not time-like"):
        ps.two_body_decay(u, [[10.0, 0, 0, 10.0], [30.0, 0, 0, 0]], 1.0, 1.0)
    with pytest.raises(ValueError, match="parent has shape"):
        ps.two_body_decay(u, np.ones((3, 4)), 1.0, 1.0)
    with pytest.raises(ValueError, match="m1 must be finite"):
        ps.two_body_decay(u, [30.0, 0, 0, 0], -1.0, 1.0)


# --- Breit-Wigner -----------------------------------------------------------------------------


def test_breit_wigner_jacobian_times_density_is_exact_integral() -> None:
    s_min, s_max = 60.0**2, 120.0**2
    u = np.random.default_rng(7).random(100_000)
    s, jac = ps.breit_wigner(u, MZ, GZ, s_min, s_max)
    assert s.min() >= s_min and s.max() <= s_max
    exact = (math.atan((s_max - MZ**2) / (MZ * GZ)) - math.atan((s_min - MZ**2) / (MZ * GZ))) / (
        MZ * GZ
    )
    values = jac * ps.breit_wigner_density(s, MZ, GZ)
    assert abs(values.mean() / exact - 1.0) < 1e-12
    assert values.std() < 1e-12 * exact  # the propagator is sampled exactly


def test_breit_wigner_jacobian_integrates_other_functions() -> None:
    """E[f(s) ds/du] = int f ds for f = 1 and f = s (pull tests, 5 sigma)."""
    s_min, s_max = 70.0**2, 110.0**2
    u = np.random.default_rng(8).random(400_000)
    s, jac = ps.breit_wigner(u, MZ, GZ, s_min, s_max)
    for f, exact in ((jac, s_max - s_min), (jac * s, 0.5 * (s_max**2 - s_min**2))):
        mean, err = f.mean(), f.std(ddof=1) / math.sqrt(f.size)
        assert err < 0.005 * exact
        assert abs(mean - exact) < 5.0 * err


def test_breit_wigner_distribution_and_inverse() -> None:
    s_min, s_max = 80.0**2, 100.0**2
    u = np.random.default_rng(9).random(20_000)
    s, jac = ps.breit_wigner(u, MZ, GZ, s_min, s_max)
    # s follows the normalised Breit-Wigner: its CDF maps s back to uniform
    y = np.arctan((np.array([s_min, s_max]) - MZ**2) / (MZ * GZ))

    def cdf(x: np.ndarray) -> np.ndarray:
        return (np.arctan((x - MZ**2) / (MZ * GZ)) - y[0]) / (y[1] - y[0])

    assert stats.kstest(s, cdf).pvalue > 1e-3
    u_back, jac_back = ps.breit_wigner_inverse(s, MZ, GZ, s_min, s_max)
    assert np.abs(u_back - u).max() < 1e-12
    assert np.allclose(jac_back, jac, rtol=1e-12)
    with pytest.raises(ValueError, match="width=0.0"):
        ps.breit_wigner(u, MZ, 0.0, s_min, s_max)
    with pytest.raises(ValueError, match="s_min < s_max"):
        ps.breit_wigner(u, MZ, GZ, s_max, s_min)
