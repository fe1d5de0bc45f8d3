"""Les Houches files: read back by pylhe (warnings as errors), weights that survive a reader."""

import numpy as np
import pytest
from events_common import Signed, header, qqg, read_lhe

import mlintegrate as mli
from mlintegrate.errors import ConfigError
from mlintegrate.io.writers import EventChunk, RunState, open_event_writer


@pytest.fixture(scope="module")
def qqg_integrator():
    return qqg()


def _weights(events):
    return np.array([e.eventinfo.weight for e in events])


@pytest.mark.parametrize("suffix", [".lhe", ".lhe.gz"])
def test_lhe_file_reads_back_exactly(qqg_integrator, tmp_path, suffix):
    """Momenta, ids, colours, nominal masses, couplings, trials, and XWGTUP in pb whose mean
    is XSECUP exactly (IDWTUP −4: this sample has overweights)."""
    process, integ = qqg_integrator
    path = tmp_path / f"events{suffix}"
    ev = integ.generate(process, 3000, out=path, pilot_calls=50_000)
    init, events = read_lhe(path)
    assert len(events) == ev.n_events == 3000
    assert init.procInfo[0].xSection == pytest.approx(ev.cross_section, rel=1e-14)
    assert init.procInfo[0].error == pytest.approx(ev.error, rel=1e-14)
    assert np.any(ev.weights != 1.0)  # overweights: the pb strategy is required
    assert init.initInfo.weightingStrategy == -4
    xw = _weights(events)
    c = ev.cross_section * ev.n_events / ev.weights.sum()
    np.testing.assert_allclose(xw, ev.weights * c, rtol=1e-15)
    assert xw.mean() == pytest.approx(init.procInfo[0].xSection, rel=1e-12)
    assert init.procInfo[0].unitWeight == pytest.approx(np.abs(xw).max(), rel=1e-15)
    assert [int(e.attributes["trials"]) for e in events] == ev.trials.tolist()
    for k, event in enumerate(events):
        info = event.eventinfo
        assert (info.scale, info.aqed, info.aqcd) == (91.2, mli.processes.ee.ALPHA, 0.118)
        assert info.nparticles == len(event.particles) == 5
        p = np.array([[q.e, q.px, q.py, q.pz] for q in event.particles])
        np.testing.assert_allclose(p, ev.momenta[k], atol=1e-9)
        np.testing.assert_allclose(p[2:].sum(axis=0), p[:2].sum(axis=0), atol=1e-9)
        assert [q.m for q in event.particles] == [0.0] * 5  # nominal: massless partons
        ids = [int(q.id) for q in event.particles]
        assert ids[:2] == [11, -11] and ids[4] == 21
        assert ids[2] == -ids[3] and ids[2] in range(1, 6)
        assert [int(q.status) for q in event.particles] == [-1, -1, 1, 1, 1]
        assert [(int(q.mother1), int(q.mother2)) for q in event.particles[2:]] == [(1, 2)] * 3
        # colour flow q(501) → g(502, 501) → q̄(0, 502)
        assert (event.particles[2].color1, event.particles[4].color2) == (501, 501)
        assert (event.particles[3].color2, event.particles[4].color1) == (502, 502)
    # on the default (exact) map every weight is σ and ev.error ~ 0: the reference's own
    # tolerance (exact_error) bounds the difference then
    assert abs(ev.cross_section - process.exact) <= 5 * np.hypot(ev.error, process.exact_error)


@pytest.mark.parametrize("weights", [[1.0, 1.0, 1.0], [1.0, 1.5, 1.0], [1.0, -1.0, 1.0]])
def test_idwtup_3_only_for_unit_weights(tmp_path, weights):
    """The writer alone: unit weights give IDWTUP 3 with every XWGTUP = σ; one overweight or
    one negative event gives −4, with mean XWGTUP = σ either way."""
    process, _ = qqg()
    path = tmp_path / "w.lhe"
    writer = open_event_writer(path, process, {"test": 1})
    e = np.array(weights)
    p, _ = process.momenta(np.full((3, process.dim), 0.4))
    ids = process.particles.ids(3, 0)
    writer.write(EventChunk(e, np.array([3, 1, 7]), p, ids), RunState(12.5, 0.5, 40.0, 11))
    writer.finalize(RunState(12.0, 0.4, 40.0, 20), "complete")
    init, events = read_lhe(path)
    xw = _weights(events)
    assert init.initInfo.weightingStrategy == (3 if np.all(e == 1) else -4)
    assert xw.mean() == pytest.approx(12.0, rel=1e-15) == init.procInfo[0].xSection
    np.testing.assert_allclose(xw, e * 12.0 * 3 / e.sum(), rtol=1e-15)
    assert [e.attributes["trials"] for e in events] == ["3", "1", "7"]
    assert header(path)["calls"] == "20" and header(path)["test"] == "1"


