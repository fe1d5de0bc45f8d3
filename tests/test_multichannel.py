"""Multi-channel proposals for ee_4jet: the pairing generator, its channels, MultiChannel.

The generic backend contract (shapes, normalisation, histogram, ask/tell, save/load, seeds) runs
over ``multichannel`` with generic channels in test_backend_contract.py; this file checks the
phase-space channels and what is particular to the multi-channel mixture.
"""

import math

import numpy as np
import pytest
from conftest import QUICK

import mlintegrate as mli
from mlintegrate.backends import AntennaChannel, MultiChannel, PairingChannel, Uniform, build
from mlintegrate.backends.bijections import build_bijection
from mlintegrate.backends.channels import pairing_channels
from mlintegrate.cli import main
from mlintegrate.errors import ConfigError
from mlintegrate.phasespace import massless_volume
from mlintegrate.phasespace.pairing import PAIRINGS, pairing_generate, pairing_inverse

SQRT_S = 91.2
SCALE = 5e-4


# ------------------------------------------------------------------------------ the generator
@pytest.mark.parametrize("angular", [None, 1e-2])
@pytest.mark.parametrize("pairing", PAIRINGS)
def test_generator_conserves_momentum_and_keeps_partons_massless(pairing, angular):
    t = np.random.default_rng(1).random((20_000, 8))
    t[:10, :2] = [[1e-15, 0.5], [0.5, 1e-15], [1 - 1e-12, 0.3]] * 3 + [[1.0, 1.0]]
    p, w = pairing_generate(t, SQRT_S, pairing, SCALE, angular)
    np.testing.assert_allclose(p.sum(axis=1), [[SQRT_S, 0, 0, 0]] * len(t), atol=1e-12 * SQRT_S)
    off_shell = np.abs(p[..., 0] ** 2 - np.sum(p[..., 1:] ** 2, axis=-1)) / p[..., 0] ** 2
    assert off_shell.max() < 1e-12
    assert np.all(np.isfinite(w)) and np.all(w > 0)


def test_generator_samples_the_pair_invariants_it_names():
    """s_ab of the generated momenta is the s the first column asked for: x = a((1+1/a)^t − 1)."""
    t = np.random.default_rng(2).random((1000, 8))
    p, _ = pairing_generate(t, SQRT_S, (0, 2, 1, 3), SCALE)
    k = p[:, 0] + p[:, 2]
    s02 = k[:, 0] ** 2 - np.sum(k[:, 1:] ** 2, axis=1)
    np.testing.assert_allclose(s02 / SQRT_S**2, SCALE * np.expm1(t[:, 0] * math.log1p(1 / SCALE)),
                               rtol=1e-8, atol=1e-12)  # fmt: skip


@pytest.mark.parametrize("angular", [None, 1e-2])
def test_generator_weight_averages_to_the_massless_volume(angular):
    t = np.random.default_rng(3).random((400_000, 8))
    _, w = pairing_generate(t, SQRT_S, PAIRINGS[1], SCALE, angular)
    volume = massless_volume(4, SQRT_S)
    assert abs(w.mean() / volume - 1) < 5 * w.std() / math.sqrt(w.size) / volume
    assert w.std() / math.sqrt(w.size) / volume < 0.01


@pytest.mark.parametrize("angular", [None, 1e-2])
@pytest.mark.parametrize("pairing", PAIRINGS)
def test_generator_inverse_recovers_t_and_the_weight(pairing, angular):
    t = np.random.default_rng(4).uniform(1e-6, 1 - 1e-6, (5000, 8))
    p, w = pairing_generate(t, SQRT_S, pairing, SCALE, angular)
    t2, w2 = pairing_inverse(p, SQRT_S, pairing, SCALE, angular)
    np.testing.assert_allclose(t2, t, atol=1e-10)
    np.testing.assert_allclose(w2, w, rtol=1e-9)


def test_generator_refuses_bad_pairing_and_scale():
    t = np.full((1, 8), 0.5)
    with pytest.raises(ValueError, match="pairing"):
        pairing_generate(t, SQRT_S, (0, 1, 1, 3), SCALE)
    with pytest.raises(ValueError, match="scale"):
        pairing_generate(t, SQRT_S, (0, 1, 2, 3), 0.0)


# ------------------------------------------------------------------------------ the channels
def _channel(k: int) -> PairingChannel:
    """Channels 0–2: flat decays; 3–8: decays about a partner (angular = 1e-2)."""
    flat, partner = pairing_channels(SQRT_S, SCALE), pairing_channels(SQRT_S, SCALE, 1e-2)
    return (flat + partner)[k]


@pytest.mark.parametrize("k", [0, 1, 2, 3, 6, 8])
def test_channel_round_trip_and_opposite_log_jacobians(k):
    T = _channel(k)
    y = np.random.default_rng(5).uniform(1e-6, 1 - 1e-6, (3000, 8))
    u, logj = T.forward(y)
    assert np.all((u >= 0) & (u <= 1))
    y2, logj_inv = T.inverse(u)
    np.testing.assert_allclose(y2, y, atol=1e-10)
    np.testing.assert_allclose(logj + logj_inv, 0.0, atol=1e-9)


