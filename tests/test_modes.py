"""Mode discovery (mlintegrate.backends.modes) and the truncated-normal channels (cubenormal).

The generic contract (exact density, normalisation, histogram, ask/tell = train, save/load)
runs over "flow-modes" in test_backend_contract.py; this file checks what is particular to it:
that the search finds the peaks, that the channels are the densities they claim (against
scipy.stats.truncnorm), unbiased estimates with zero regions, resuming mid-search, bad input.
"""

import math

import numpy as np
import pytest
from conftest import QUICK
from scipy import stats

import mlintegrate as mli
from mlintegrate.backends import Flow, FlowConfig, Uniform
from mlintegrate.backends.cubenormal import TruncatedNormal, log_pdf, sample
from mlintegrate.backends.modes import ModeConfig, ModeSearch, ModeSeeded
from mlintegrate.errors import ConfigError, MLIntegrateError


def _search(f, dim, n, batches=5, seed=3):
    search = ModeSearch(dim, ModeConfig(search_batches=batches))
    gen = np.random.default_rng(seed)
    while not search.done:
        u, _ = search.sample(n, gen)
        search.tell(u, f(u), gen)
    return search.modes()


# ------------------------------------------------------------------------------ the search
@pytest.mark.parametrize("dim", [8, 16])
def test_search_finds_both_camel_peaks_with_their_widths_and_masses(dim):
    f = mli.functions.get("camel", dim=dim)
    x, s, log_mass = _search(f, dim, n=1000)  # 5000 calls; uniform points never hit a peak
    assert x.shape == (2, dim)
    centres = sorted(float(c.mean()) for c in x)
    np.testing.assert_allclose(centres, [1 / 3, 2 / 3], atol=1e-3)
    assert np.max(np.abs(np.sort(x, axis=0) - np.sort(x, axis=0).mean(axis=1)[:, None])) < 5e-3
    np.testing.assert_allclose(s, 0.1, rtol=0.02)  # log f is exactly quadratic near a peak
    np.testing.assert_allclose(log_mass, math.log(0.5), atol=0.05)  # each peak holds 1/2


def test_search_starts_in_zero_regions_do_not_break_it():
    """camel(d=4) cut to u₀ < 0.45: most of the cube is f = 0, the 2/3 peak is nearly all cut."""
    camel = mli.functions.get("camel", dim=4)

    def f(u):
        return np.where(u[:, 0] < 0.45, camel(u), 0.0)

    x, _, log_mass = _search(f, 4, n=400)
    assert abs(float(x[0].mean()) - 1 / 3) < 0.01  # the heaviest mode is the uncut peak
    assert np.all(x[:, 0] < 0.45)  # no channel sits where f = 0
    assert log_mass[0] > math.log(0.4)


def test_search_of_an_integrand_that_is_zero_everywhere_leaves_no_modes():
    x, s, log_mass = _search(lambda u: np.zeros(u.shape[0]), 3, n=200)
    assert x.shape == (0, 3) and s.shape == (0, 3) and log_mass.shape == (0,)


# ------------------------------------------------------------------------------ densities
def test_truncated_normal_density_and_sampling_match_scipy():
    mu, s = np.array([0.05, 0.5, 0.97]), np.array([0.2, 0.1, 0.01])
    comp = TruncatedNormal(3, mu, s)
    u, q = comp.sample(20_000, rng=1)
    ref = [stats.truncnorm(-m / w, (1 - m) / w, loc=m, scale=w) for m, w in zip(mu, s, strict=True)]
    expected = np.prod([r.pdf(u[:, i]) for i, r in enumerate(ref)], axis=0)
    np.testing.assert_allclose(q, expected, rtol=1e-10)
    np.testing.assert_allclose(comp.density(u), q, rtol=1e-13)
    for i, r in enumerate(ref):  # the points follow that density, coordinate by coordinate
        assert stats.kstest(u[:, i], r.cdf).pvalue > 1e-3


def test_log_pdf_of_many_components_equals_one_by_one():
    gen = np.random.default_rng(2)
    mu, s = gen.random((5, 4)), 0.02 + 0.3 * gen.random((5, 4))
    u = gen.random((300, 4))
    together = log_pdf(u, mu, s)
    for k in range(5):
        np.testing.assert_allclose(together[:, k], log_pdf(u, mu[k : k + 1], s[k : k + 1])[:, 0])
    assert np.all(sample(gen.random((300, 4)), mu[0], s[0]) >= 0)


def _seeded(dim=2, calls=12_000, batch=2_000, seed=0):
    """ModeSeeded over a uniform base, adapted on camel (4 search batches, then the mixture)."""
    b = ModeSeeded([Uniform(dim)], [1.0], ModeConfig(search_batches=4, offspring=40))
    integ = mli.Integrator(b, rng=seed, progress=False)
    integ.train(mli.functions.get("camel", dim=dim), calls=calls, batch_size=batch)
    return b


