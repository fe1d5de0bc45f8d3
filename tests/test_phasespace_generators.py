"""RAMBO and RAMBO on diet: conservation, mass shell, volumes, distributions, twins, inverse."""

from __future__ import annotations

import doctest
import importlib
import math

import numpy as np
import pytest
from scipy import integrate, stats

from mlintegrate import phasespace as ps
from mlintegrate.phasespace import decay, kinematics

SQRT_S = 500.0
NS = range(2, 9)
GENERATORS = {"rambo": (ps.rambo, ps.rambo_dim), "diet": (ps.rambo_diet, ps.diet_dim)}


def _u(seed: int, n_events: int, dim: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n_events, dim))


def _generate(name: str, n: int, n_events: int, seed: int, **kw: object):
    gen, dim = GENERATORS[name]
    return gen(_u(seed, n_events, dim(n)), n, SQRT_S, **kw)


def _masses(n: int) -> np.ndarray:
    """Unequal masses, one massless, summing to 60% of sqrt(s)."""
    m = np.linspace(0.0, 1.0, n) + 0.3
    m[0] = 0.0
    return 0.6 * SQRT_S * m / m.sum()


def _assert_physical(p: np.ndarray, masses: np.ndarray | None, tol: float = 1e-12) -> None:
    total = p.sum(axis=1)
    assert np.abs(total - [SQRT_S, 0.0, 0.0, 0.0]).max() <= tol * SQRT_S
    m2 = np.zeros(p.shape[1]) if masses is None else masses**2
    off_shell = np.abs(kinematics.mass2(p) - m2) / p[..., 0] ** 2
    assert off_shell.max() <= tol
    assert np.all(p[..., 0] > 0.0)


# --- conservation and mass shell -----------------------------------------------------------


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("n", NS)
def test_massless_conservation_and_on_shell(name: str, n: int) -> None:
    p, w = _generate(name, n, 20_000, seed=100 + n)
    assert p.shape == (20_000, n, 4) and w.shape == (20_000,)
    _assert_physical(p, None)


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("n", NS)
def test_massive_conservation_and_on_shell(name: str, n: int) -> None:
    m = _masses(n)
    p, w = _generate(name, n, 5_000, seed=200 + n, masses=m)
    _assert_physical(p, m)
    assert np.all(w > 0.0) and np.all(w < ps.massless_volume(n, SQRT_S))


# --- volumes --------------------------------------------------------------------------------


def test_massless_volume_formula() -> None:
    # V_2 = 1/(8 pi) and V_3 = s/(256 pi^3) in this convention
    assert math.isclose(ps.massless_volume(2, SQRT_S), 1.0 / (8.0 * math.pi), rel_tol=1e-15)
    assert math.isclose(
        ps.massless_volume(3, SQRT_S), SQRT_S**2 / (256 * math.pi**3), rel_tol=1e-14
    )


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("n", NS)
def test_massless_weight_is_volume(name: str, n: int) -> None:
    _, w = _generate(name, n, 1000, seed=n)
    vol = ps.massless_volume(n, SQRT_S)
    assert np.all(np.abs(w / vol - 1.0) <= 1e-12)


@pytest.mark.parametrize("name", GENERATORS)
def test_massive_two_body_weight_is_exact(name: str) -> None:
    m = np.array([91.1876, 125.1])
    _, w = _generate(name, 2, 1000, seed=3, masses=m)
    exact = decay.two_body_volume(SQRT_S**2, m[0], m[1])
    assert np.all(np.abs(w / exact - 1.0) <= 1e-12)


def _three_body_volume(sqrt_s: float, m: np.ndarray) -> float:
    """Phi_3 = int ds12/(2 pi) Phi_2(s; s12, m3^2) Phi_2(s12; m1^2, m2^2), by quadrature."""
    s = sqrt_s**2

    def integrand(s12: float) -> float:
        outer = decay.two_body_volume(s, math.sqrt(s12), m[2])
        inner = decay.two_body_volume(s12, m[0], m[1])
        return float(outer * inner) / (2.0 * math.pi)

    lo, hi = (m[0] + m[1]) ** 2, (sqrt_s - m[2]) ** 2
    value, err = integrate.quad(integrand, lo, hi, epsabs=0.0, epsrel=1e-12, limit=200)
    assert err < 1e-10 * value
    return value


