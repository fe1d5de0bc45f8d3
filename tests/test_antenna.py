"""The antenna generator (one colour ring a–b–c–d) and its channel: exactness and invertibility."""

import math

import numpy as np
import pytest

from mlintegrate.backends import AntennaChannel, MultiChannel
from mlintegrate.backends.bijections import build_bijection
from mlintegrate.backends.channels import antenna_channels
from mlintegrate.errors import ConfigError
from mlintegrate.phasespace import massless_volume, rambo_diet
from mlintegrate.phasespace.antenna import (
    RINGS,
    _energy_map,
    _energy_unmap,
    _log2_map,
    _log2_unmap,
    antenna_generate,
    antenna_inverse,
)

SQRT_S = 91.2
SCALE = 5e-4
E_MIN = 5.0
ROTATED = ((1, 2, 3, 0), (2, 0, 3, 1))
#: the flat orientation (as saved before it), the cut-aware one (p_T,min = 5 GeV), and that
#: with the emission's azimuth kept where both dipole partons pass the energy floor and close
#: pairs turned towards the beam (ee_4jet's channels)
MAPS = (
    {"pt_min": None},
    {"pt_min": 5.0},
    {"pt_min": 5.0, "energy_azimuth": True, "dr_min": 0.4},
)
MAP_IDS = ("flat", "banded", "banded+azimuth+dR")
#: the periodic columns of t: φ of the cut-aware orientation, its angle χ, the emission's φ
AZIMUTHS = [3, 4, 7]


def _interior(n: int, seed: int) -> np.ndarray:
    """t away from the faces; t0 ≤ 0.99 keeps s_abc/s above ~1e-7 (three collinear partons,
    far outside any cut, lose digits in the emission's transverse frame)."""
    t = np.random.default_rng(seed).uniform(1e-6, 1 - 1e-6, (n, 8))
    t[:, 0] *= 0.99
    return t


# ------------------------------------------------------------------------ one-dimensional maps
def test_one_dimensional_maps_invert_and_have_their_derivative():
    t = np.random.default_rng(0).uniform(1e-6, 1 - 1e-6, 50_000)
    h = 1e-7
    for a1 in (1.5e-3, 1e3):
        v, rest, jac = _energy_map(t, 0.11, a1)
        np.testing.assert_allclose(v + rest, 1.0, atol=1e-15)
        np.testing.assert_allclose(_energy_unmap(v, rest, 0.11, a1), t, atol=1e-12)
        keep = np.abs(t - 0.05) > 1e-5  # the flat piece below the cut joins at t = 0.05
        fd = (_energy_map(t + h, 0.11, a1)[0] - _energy_map(t - h, 0.11, a1)[0]) / (2 * h)
        np.testing.assert_allclose(fd[keep], jac[keep], rtol=1e-5)
        assert abs(np.mean(v < 0.11) - 0.05) < 0.005  # 5 % of t below the energy cut
    scale = np.full(t.size, 3e-3)
    x, rest, jac = _log2_map(t, np.ones_like(t), scale)
    np.testing.assert_allclose(_log2_unmap(x, rest, scale), t, atol=1e-12)
    fd = _log2_map(t + h, np.ones_like(t), scale)[0] - _log2_map(t - h, np.ones_like(t), scale)[0]
    np.testing.assert_allclose(fd / (2 * h), jac, rtol=1e-5)


# ------------------------------------------------------------------------------ the generator
@pytest.mark.parametrize("mapping", MAPS, ids=MAP_IDS)
@pytest.mark.parametrize("ring", RINGS + ROTATED)
def test_generator_conserves_momentum_and_keeps_partons_massless(ring, mapping):
    t = np.random.default_rng(1).random((20_000, 8))
    t[:8, :2] = [[1e-15, 0.5], [0.5, 1e-15], [1 - 1e-12, 0.3], [0.3, 1 - 1e-12]] * 2
    t[:8, 5:7] = [[1e-15, 0.5], [0.5, 1e-15], [1 - 1e-12, 0.3], [0.3, 1 - 1e-12]] * 2
    p, w = antenna_generate(t, SQRT_S, ring, SCALE, E_MIN, **mapping)
    np.testing.assert_allclose(p.sum(axis=1), [[SQRT_S, 0, 0, 0]] * len(t), atol=1e-11 * SQRT_S)
    off_shell = np.abs(p[..., 0] ** 2 - np.sum(p[..., 1:] ** 2, axis=-1)) / p[..., 0] ** 2
    assert np.median(off_shell) < 1e-14 and off_shell.max() < 1e-7  # diet's inverse takes 1e-7
    assert np.all(p[..., 0] > 0) and np.all(np.isfinite(w)) and np.all(w > 0)


