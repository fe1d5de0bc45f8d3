"""Never worse than VEGAS (issue 14 §1): mixture weights chosen by the held-out figure, and a
VEGAS safe component that adapts on mixture points as well as VEGAS alone does.

The toy: in d = 1, q_1 = uniform, q_2(u) = 2u, f(u) = 3u² (integral 1). Under the mixture
q_α = α_1 + 2 α_2 u the weight w(u) = 3u²/q_α(u) increases with u, so its distribution is
known exactly: P_α(w ≤ w(x)) = C_α(x) = α_1 x + α_2 x².
"""

import math

import numpy as np
import pytest
from conftest import QUICK

import mlintegrate as mli
from mlintegrate.backends import Flow, FlowConfig, Mixture, Uniform, Vegas
from mlintegrate.backends.base import Backend
from mlintegrate.backends.pooled_vegas import PooledVegas
from mlintegrate.backends.selection import (
    candidate_weights,
    choose,
    reweighted_figures,
    weighted_median_max,
)
from mlintegrate.errors import CheckpointError, ConfigError
from mlintegrate.metrics import median_max_weight, weight_metrics


class Power(Backend):
    """q(u) = Π a u_i^(a−1): a fixed proposal, near the face u = 1 for a > 1."""

    name = "power"

    def __init__(self, dim: int, a: float):
        super().__init__(dim)
        self.a = a

    def _sample(self, n, gen):
        u = gen.random((n, self.dim)) ** (1.0 / self.a)
        return u, self._density(u)

    def _density(self, u):
        return np.prod(self.a * u ** (self.a - 1.0), axis=1)

    def config(self):
        return {"dim": self.dim, "a": self.a}


def toy_f(u):
    return 3.0 * u[:, 0] ** 2


