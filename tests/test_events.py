"""Unweighted events: distributions, overweights, trials, the pilot's advice."""

import numpy as np
import pytest
from events_common import qqg

import mlintegrate as mli
from mlintegrate.events import EventWarning, pilot_warnings


@pytest.fixture(scope="module")
def qqg_integrator():
    return qqg()


def test_flavours_follow_the_charges(qqg_integrator):
    process, integ = qqg_integrator
    ev = integ.generate(process, 20_000, pilot_calls=50_000)
    quark = np.abs(ev.pdg_ids[:, 2])
    up_fraction = np.isin(quark, (2, 4)).mean()
    expected = (2 * 4 / 9) / (11 / 9)  # u, c vs d, s, b with Q² weights
    assert abs(up_fraction - expected) < 5 * np.sqrt(expected * (1 - expected) / 20_000)


def _ks_to_weighted(sample, truth, weights):
    """sup |F_events − F_weighted| with F_weighted the weighted ECDF of the truth sample."""
    order = np.argsort(truth)
    cdf_w = np.cumsum(weights[order]) / weights.sum()
    grid = truth[order]
    cdf_s = np.searchsorted(np.sort(sample), grid, side="right") / sample.size
    return np.max(np.abs(cdf_s - cdf_w))


def _observables(p):
    sqrt_s = p[:, :2, 0].sum(axis=1)
    x1, x2 = 2 * p[:, 2, 0] / sqrt_s, 2 * p[:, 3, 0] / sqrt_s
    cos_q = p[:, 2, 3] / np.linalg.norm(p[:, 2, 1:], axis=1)
    return {"x1": x1, "x2": x2, "cos_q": cos_q}


def test_unweighted_events_follow_the_weighted_distribution(qqg_integrator):
    """KS distance of 20k events to the weighted truth (10⁶ points) on x₁, x₂, cos θ_q.

    Threshold 1.95·√(1/N + 1/ESS) (≈ 0.1 % false alarms per observable). Power: the same
    statistic rejects flat phase-space points (no |M|² weighting) by a wide margin.
    """
    process, integ = qqg_integrator
    ev = integ.generate(process, 20_000, pilot_calls=50_000)
    u, q = integ.backend.sample(1_000_000, np.random.default_rng(99))
    w = process(u) / q
    p_truth, _ = process.momenta(u)
    ess = w.sum() ** 2 / np.dot(w, w)
    threshold = 1.95 * np.sqrt(1 / ev.n_events + 1 / ess)
    # flat phase space needs the diet map: on ee_qqg's default (exact) map uniform u is
    # already |M|²-distributed
    flat = mli.processes.get("ee_qqg", phase_space="diet")
    raw_p, _ = flat.momenta(np.random.default_rng(7).random((20_000, flat.dim)))
    raw_obs = _observables(raw_p[flat.passes_cuts(raw_p)])
    for name, values in _observables(ev.momenta).items():
        truth = _observables(p_truth)[name]
        assert _ks_to_weighted(values, truth, w) < threshold, name
    # power: x₁ of flat phase-space points is clearly off
    assert _ks_to_weighted(raw_obs["x1"], _observables(p_truth)["x1"], w) > 3 * threshold


def test_overweights_keep_sigma_unbiased():
    """Stopped by max_calls, every accepted event is kept: σ = w_max Σ weights / calls."""
    f = mli.functions.get("camel", dim=2)
    integ = mli.Integrator(mli.backends.Uniform(2), rng=3, progress=False)
    with pytest.warns(EventWarning, match="pilot"):  # small pilot: the advice says so
        ev = integ.generate(f, 10**9, pilot_calls=2_000, max_calls=400_000)
    assert not ev.complete and ev.calls == 400_000
    assert ev.overweight_fraction > 0 and np.any(ev.weights > 1)
    sigma_events = ev.w_max * ev.weights.sum() / ev.calls
    err = ev.w_max * np.sqrt(np.sum(ev.weights**2)) / ev.calls
    assert abs(sigma_events - f.exact) < 5 * err
    assert abs(ev.cross_section - f.exact) < 5 * ev.error
    assert ev.accepted == ev.n_events and ev.efficiency == ev.n_events / ev.calls


