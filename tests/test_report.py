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
