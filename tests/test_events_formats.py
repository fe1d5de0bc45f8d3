"""HepMC3, LHEH5 and npz event files, each read back by an independent reader."""

import numpy as np
import pytest
from events_common import qqg

import mlintegrate as mli
from mlintegrate.errors import ConfigError
from mlintegrate.io.npz import read_events

pyhepmc = pytest.importorskip("pyhepmc", reason="pip install 'mlintegrate[formats]'")
h5py = pytest.importorskip("h5py", reason="pip install 'mlintegrate[formats]'")


@pytest.fixture(scope="module")
def qqg_events():
    """ee_qqg events, the same sample (same rng state) for every format."""
    process, integ = qqg()
    return process, integ


def _generate(integ, process, n, out, **kw):
    state = integ.rng.bit_generator.state
    try:
        return integ.generate(process, n, out=out, pilot_calls=20_000, **kw)
    finally:
        integ.rng.bit_generator.state = state


def test_hepmc_reads_back(qqg_events, tmp_path):
    process, integ = qqg_events
    path = tmp_path / "ev.hepmc"
    ev = _generate(integ, process, 600, path)
    with pyhepmc.open(str(path)) as f:
        events = list(f)
    assert len(events) == ev.n_events == 600
    assert events[0].run_info.attributes["status"].astype(str).strip() == "complete"
    weights = np.array([e.weights[0] for e in events])
    np.testing.assert_allclose(weights, ev.weights * ev.w_max, rtol=1e-12)
    trials = [int(e.attributes["trials"].astype(int)) for e in events]
    assert trials == ev.trials.tolist()
    xs = events[-1].cross_section
    assert xs.xsec() == pytest.approx(ev.cross_section, rel=1e-8)
    assert xs.xsec_err() == pytest.approx(ev.error, rel=1e-8)
    for k in (0, 599):
        particles = events[k].particles
        assert [p.status for p in particles] == [4, 4, 1, 1, 1]
        assert [p.pid for p in particles] == ev.pdg_ids[k].tolist()
        assert [p.generated_mass for p in particles] == [0.0] * 5
        p = np.array([[q.momentum.e, q.momentum.x, q.momentum.y, q.momentum.z] for q in particles])
        np.testing.assert_allclose(p, ev.momenta[k], rtol=1e-12, atol=1e-12)


def test_lheh5_field_semantics(qqg_events, tmp_path):
    """Column by column against the sample; Σ weight / Σ trials is the trial-normalised σ."""
    process, integ = qqg_events
    path = tmp_path / "ev.h5"
    ev = _generate(integ, process, 700, path)
    with h5py.File(path, "r") as f:
        assert f.attrs["status"] == "complete" and f.attrs["events"] == 700
        assert list(f["version"][:]) == [2, 6, 0]
        init = f["init"][:]
        np.testing.assert_array_equal(init, [11, -11, 45.6, 45.6, 0, 0, 0, 0, -4, 1])
        proc = f["procInfo"][:]
        assert proc.shape == (1, 6) and proc[0, 3] == ev.cross_section and proc[0, 4] == ev.error
        events, parts = f["events"][:], f["particles"][:]
        ecols = list(f["events"].attrs["properties"])
        pcols = list(f["particles"].attrs["properties"])
    assert ecols[:4] == ["pid", "nparticles", "start", "trials"] and ecols[-1] == "weight"
    assert pcols[:2] == ["id", "status"] and pcols[6:11] == ["px", "py", "pz", "e", "m"]
    assert events.shape == (700, 10) and parts.shape == (3500, 13)
    np.testing.assert_array_equal(events[:, 0], 1)
    np.testing.assert_array_equal(events[:, 2], 5 * np.arange(700))
    np.testing.assert_array_equal(events[:, 3], ev.trials)
    np.testing.assert_array_equal(
        events[:, 4:9][0], [91.2, 91.2, 91.2, mli.processes.ee.ALPHA, 0.118]
    )
    np.testing.assert_allclose(events[:, 9], ev.weights * ev.w_max, rtol=1e-15)
    assert proc[0, 5] == pytest.approx(np.abs(events[:, 9]).max())
    p = parts.reshape(700, 5, 13)
    np.testing.assert_array_equal(p[:, :, 0], ev.pdg_ids)
    np.testing.assert_array_equal(p[0, :, 1], [-1, -1, 1, 1, 1])
    np.testing.assert_array_equal(p[:, :, 10], 0.0)
    np.testing.assert_array_equal(p[:, :, 9], ev.momenta[:, :, 0])
    np.testing.assert_array_equal(p[:, :, 6:9], ev.momenta[:, :, 1:])
    sigma_trials = events[:, 9].sum() / events[:, 3].sum()
    err = np.sqrt(np.sum(events[:, 9] ** 2)) / events[:, 3].sum()
    assert abs(sigma_trials - ev.cross_section) < 5 * np.hypot(err, ev.error)