@pytest.mark.parametrize("name", GENERATORS)
def test_massive_three_body_volume(name: str) -> None:
    m = np.array([10.0, 80.4, 173.0])
    exact = _three_body_volume(SQRT_S, m)
    _, w = _generate(name, 3, 200_000, seed=11, masses=m)
    mean, err = w.mean(), w.std(ddof=1) / math.sqrt(w.size)
    assert err < 2e-3 * exact  # the estimate is precise enough to mean something
    assert abs(mean - exact) < 5.0 * err


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("n", [3, 5])
def test_mean_sij_is_s_over_pairs(name: str, n: int) -> None:
    """Massless: sum_{i<j} s_ij = s, and all pairs are equivalent, so <s_12> = s / C(n, 2)."""
    p, _ = _generate(name, n, 100_000, seed=40 + n)
    s12 = kinematics.sij(p, 0, 1)
    mean, err = s12.mean(), s12.std(ddof=1) / math.sqrt(s12.size)
    assert abs(mean - SQRT_S**2 / math.comb(n, 2)) < 5.0 * err
    total = kinematics.pair_invariants(p)[:, np.triu_indices(n, 1)[0], np.triu_indices(n, 1)[1]]
    assert np.allclose(total.sum(axis=1), SQRT_S**2, rtol=1e-12)


# --- distributions ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 4])
def test_rambo_and_diet_same_distributions(n: int) -> None:
    p_r, _ = _generate("rambo", n, 20_000, seed=1000 + n)
    p_d, _ = _generate("diet", n, 20_000, seed=2000 + n)
    observables = {
        "s12": lambda p: kinematics.sij(p, 0, 1),
        "s13": lambda p: kinematics.sij(p, 0, 2),
        "E1": lambda p: p[:, 0, 0],
        "cos1": lambda p: kinematics.cos_theta(p[:, 0]),
        "E_last": lambda p: p[:, -1, 0],
    }
    for name, obs in observables.items():
        pvalue = stats.ks_2samp(obs(p_r), obs(p_d)).pvalue
        assert pvalue > 1e-3, (name, pvalue)


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("n", [3, 4, 6])
def test_energy_and_angle_match_analytic(name: str, n: int) -> None:
    """x = 2 E_i / sqrt(s) has density ~ x (1-x)^(n-3), i.e. Beta(2, n-2); cos(theta) is flat."""
    p, _ = _generate(name, n, 20_000, seed=3000 + n)
    for i in (0, n - 1):
        x = 2.0 * p[:, i, 0] / SQRT_S
        assert stats.kstest(x, stats.beta(2, n - 2).cdf).pvalue > 1e-3
        cos = kinematics.cos_theta(p[:, i])
        assert stats.kstest(cos, stats.uniform(-1.0, 2.0).cdf).pvalue > 1e-3


# --- numba vs numpy ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("massive_", [False, True])
def test_numba_and_numpy_twins_agree(name: str, n: int, massive_: bool) -> None:
    kw = {"masses": _masses(n)} if massive_ else {}
    p1, w1 = _generate(name, n, 2000, seed=n, kernel="numba", **kw)
    p2, w2 = _generate(name, n, 2000, seed=n, kernel="numpy", **kw)
    assert np.abs(p1 - p2).max() <= 1e-13 * SQRT_S
    assert np.abs(w1 / w2 - 1.0).max() <= 1e-13


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_inverse_and_reshuffle_twins_agree(n: int) -> None:
    m = _masses(n)
    p, _ = ps.rambo_diet(_u(n, 2000, ps.diet_dim(n)), n, SQRT_S, masses=m)
    u1, w1 = ps.rambo_diet_inverse(p, SQRT_S, masses=m, kernel="numba")
    u2, w2 = ps.rambo_diet_inverse(p, SQRT_S, masses=m, kernel="numpy")
    assert np.abs(u1 - u2).max() <= 1e-13
    assert np.abs(w1 / w2 - 1.0).max() <= 1e-13
    k1, f1 = ps.unreshuffle_masses(p, SQRT_S, kernel="numba")
    k2, f2 = ps.unreshuffle_masses(p, SQRT_S, kernel="numpy")
    assert np.abs(k1 - k2).max() <= 1e-13 * SQRT_S and np.abs(f1 / f2 - 1.0).max() <= 1e-13


# --- RAMBO on diet is a bijection -------------------------------------------------------------


@pytest.mark.parametrize("n", NS)
def test_diet_inverse_recovers_u(n: int) -> None:
    u = _u(500 + n, 5000, ps.diet_dim(n))
    p, w = ps.rambo_diet(u, n, SQRT_S)
    u_back, w_back = ps.rambo_diet_inverse(p, SQRT_S)
    assert np.abs(u_back - u).max() <= 1e-11
    assert np.array_equal(w, w_back)


@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_diet_reaches_rambo_points(n: int) -> None:
    """Every phase-space point (here: RAMBO's) is the image of some u: p -> u -> p."""
    p, _ = _generate("rambo", n, 5000, seed=600 + n)
    u, _ = ps.rambo_diet_inverse(p, SQRT_S)
    assert u.min() >= 0.0 and u.max() <= 1.0
    p_back, _ = ps.rambo_diet(u, n, SQRT_S)
    assert np.abs(p_back - p).max() <= 1e-10 * SQRT_S


