"""A user's Process through the integrator: bad parameters and bad |M|² give errors in the
terms of a matrix element (never advice meant for plain integrands, never a silent cast)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mlintegrate as mli
from mlintegrate.processes import Process


def _process(me=None, **kw) -> Process:
    args = {"incoming": (0.0, 0.0), "outgoing_masses": (0.0, 0.0), "sqrt_s": 91.2, **kw}
    return Process(me or (lambda p: np.ones(p.shape[0])), name="toy", **args)


def _integrate(process: Process):
    integ = mli.Integrator(mli.backends.Uniform(process.dim), rng=0, progress=False)
    return integ.integrate(process, calls=1_000)


def test_particles_is_exported():
    assert mli.processes.Particles is mli.processes.particles.Particles
    assert "Particles" in mli.processes.__all__
    p = mli.processes.Particles(pdg_ids=(11, -11, 13, -13))
    assert _process(particles=p).particles is p


def test_a_good_process_integrates():
    # constant |M|² = 1 over massless 2-body phase space: σ = flux · V_2 · GeV²→pb
    r = _integrate(_process())
    s = 91.2**2
    assert r.mean == pytest.approx(mli.processes.GEV2_TO_PB / (2 * s) / (8 * np.pi), rel=1e-12)


def test_complex_matrix_element_is_an_error_not_a_warning():
    proc = _process(lambda p: np.ones(p.shape[0]) * (1 + 1e-3j))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way
        with pytest.raises(mli.IntegrandError, match="complex128.*must be real") as excinfo:
            _integrate(proc)
    assert "abs(amplitude)**2" in str(excinfo.value)


def test_complex_per_event_matrix_element_too():
    with pytest.warns(UserWarning, match="per-event"):
        proc = _process(lambda event: 1 + 0.5j, vectorized=False)
    with pytest.raises(mli.IntegrandError, match="must be real"):
        _integrate(proc)


@pytest.mark.parametrize("bad", ["91.2", None, float("nan"), [91.2], True])
def test_sqrt_s_must_be_a_number(bad):
    with pytest.raises(mli.ConfigError, match="sqrt_s") as excinfo:
        _process(sqrt_s=bad)
    assert repr(bad) in str(excinfo.value)


@pytest.mark.parametrize(
    ("key", "bad"),
    [("incoming", "0"), ("outgoing_masses", ["0", "0"]), ("outgoing_masses", None)],
)
def test_masses_must_be_numbers(key, bad):
    with pytest.raises(mli.ConfigError, match=key):
        _process(**{key: bad})


@pytest.mark.parametrize(
    "me",
    [
        lambda p: np.ones((p.shape[0], 2)),  # wrong shape
        lambda p: p[:, 9, 0],  # IndexError inside
        lambda p: np.ones(p.shape[0]) + "x",  # TypeError-ish inside (numpy UFuncTypeError)
    ],
)
def test_matrix_element_errors_speak_of_momenta_not_vectorize(me):
    with pytest.raises(mli.IntegrandError) as excinfo:
        _integrate(_process(me))
    text = str(excinfo.value)
    assert "mli.vectorize" not in text
    assert "toy" in text and "(n, n_in + n_out, 4)" in text


def test_negative_matrix_element_is_named():
    with pytest.raises(mli.IntegrandError, match="toy: |M|² is NaN, infinite or negative"):
        _integrate(_process(lambda p: -np.ones(p.shape[0])))


def test_errors_are_value_errors_for_old_callers():
    with pytest.raises(ValueError):
        _process(sqrt_s=-1.0)