def test_efficiency_counts_acceptances_over_every_point_evaluated(qqg_integrator):
    """Few events from a large pilot: the efficiency is not n_events / calls but the
    hit-or-miss acceptance rate of all evaluated points, ≈ Σ min(|w|/w_max, 1) / n."""
    process, integ = qqg_integrator
    ev = integ.generate(process, 100, pilot_calls=100_000)
    u, q = integ.backend.sample(200_000, np.random.default_rng(8))
    w = process(u) / q
    expected = np.minimum(np.abs(w) / ev.w_max, 1.0).mean()
    assert ev.n_events == 100 and ev.calls == 100_000 and ev.accepted > 1000
    assert ev.efficiency == pytest.approx(expected, rel=0.1)


def test_trials_count_the_calls_between_kept_events(qqg_integrator):
    """trials ≥ 1, Σ trials = the calls up to the last event, and w_max Σe / Σ trials is the
    trial-normalised σ readers compute (agrees with the pooled σ within errors)."""
    process, integ = qqg_integrator
    ev = integ.generate(process, 4000, pilot_calls=20_000, batch_size=20_000)
    assert ev.trials.shape == ev.weights.shape and ev.trials.min() >= 1
    assert ev.trials.sum() <= ev.calls
    assert ev.trials.sum() > ev.calls - 20_000  # only the last chunk's tail is not counted
    sigma_trials = ev.w_max * ev.weights.sum() / ev.trials.sum()
    err = ev.w_max * np.sqrt(np.sum(ev.weights**2)) / ev.trials.sum()
    assert abs(sigma_trials - ev.cross_section) < 5 * np.hypot(err, ev.error)


def test_trials_over_all_calls_when_every_event_is_kept():
    """With max_calls every accepted point is an event: Σ trials = index of the last + 1."""
    f = mli.functions.get("camel", dim=2)
    integ = mli.Integrator(mli.backends.Uniform(2), rng=4, progress=False)
    ev = integ.generate(f, 10**9, pilot_calls=20_000, batch_size=10_000, max_calls=60_000)
    assert ev.n_events == ev.accepted
    calls_at = np.cumsum(ev.trials) - 1  # global call index of each kept point
    assert calls_at[-1] < ev.calls and np.all(np.diff(calls_at) > 0)


def test_pilot_advice_names_the_dominating_weight():
    """One weight 950× the mean (as seed 2 of the issue) sets w_max: the advice says so."""
    w = np.random.default_rng(0).exponential(size=100_000)
    clean = pilot_warnings(w, mli.metrics.reduced_max_weight(w), 20_000)
    assert clean == []
    w[17] = 950 * w.mean()
    advice = pilot_warnings(w, mli.metrics.reduced_max_weight(w), 20_000)
    assert any("one pilot weight" in a and "--pilot-calls" in a for a in advice)


def test_tiny_pilot_reports_overweights(qqg_integrator):
    """--pilot-calls 10 (the issue: 37 % overweights while "efficiency 32 %" was printed):
    the pilot advice and the overweight share are both reported."""
    process, _ = qqg_integrator
    integ = mli.Integrator(mli.backends.Vegas(process.dim), rng=11, progress=False)
    integ.train(process, calls=20_000)
    messages = []
    ev = integ.generate(process, 5000, pilot_calls=10, on_warning=messages.append)
    assert "pilot (10 calls) is small" in messages[0]
    assert ev.overweight_fraction > 0.1 and ev.overweight_sigma_share > ev.overweight_fraction
    assert any("of the events are overweight" in m for m in messages)
    assert ev.warnings == messages


def test_cli_prints_the_overweight_share_and_the_advice(tmp_path, capsys):
    """The issue's reproduction (seed 11, --pilot-calls 10): the command line warns, says
    what to do, and prints the overweight share beside the efficiency."""
    from mlintegrate import cli

    out = tmp_path / "ev.lhe"
    argv = ["generate", "ee_qqg", "--events", "3000", "--train-calls", "20000", "--seed", "11"]
    argv += ["--pilot-calls", "10", "--lhe-weights", "unit", "--out", str(out)]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert "warning: the pilot (10 calls) is small" in captured.err
    assert "use --pilot-calls" in captured.err
    assert "of the events are overweight" in captured.err
    assert "--lhe-weights unit:" in captured.err and "weights are lost" in captured.err
    line = next(s for s in captured.out.splitlines() if s.startswith("overweights"))
    share = float(line.split()[1].rstrip("%"))
    assert share > 10  # the 37 % of the issue, now printed