def toy_exact_figures(alpha, calls):
    """Exact ε_median-max (k = calls // 10) and rsd of f/q_α for the toy (module docstring)."""
    a1, a2 = alpha
    level = 0.5 ** (1.0 / max(1, calls // 10))
    x = (-a1 + math.sqrt(a1 * a1 + 4 * a2 * level)) / (2 * a2)  # C_α(x) = level
    w_mm = 3 * x * x / (a1 + 2 * a2 * x)
    grid = (np.arange(200_000) + 0.5) / 200_000  # midpoint rule for ∫ f²/q_α
    second = np.mean(9 * grid**4 / (a1 + 2 * a2 * grid))
    return 1.0 / w_mm, math.sqrt(second - 1.0)


def toy_batch(alpha_s, n, seed):
    comps = [Uniform(1), Power(1, 2.0)]
    u, q = Mixture(comps, alpha_s).sample(n, seed)
    return np.stack([c.density(u) for c in comps]), q, toy_f(u)


# ------------------------------------------------------------------------------ estimates
@pytest.mark.parametrize("n", [1, 7, 10, 99, 1000, 12_345])
def test_weighted_median_max_with_unit_ratios_is_the_metrics_one(n):
    w = np.random.default_rng(n).exponential(size=n)
    assert weighted_median_max(w, np.ones(n), n) == median_max_weight(w)


def test_weighted_median_max_sorts_only_the_top_but_equals_the_full_sort():
    def full_sort(w, r, calls):
        n, k = w.size, max(1, calls // 10)
        order = np.argsort(w, kind="stable")
        cum = np.cumsum(r[order])
        j = int(np.searchsorted(cum, cum[-1] * (0.5 ** (1.0 / k) - 1e-12 / n)))
        return w[order[min(j, n - 1)]]

    for seed in range(200):
        gen = np.random.default_rng(seed)
        n = int(gen.integers(1, 5000))
        w, r = gen.exponential(size=n) ** 3, gen.exponential(size=n) ** 2
        calls = int(gen.integers(1, 20_000))
        assert weighted_median_max(w, r, calls) == full_sort(w, r, calls)


def test_reweighted_figures_of_the_sampling_weights_are_the_direct_ones():
    dens, q, f = toy_batch([0.4, 0.6], 50_000, 1)
    eps, rsd = reweighted_figures(np.array([[0.4, 0.6]]), dens, q, f)
    m = weight_metrics(f / q)
    assert eps[0] == pytest.approx(m.efficiency.median_max, rel=1e-12)
    assert rsd[0] == pytest.approx(m.rsd, rel=1e-4)  # population vs ddof=1 std


@pytest.mark.parametrize("alpha", [[0.9, 0.1], [0.5, 0.5], [0.1, 0.9]])
def test_reweighted_figures_equal_the_direct_ones_for_another_alpha(alpha):
    """Points from q_(0.4, 0.6) estimate ε_median-max and rsd of q_α: they agree with the
    exact values, and with a direct sample of q_α as closely as that does."""
    calls = 2_000
    exact_eps, exact_rsd = toy_exact_figures(alpha, calls)
    dens, q, f = toy_batch([0.4, 0.6], 200_000, 2)
    eps, rsd = reweighted_figures(np.array([alpha]), dens, q, f, calls=calls)
    assert eps[0] == pytest.approx(exact_eps, rel=0.01)
    assert rsd[0] == pytest.approx(exact_rsd, rel=0.02)
    d_dens, d_q, d_f = toy_batch(alpha, 200_000, 3)
    direct_eps, direct_rsd = reweighted_figures(np.array([alpha]), d_dens, d_q, d_f, calls=calls)
    assert direct_eps[0] == pytest.approx(exact_eps, rel=0.01)
    assert direct_rsd[0] == pytest.approx(exact_rsd, rel=0.02)


def test_a_candidate_that_misses_the_integrand_is_never_chosen():
    dens = np.array([[1.0, 0.0], [1.0, 1.0]])
    eps, rsd = reweighted_figures(np.array([[1.0, 0.0], [0.0, 1.0]]), dens, np.ones(2), np.ones(2))
    assert eps[0] == 0 and rsd[0] == math.inf
    assert choose(eps, rsd, fallback=1) == 1


def test_candidates_run_from_the_safe_component_alone_to_the_cap():
    cands = candidate_weights(np.array([0.75, 0.25]), floor=0.0)
    np.testing.assert_allclose(cands.sum(axis=1), 1.0)
    np.testing.assert_array_equal(cands[0], [0.0, 1.0])  # pure safe component first
    assert cands[:, -1].min() == pytest.approx(0.01)
    assert np.any(np.isclose(cands[:, 0], 0.75))  # the reference itself
    three = candidate_weights(np.array([0.2, 0.6, 0.2]))
    np.testing.assert_allclose(three[:, 0], three[:, 1] / 3)  # the reference's proportions


def test_choice_prefers_epsilon_among_candidates_no_noisier_than_the_fallback():
    eps, rsd = np.array([0.5, 0.7, 0.9]), np.array([0.4, 0.3, 0.5])
    assert choose(eps, rsd) == 1  # 0.9 is noisier than the fallback
    assert choose(np.array([0.5, 0.4]), np.array([0.4, 0.1])) == 0


# ------------------------------------------------------------------------------ in a mixture
def smooth(u):
    return np.prod(1.0 + 0.5 * np.cos(2 * np.pi * u), axis=1)  # integral 1 on [0,1]^d


def test_selection_falls_back_to_the_safe_component_when_the_other_is_useless():
    m = Mixture([Power(2, 12.0), Uniform(2)], [0.5, 0.5], select=True, select_batches=2)
    integ = mli.Integrator(m, rng=4, progress=False)
    integ.train(smooth, calls=20_000, batch_size=4_000)  # the choice made after batches 4, 5
    np.testing.assert_array_equal(m.weights, [0.0, 1.0])
    assert m.selection["share"] == 0.0 and m.selection["points"] == 8_000
    # the useless component is neither sampled nor evaluated any more
    m.components[0]._density = None
    u, q = m.sample(1000, 5)
    np.testing.assert_array_equal(q, 1.0)


def test_selection_keeps_a_component_that_is_better_than_the_safe_one():
    f = toy_f  # Power(1, 3) is exactly f: weights constant
    m = Mixture([Power(1, 3.0), Uniform(1)], [0.5, 0.5], select=True, select_batches=2)
    mli.Integrator(m, rng=5, progress=False).train(f, calls=20_000, batch_size=4_000)
    assert m.weights[0] == pytest.approx(0.99)


def test_density_is_exact_after_selection():
    m = Mixture([Power(2, 3.0), Vegas(2)], [0.5, 0.5], select=True, select_batches=2)
    mli.Integrator(m, rng=6, progress=False).train(smooth, calls=12_000, batch_size=3_000)
    u, q = m.sample(4000, 7)
    manual = sum(a * c.density(u) for a, c in zip(m.weights, m.components, strict=True))
    np.testing.assert_allclose(q, manual, rtol=1e-12)
    np.testing.assert_allclose(m.density(u), manual, rtol=1e-12)
    x = np.random.default_rng(8).random((400_000, 2))
    assert np.mean(m.density(x)) == pytest.approx(1.0, abs=0.02)  # normalised


def test_selected_mixture_is_unbiased_at_a_small_budget():
    """Pulls over 40 seeds of a 4-batch training then 2000 fresh points: mean ≈ 0, var ≈ 1."""
    pulls = []
    for seed in range(40):
        m = Mixture([Power(2, 2.0), PooledVegas(2, every=2)], [0.5, 0.5], select=True)
        integ = mli.Integrator(m, rng=seed, progress=False)
        integ.train(smooth, calls=2_000, batch_size=500)
        r = integ.integrate(smooth, calls=2_000)
        pulls.append((r.mean - 1.0) / r.sdev)
    pulls = np.array(pulls)
    assert abs(pulls.mean()) < 3 / math.sqrt(40)
    assert 0.5 < pulls.var() < 1.8


# ------------------------------------------------------------------------------ the flow option
def test_flow_select_option_is_checked():
    with pytest.raises(ConfigError, match="select_weights"):
        Flow(2, select_weights=True, defensive=0.0)
    with pytest.raises(ConfigError, match="select_batches"):
        Flow(2, select_batches=0)
    with pytest.raises(ConfigError, match="safe_every"):
        Flow(2, safe_every=0)


def test_flow_default_is_the_vegas_safe_selected_mixture():
    """safe / select_weights None resolve to a VEGAS safe component with selected weights,
    unless another weight rule or no safe component is asked for; the former default and
    a checkpoint's explicit settings stay what they say."""
    default = Flow(2)
    assert isinstance(default.safe, PooledVegas) and default.proposal.select
    assert default.settings.find_modes and type(default.proposal).__name__ == "ModeSeeded"
    plain = Flow(2, find_modes=False)  # without the mode search: the selected flow/VEGAS pair
    assert isinstance(plain.proposal, Mixture) and plain.proposal.select
    learned = Flow(2, learn_weights=True)
    assert isinstance(learned.safe, Uniform) and not learned.settings.selects
    modes = Flow(2, find_modes=True)  # the mode channels compose with the selection
    assert isinstance(modes.safe, PooledVegas) and modes.proposal.select
    assert not Flow(2, defensive=0.0).settings.selects
    vegas_learned = Flow(2, safe="vegas", learn_weights=True)
    assert isinstance(vegas_learned.safe, PooledVegas) and not vegas_learned.proposal.select
    former = Flow(2, FlowConfig.from_dict({"safe": "uniform", "select_weights": False}))
    assert isinstance(former.safe, Uniform) and not former.proposal.select
    assert Flow(2, find_modes=True, select_weights=True).proposal.select


def test_the_choice_waits_for_twice_the_pool():
    """Weights stay the initial ones for 2·select_batches batches (the pool would judge a
    flow still learning fast), then the held-out choice sets them."""
    f = mli.functions.get("camel", dim=2)
    b = Flow(2, select_batches=2, find_modes=False, **QUICK)
    integ = mli.Integrator(b, rng=3, progress=False)
    integ.train(f, calls=3_000, batch_size=1_000)
    assert not b.proposal.selection
    np.testing.assert_array_equal(b.proposal.weights, [0.95, 0.05])
    integ.train(f, calls=1_000, batch_size=1_000)
    assert b.proposal.selection["points"] == 2_000  # the last 2 batches
    np.testing.assert_allclose(b.proposal.weights.sum(), 1.0, rtol=0, atol=1e-12)


def test_flow_with_selected_weights_saves_loads_and_resumes_exactly(tmp_path):
    f = mli.functions.get("camel", dim=2)
    b = Flow(
        2,
        safe="vegas",
        select_weights=True,
        select_batches=1,
        safe_every=2,
        find_modes=False,
        **QUICK,
    )
    integ = mli.Integrator(b, rng=3, progress=False)
    integ.train(f, calls=3_000, batch_size=1_000)  # 3 batches: VEGAS has one pending batch
    assert b.safe._pending and b.proposal.selection
    path = tmp_path / "select.npz"
    integ.save(path)
    loaded = mli.Integrator.load(path)
    np.testing.assert_array_equal(loaded.backend.proposal.weights, b.proposal.weights)
    x = np.random.default_rng(5).random((500, 2))
    np.testing.assert_array_equal(loaded.backend.density(x), b.density(x))
    integ.train(f, calls=2_000, batch_size=1_000)
    loaded.train(f, calls=2_000, batch_size=1_000)
    np.testing.assert_array_equal(loaded.backend.proposal.weights, b.proposal.weights)
    np.testing.assert_array_equal(loaded.backend.density(x), b.density(x))


def test_mixture_weight_state_refuses_a_pool_of_other_components():
    m = Mixture([Uniform(1), Uniform(1)], [0.5, 0.5], select=True)
    with pytest.raises(CheckpointError, match="pool"):
        m.load_weight_state(
            {
                "pool.sizes": np.array([2]),
                "pool.f": np.ones(2),
                "pool.q": np.ones(2),
                "pool.densities": np.ones((3, 2)),
            }
        )
    with pytest.raises(CheckpointError, match="weights"):
        Mixture([Uniform(1), Uniform(1)]).load_weights(np.array([0.0, 1.0]))


def test_a_selecting_mixture_is_rebuilt_from_its_spec():
    m = Mixture([Uniform(2), PooledVegas(2, every=2)], [0.3, 0.7], select=True, select_batches=4)
    rebuilt = mli.backends.build(m.spec())
    assert rebuilt.spec() == m.spec()
    assert rebuilt.select and rebuilt.components[1].every == 2


# ------------------------------------------------------------------------------ pooled VEGAS
def test_pooled_vegas_on_its_own_points_is_vegas():
    """every = 1 and points from the map itself: the same grid as Vegas (the importance-
    weighted counts are the counts)."""
    f = mli.functions.get("camel", dim=2)
    a, b = Vegas(2), PooledVegas(2, every=1)
    for seed in range(3):
        u, q = a.sample(3000, seed)
        a.adapt(u, q, f(u))
        b.adapt(u, q, f(u))
    np.testing.assert_allclose(b.state_dict()["grid"], a.state_dict()["grid"], rtol=1e-10)


def test_pooled_vegas_keeps_a_flat_grid_for_a_flat_integrand_on_foreign_points():
    """f = 1 drawn from a non-uniform proposal (that leaves no increment empty): the right
    grid stays uniform; vegas's own per-increment average (over the points that fell there)
    bends it."""
    u, q = Mixture([Power(2, 3.0), Uniform(2)], [0.5, 0.5]).sample(20_000, 9)
    plain, pooled = Vegas(2), PooledVegas(2, every=1)
    plain.adapt(u, q, np.ones(u.shape[0]))
    pooled.adapt(u, q, np.ones(u.shape[0]))
    flat = np.linspace(0, 1, 257)
    np.testing.assert_allclose(pooled.state_dict()["grid"], [flat, flat], atol=1e-12)
    assert np.abs(plain.state_dict()["grid"] - flat).max() > 0.01


def test_pooled_vegas_adapts_every_nth_batch():
    f = mli.functions.get("camel", dim=2)
    v = PooledVegas(2, every=3)
    before = v.state_dict()["grid"].copy()
    for seed in range(2):
        u, q = v.sample(1000, seed)
        v.adapt(u, q, f(u))
    np.testing.assert_array_equal(v.state_dict()["grid"], before)
    u, q = v.sample(1000, 2)
    v.adapt(u, q, f(u))
    assert not np.array_equal(v.state_dict()["grid"], before) and not v._pending