@pytest.mark.parametrize("n", [2, 3, 6])
def test_diet_inverse_massive(n: int) -> None:
    m = _masses(n)
    u = _u(700 + n, 3000, ps.diet_dim(n))
    p, w = ps.rambo_diet(u, n, SQRT_S, masses=m)
    u_back, w_back = ps.rambo_diet_inverse(p, SQRT_S, masses=m)
    assert np.abs(u_back - u).max() <= 1e-10
    assert np.abs(w_back / w - 1.0).max() <= 1e-12


def test_diet_boundary_u_stays_finite() -> None:
    n = 5
    u = np.array([[0.0] * ps.diet_dim(n), [1.0] * ps.diet_dim(n), [0.5] * ps.diet_dim(n)])
    p, w = ps.rambo_diet(u, n, SQRT_S)
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(w))
    assert np.abs(p.sum(axis=1) - [SQRT_S, 0, 0, 0]).max() <= 1e-12 * SQRT_S


def test_rambo_zero_energy_u_stays_finite() -> None:
    """u_3 u_4 = 0 would give an infinite energy q^0 = -ln(u_3 u_4); it is clipped."""
    u = _u(5, 100, 12)
    u[:, 2] = 0.0
    u[:50, 7] = 0.0
    p, _ = ps.rambo(u, 3, SQRT_S)
    assert np.all(np.isfinite(p))
    assert np.abs(p.sum(axis=1) - [SQRT_S, 0, 0, 0]).max() <= 1e-12 * SQRT_S


# --- reshuffling ------------------------------------------------------------------------------


def test_reshuffle_inverse_round_trip() -> None:
    n = 4
    m = _masses(n)
    p0, _ = _generate("rambo", n, 2000, seed=9)
    k, f = ps.reshuffle_masses(p0, m, SQRT_S)
    p_back, f_back = ps.unreshuffle_masses(k, SQRT_S)
    assert np.abs(p_back - p0).max() <= 1e-12 * SQRT_S
    assert np.abs(f_back / f - 1.0).max() <= 1e-12


def test_reshuffle_zero_masses_is_identity() -> None:
    p0, _ = _generate("diet", 3, 10, seed=1)
    k, f = ps.reshuffle_masses(p0, [0.0, 0.0, 0.0], SQRT_S)
    assert np.array_equal(k, p0) and np.array_equal(f, np.ones(10))


# --- errors -----------------------------------------------------------------------------------


def test_errors_name_the_problem() -> None:
    u = _u(0, 10, 8)
    with pytest.raises(ValueError, match=r"u has shape \(10, 8\); expected \(n_events, 12\)"):
        ps.rambo(u, 3, SQRT_S)
    bad = u.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"u\[3, 2\] = nan is outside \[0, 1\]"):
        ps.rambo_diet(bad, 4, SQRT_S)
    with pytest.raises(ValueError, match="kernel='cuda'"):
        ps.rambo_diet(u, 4, SQRT_S, kernel="cuda")
    with pytest.raises(ValueError, match="not kinematically allowed"):
        ps.rambo_diet(u, 4, SQRT_S, masses=[200.0, 200.0, 100.0, 1.0])
    with pytest.raises(ValueError, match="masses has shape"):
        ps.rambo_diet(u, 4, SQRT_S, masses=[1.0, 2.0])
    with pytest.raises(ValueError, match="n_particles=1"):
        ps.rambo_diet(u, 1, SQRT_S)
    with pytest.raises(ValueError, match="sqrt_s=-1.0"):
        ps.rambo_diet(u, 4, -1.0)
    p, _ = ps.rambo_diet(u, 4, SQRT_S)
    with pytest.raises(ValueError, match="does not sum to"):
        ps.rambo_diet_inverse(p, 2 * SQRT_S)
    with pytest.raises(ValueError, match="off shell"):
        ps.rambo_diet_inverse(ps.reshuffle_masses(p, 10.0, SQRT_S)[0], SQRT_S)


def test_doctests() -> None:
    # the modules rambo/diet are shadowed by the functions of the same name in the package
    names = ("", ".rambo", ".diet", ".massive", ".decay", ".kinematics")
    for name in names:
        module = importlib.import_module("mlintegrate.phasespace" + name)
        result = doctest.testmod(module, raise_on_error=False)
        assert result.failed == 0, module.__name__


@pytest.mark.slow
@pytest.mark.parametrize("name", GENERATORS)
def test_massive_volume_pulls_over_many_seeds(name: str) -> None:
    """The error estimate is right: pulls of the massive 3-body volume have mean 0, variance 1."""
    m = np.array([5.0, 120.0, 150.0])
    exact = _three_body_volume(SQRT_S, m)
    pulls = []
    for seed in range(300):
        _, w = _generate(name, 3, 5_000, seed=10_000 + seed, masses=m)
        pulls.append((w.mean() - exact) / (w.std(ddof=1) / math.sqrt(w.size)))
    pulls = np.array(pulls)
    assert abs(pulls.mean()) < 4.0 / math.sqrt(pulls.size)
    assert 0.75 < pulls.var(ddof=1) < 1.3
