"""The cut-aware orientation: its cos θ law, and the rotation it builds and inverts."""

import itertools

import numpy as np
import pytest
from conftest import draw_arc_law_checked

from mlintegrate.phasespace import rambo_diet
from mlintegrate.phasespace.kinematics import delta_r, pt
from mlintegrate.phasespace.orientation import (
    _DR_SLACK,
    SHARE_OUTSIDE,
    _band,
    _close_pair,
    _xi_law,
    cos_cdf,
    cos_density,
    cos_quantile,
    orient,
    orientation_of,
)

PT_MIN = 5.0
DR_MIN = 0.4


def test_cos_law_inverts_integrates_to_one_and_is_the_cdf_derivative():
    rng = np.random.default_rng(0)
    n = 20_000
    energy = rng.uniform(1.0, 45.0, n)  # below and above p_T,min
    t = rng.uniform(1e-9, 1 - 1e-9, n)
    c = cos_quantile(t, energy, PT_MIN)
    np.testing.assert_allclose(cos_cdf(c, energy, PT_MIN), t, atol=1e-12)
    h = 1e-7
    fd = (cos_cdf(c + h, energy, PT_MIN) - cos_cdf(c - h, energy, PT_MIN)) / (2 * h)
    band = np.sqrt(np.clip(1 - (PT_MIN / energy) ** 2, 0, 1))
    keep = (np.abs(np.abs(c) - band) > 1e-5) & (np.abs(c) < 1 - 1e-6)  # away from the kinks
    np.testing.assert_allclose(fd[keep], cos_density(c, energy, PT_MIN)[keep], rtol=1e-6)
    grid = np.linspace(-1, 1, 200_001)
    for e in (3.0, 5.5, 20.0, 45.0):
        g = cos_density(grid, np.full_like(grid, e), PT_MIN)
        assert abs(np.trapezoid(g, grid) - 1) < 1e-4
    # at E ≤ p_T,min the law is flat; above it the band |c| < c_b holds 1 − δ + δ c_b
    np.testing.assert_allclose(cos_density(grid[::1000], np.full(201, 4.0), PT_MIN), 0.5)
    inside = np.abs(c) < band
    hard = energy > PT_MIN
    expected = np.mean(1 - SHARE_OUTSIDE + SHARE_OUTSIDE * band[hard])
    assert abs(inside[hard].mean() - expected) < 0.01


def test_xi_law_inverts_integrates_to_one_and_is_the_cdf_derivative():
    """The law of ξ, the azimuth of the second-softest parton about the softest one's lab
    direction: (1 − δ) uniform on the arcs where its p_T passes, δ uniform on the circle."""
    rng = np.random.default_rng(3)
    n = 20_000
    alpha, c = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    energy2 = rng.uniform(1.0, 45.0, n)
    law = _xi_law(alpha, c, energy2, PT_MIN)
    xi = draw_arc_law_checked(law, rng)
    kinks = law.xs[:, 1:5]
    # where the arcs exist, ξ inside them gives |cos θ₂| = |αc − √((1−α²)(1−c²)) cos ξ| < c_b
    cos2 = alpha * c - np.sqrt((1 - alpha**2) * (1 - c**2)) * np.cos(xi)
    inside = ((xi > kinks[:, 0]) & (xi < kinks[:, 1])) | ((xi > kinks[:, 2]) & (xi < kinks[:, 3]))
    assert np.all(np.abs(cos2[inside]) <= _band(energy2[inside], PT_MIN) + 1e-12)
    banded = (law[3] > 0) & (law[3] < np.pi)
    assert inside[banded].mean() > 1 - SHARE_OUTSIDE - 0.01


def _rotation(p_body: np.ndarray, p_lab: np.ndarray) -> np.ndarray:
    """R (n, 3, 3) with p_lab = R p_body, by least squares over the momenta of each event."""
    return np.stack(
        [
            np.linalg.lstsq(b[:, 1:], a[:, 1:], rcond=None)[0].T
            for a, b in zip(p_lab, p_body, strict=True)
        ]
    )


