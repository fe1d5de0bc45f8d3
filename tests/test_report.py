"""The comparison report: configured backends as rows, the process's own particle counts."""

import numpy as np
import pytest
from conftest import QUICK

import mlintegrate as mli
from mlintegrate.backends import Flow
from mlintegrate.report import compare, kinematic_observables, write_report


def test_top_decay_kinematics_use_one_incoming_particle():
    """t → b ℓ⁺ ν: the plotted mass is m(ℓν), which peaks at the W mass (it was cos θ when
    the report guessed two incoming particles)."""
    process = mli.processes.get("top_decay")
    u = np.random.default_rng(0).random((40_000, process.dim))
    w = process(u)
    p, _ = process.momenta(u)
    obs = kinematic_observables(p, len(process.incoming))
    assert set(obs) == {"x1 = 2E1/sqrt(s)", "m(last two) [GeV]"}
    m = obs["m(last two) [GeV]"]
    order = np.argsort(m)
    cdf = np.cumsum(w[order]) / w.sum()
    median = m[order][np.searchsorted(cdf, 0.5)]
    assert abs(median - 80.4) < 2.0
    x1 = obs["x1 = 2E1/sqrt(s)"]
    assert np.all((x1 > 0) & (x1 <= 1 + 1e-12))


def test_kinematics_need_a_valid_incoming_count():
    with pytest.raises(ValueError, match="n_incoming"):
        kinematic_observables(np.zeros((2, 3, 4)), 3)


def test_compare_takes_configured_backends_and_records_their_settings(tmp_path):
    f = mli.functions.get("camel", dim=2)
    variants = {
        "flow-kl": Flow(2, loss="kl", **QUICK),
        "flow-variance": Flow(2, loss="variance", **QUICK),
    }
    comparison = compare(f, 2, variants, calls_train=4000, calls=4000, seed=1, reference=False)
    assert [r.backend for r in comparison.results] == ["flow-kl", "flow-variance"]
    paths = write_report(comparison, tmp_path)
    import json

    records = json.loads(paths["json"].read_text())
    losses = [r["config"]["config"]["training"]["loss"] for r in records]
    assert losses == ["kl", "variance"]


def test_duplicate_backends_get_numbered_labels():
    f = mli.functions.get("camel", dim=2)
    comparison = compare(f, 2, ["uniform", "uniform"], 0, 1000, reference=False)
    assert [r.backend for r in comparison.results] == ["uniform", "uniform#2"]


def test_break_even_cost_is_where_the_time_lines_cross():
    from mlintegrate.breakeven import break_even_cost, cost_line

    vegas = cost_line(t_proposal=1e-7, events_per_call=0.03, overhead=0.1, calls_train=10**6)
    flow = cost_line(t_proposal=3e-5, events_per_call=0.3, overhead=40.0, calls_train=10**6)
    c = break_even_cost(flow, vegas)
    assert 0 < c < 1e-3
    assert flow.time_per_event(c) == pytest.approx(vegas.time_per_event(c), rel=1e-12)
    assert flow.time_per_event(10 * c) < vegas.time_per_event(10 * c)
    assert flow.time_per_event(c / 10) > vegas.time_per_event(c / 10)
    # fewer events per call than the reference, and slower: it never pays off
    worse = cost_line(t_proposal=3e-5, events_per_call=0.01, overhead=40.0, calls_train=10**6)
    assert break_even_cost(worse, vegas) == float("inf")
    # faster and more events per call: it pays off at any cost
    better = cost_line(t_proposal=1e-8, events_per_call=0.5, overhead=0.0, calls_train=10**6)
    assert break_even_cost(better, vegas) == 0.0


def test_compare_reports_break_even_and_draws_the_cost_plot(tmp_path):
    import json

    f = mli.functions.get("camel", dim=2)
    comparison = compare(
        f, 2, ["vegas", Flow(2, **QUICK)], calls_train=6000, calls=6000, seed=2, reference=True
    )
    paths = write_report(comparison, tmp_path)
    assert paths["cost plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    records = {r["backend"]: r for r in json.loads(paths["json"].read_text())}
    assert records["vegas"]["break_even_cost_s"] is None and records["vegas"]["pays_off"] is None
    flow = records["flow"]
    assert flow["pays_off"] in (True, False) and flow["cost_line"]["slope"] > 0
    if flow["pays_off"]:
        assert flow["break_even_cost_s"] >= 0
    assert records["vegas+"]["cost_line"] is None
    assert "break-even" in paths["markdown"].read_text()


def test_equal_efficiencies_never_break_even_above_zero():
    from mlintegrate.breakeven import break_even_cost, cost_line

    vegas = cost_line(t_proposal=1e-7, events_per_call=1.0, overhead=1.0, calls_train=10**5)
    flow = cost_line(t_proposal=3e-5, events_per_call=1.0 - 1e-15, overhead=80.0, calls_train=10**5)
    assert break_even_cost(flow, vegas) == float("inf")