def test_decay_events_go_to_hepmc_and_lheh5(tmp_path):
    top = mli.processes.get("top_decay")
    integ = mli.Integrator(mli.backends.Vegas(top.dim), rng=0, progress=False)
    integ.train(top, calls=20_000)
    integ.generate(top, 50, out=tmp_path / "t.hepmc", pilot_calls=20_000)
    with pyhepmc.open(str(tmp_path / "t.hepmc")) as f:
        first = next(iter(f))
    assert [p.pid for p in first.particles] == [6, 5, -11, 12]
    assert first.particles[0].generated_mass == 172.5
    integ.generate(top, 50, out=tmp_path / "t.h5", pilot_calls=20_000)
    with h5py.File(tmp_path / "t.h5", "r") as f:
        np.testing.assert_array_equal(f["init"][:4], [6, 0, 172.5, 0])
        assert f["particles"].shape == (200, 13)


def test_npz_events(qqg_events, tmp_path):
    process, integ = qqg_events
    path = tmp_path / "ev.npz"
    ev = _generate(integ, process, 500, path)
    meta, arrays = read_events(path)
    assert meta["status"] == "complete" and meta["events"] == 500
    assert meta["cross_section"] == ev.cross_section and meta["w_max"] == ev.w_max
    np.testing.assert_array_equal(arrays["momenta"], ev.momenta)
    np.testing.assert_array_equal(arrays["weights"], ev.weights)
    np.testing.assert_array_equal(arrays["trials"], ev.trials)
    assert not list(tmp_path.glob("*.tmp"))
    # a test function has no particles: npz is its format (weights and trials only)
    camel = mli.functions.get("camel", dim=2)
    integ2 = mli.Integrator(mli.backends.Uniform(2), rng=0, progress=False)
    ev2 = integ2.generate(camel, 200, out=tmp_path / "camel.npz", pilot_calls=20_000)
    meta2, arrays2 = read_events(tmp_path / "camel.npz")
    assert sorted(arrays2) == ["trials", "weights"] and meta2["events"] == 200
    np.testing.assert_array_equal(arrays2["weights"], ev2.weights)


def test_missing_library_names_the_extra(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("no h5py")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_h5py)
    process, integ = qqg()
    with pytest.raises(ConfigError, match=r"h5py.*pip install 'mlintegrate\[formats\]'"):
        integ.generate(process, 10, out=tmp_path / "x.h5")


def test_lheh5_reads_back_with_pylhe(qqg_events, tmp_path):
    """pylhe's own LHEH5 reader (warnings as errors): σ, weights, trials, particles."""
    from events_common import read_lhe

    process, integ = qqg_events
    path = tmp_path / "ev.h5"
    ev = _generate(integ, process, 300, path)
    init, events = read_lhe(path)
    assert init.initInfo.weightingStrategy == -4 and len(events) == 300
    assert init.procInfo[0].xSection == ev.cross_section
    np.testing.assert_allclose([e.eventinfo.weight for e in events], ev.weights * ev.w_max)
    assert [float(e.attributes["trials"]) for e in events] == ev.trials.tolist()
    assert [int(q.id) for q in events[7].particles] == ev.pdg_ids[7].tolist()
    assert [q.m for q in events[7].particles] == [0.0] * 5
