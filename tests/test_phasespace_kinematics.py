"""Kinematics helpers: boosts, invariants, observables; the mass-fraction solver of the diet map."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlintegrate import phasespace as ps
from mlintegrate.phasespace import _massfrac, kinematics


def _timelike(n: int, seed: int, mass: float = 10.0, spread: float = 30.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p3 = rng.normal(size=(n, 3)) * spread
    m = mass * (0.1 + rng.random(n))
    return np.column_stack([np.sqrt(m**2 + (p3**2).sum(axis=1)), p3])


def test_boost_to_rest_frame_gives_mass_at_rest() -> None:
    p = _timelike(10_000, seed=1)
    rest = ps.boost_to_rest(p, p)
    m = np.sqrt(ps.mass2(p))
    assert np.allclose(rest[:, 0], m, rtol=1e-12, atol=0)
    assert np.abs(rest[:, 1:]).max() <= 1e-12 * p[:, 0].max()


def test_boost_round_trip_is_identity() -> None:
    frame = _timelike(10_000, seed=2)
    q = _timelike(10_000, seed=3, mass=1.0, spread=5.0)
    back = ps.boost_from_rest(ps.boost_to_rest(q, frame), frame)
    scale = np.maximum(q[:, :1], frame[:, :1])
    assert np.abs(back - q).max(axis=1).max() <= 1e-12 * scale.max()
    assert np.all(np.abs(back - q) <= 1e-12 * scale)
    # invariants are preserved, and (M, 0, 0, 0) goes to the frame momentum itself
    assert np.allclose(ps.mass2(ps.boost_to_rest(q, frame)), ps.mass2(q), rtol=1e-9)
    m = np.sqrt(ps.mass2(frame))
    at_rest = np.column_stack([m, np.zeros((m.size, 3))])
    assert np.allclose(ps.boost_from_rest(at_rest, frame), frame, rtol=1e-12)


def test_boost_broadcasts_over_particles_and_rejects_spacelike_frame() -> None:
    p, _ = ps.rambo_diet(np.random.default_rng(4).random((50, ps.diet_dim(4))), 4, 100.0)
    frame = np.array([120.0, 10.0, -20.0, 30.0])
    lab = ps.boost_from_rest(p, frame)
    assert np.allclose(lab.sum(axis=1), frame * 100.0 / math.sqrt(ps.mass2(frame)), rtol=1e-12)
    with pytest.raises(ValueError, match="time-like"):
        ps.boost_to_rest(p, [1.0, 0.0, 0.0, 2.0])


def test_invariants() -> None:
    p, _ = ps.rambo_diet(np.random.default_rng(5).random((100, ps.diet_dim(3))), 3, 50.0)
    s12 = ps.sij(p, 0, 1)
    # for three massless particles, s_12 = (P - p_3)^2 = s - 2 sqrt(s) E_3
    assert np.allclose(s12, 50.0**2 - 2 * 50.0 * p[:, 2, 0], rtol=1e-10)
    pairs = ps.pair_invariants(p)
    assert np.allclose(pairs[:, 0, 1], s12) and np.allclose(pairs[:, 1, 0], s12)
    assert np.allclose(np.diagonal(pairs, axis1=1, axis2=2), 0.0, atol=1e-9)
    assert np.isclose(ps.kallen(100.0, 1.0, 4.0), 100.0**2 + 1 + 16 - 2 * 100 - 2 * 400 - 2 * 4)
    assert ps.mass([5.0, 0.0, 0.0, 3.0]) == 4.0
    assert ps.mass([3.0, 0.0, 0.0, 5.0]) == -4.0  # space-like: negative


def test_collider_observables() -> None:
    p = np.array([[5.0, 3.0, 4.0, 0.0], [math.cosh(1.5), 1.0, 0.0, math.sinh(1.5)]])
    assert np.allclose(ps.pt(p), [5.0, 1.0])
    assert np.allclose(ps.phi(p), [math.atan2(4.0, 3.0), 0.0])
    assert np.allclose(ps.pseudorapidity(p), [0.0, 1.5])  # massless: eta == y
    assert np.allclose(ps.rapidity(p), [0.0, 1.5])
    assert np.allclose(ps.cos_theta(p), [0.0, math.tanh(1.5)])
    a = np.array([1.0, 1.0, 0.0, 0.0])
    b = np.array([1.0, -1.0, -1e-9, 0.0])  # phi = -pi + 1e-9: wraps to 1e-9 from pi
    assert math.isclose(float(ps.delta_r(a, b)), math.pi - 1e-9, rel_tol=1e-12)
    c = np.array([math.cosh(2.0), 0.0, 1.0, math.sinh(2.0)])
    d = np.array([math.cosh(0.5), 0.0, 1.0, math.sinh(0.5)])
    assert math.isclose(float(ps.delta_r(c, d)), 1.5, rel_tol=1e-12)
    beam = np.array([2.0, 0.0, 0.0, 2.0])
    assert ps.pseudorapidity(beam) == math.inf and ps.rapidity(beam) == math.inf


def test_cos_sin_2pi_polynomial_matches_libm() -> None:
    """The numba (cos, sin)(2 pi u) uses a sine polynomial; within 1 ulp of the libm twin."""
    u = np.concatenate([np.random.default_rng(9).random(20_000), np.linspace(0.0, 1.0, 801)])
    cos, sin = np.array([kinematics.cos_sin_2pi_scalar(v) for v in u]).T
    cos_ref, sin_ref = kinematics.cos_sin_2pi_numpy(u)
    eps = np.finfo(float).eps
    assert np.abs(cos - cos_ref).max() <= eps and np.abs(sin - sin_ref).max() <= eps
    assert np.abs(cos - np.cos(2.0 * np.pi * u)).max() <= 4 * eps
    assert np.abs(sin - np.sin(2.0 * np.pi * u)).max() <= 4 * eps


# --- mass-fraction equation of RAMBO on diet ------------------------------------------------


def _u_grid() -> np.ndarray:
    rng = np.random.default_rng(6)
    return np.unique(
        np.concatenate(
            [
                rng.random(20_000),
                np.logspace(-300, -1, 600),
                1.0 - np.logspace(-16, -1, 300),
                [0.0, 5e-324, 1e-300, 0.5, 1.0 - 2**-53, 1.0],
            ]
        )
    )


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 8, 12, 20, 30])
def test_mass_fraction_solver_accuracy(k: int) -> None:
    u = _u_grid()
    x = _massfrac.solve_numpy(u, k)
    assert np.all((x >= 0.0) & (x <= 1.0))
    eps = np.finfo(float).eps
    # monotone (order preserving) up to the conditioning of x(u): near u -> 1 the double u
    # itself only fixes x to ~eps / F'(x) (F is flat at x = 1)
    fprime = k * (k + 1) * x ** (k - 1) * (1.0 - x)
    slack = np.where(fprime > 0.0, 8.0 * eps / np.maximum(fprime, 1e-300), 1.0)
    assert np.all(np.diff(x) >= -slack[:-1])
    assert np.all(np.diff(x[u < 0.999]) >= 0.0)
    uc = np.maximum(u, _massfrac.U_MIN)
    residual = np.abs(_massfrac.cdf_numpy(x, k) - uc)
    assert np.all(residual <= 4 * (k + 1) * eps * uc + 2 * eps)
    out = np.empty_like(u)
    _massfrac.solve_block(u, k, out, np.empty((2, u.size)))
    assert np.abs(out - x).max() <= 4 * eps