@pytest.mark.parametrize("mapping", MAPS, ids=MAP_IDS)
@pytest.mark.parametrize("ring", RINGS[:2] + ROTATED[:1])
def test_generator_weight_averages_to_the_massless_volume(ring, mapping):
    # the orientation's factor (1/2)/g reaches 1/δ = 20 outside the band: more points
    t = np.random.default_rng(3).random((400_000 if mapping["pt_min"] is None else 1_000_000, 8))
    _, w = antenna_generate(t, SQRT_S, ring, SCALE, E_MIN, **mapping)
    volume = massless_volume(4, SQRT_S)
    err = w.std() / math.sqrt(w.size) / volume
    assert abs(w.mean() / volume - 1) < 5 * err and err < 0.01


@pytest.mark.parametrize("mapping", MAPS, ids=MAP_IDS)
@pytest.mark.parametrize("ring", RINGS + ROTATED)
def test_generator_inverse_recovers_t_and_the_weight(ring, mapping):
    t = _interior(5000, 4)
    p, w = antenna_generate(t, SQRT_S, ring, SCALE, E_MIN, **mapping)
    t2, w2 = antenna_inverse(p, SQRT_S, ring, SCALE, E_MIN, **mapping)
    dt = np.abs(t2 - t)
    dt[:, AZIMUTHS] = np.minimum(dt[:, AZIMUTHS], 1 - dt[:, AZIMUTHS])  # periodic
    assert dt.max() < 1e-9
    np.testing.assert_allclose(w2, w, rtol=1e-9)


@pytest.mark.parametrize("mapping", MAPS, ids=MAP_IDS)
def test_inverse_covers_all_of_phase_space(mapping):
    """Any massless 4-parton point (diet, uniform) has a t in [0,1]^8 that generates it back."""
    p, _ = rambo_diet(np.random.default_rng(5).random((20_000, 8)), 4, SQRT_S)
    for ring in RINGS:
        t, w = antenna_inverse(p, SQRT_S, ring, SCALE, E_MIN, **mapping)
        assert t.min() >= 0 and t.max() <= 1
        p2, w2 = antenna_generate(t, SQRT_S, ring, SCALE, E_MIN, **mapping)
        np.testing.assert_allclose(p2, p, atol=1e-8 * SQRT_S)
        np.testing.assert_allclose(w2, w, rtol=1e-9)


def test_energy_azimuth_spends_its_share_where_both_dipole_partons_pass():
    """Per point, the share m of emission azimuths with E_a, E_b ≥ e_min (a scan of the flat
    map over t7) predicts the pass rate of the energy-aware azimuth: 0.95 + 0.05 m where
    0 < m < 1, else m (flat law); the energies of c and d do not depend on it."""
    ring, n, k = (0, 1, 2, 3), 3000, 256
    t = np.random.default_rng(9).random((n, 8))

    def dipole_pass(tt: np.ndarray, **mapping) -> np.ndarray:
        p, _ = antenna_generate(tt, SQRT_S, ring, SCALE, E_MIN, **mapping)
        return np.all(p[:, [ring[0], ring[1]], 0] >= E_MIN, axis=1)

    scan = np.repeat(t, k, axis=0)
    scan[:, 7] = np.tile((np.arange(k) + 0.5) / k, n)
    m = dipole_pass(scan).reshape(n, k).mean(axis=1)
    expected = np.where((m > 0) & (m < 1), 0.95 + 0.05 * m, m)
    draws = dipole_pass(np.repeat(t, 20, axis=0), energy_azimuth=True).reshape(n, 20).mean(axis=1)
    err = np.sqrt(np.sum(expected * (1 - expected)) / 20) / n
    assert abs(draws.mean() - expected.mean()) < 5 * err + 2 / k  # + the scan's resolution
    assert expected.mean() > m.mean() + 0.05  # it does move points into the pass set


def test_generator_samples_the_ring_invariants_it_names():
    """The first emission variable is s_ab + s_bc over s_abc and the second splits it."""
    t = _interior(1000, 6)
    p, _ = antenna_generate(t, SQRT_S, (0, 1, 2, 3), SCALE, E_MIN)

    def s(i: int, j: int) -> np.ndarray:
        k = p[:, i] + p[:, j]
        return k[:, 0] ** 2 - np.sum(k[:, 1:] ** 2, axis=1)

    s_abc = s(0, 1) + s(0, 2) + s(1, 2)
    v_b = _energy_map(t[:, 5], 2 * E_MIN / SQRT_S, 1e3)[0]
    np.testing.assert_allclose((s(0, 1) + s(1, 2)) / s_abc, v_b, rtol=1e-7)
    v_d = _energy_map(t[:, 0], 2 * E_MIN / SQRT_S, 3 * SCALE)[0]
    np.testing.assert_allclose(2 * p[:, 3, 0] / SQRT_S, v_d, rtol=1e-12)  # E_d = v_d √s/2


def test_generator_refuses_bad_ring_scale_and_energy():
    t = np.full((1, 8), 0.5)
    with pytest.raises(ValueError, match="ring"):
        antenna_generate(t, SQRT_S, (0, 1, 1, 3), SCALE, E_MIN)
    with pytest.raises(ValueError, match="scale"):
        antenna_generate(t, SQRT_S, (0, 1, 2, 3), 0.0, E_MIN)
    with pytest.raises(ValueError, match="e_min"):
        antenna_generate(t, SQRT_S, (0, 1, 2, 3), SCALE, SQRT_S)