@pytest.mark.parametrize("dr_min", [None, DR_MIN])
def test_orient_is_a_rotation_that_its_inverse_recovers(dr_min):
    rng = np.random.default_rng(1)
    p_body, _ = rambo_diet(rng.random((2000, 8)), 4, 91.2)
    t = rng.uniform(1e-6, 1 - 1e-6, (2000, 3))
    p_lab, factor = orient(p_body, t, PT_MIN, dr_min)
    np.testing.assert_allclose(p_lab[..., 0], p_body[..., 0])
    rot = _rotation(p_body, p_lab)
    np.testing.assert_allclose(
        np.einsum("nji,njk->nik", rot, rot), np.broadcast_to(np.eye(3), rot.shape), atol=1e-10
    )  # noqa: E501
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-10)
    t2, factor2 = orientation_of(p_lab, PT_MIN, dr_min)
    dt = np.abs(t2 - t)
    dt[:, 1:] = np.minimum(dt[:, 1:], 1 - dt[:, 1:])  # φ and χ are periodic
    assert dt.max() < 1e-8
    np.testing.assert_allclose(factor2, factor, rtol=1e-9)


def test_softest_parton_passes_the_pt_cut_as_the_law_says():
    rng = np.random.default_rng(2)
    p_body, _ = rambo_diet(rng.random((50_000, 8)), 4, 91.2)
    p_lab, _ = orient(p_body, rng.random((50_000, 3)), PT_MIN)
    soft = np.argmin(p_lab[..., 0], axis=1)
    rows = np.arange(len(soft))
    energy, pt_soft = p_lab[rows, soft, 0], pt(p_lab[rows, soft])
    hard = energy > PT_MIN
    band = np.sqrt(1 - (PT_MIN / energy[hard]) ** 2)
    expected = np.mean(1 - SHARE_OUTSIDE + SHARE_OUTSIDE * band)
    assert abs(np.mean(pt_soft[hard] > PT_MIN) - expected) < 0.01
    flat, _ = orient(p_body, rng.random((50_000, 3)), 1e-3)  # no band: a flat orientation
    assert np.mean(pt(flat[rows, soft])[hard] > PT_MIN) < expected - 0.1
    # the second-softest parton passes more often than after turning each event about the
    # softest one's direction by a flat angle (the same law for the softest)
    second = np.argsort(p_lab[..., 0], axis=1)[:, 1]
    both = hard & (p_lab[rows, second, 0] > PT_MIN) & (pt_soft > PT_MIN)
    axis = p_lab[rows, soft, 1:] / p_lab[rows, soft, 0][:, None]
    angle = rng.uniform(0, 2 * np.pi, len(rows))[:, None]
    v = p_lab[rows, second, 1:]
    turned = (
        v * np.cos(angle)
        + np.cross(axis, v) * np.sin(angle)
        + axis * np.sum(axis * v, axis=1)[:, None] * (1 - np.cos(angle))
    )
    banded_rate = np.mean(pt(p_lab[rows, second])[both] > PT_MIN)
    flat_rate = np.mean(np.hypot(turned[:, 0], turned[:, 1])[both] > PT_MIN)
    assert banded_rate > flat_rate + 0.03 and banded_rate > 0.9


def _close_pair_band(p: np.ndarray) -> tuple:
    """The closest pair (i, j) (n,) each of events p (n, 4, 4), its opening angle α, the
    energy of its softer parton and the widened band √(1 − (α/(0.9 ΔR_min))²) < |cos θ| <
    cos(θ_b − α) of the module docstring, written out independently of the code."""
    (i, j), angle, _ = _close_pair(p)
    rows = np.arange(len(p))
    softer = np.minimum(p[rows, i, 0], p[rows, j, 0])
    lo = np.sqrt(np.clip(1 - (angle / (_DR_SLACK * DR_MIN)) ** 2, 0, 1))
    hi = np.cos(np.maximum(np.arcsin(np.clip(PT_MIN / softer, 0, 1)) - angle, 0))
    return i, j, angle, softer, lo, hi