@pytest.mark.parametrize(
    ("mode", "idwtup"), [("unit", 3), ("signed", -3), ("pb", -4), ("auto", -4)]
)
def test_forced_lhe_weight_strategy(qqg_integrator, tmp_path, mode, idwtup):
    process, integ = qqg_integrator
    path = tmp_path / f"{mode}.lhe"
    ev = integ.generate(process, 800, out=path, pilot_calls=20_000, lhe_weights=mode)
    init, events = read_lhe(path)
    assert init.initInfo.weightingStrategy == idwtup
    xw = _weights(events)
    if mode == "unit":
        assert np.all(xw == 1.0)
    elif mode == "signed":
        np.testing.assert_array_equal(xw, np.sign(ev.weights))
    else:
        assert xw.mean() == pytest.approx(ev.cross_section, rel=1e-12)
    flattened = int(np.count_nonzero(ev.weights != 1.0))
    assert ("flattened" in header(path)) == (mode in ("unit", "signed") and flattened > 0)


def test_signed_weights_survive(tmp_path):
    """A signed integrand: negative events keep their sign and the mean of XWGTUP is σ."""
    process = mli.processes.get("ee_mumu")

    integ = mli.Integrator(mli.backends.Uniform(process.dim), rng=2, progress=False)
    path = tmp_path / "signed.lhe"
    ev = integ.generate(Signed(process, cut=0.5, factor=-0.6), 2000, out=path, pilot_calls=20_000)
    init, events = read_lhe(path)
    xw = _weights(events)
    assert init.initInfo.weightingStrategy == -4
    assert 0.05 < np.mean(xw < 0) < 0.5
    np.testing.assert_array_equal(np.sign(xw), np.sign(ev.weights))
    assert xw.mean() == pytest.approx(init.procInfo[0].xSection, rel=1e-12)


def test_decay_refuses_lhe(tmp_path):
    top = mli.processes.get("top_decay")
    integ = mli.Integrator(mli.backends.Vegas(top.dim), rng=0, progress=False)
    with pytest.raises(ConfigError, match=r"decay.*\.hepmc, \.h5 or \.npz"):
        integ.generate(top, 10, out=tmp_path / "t.lhe")
    assert not (tmp_path / "t.lhe").exists()


def test_bad_outputs_are_refused_before_anything_is_written(tmp_path):
    integ = mli.Integrator(mli.backends.Uniform(2), rng=0, progress=False)
    camel = mli.functions.get("camel")
    with pytest.raises(ConfigError, match="LHE output needs a physics process"):
        integ.generate(camel, 10, out=tmp_path / "x.lhe")
    with pytest.raises(ConfigError, match=r"'.*x\.txt'.*\.lhe, \.lhe\.gz, \.hepmc, \.h5"):
        integ.generate(camel, 10, out=tmp_path / "x.txt")
    process, qinteg = qqg()
    with pytest.raises(ConfigError, match="lhe_weights='flat'"):
        qinteg.generate(process, 10, out=tmp_path / "x.lhe", lhe_weights="flat")
    assert list(tmp_path.iterdir()) == []


def test_io_does_not_import_processes():
    """The writers read particle content by duck typing (the layering rule)."""
    import pathlib
    import re

    io_dir = pathlib.Path(mli.__file__).parent / "io"
    for module in io_dir.glob("*.py"):
        imports = re.findall(r"^\s*(?:from|import)\s+(\S+)", module.read_text(), re.M)
        assert not [m for m in imports if "processes" in m], module.name
