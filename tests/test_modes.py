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
from mlintegrate.backends import Flow, FlowConfig, Mixture, Uniform
from mlintegrate.backends.cubenormal import TruncatedNormal, log_pdf, sample
from mlintegrate.backends.modes import ModeConfig, ModeSearch, ModeSeeded
from mlintegrate.backends.pooled_vegas import PooledVegas
from mlintegrate.backends.selection import candidate_weights
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


# ------------------------------------------------------------------------------ composed
def _composed(dim=4, calls=24_000, batch=2_000, seed=5, **changes):
    """The default flow with the search on camel: [flow, *modes, VEGAS], selected weights."""
    b = Flow(dim, find_modes=True, search_batches=3, select_batches=2, **QUICK, **changes)
    integ = mli.Integrator(b, rng=seed, progress=False)
    integ.train(mli.functions.get("camel", dim=dim), calls=calls, batch_size=batch)
    return b, integ


def test_modes_join_the_selected_flow_vegas_mixture():
    b, _ = _composed()
    m = b.proposal.mixture
    assert m.select and m.learn_weights and len(b.proposal.channels) == 2
    assert m.components[0] is b.proposal.base[0] and m.components[-1] is b.safe
    assert isinstance(b.safe, PooledVegas) and m.optional == [1, 2]
    assert m.components[1:3] == b.proposal.channels
    # the choice ran on the pool, candidates with and without the channels among them
    sel = m.selection
    assert sel["points"] == 4_000 and any(sel["without_optional"])
    assert not all(sel["without_optional"])
    assert m.weights[-1] > 0 and abs(m.weights.sum() - 1) < 1e-12
    # on camel the channels are worth keeping: the choice keeps them
    assert m.weights[1:3].sum() > 0.1


def test_composed_density_is_exact_and_integrates_to_one():
    b, _ = _composed()
    u, q = b.sample(20_000, rng=4)
    np.testing.assert_allclose(b.density(u), q, rtol=1e-12)
    m = b.proposal.mixture
    direct = sum(a * c.density(u) for a, c in zip(m.weights, m.components, strict=True) if a > 0)
    np.testing.assert_allclose(q, direct, rtol=1e-12)
    x = np.random.default_rng(5).random((100_000, 4))
    qx = b.density(x)
    assert abs(qx.mean() - 1.0) < 5 * qx.std() / math.sqrt(len(qx))


