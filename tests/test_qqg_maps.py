"""The ee_qqg maps: exact bijections, the physics they encode, and the ``phase_space`` option."""

import math

import numpy as np
import pytest

import mlintegrate as mli
from mlintegrate import phasespace as ps
from mlintegrate.backends.chain import Chain
from mlintegrate.errors import ConfigError
from mlintegrate.processes import ee
from mlintegrate.processes.qqg_dalitz import DalitzInversionMap
from mlintegrate.processes.qqg_maps import QQG_PHASE_SPACES, qqg_bijection
from mlintegrate.processes.qqg_orientation import BeamDirectionMap, PrincipalAxisMap, event_shape

Y_CUT = 0.01
MAPS = [
    DalitzInversionMap(Y_CUT),
    DalitzInversionMap(0.2),
    PrincipalAxisMap(Y_CUT),
    PrincipalAxisMap(Y_CUT, polar="major"),
    BeamDirectionMap(Y_CUT),
    qqg_bijection("exact", Y_CUT),
]
IDS = ["dalitz-0.01", "dalitz-0.2", "axis", "axis-major", "beam", "exact-chain"]


def _interior(n: int, seed: int) -> np.ndarray:
    """Points away from the cube's faces (angles wrap there, Jacobians blow up at u₀ → 1)."""
    return 0.02 + 0.96 * np.random.default_rng(seed).random((n, 5))


@pytest.mark.parametrize("bijection", MAPS, ids=IDS)
def test_round_trip_both_ways(bijection):
    y = _interior(2_000, 1)
    u, logj = bijection.forward(y)
    assert np.all((u >= 0) & (u <= 1))
    y2, logj_inv = bijection.inverse(u)
    np.testing.assert_allclose(y2, y, atol=1e-10)
    np.testing.assert_allclose(logj + logj_inv, 0.0, atol=1e-9)
    u2, _ = bijection.forward(y2)
    np.testing.assert_allclose(u2, u, atol=1e-10)


@pytest.mark.parametrize("bijection", MAPS, ids=IDS)
def test_log_det_matches_finite_differences(bijection):
    """log|det ∂u/∂y| against a central-difference Jacobian (5 × 5) at interior points; points
    whose image sits near an angle's wrap or the principal axis's branch line are skipped."""
    y = _interior(60, 2)
    u, logj = bijection.forward(y)
    h = 1e-6
    jac = np.empty((len(y), 5, 5))
    for i in range(5):
        step = np.zeros(5)
        step[i] = h
        jac[:, :, i] = (bijection.forward(y + step)[0] - bijection.forward(y - step)[0]) / (2 * h)
    smooth = np.all(np.abs(jac) < 1e4, axis=(1, 2)) & np.all((u > 1e-3) & (u < 1 - 1e-3), axis=1)
    assert smooth.sum() >= 40
    sign, fd = np.linalg.slogdet(jac[smooth])
    assert np.all(sign != 0)
    np.testing.assert_allclose(fd, logj[smooth], atol=1e-5)


@pytest.mark.parametrize("bijection", MAPS, ids=IDS)
def test_density_integrates_to_one(bijection):
    """q(u) = |det ∂T⁻¹/∂u| is a normalised density: its mean over uniform u is 1 (pull test
    with a bound on the error); and E_q[1/q] = 1 for points drawn through the map."""
    u = np.random.default_rng(3).random((100_000, 5))
    q = np.exp(bijection.inverse(u)[1])
    err = q.std() / math.sqrt(len(q))
    assert abs(q.mean() - 1) <= 5 * err + 1e-12 and err < 0.03
    y = np.random.default_rng(4).random((100_000, 5))
    inv_q = np.exp(bijection.forward(y)[1])
    err = inv_q.std() / math.sqrt(len(y))
    assert abs(inv_q.mean() - 1) <= 5 * err + 1e-12 and err < 0.02


def test_dalitz_normalisation_is_the_x1_x2_integral_of_the_reference():
    """Z = ∫ g over the cut region (closed form with a dilogarithm) equals the quadrature
    inside :func:`qqg_reference`: σ = σ₀ (α_s/2π) C_F Z."""
    for y_cut in (0.01, 0.1):
        z = DalitzInversionMap(y_cut).norm
        sigma0 = ee.N_C * (11 / 9) * ee.sigma_mumu(91.2)
        expected = ee.qqg_reference(y_cut=y_cut) / (sigma0 * 0.118 / (2 * math.pi) * ee.C_F)
        assert z == pytest.approx(expected, rel=1e-12)