@pytest.mark.parametrize("k", [0, 2, 4, 7])
def test_channel_log_jacobian_matches_finite_differences(k):
    """log|det ∂u/∂y| = log w_k − log V_4 against an 8×8 central-difference Jacobian."""
    T = _channel(k)
    y = np.random.default_rng(6).uniform(0.05, 0.95, (25, 8))
    h = 1e-6
    jac = np.empty((25, 8, 8))
    for j in range(8):
        step = np.zeros(8)
        step[j] = h
        jac[:, :, j] = (T.forward(y + step)[0] - T.forward(y - step)[0]) / (2 * h)
    sign, logdet = np.linalg.slogdet(jac)
    assert np.all(sign != 0)
    np.testing.assert_allclose(logdet, T.forward(y)[1], atol=1e-5)


def test_channel_density_integrates_to_one_and_matches_the_histogram():
    """q(u) of Uniform pushed through a channel: ∫ q du = 1 (uniform u), and the fraction of its
    samples in bins of two coordinates equals ∫_bin q du (χ² over the bins)."""
    T = _channel(5)
    proposal = mli.backends.Mapped(Uniform(8), T)
    rng = np.random.default_rng(7)
    u_flat = rng.random((200_000, 8))
    q_flat = proposal.density(u_flat)
    assert abs(q_flat.mean() - 1) < 5 * q_flat.std() / math.sqrt(q_flat.size)
    u, q = proposal.sample(200_000, rng)
    # q is recomputed through diet and the inverse generator: exact to rounding, which grows
    # like the pair's boost² at the extreme ends (q ~ 1e15, s_ab ~ 1e-10 s, far outside cuts)
    rel = np.abs(proposal.density(u) / q - 1)
    assert np.all(rel[q < 1e6] < 1e-8) and rel.max() < 1e-3
    bins = 6
    for col in (0, 3):  # a mass fraction of diet, and a decay cosine
        edges = np.linspace(0, 1, bins + 1)
        counts = np.histogram(u[:, col], edges)[0] / len(u)
        which = np.clip(np.searchsorted(edges, u_flat[:, col], side="right") - 1, 0, bins - 1)
        expect = np.array([q_flat[which == b].sum() for b in range(bins)]) / len(u_flat)
        err2 = np.array([np.sum(q_flat[which == b] ** 2) for b in range(bins)]) / len(u_flat) ** 2
        err2 = err2 - expect**2 / len(u_flat) + counts * (1 - counts) / len(u)
        chi2 = np.sum((counts - expect) ** 2 / err2)
        assert chi2 < 30, (col, counts, expect)


def test_channels_rebuild_from_their_spec():
    for T in pairing_channels(SQRT_S, SCALE) + pairing_channels(SQRT_S, SCALE, 1e-2):
        T2 = build_bijection(T.spec())
        assert isinstance(T2, PairingChannel) and T2.spec() == T.spec()
        y = np.random.default_rng(8).random((10, 8))
        np.testing.assert_array_equal(T2.forward(y)[0], T.forward(y)[0])


def test_ee_4jet_declares_its_channels_on_diet_only():
    f = mli.processes.get("ee_4jet")
    chans = f.channels()  # default: one antenna channel per colour ring and emitted parton
    assert all(isinstance(T, AntennaChannel) for T in chans) and len(chans) == 12
    assert {T.ring[1] for T in chans} == {0, 1, 2, 3} and chans[0].e_min == 5.0
    pairs = pairing_channels(SQRT_S, SCALE, angular=1e-2)  # the earlier default stays available
    assert {T.pairing[:2] for T in pairs} == {p[:2] for p in PAIRINGS} and len(pairs) == 6
    assert mli.processes.get("ee_4jet", phase_space="rambo").channels() == []


# ------------------------------------------------------------------------------ MultiChannel
def _trained_multichannel(inner: str = "flow", calls: int = 10_000, seed: int = 0):
    """ee_4jet's channels (two of them with flows, to keep the test fast: each channel covers
    all of phase space, so any subset is an unbiased proposal too)."""
    f = mli.processes.get("ee_4jet")
    settings = QUICK if inner == "flow" else {"ninc": 64}
    chans = f.channels()[1:3] if inner == "flow" else f.channels()
    backend = MultiChannel(f.dim, chans, inner=inner, **settings)
    integ = mli.Integrator(backend, rng=seed, progress=False)
    integ.train(f, calls=calls, batch_size=5000)
    return f, backend, integ