# ------------------------------------------------------------------------------ the channel
@pytest.mark.parametrize("mapping", MAPS, ids=MAP_IDS)
@pytest.mark.parametrize("k", [0, 5, 9])
def test_channel_round_trip_and_log_jacobian(k, mapping):
    T = antenna_channels(SQRT_S, SCALE, E_MIN, per_ring=4, **mapping)[k]
    y = _interior(500, 7)
    u, logj = T.forward(y)
    y2, logj_inv = T.inverse(u)
    dy = np.abs(y2 - y)
    dy[:, AZIMUTHS] = np.minimum(dy[:, AZIMUTHS], 1 - dy[:, AZIMUTHS])
    assert dy.max() < 1e-9
    np.testing.assert_allclose(logj + logj_inv, 0.0, atol=1e-8)
    # log|det ∂u/∂y| against central finite differences of the 8×8 Jacobian
    h = 1e-6
    for i in range(5):
        yy = np.clip(y[i], 1e-4, 1 - 1e-4)
        cols = []
        for j in range(8):
            e = np.zeros(8)
            e[j] = h
            cols.append((T.forward((yy + e)[None])[0] - T.forward((yy - e)[None])[0])[0] / (2 * h))
        fd = math.log(abs(np.linalg.det(np.stack(cols, axis=1))))
        assert abs(fd - T.forward(yy[None])[1][0]) < 1e-4


@pytest.mark.parametrize("mapping", MAPS, ids=MAP_IDS)
def test_channel_density_integrates_to_one_over_the_cube(mapping):
    """∫ q_k du = 1 for q_k(u) = exp(log|det ∂T⁻¹/∂u|), estimated with points drawn from
    ½ q_k + ½ uniform (forward images of uniform y, and uniform u): mean of q_k/(½ q_k + ½)."""
    T = AntennaChannel(SQRT_S, (0, 2, 1, 3), SCALE, E_MIN, **mapping)
    rng = np.random.default_rng(8)
    n = 100_000
    u = np.concatenate([T.forward(rng.random((n, 8)))[0], rng.random((n, 8))])
    q = np.exp(T.inverse(u)[1])
    ratio = q / (0.5 * q + 0.5)
    err = ratio.std() / math.sqrt(ratio.size)
    assert abs(ratio.mean() - 1) < 5 * err and err < 0.005


def test_channels_rebuild_from_their_spec_and_refuse_bad_input():
    for T in antenna_channels(SQRT_S, SCALE, E_MIN) + antenna_channels(
        SQRT_S, SCALE, E_MIN, pt_min=5.0, energy_azimuth=True, dr_min=0.4
    ):
        T2 = build_bijection(T.spec())
        assert isinstance(T2, AntennaChannel) and T2.config() == T.config()
    # saved before the energy-aware azimuth and the ΔR-aware orientation: no keys, old maps
    old_keys = set(antenna_channels(SQRT_S, SCALE, E_MIN)[0].config())
    assert not {"energy_azimuth", "dr_min"} & old_keys
    with pytest.raises(ConfigError, match="dr_min.*needs pt_min"):
        AntennaChannel(SQRT_S, (0, 1, 2, 3), SCALE, E_MIN, dr_min=0.4)
    with pytest.raises(ConfigError, match="dr_min"):
        AntennaChannel(SQRT_S, (0, 1, 2, 3), SCALE, E_MIN, pt_min=5.0, dr_min=-0.4)
    with pytest.raises(ConfigError, match="energy_azimuth"):
        AntennaChannel(SQRT_S, (0, 1, 2, 3), SCALE, E_MIN, energy_azimuth="yes")
    with pytest.raises(ConfigError, match="ring"):
        AntennaChannel(SQRT_S, (0, 1, 2), SCALE, E_MIN)
    with pytest.raises(ConfigError, match="e_min"):
        AntennaChannel(SQRT_S, (0, 1, 2, 3), SCALE, -1.0)
    with pytest.raises(ConfigError, match="per_ring"):
        antenna_channels(SQRT_S, SCALE, E_MIN, per_ring=3)


def test_multichannel_vegas_on_antenna_channels_is_unbiased(one_torch_thread):
    """A seeded pull test of multi-channel VEGAS over the antenna channels on ee_4jet."""
    import mlintegrate as mli

    f = mli.processes.get("ee_4jet")
    b = MultiChannel(f.dim, antenna_channels(f.sqrt_s, 25 * 0.16 / f.sqrt_s**2, 5.0), inner="vegas")
    integ = mli.Integrator(b, rng=2, progress=False)
    integ.train(f, calls=20_000)
    r = integ.integrate(f, calls=40_000)
    assert abs(r.mean - f.exact) < 4 * math.hypot(r.sdev, f.exact_error)
    assert r.sdev / r.mean < 0.02