def test_dalitz_inversion_samples_the_averaged_matrix_element():
    """Binned (y₁₃, y₂₃) of mapped uniform points against the integral of g over each bin."""
    T = DalitzInversionMap(Y_CUT)
    a, b = T.sample_invariants(np.random.default_rng(5).random((200_000, 2)))
    assert a.min() >= Y_CUT and b.min() >= Y_CUT and (a + b).max() <= 1 - Y_CUT
    edges = np.array([Y_CUT, 0.02, 0.05, 0.2, 0.5, 1 - 2 * Y_CUT])
    counts, _, _ = np.histogram2d(a, b, [edges, edges])
    grid = np.linspace(0, 1, 401)[:-1] + 1 / 800  # midpoints, per bin
    for i in range(len(edges) - 1):
        for j in range(len(edges) - 1):
            aa = edges[i] + (edges[i + 1] - edges[i]) * grid[:, None]
            bb = edges[j] + (edges[j + 1] - edges[j]) * grid[None, :]
            inside = aa + bb <= 1 - Y_CUT
            g = np.where(inside, np.exp(T.log_density(aa, bb)), 0.0)
            p = g.mean() * (edges[i + 1] - edges[i]) * (edges[j + 1] - edges[j])
            n = len(a) * p
            assert abs(counts[i, j] - n) < 5 * math.sqrt(n) + 0.01 * n + 2, (i, j)


def test_event_shape_is_the_eigen_decomposition_of_the_quark_momentum_tensor():
    u = np.random.default_rng(6).random((500, 5))
    u[:, 2:] = 0.0  # no rotation: the Dalitz body frame (k₁ along z, k₂ in the xz plane)
    p, _ = ps.three_body_dalitz(u, 91.2, y_min=Y_CUT)
    k = p[:, :2, 1:]
    tensor = np.einsum("nki,nkj->nij", k, k)
    lam, vec = np.linalg.eigh(tensor)
    psi, r = event_shape(u, Y_CUT)
    np.testing.assert_allclose(r, lam[:, 2] / lam.sum(axis=1), rtol=1e-10)
    major = np.column_stack([np.sin(psi), np.zeros_like(psi), np.cos(psi)])
    np.testing.assert_allclose(np.abs(np.sum(major * vec[:, :, 2], axis=1)), 1.0, atol=1e-9)


def test_beam_density_follows_from_the_matrix_element():
    """|M|² y₁₃ y₂₃ / (x₁² + x₂²) ∝ h = (3/4)(1 + r (n̂·â)² + (1 − r)(n̂·b̂)²) with the beam n̂ = ẑ
    and â, b̂ the principal axes found by numpy's eigh from the momenta: the derivation of (c)."""
    process = ee.ee_qqg(phase_space="dalitz")
    u = np.random.default_rng(7).random((2_000, 5))
    p, _ = process.momenta(u)
    k = p[:, 2:4, 1:]
    lam, vec = np.linalg.eigh(np.einsum("nki,nkj->nij", k, k))
    r = lam[:, 2] / lam.sum(axis=1)
    n_a, n_b = vec[:, 2, 2], vec[:, 2, 1]  # z components of the major and minor axes
    h = 0.75 * (1 + r * n_a**2 + (1 - r) * n_b**2)
    s = process.sqrt_s**2
    x1, x2 = 2 * p[:, 2, 0] / process.sqrt_s, 2 * p[:, 3, 0] / process.sqrt_s
    shape = (x1**2 + x2**2) / ((1 - x1) * (1 - x2))
    ratio = process.matrix_element(p) * s / (shape * h)
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-10)
    e2, gs2 = 4 * math.pi * ee.ALPHA, 4 * math.pi * 0.118
    assert ratio[0] == pytest.approx(2 * ee.N_C * ee.C_F * (11 / 9) * e2**2 * gs2 * 4 / 3)


