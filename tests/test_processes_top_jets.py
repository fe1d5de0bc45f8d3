"""top_decay against its 1-D quadrature reference; the 4-parton toy against its stored run."""

import itertools

import numpy as np
import pytest

import mlintegrate as mli
from mlintegrate.processes import jets, top


def _vegas(process, train=100_000, calls=200_000, seed=3):
    integ = mli.Integrator(mli.backends.Vegas(process.dim), rng=seed, progress=False)
    integ.train(process, calls=train)
    return integ.integrate(process, calls=calls)


@pytest.mark.parametrize("m_b", [0.0, 4.8])
def test_top_width_against_quadrature(m_b):
    process = top.top_decay(m_b=m_b)
    assert process.unit == "GeV"
    r = _vegas(process)
    assert abs(r.mean - process.exact) < 5 * r.sdev
    assert r.sdev / process.exact < 2e-3


@pytest.mark.parametrize("name", ["top_decay", "ee_4jet"])
def test_uniform_sampling_agrees_with_the_reference(name):
    """Flat phase space at 2·10⁵ calls: δσ/σ ≈ 1 % (top) and 1.4 % (4 partons)."""
    process = mli.processes.get(name)
    integ = mli.Integrator(mli.backends.Uniform(process.dim), rng=0, progress=False)
    r = integ.integrate(process, calls=200_000)
    err = np.hypot(r.sdev, process.exact_error or 0.0)
    assert abs(r.mean - process.exact) < 5 * err
    assert r.sdev / process.exact < 2e-2


def test_top_reference_is_close_to_the_narrow_width_limit():
    """Γ(t→bℓν) ≈ Γ(t→bW) · Γ(W→ℓν)/Γ_W, up to O(Γ_W/M_W) off-shell effects."""
    g2 = top._g2()
    mt, mw = top.M_TOP, top.M_W
    x = (mw / mt) ** 2
    gamma_tbw = g2 * mt**3 / (64 * np.pi * mw**2) * (1 - x) ** 2 * (1 + 2 * x)
    br = g2 * mw / (48 * np.pi) / top.WIDTH_W
    ratio = top.top_decay_reference() / (gamma_tbw * br)
    assert 0.95 < ratio < 1.0  # the off-shell tail below the peak is cut by m_t − m_b


def test_top_decay_events_are_on_shell_and_conserve_momentum():
    process = top.top_decay(m_b=4.8)
    p, w = process.momenta(np.random.default_rng(1).random((1000, 5)))
    np.testing.assert_allclose(p[:, 1:].sum(axis=1), p[:, 0], atol=1e-9)
    m2_b = p[:, 1, 0] ** 2 - np.sum(p[:, 1, 1:] ** 2, axis=1)
    np.testing.assert_allclose(m2_b, 4.8**2, rtol=1e-9)


def test_four_jet_reference_is_stored_with_command_and_error():
    process = jets.ee_4jet()
    assert process.exact is not None and 0 < process.exact_error < 0.01 * process.exact
    record = mli.processes.references.stored_reference(
        "ee_4jet", {"sqrt_s": 91.2, "alpha_s": 0.118, "pt_min": 5.0, "dr_min": 0.4}
    )
    assert record["command"].startswith("python -m mlintegrate.recompute_reference ee_4jet")


def test_four_jet_against_its_reference():
    process = jets.ee_4jet()
    r = _vegas(process, train=200_000, calls=200_000)
    err = np.hypot(r.sdev, process.exact_error)
    assert abs(r.mean - process.exact) < 5 * err
    assert r.sdev / process.exact < 3e-2


def test_four_jet_matrix_element_is_symmetric_in_the_partons():
    process = jets.ee_4jet()
    p, _ = process.momenta(np.random.default_rng(2).random((50, 8)))
    reference = process.matrix_element(p)
    assert np.all(reference > 0)
    for perm in itertools.permutations(range(4)):
        q = p.copy()
        q[:, 2:] = p[:, 2:][:, list(perm)]
        np.testing.assert_allclose(process.matrix_element(q), reference, rtol=1e-12)


def test_four_jet_cuts_hold():
    process = jets.ee_4jet()
    p, _ = process.momenta(np.random.default_rng(3).random((20_000, 8)))
    mask = process.passes_cuts(p)
    k = p[mask][:, 2:]
    assert np.all(np.hypot(k[..., 1], k[..., 2]) > 5.0)
    assert 0.3 < mask.mean() < 0.9
