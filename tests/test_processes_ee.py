"""e+e− processes: cross sections against closed forms, the 5-d q q̄ g |M|² against x₁, x₂."""

import math

import numpy as np
import pytest
from scipy import integrate

import mlintegrate as mli
from mlintegrate.processes import GEV2_TO_PB, Process, ee


def _integrate(process, backend, train=100_000, calls=200_000, seed=5):
    integ = mli.Integrator(mli.backends.get(backend, dim=process.dim), rng=seed, progress=False)
    if train:
        integ.train(process, calls=train)
    return integ.integrate(process, calls=calls)


def test_sigma_mumu_closed_form_in_pb():
    # 4πα²/(3s) at √s = 91.2 GeV: 86.8 nb GeV² / s
    s = 91.2**2
    assert ee.sigma_mumu(91.2) == pytest.approx(4 * math.pi * ee.ALPHA**2 / (3 * s) * GEV2_TO_PB)
    assert ee.sigma_mumu(91.2) == pytest.approx(10.4425, rel=1e-4)


# (process factory, backend, bound on δσ/σ at 100k training + 200k evaluation calls)
CASES = [
    (lambda: ee.ee_mumu(), "uniform", 1e-3),
    (lambda: ee.ee_mumu(), "vegas", 1e-4),
    (lambda: ee.ee_mumu(with_z=True), "vegas", 1e-4),
    (lambda: ee.ee_mumu(sqrt_s=10.0, phase_space="rambo"), "uniform", 1e-3),
    (lambda: ee.ee_qq(), "uniform", 1e-3),
    (lambda: ee.ee_qq(), "vegas", 1e-4),
    (lambda: ee.ee_qqg(phase_space="diet"), "uniform", 2e-2),
    (lambda: ee.ee_qqg(phase_space="diet"), "vegas", 1e-2),
    (lambda: ee.ee_qqg(phase_space="dalitz"), "uniform", 2e-2),
    (lambda: ee.ee_qqg(phase_space="dalitz"), "vegas", 1e-3),
]


@pytest.mark.parametrize(("factory", "backend", "bound"), CASES)
def test_pull_against_reference(factory, backend, bound):
    process = factory()
    r = _integrate(process, backend)
    assert abs(r.mean - process.exact) < 5 * r.sdev
    assert r.sdev / process.exact < bound


def test_qqg_reference_against_two_dimensional_quadrature():
    """The 1-D closed-form reduction against a plain 2-D adaptive quadrature of the formula."""
    y = 0.01

    def density(x2, x1):
        return (x1**2 + x2**2) / ((1 - x1) * (1 - x2))

    value, err = integrate.dblquad(
        density, 2 * y, 1 - y, lambda x1: 1 + y - x1, lambda x1: 1 - y, epsabs=0, epsrel=1e-11
    )
    sigma0 = ee.N_C * (11 / 9) * ee.sigma_mumu(91.2)
    expected = sigma0 * 0.118 / (2 * math.pi) * ee.C_F * value
    assert ee.qqg_reference() == pytest.approx(expected, rel=1e-8)


def test_qqg_matrix_element_averaged_over_beam_direction_is_the_x1_x2_formula():
    """For fixed q q̄ g momenta, ⟨|M|²⟩ over beam directions is
    2 N_c C_F ΣQ² e⁴g² (4/3)(x₁²+x₂²)/(s(1-x₁)(1-x₂))."""
    process = ee.ee_qqg()
    rng = np.random.default_rng(3)
    p, _ = process.momenta(rng.random((4, 5)))
    sqrt_s = process.sqrt_s
    n_dir = 200_000
    for event in p:
        # random beam directions n̂: p1 = √s/2 (1, n̂), p2 = √s/2 (1, −n̂)
        cos = rng.uniform(-1, 1, n_dir)
        phi = rng.uniform(0, 2 * np.pi, n_dir)
        sin = np.sqrt(1 - cos**2)
        nhat = np.column_stack([sin * np.cos(phi), sin * np.sin(phi), cos])
        mom = np.empty((n_dir, 5, 4))
        mom[:, 0, 0] = mom[:, 1, 0] = sqrt_s / 2
        mom[:, 0, 1:] = sqrt_s / 2 * nhat
        mom[:, 1, 1:] = -sqrt_s / 2 * nhat
        mom[:, 2:] = event[2:]
        me = process.matrix_element(mom)
        x1, x2 = 2 * event[2, 0] / sqrt_s, 2 * event[3, 0] / sqrt_s
        e2, gs2 = 4 * math.pi * ee.ALPHA, 4 * math.pi * 0.118
        norm = 2 * ee.N_C * ee.C_F * (11 / 9) * e2**2 * gs2
        expected = norm * (4 / 3) * (x1**2 + x2**2) / (sqrt_s**2 * (1 - x1) * (1 - x2))
        assert abs(me.mean() - expected) < 5 * me.std() / np.sqrt(n_dir)