@pytest.mark.parametrize("phase_space", ["dalitz+axis", "dalitz+major"])
def test_orientation_left_to_learn_is_the_stated_beam_density(phase_space):
    """On (a) + (b) the integrand is σ · h(β', γ'; r) exactly, with h as the frame's docstring
    says: the normal frame's shape term vanishes at r = 1/2, the major frame's does not."""
    process = ee.ee_qqg(phase_space=phase_space)
    v = np.random.default_rng(12).random((5_000, 5))
    u = qqg_bijection(phase_space, Y_CUT).parts[0].forward(v)[0]  # (a): Dalitz coordinates
    _, r = event_shape(u, Y_CUT)
    c, gamma = 2 * v[:, 3] - 1, 2 * math.pi * v[:, 4]
    s2 = 1 - c * c
    if phase_space == "dalitz+axis":
        h = 0.75 * (1 + s2 / 2 + (r - 0.5) * s2 * np.cos(2 * gamma))
    else:
        h = 0.75 * (1 + r * c * c + (1 - r) * s2 * np.cos(gamma) ** 2)
    np.testing.assert_allclose(process(v), process.exact * h, rtol=1e-10)


def test_exact_map_makes_the_integrand_constant_and_equal_to_sigma():
    process = ee.ee_qqg()  # auto = exact
    f = process(np.random.default_rng(8).random((50_000, 5)))
    assert f.std() / f.mean() < 1e-12
    assert f.mean() == pytest.approx(process.exact, rel=1e-12)
    p, _ = process.momenta(np.random.default_rng(9).random((2_000, 5)))
    np.testing.assert_allclose(p[:, 2:].sum(axis=1), p[:, :2].sum(axis=1), atol=1e-10)
    np.testing.assert_allclose(ps.mass2(p[:, 2:].reshape(-1, 4)), 0.0, atol=1e-9)
    assert process.passes_cuts(p).all()


def _integrate(process, backend, train, calls, seed):
    integ = mli.Integrator(mli.backends.get(backend, dim=process.dim), rng=seed, progress=False)
    if train:
        integ.train(process, calls=train)
    return integ.integrate(process, calls=calls)


@pytest.mark.parametrize(
    ("phase_space", "backend", "train", "bound"),
    [
        ("auto", "uniform", 0, 1e-12),
        ("auto", "vegas", 20_000, 1e-3),
        ("dalitz+axis", "uniform", 0, 3e-3),
        ("dalitz+axis", "vegas", 20_000, 3e-3),
        ("dalitz+me", "uniform", 0, 3e-3),
    ],
)
def test_estimates_are_unbiased_with_a_bounded_error(phase_space, backend, train, bound):
    """|I − σ| < 5 δI (+ 1e-12 σ: the reference's quadrature and rounding, which a zero-variance
    estimate resolves) and δI/σ below ``bound`` at 40k evaluation calls."""
    process = ee.ee_qqg(phase_space=phase_space)
    r = _integrate(process, backend, train, 40_000, seed=11)
    assert abs(r.mean - process.exact) < 5 * r.sdev + 1e-12 * process.exact
    assert r.sdev / process.exact < bound


def test_phase_space_option_is_validated_in_one_line():
    with pytest.raises(ConfigError, match="phase_space='flat'") as info:
        ee.ee_qqg(phase_space="flat")
    message = str(info.value)
    assert "\n" not in message and all(repr(name) in message for name in QQG_PHASE_SPACES)
    for name in QQG_PHASE_SPACES:
        assert ee.ee_qqg(phase_space=name).dim in (5, 12)
    assert mli.processes.get("ee_mumu", phase_space="auto").dim == 2  # other processes: diet
    with pytest.raises(ConfigError, match="phase_space='flat'.*'auto'"):
        mli.processes.Process(
            lambda p: np.ones(len(p)), (0.0, 0.0), (0.0, 0.0), 10.0, phase_space="flat"
        )


def test_chain_refuses_mixed_dimensions():
    with pytest.raises(ConfigError, match="dimension"):
        Chain(DalitzInversionMap(Y_CUT), mli.backends.bijections.LogMap(dim=2))


def test_the_chain_is_also_a_proposal_on_the_dalitz_process():
    """The same maps as a backend, Mapped(Uniform, chain), on phase_space="dalitz": exact q
    (sample and density agree) and constant weights f/q = σ."""
    from mlintegrate.backends.mapped import Mapped

    backend = Mapped(mli.backends.Uniform(5), qqg_bijection("exact", Y_CUT))
    process = ee.ee_qqg(phase_space="dalitz")
    u, q = backend.sample(5_000, rng=13)
    np.testing.assert_allclose(backend.density(u), q, rtol=1e-9)
    w = process(u) / q
    np.testing.assert_allclose(w, process.exact, rtol=1e-10)
