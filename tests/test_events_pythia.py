"""The real client: Pythia 8 showers and hadronises our LHE files (only where it is installed).

``pip install 'mlintegrate[pythia]'`` (pythia8mc 8.317.2). Checked: every event is read with
no failure, Pythia's σ (``sigmaGen``, mb) is the ``<init>`` σ, and the non-unit weights
(overweights, negative weights) reach ``info.weight()`` unflattened.
"""

import numpy as np
import pytest
from events_common import Signed, read_lhe

import mlintegrate as mli

p8 = pytest.importorskip(
    "pythia8mc",
    reason="Pythia 8 not importable: pip install 'mlintegrate[pythia]'",
    exc_type=ImportError,
)

MB_PER_PB = 1e-9


def _shower(path):
    """(events read, failures, weights, σ in pb, δσ in pb) from Pythia over the file."""
    pythia = p8.Pythia("", False)
    for setting in (
        "Beams:frameType = 4",
        f"Beams:LHEF = {path}",
        "PDF:lepton = off",
        "HadronLevel:all = on",
        "Next:numberCount = 0",
        "Print:quiet = on",
    ):
        assert pythia.readString(setting), setting
    assert pythia.init()
    n = failures = 0
    weights = []
    for _ in range(100_000):
        ok = pythia.next()
        info = pythia.infoPython()  # a snapshot: fetch it after every next()
        if not ok:
            if info.atEndOfFile():
                break
            failures += 1
            continue
        n += 1
        weights.append(info.weight())
        assert any(pythia.event[i].isHadron() for i in range(pythia.event.size()))
    info = pythia.infoPython()
    return n, failures, np.array(weights), info.sigmaGen() / MB_PER_PB, info.sigmaErr() / MB_PER_PB


def _check(path, ev):
    init, events = read_lhe(path)
    xwgt = np.array([e.eventinfo.weight for e in events])
    n, failures, weights, sigma, _ = _shower(path)
    assert (n, failures) == (ev.n_events, 0)
    assert sigma == pytest.approx(init.procInfo[0].xSection, rel=1e-9)
    # Pythia keeps each event's own weight (in pb or mb: compare the shapes)
    np.testing.assert_allclose(weights / weights.mean(), xwgt / xwgt.mean(), rtol=1e-9)
    return weights


def test_pythia_keeps_overweights(tmp_path):
    process = mli.processes.get("ee_qqg")
    integ = mli.Integrator(mli.backends.Vegas(process.dim), rng=3, progress=False)
    integ.train(process, calls=20_000)
    path = tmp_path / "over.lhe"
    ev = integ.generate(process, 300, out=path, pilot_calls=3_000, on_warning=lambda m: None)
    assert np.any(ev.weights > 1)
    weights = _check(path, ev)
    assert len(np.unique(np.round(weights, 9))) > 1  # not flattened to one value


def test_pythia_keeps_negative_weights(tmp_path):
    process = mli.processes.get("ee_qqg")

    integ = mli.Integrator(mli.backends.Vegas(process.dim), rng=4, progress=False)
    integ.train(process, calls=20_000)
    path = tmp_path / "signed.lhe"
    ev = integ.generate(
        Signed(process, cut=0.6, factor=-0.5),
        300,
        out=path,
        pilot_calls=20_000,
        on_warning=lambda m: None,
    )
    assert np.any(ev.weights < 0)
    weights = _check(path, ev)
    assert np.mean(weights < 0) == pytest.approx(ev.negative_fraction)