def test_search_batches_mix_the_base_mixture_at_search_share():
    """During the search q = σ q_search + (1 − σ) q_base at every point, σ = search_share;
    σ = 1 draws from the search density alone (the behaviour before search_share)."""
    f = mli.functions.get("camel", dim=3)
    for sigma in (0.3, 1.0):
        b = Flow(3, find_modes=True, search_batches=4, search_share=sigma, **QUICK)
        integ = mli.Integrator(b, rng=1, progress=False)
        integ.train(f, calls=4_000, batch_size=2_000)  # 2 of the 4 search batches
        seeded = b.proposal
        assert seeded.mixture is None and len(seeded.search.x)
        u, q = b.sample(5_000, rng=2)
        expected = sigma * seeded.search.density(u)
        if sigma < 1:
            expected = expected + (1 - sigma) * seeded.base_mixture.density(u)
        np.testing.assert_allclose(q, expected, rtol=1e-12)
        # the walkers come from the search's own share of the first batch
        assert len(seeded.search.x) == min(int(2_000 * sigma) // seeded.search.offspring, 2_000)


def test_without_modes_the_composed_proposal_is_the_default_mixture():
    b = Flow(3, find_modes=True, **QUICK)
    b.proposal._build(np.empty((0, 3)), np.empty((0, 3)), np.empty(0))
    m, default = b.proposal.mixture, Flow(3, find_modes=False, **QUICK).proposal
    assert [type(c) for c in m.components] == [type(c) for c in default.components]
    np.testing.assert_array_equal(m.weights, default.weights)
    assert m.select and not m.learn_weights and m.config() == default.config()


def test_the_choice_drops_channels_that_do_not_help():
    """A channel far from the integrand's mass is optional: the choice gives it weight 0."""
    f = mli.functions.get("camel", dim=2)
    far = TruncatedNormal(2, [0.95, 0.05], [0.02, 0.02])
    m = Mixture([Uniform(2), far, Uniform(2)], [0.45, 0.1, 0.45], select=True, optional=[1])
    m.select_batches = 1
    integ = mli.Integrator(m, rng=3, progress=False)
    integ.train(f, calls=6_000, batch_size=2_000)
    assert m.selection and m.weights[1] == 0.0
    np.testing.assert_allclose(m.weights.sum(), 1.0)
    with pytest.raises(MLIntegrateError, match="optional must index components 0…1"):
        Mixture([Uniform(2), far, Uniform(2)], select=True, optional=[2])


def test_candidate_weights_with_optional_components():
    cands = candidate_weights(np.array([0.5, 0.3, 0.2]), optional=[1])
    with_opt, without = np.split(cands, 2)
    np.testing.assert_allclose(cands.sum(axis=1), 1.0)
    assert np.all(with_opt[1:, 1] > 0) and np.all(without[:, 1] == 0)
    np.testing.assert_array_equal(with_opt[:, 2], without[:, 2])  # the same shares t
    np.testing.assert_array_equal(cands[0], [0.0, 0.0, 1.0])  # t = 0 first: the fallback


def test_composed_saves_loads_and_resumes_exactly(tmp_path):
    b, integ = _composed(calls=20_000)
    path = tmp_path / "modes.npz"
    integ.save(path)
    loaded = mli.Integrator.load(path)
    f = mli.functions.get("camel", dim=4)
    x = np.random.default_rng(5).random((500, 4))
    np.testing.assert_array_equal(loaded.backend.density(x), b.density(x))
    integ.train(f, calls=4_000, batch_size=2_000)
    loaded.train(f, calls=4_000, batch_size=2_000)
    weights = loaded.backend.proposal.mixture.weights
    np.testing.assert_array_equal(weights, b.proposal.mixture.weights)
    np.testing.assert_array_equal(loaded.backend.density(x), b.density(x))


@pytest.mark.parametrize("saved", ["no-search", "kp-layout"])
def test_checkpoints_keep_the_settings_they_were_made_with(saved):
    """A file without the search (saved before find_modes existed) loads without it; one
    whose mode mixture has no layout mark (saved while find_modes turned the selection off)
    keeps select_weights None resolving to False."""
    f = mli.functions.get("camel", dim=3)
    old = (
        Flow(3, find_modes=False, **QUICK)
        if saved == "no-search"
        else Flow(3, find_modes=True, select_weights=False, search_batches=2, **QUICK)
    )
    mli.Integrator(old, rng=2, progress=False).train(f, calls=8_000, batch_size=2_000)
    state = old.state_dict()
    state.pop("modes.layout", None)
    now = Flow(3, find_modes=True, **QUICK)  # the settings as such a file states them
    now.load_state_dict(state)
    assert now.settings.find_modes == (saved == "kp-layout")
    assert now.settings.selects == (saved == "no-search")  # each as it was made
    x = np.random.default_rng(4).random((300, 3))
    np.testing.assert_array_equal(now.density(x), old.density(x))


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


@pytest.mark.slow
def test_composed_mixture_pulls_over_seeds_are_standard_normal():
    """The default flow with the search, the held-out choice running (select_batches=2), on
    camel d = 4 (4·10⁴ calls in batches of 2000): pulls over 16 seeds."""
    f = mli.functions.get("camel", dim=4)
    pulls, kept = [], []
    for seed in range(16):
        b = Flow(4, find_modes=True, select_batches=2, **QUICK)
        integ = mli.Integrator(b, rng=100 + seed, progress=False)
        integ.train(f, calls=40_000, batch_size=2_000)
        r = integ.integrate(f, calls=20_000)
        m = b.proposal.mixture
        assert m.selection and r.sdev / f.exact < 0.02
        kept.append(m.weights[1:-1].sum() > 0)
        pulls.append((r.mean - f.exact) / r.sdev)
    pulls = np.array(pulls)
    assert np.all(np.abs(pulls) < 4) and any(kept)
    assert abs(pulls.mean()) < 3 / math.sqrt(len(pulls)) and 0.5 < pulls.std() < 1.6