def test_qqg_cuts_hold_for_every_event_that_passes():
    process = ee.ee_qqg(phase_space="diet")  # the map whose points can fail the cuts
    p, _ = process.momenta(np.random.default_rng(1).random((20_000, 5)))
    mask = process.passes_cuts(p)
    k = p[mask][:, 2:]
    s = process.sqrt_s**2
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        sij = 2 * (k[:, i, 0] * k[:, j, 0] - np.sum(k[:, i, 1:] * k[:, j, 1:], axis=1))
        assert np.all(sij > 0.01 * s)
    assert 0.9 < mask.mean() < 1.0


def test_cut_efficiency_and_cross_section_of_an_angular_cut():
    """|cos θ| < 1/2 keeps half of the (flat in cos θ) 2-body phase space and
    (3/8)∫_{−1/2}^{1/2}(1+c²)dc = 13/32 of σ."""

    def central(p):
        return np.abs(p[:, 2, 3] / p[:, 2, 0]) < 0.5

    full = ee.ee_mumu()
    process = Process(
        full.matrix_element, (0.0, 0.0), (0.0, 0.0), sqrt_s=91.2, cuts=central, name="central"
    )
    r = _integrate(process, "uniform", train=0, calls=100_000)
    assert abs(r.metrics.cut_efficiency - 0.5) < 5 * math.sqrt(0.25 / 100_000)
    exact = full.exact * 13 / 32
    assert abs(r.mean - exact) < 5 * r.sdev and r.sdev / exact < 5e-3


def test_momenta_conserve_and_put_beams_first():
    process = ee.ee_qqg()
    p, w = process.momenta(np.random.default_rng(2).random((100, 5)))
    assert p.shape == (100, 5, 4)
    np.testing.assert_allclose(p[:, 0], [[45.6, 0, 0, 45.6]] * 100)
    np.testing.assert_allclose(p[:, 2:].sum(axis=1), p[:, :2].sum(axis=1), atol=1e-10)
    assert np.all(w > 0)


def test_user_matrix_element_per_event_and_errors():
    def per_event(p):  # |M|² of one event, p (4, 4)
        return 2.0 + p[2, 3] / p[2, 0]

    with pytest.warns(UserWarning, match="per-event"):
        process = Process(per_event, (0.0, 0.0), (0.0, 0.0), sqrt_s=10.0, vectorized=False)
    values = process(np.random.default_rng(0).random((10, 2)))
    assert values.shape == (10,) and np.all(values > 0)

    def negative(p):
        return -np.ones(len(p))

    bad = Process(negative, (0.0, 0.0), (0.0, 0.0), sqrt_s=10.0, name="neg")
    with pytest.raises(ValueError, match="neg: .*negative at 10 of 10 events"):
        bad(np.random.default_rng(0).random((10, 2)))

    def wrong_shape(p):
        return np.ones((len(p), 2))

    with pytest.raises(ValueError, match=r"returned shape \(5, 2\)"):
        Process(wrong_shape, (0.0, 0.0), (0.0, 0.0), sqrt_s=10.0)(np.full((5, 2), 0.5))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"outgoing_masses": (6.0, 5.0)}, "add up to 11.0 GeV"),
        ({"sqrt_s": -1.0}, "sqrt_s"),
        ({"outgoing_masses": (0.0,)}, "at least two"),
        ({"incoming": (0.0, 0.0, 0.0)}, "incoming"),
        ({"phase_space": "flat"}, "phase_space"),
        ({"symmetry_factor": 0.0}, "symmetry_factor"),
    ],
)
def test_bad_process_definitions_are_named(kwargs, match):
    args = {"incoming": (0.0, 0.0), "outgoing_masses": (0.0, 0.0), "sqrt_s": 10.0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Process(lambda p: np.ones(len(p)), **args)


def test_qqg_dalitz_map_passes_every_cut_and_rejects_unknown_maps():
    process = ee.ee_qqg(phase_space="dalitz", y_cut=0.02)
    u = np.random.default_rng(4).random((20_000, process.dim))
    p, _ = process.momenta(u)
    assert process.dim == 5 and process.passes_cuts(p).all()
    with pytest.raises(ValueError, match="'dalitz'"):
        ee.ee_qqg(phase_space="flat")


def test_registry_and_dim_check():
    names = mli.processes.names()
    for name in ("ee_mumu", "ee_qq", "ee_qqg", "camel"):
        assert name in names
    assert mli.processes.get("ee_qqg").dim == 5
    with pytest.raises(ValueError, match="dimension 5"):
        mli.processes.get("ee_qqg", dim=3)