def test_multichannel_density_is_the_weighted_sum_of_its_channels(one_torch_thread):
    f, backend, _ = _trained_multichannel()
    alpha = backend.weights
    assert not np.allclose(alpha, 1 / len(alpha)), "the channel weights should have been learned"
    u, q = backend.sample(2000, 11)
    direct = np.zeros(len(u))
    for a_k, inner, T in zip(alpha, backend.inners, backend.channels, strict=True):
        y, logj_inv = T.inverse(u)
        direct += a_k * inner.density(y) * np.exp(logj_inv)
    # q from drawing u against the channels' inverses: the energy-aware azimuth's arcs come
    # from energies the inverse rebuilds, and where the emission barely moves them (k_⊥ ≪
    # e_min) their ends lose digits (1 point in 2000 differs by 5e-9)
    np.testing.assert_allclose(q, direct, rtol=1e-7)
    np.testing.assert_allclose(backend.density(u), direct, rtol=1e-9)


@pytest.mark.parametrize("inner", ["vegas", "flow"])
def test_multichannel_estimate_is_unbiased_over_seeds(inner, one_torch_thread):
    f = mli.processes.get("ee_4jet")
    for seed in range(2):
        _, _, integ = _trained_multichannel(inner, calls=10_000, seed=seed)
        r = integ.integrate(f, calls=20_000)
        pull = (r.mean - f.exact) / math.hypot(r.sdev, f.exact_error)
        assert abs(pull) < 4, (inner, seed, r.mean, r.sdev, f.exact)
        # two of the twelve channels at 10⁴ calls: heavy-tailed (flow, seeds 0–3: 2.1–5.3 %)
        assert r.sdev / f.exact < 0.08


def test_multichannel_save_load_round_trip(tmp_path, one_torch_thread):
    f, backend, integ = _trained_multichannel(calls=10_000)
    path = tmp_path / "mc.npz"
    integ.save(path)
    loaded = mli.Integrator.load(path)
    assert loaded.backend.spec() == backend.spec()
    np.testing.assert_array_equal(loaded.backend.weights, backend.weights)
    u, _ = backend.sample(500, 3)
    np.testing.assert_allclose(loaded.backend.density(u), backend.density(u), rtol=1e-12)
    rebuilt = build(backend.spec())
    assert isinstance(rebuilt, MultiChannel) and len(rebuilt.channels) == 2


@pytest.mark.parametrize("partition", ["proposal", "full"])
def test_each_channel_learns_its_share_of_the_integrand(partition):
    """partition="proposal": channel k is told f · α_k q_k/q (the shares add up to f);
    "full": every channel is told f. The mixture's q reaches every channel unchanged."""
    f = mli.processes.get("ee_4jet")
    backend = MultiChannel(f.dim, f.channels(), inner="vegas", partition=partition, ninc=16)
    alpha = np.arange(1.0, len(backend.channels) + 1.0)
    alpha /= alpha.sum()
    backend.proposal._set_weights(alpha)
    told = []
    for comp in backend.proposal.components:
        comp._adapt = lambda u, q, fk, told=told: told.append((q, fk))
    u, q = backend.sample(3000, 5)
    values = f(u)
    backend.adapt(u, q, values)
    for q_k, _ in told:
        np.testing.assert_array_equal(q_k, q)
    shares = np.array([fk for _, fk in told])
    if partition == "full":
        np.testing.assert_array_equal(shares, np.broadcast_to(values, shares.shape))
    else:
        np.testing.assert_allclose(shares.sum(axis=0), values, rtol=1e-12)
        dens = np.stack([c.density(u) for c in backend.proposal.components])
        expect = alpha[:, None] * dens / q * values
        np.testing.assert_allclose(shares, expect, rtol=1e-9)
    assert not np.allclose(backend.weights, alpha)  # a Kleiss–Pittau step was taken


def test_multichannel_without_channels_is_a_one_line_error(capsys):
    camel = mli.functions.get("camel", dim=2)
    with pytest.raises(ConfigError, match=r"needs channels.*'camel'.*MultiChannel\(dim, channels="):
        mli.backends.with_channels("multichannel", camel)
    with pytest.raises(ConfigError, match="needs channels="):
        mli.backends.get("multichannel", 2)
    assert mli.backends.with_channels("vegas", camel) == {}
    rc = main(["compare", "camel", "--dim", "2", "--backends", "multichannel", "--calls", "1000",
               "--train-calls", "1000", "--out", "unused-dir-never-made"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "\n" not in err and "declares none" in err and "multichannel" in err


def test_multichannel_refuses_a_channel_of_another_dimension():
    with pytest.raises(ConfigError, match="channel 0"):
        MultiChannel(3, pairing_channels(SQRT_S, SCALE))


@pytest.mark.slow
def test_multichannel_pulls_over_seeds_have_unit_variance(one_torch_thread):
    """12 seeds of multi-channel VEGAS at small budgets: mean pull ≈ 0, variance ≈ 1."""
    f = mli.processes.get("ee_4jet")
    pulls = []
    for seed in range(12):
        _, _, integ = _trained_multichannel("vegas", calls=20_000, seed=100 + seed)
        r = integ.integrate(f, calls=20_000)
        pulls.append((r.mean - f.exact) / math.hypot(r.sdev, f.exact_error))
    pulls = np.array(pulls)
    assert abs(pulls.mean()) < 3 / math.sqrt(len(pulls)) and 0.3 < pulls.var() < 2.5, pulls