def _pair_abs_cos(p: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """|cos θ| of the summed momentum of partons i and j (n,) each of events p (n, 4, 4)."""
    rows = np.arange(len(p))
    pair = p[rows, i, 1:] + p[rows, j, 1:]
    return np.abs(pair[:, 2]) / np.linalg.norm(pair, axis=1)


def test_close_pairs_turn_towards_the_beam_where_delta_r_passes():
    """With ``dr_min``, an event whose closest pair (opening angle α) is closer than ΔR_min has
    that pair's direction drawn (1 − δ) in √(1 − (α/(0.9 ΔR_min))²) < |cos θ| < cos(θ_b − α),
    towards the beam where ΔR ≈ α/sin θ passes, where that band is narrower than the softest
    parton's; the factor still averages to 1 over t (the orientation is a normalised density)."""
    rng = np.random.default_rng(4)
    n = 200_000
    p_body, _ = rambo_diet(rng.random((n, 8)), 4, 91.2)
    i, j, angle, _, lo, hi = _close_pair_band(p_body)
    rows = np.arange(n)
    # the pair's band is used where it is narrower than the softest parton's |c| < c_b
    softest_band = _band(p_body[..., 0].min(axis=1), PT_MIN)
    close = (angle < DR_MIN) & (hi - lo < softest_band) & (lo < hi - 0.05)
    assert 0.02 < close.mean() < 0.3
    t = rng.random((n, 3))
    rates = {}
    for dr_min in (None, DR_MIN):
        p_lab, factor = orient(p_body, t, PT_MIN, dr_min)
        assert abs(factor.mean() - 1) < 5 * factor.std() / np.sqrt(n)
        c = _pair_abs_cos(p_lab, i, j)
        rates[dr_min] = (c > lo) & (c < hi), delta_r(p_lab[rows, i], p_lab[rows, j]) > DR_MIN
    inside, passed = rates[DR_MIN]
    expected = 1 - SHARE_OUTSIDE + SHARE_OUTSIDE * (hi - lo)
    assert abs(inside[close].mean() - expected[close].mean()) < 0.01
    assert rates[None][0][close].mean() < expected[close].mean() - 0.3
    assert passed[close].mean() > rates[None][1][close].mean() + 0.25


def test_the_widened_close_pair_band_holds_the_close_pairs_that_pass_the_cuts():
    """Why the band is widened (``_DR_SLACK`` and α on the upper edge): a point that passes the
    cuts outside the band carries 1/δ. Of ee_4jet's passing events (flat 4-parton phase space)
    whose closest pair is closer than ΔR_min, the unwidened band √(1 − (α/ΔR_min)²) <
    |cos θ| < c_b(softer) misses many, the widened one (almost) none."""
    rng = np.random.default_rng(6)
    n = 400_000
    p, _ = rambo_diet(rng.random((n, 8)), 4, 91.2)
    passed = np.all(pt(p) > PT_MIN, axis=1)
    for a, b in itertools.combinations(range(4), 2):
        passed &= delta_r(p[:, a], p[:, b]) > DR_MIN
    i, j, angle, softer, lo, hi = _close_pair_band(p)
    close = passed & (angle < DR_MIN)
    assert close.sum() > 2000
    c = _pair_abs_cos(p, i, j)
    narrow = (c > np.sqrt(np.clip(1 - (angle / DR_MIN) ** 2, 0, 1))) & (c < _band(softer, PT_MIN))
    wide = (c > lo) & (c < hi)
    assert 1 - narrow[close].mean() > 0.05
    assert 1 - wide[close].mean() < 0.002
