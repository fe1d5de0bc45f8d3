"""Unweighted events: LHE files read back by pylhe, distributions, interruptions."""

import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pylhe
import pytest

import mlintegrate as mli
from mlintegrate.io.npz import read_events


@pytest.fixture(scope="module")
def qqg_integrator():
    process = mli.processes.get("ee_qqg")
    integ = mli.Integrator(mli.backends.Vegas(process.dim), rng=5, progress=False)
    integ.train(process, calls=100_000)
    return process, integ


def _read_lhe(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pylhe turns parse errors into RuntimeWarnings
        lhe = pylhe.LHEFile.fromfile(str(path))
        return lhe.init, list(lhe.events)


@pytest.mark.parametrize("suffix", [".lhe", ".lhe.gz"])
def test_lhe_file_reads_back_exactly(qqg_integrator, tmp_path, suffix):
    process, integ = qqg_integrator
    path = tmp_path / f"events{suffix}"
    ev = integ.generate(process, 3000, out=path, pilot_calls=50_000)
    init, events = _read_lhe(path)
    assert len(events) == ev.n_events == 3000
    assert init.procInfo[0].xSection == pytest.approx(ev.cross_section, rel=1e-14)
    assert init.procInfo[0].error == pytest.approx(ev.error, rel=1e-14)
    assert init.initInfo.weightingStrategy == 3
    assert init.procInfo[0].unitWeight >= 1.0
    for k, event in enumerate(events):
        assert event.eventinfo.nparticles == len(event.particles) == 5
        p = np.array([[q.e, q.px, q.py, q.pz] for q in event.particles])
        np.testing.assert_allclose(p, ev.momenta[k], atol=1e-9)
        # momentum conservation in every written event
        np.testing.assert_allclose(p[2:].sum(axis=0), p[:2].sum(axis=0), atol=1e-9)
        ids = [int(q.id) for q in event.particles]
        assert ids[:2] == [11, -11] and ids[4] == 21
        assert ids[2] == -ids[3] and ids[2] in range(1, 6)
        assert [int(q.status) for q in event.particles] == [-1, -1, 1, 1, 1]
        # colour flow q(501) → g(502, 501) → q̄(0, 502)
        assert (event.particles[2].color1, event.particles[4].color2) == (501, 501)
        assert (event.particles[3].color2, event.particles[4].color1) == (502, 502)
    weights = np.array([e.eventinfo.weight for e in events])
    np.testing.assert_allclose(weights, ev.weights)
    # ee_qqg's default map makes every weight equal (ev.error = 0): the reference's own
    # tolerance (exact_error) bounds the difference then
    assert abs(ev.cross_section - process.exact) <= 5 * np.hypot(ev.error, process.exact_error)


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
    flat = mli.processes.get("ee_qqg", phase_space="diet")  # uniform u: flat phase space
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
    ev = integ.generate(f, 10**9, pilot_calls=2_000, max_calls=400_000)  # small pilot
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


def test_npz_events(tmp_path, qqg_integrator):
    process, integ = qqg_integrator
    path = tmp_path / "ev.npz"
    ev = integ.generate(process, 500, out=path, pilot_calls=20_000)
    meta, arrays = read_events(path)
    assert meta["status"] == "complete" and meta["events"] == 500
    np.testing.assert_array_equal(arrays["momenta"], ev.momenta)
    np.testing.assert_array_equal(arrays["weights"], ev.weights)


class _InterruptAfter:
    """Wraps a process and raises KeyboardInterrupt on the k-th call (as Ctrl-C would)."""

    def __init__(self, process, calls):
        self.process, self.left = process, calls
        self.dim, self.name = process.dim, process.name
        self.particles, self.momenta = process.particles, process.momenta
        self.incoming, self.outgoing_masses = process.incoming, process.outgoing_masses
        self.sqrt_s, self.incoming_momenta = process.sqrt_s, process.incoming_momenta

    def __call__(self, u):
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt
        return self.process(u)


def test_interrupted_run_leaves_a_valid_file(qqg_integrator, tmp_path):
    process, integ = qqg_integrator
    path = tmp_path / "partial.lhe"
    with pytest.raises(KeyboardInterrupt):
        integ.generate(
            _InterruptAfter(process, 3), 10**6, out=path, pilot_calls=20_000, batch_size=20_000
        )
    init, events = _read_lhe(path)
    assert 0 < len(events) < 10**6
    header = path.read_text().split("</header>")[0]
    assert "status = interrupted" in header and f"events = {len(events)}" in header
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob("*.events"))


def test_sigterm_leaves_a_valid_file(tmp_path):
    exe = Path(sys.executable).parent / "mlintegrate"
    path = tmp_path / "killed.lhe"
    proc = subprocess.Popen(
        [
            str(exe),
            "generate",
            "ee_qqg",
            "--events",
            "100000000",
            "--train-calls",
            "20000",
            "--pilot-calls",
            "20000",
            "--seed",
            "1",
            "--out",
            str(path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    body = None
    while time.time() < deadline and body is None:  # wait until events are being written
        time.sleep(0.5)
        found = list(tmp_path.glob("killed.lhe.*.events"))
        if found and found[0].stat().st_size > 10_000:
            body = found[0]
    assert body is not None, "no events were written within 60 s"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"interrupted" in err
    _, events = _read_lhe(path)
    assert len(events) > 0
    assert "status = interrupted" in path.read_text()[:2000]


def test_lhe_needs_a_process(tmp_path):
    integ = mli.Integrator(mli.backends.Uniform(2), rng=0, progress=False)
    with pytest.raises(ValueError, match="LHE output needs a physics process"):
        integ.generate(mli.functions.get("camel"), 10, out=tmp_path / "x.lhe")
    with pytest.raises(ValueError, match=r"\.lhe, \.lhe\.gz or \.npz"):
        integ.generate(mli.functions.get("camel"), 10, out=tmp_path / "x.txt")