@pytest.mark.parametrize("phase", ["search", "mixture"])
def test_seeded_density_is_exact_and_integrates_to_one(phase):
    b = _seeded(calls=4_000 if phase == "search" else 12_000)
    assert (b.mixture is None) == (phase == "search")
    u, q = b.sample(20_000, rng=4)
    np.testing.assert_allclose(b.density(u), q, rtol=1e-12)
    if phase == "mixture":  # a direct evaluation: Σ α_k q_k with scipy's truncated normals
        direct = b.mixture.weights[0] * np.ones(len(u))
        for alpha, ch in zip(b.mixture.weights[1:], b.channels, strict=True):
            lo, hi = -ch.mean / ch.scale, (1 - ch.mean) / ch.scale
            pdf = stats.truncnorm(lo, hi, loc=ch.mean, scale=ch.scale).pdf(u)
            direct += alpha * np.prod(pdf, axis=1)
        np.testing.assert_allclose(q, direct, rtol=1e-10)
    x = np.random.default_rng(5).random((200_000, 2))
    qx = b.density(x)
    assert abs(qx.mean() - 1.0) < 5 * qx.std() / math.sqrt(len(qx))


def test_seeded_mixture_has_one_channel_per_peak_with_learned_weights():
    b = _seeded()
    assert len(b.channels) == 2 and b.mixture.learn_weights
    assert np.all(b.mixture.weights >= 0.01) and b.mixture.weights[0] < 0.5  # uniform lost weight


# ------------------------------------------------------------------------------ estimates
def test_flow_with_modes_is_unbiased_on_camel_with_a_small_budget():
    f = mli.functions.get("camel", dim=8)
    b = Flow(8, find_modes=True, **QUICK)
    integ = mli.Integrator(b, rng=7, progress=False)
    integ.train(f, calls=20_000, batch_size=2_000)
    r = integ.integrate(f, calls=20_000)
    assert abs(r.mean - f.exact) < 4 * r.sdev and r.sdev / f.exact < 0.02
    assert r.rsd < 2 and len(b.proposal.channels) == 2


def test_training_estimates_of_the_search_batches_are_unbiased():
    """The search points carry their exact density: their weights average to the integral."""
    f = mli.functions.get("camel", dim=4)
    b = ModeSeeded([Uniform(4)], [1.0], ModeConfig(search_batches=6))
    integ = mli.Integrator(b, rng=11, progress=False)
    integ.train(f, calls=30_000, batch_size=5_000)
    later = [s.estimate for s in integ.history.iterations[2:]]  # walkers at the peaks
    mean = np.mean([e.mean for e in later])
    err = math.sqrt(sum(e.sdev**2 for e in later)) / len(later)
    assert abs(mean - f.exact) < 4 * err and err < 0.02


def test_resuming_in_the_middle_of_the_search_repeats_the_run(tmp_path):
    f = mli.functions.get("camel", dim=3)
    make = lambda: Flow(3, find_modes=True, search_batches=3, **QUICK)  # noqa: E731
    whole = mli.Integrator(make(), rng=2, progress=False)
    whole.train(f, calls=10_000, batch_size=2_000)
    path = tmp_path / "ckpt.npz"
    part = mli.Integrator(make(), rng=2, progress=False)
    part.train(f, calls=4_000, batch_size=2_000, checkpoint=path)  # stops inside the search
    resumed = mli.Integrator(make(), rng=99, progress=False)
    resumed.train(f, calls=10_000, batch_size=2_000, checkpoint=path)
    x = np.random.default_rng(1).random((500, 3))
    np.testing.assert_allclose(resumed.backend.density(x), whole.backend.density(x), rtol=1e-9)


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"search_batches": 1}, "search_batches must be an int ≥ 2"),
        ({"offspring": 2}, "offspring must be an int ≥ 4"),
        ({"widen": 0.5}, "widen must be a number in [1.0, 10.0]"),
        ({"share": 1.0}, "share must be a number in (0.0, 1.0)"),
        ({"merge": 0}, "merge must be a number in (0.0"),
        ({"max_modes": 0}, "max_modes must be an int ≥ 1"),
        ({"min_mass": 0.0}, "min_mass must be a number in (0.0, 1.0)"),
    ],
)
def test_bad_mode_settings_are_named(changes, words):
    with pytest.raises(ConfigError, match=None) as info:
        FlowConfig().with_values(**changes)
    assert words in str(info.value)


def test_find_modes_from_text_and_bad_values():
    cfg = FlowConfig().with_text("find_modes", "true").with_text("modes.widen", "1.5")
    assert cfg.find_modes and cfg.modes.widen == 1.5
    assert FlowConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="find_modes"):
        FlowConfig(find_modes="yes")


def test_bad_channel_is_named():
    with pytest.raises(MLIntegrateError, match="mean must be 2 numbers in"):
        TruncatedNormal(2, [0.5, 1.5], [0.1, 0.1])
    with pytest.raises(MLIntegrateError, match="scale must be 2 numbers in"):
        TruncatedNormal(2, [0.5, 0.5], [0.1, 0.0])


# ------------------------------------------------------------------------------ slow
@pytest.mark.slow
def test_camel16_pulls_over_seeds_are_standard_normal():
    """camel d = 16 (where VEGAS and the plain flow miss a peak): pulls over 6 seeds."""
    f = mli.functions.get("camel", dim=16)
    pulls = []
    for seed in range(6):
        b = Flow(16, find_modes=True, **QUICK)
        integ = mli.Integrator(b, rng=seed, progress=False)
        integ.train(f, calls=20_000, batch_size=2_000)
        r = integ.integrate(f, calls=20_000)
        assert len(b.proposal.channels) == 2 and r.rsd < 2
        pulls.append((r.mean - f.exact) / r.sdev)
    pulls = np.array(pulls)
    assert np.all(np.abs(pulls) < 4)
    assert abs(pulls.mean()) < 3 / math.sqrt(len(pulls)) and 0.1 < pulls.std() < 2.0
