"""The VEGAS backend against the vegas package it wraps."""

import numpy as np
import pytest
import vegas
from conftest import trained

import mlintegrate as mli
from mlintegrate.reference import vegas_plus


def test_density_is_inverse_jacobian_of_the_map():
    b = trained("vegas", dim=3)
    y = np.random.default_rng(1).random((1000, 3))
    x = np.empty_like(y)
    jac = np.empty(1000)
    b.map.map(y, x, jac)
    np.testing.assert_allclose(b.density(x), 1.0 / jac, rtol=1e-10)
    # and the Jacobian is the product of the 1-D increments' stretch factors
    np.testing.assert_allclose(np.prod(b.map.jac1d(y), axis=1), jac, rtol=1e-12)


def test_adapt_trains_the_map_like_vegas_own_training_data():
    """adapt(u, q, f) = add_training_data(y, (f·J)²) + adapt(alpha) on the vegas map."""
    f = mli.functions.get("camel", dim=2)
    b = mli.backends.Vegas(dim=2, ninc=50, alpha=0.7)
    ref = vegas.AdaptiveMap([[0.0, 1.0]] * 2, ninc=50)
    gen = np.random.default_rng(4)
    for _ in range(4):
        y = gen.random((5000, 2))
        x = np.empty_like(y)
        jac = np.empty(5000)
        ref.map(y, x, jac)
        ref.add_training_data(y, (f(x) * jac) ** 2)
        ref.adapt(alpha=0.7)
        b.adapt(x, 1.0 / jac, f(x))
    np.testing.assert_allclose(b.state_dict()["grid"], np.array(ref.extract_grid()), atol=1e-10)


def test_trained_vegas_beats_uniform_on_camel():
    f = mli.functions.get("camel", dim=4)
    rsd = {}
    for name in ("uniform", "vegas"):
        integ = mli.Integrator(mli.backends.get(name, dim=4), rng=2, progress=False)
        integ.train(f, calls=100_000)
        rsd[name] = integ.integrate(f, calls=100_000).rsd
    assert rsd["vegas"] < 0.6 * rsd["uniform"]


def test_agrees_with_the_vegas_package_on_the_same_integral():
    f = mli.functions.get("peaks", dim=3)
    ours = mli.Integrator(mli.backends.Vegas(dim=3), rng=3, progress=False)
    ours.train(f, calls=100_000)
    r = ours.integrate(f, calls=100_000)
    ref = vegas_plus(f, 3, 100_000, 100_000, rng=3)
    assert abs(r.mean - ref.mean) < 5 * np.hypot(r.sdev, ref.sdev)
    assert abs(ref.mean - f.exact) < 5 * ref.sdev


def test_vegas_plus_reference_is_seeded():
    f = mli.functions.get("camel", dim=2)
    a = vegas_plus(f, 2, 10_000, 10_000, rng=5)
    b = vegas_plus(f, 2, 10_000, 10_000, rng=5)
    assert a.mean == b.mean and a.calls == b.calls > 0
    assert a.metrics is None and a.efficiency is None


def test_corrupt_grid_is_rejected():
    b = mli.backends.Vegas(dim=2, ninc=4)
    with pytest.raises(ValueError, match="grid"):
        b.load_state_dict({"grid": np.zeros((2, 5))})
    with pytest.raises(ValueError, match="shape"):
        b.load_state_dict({"grid": np.zeros((3, 5))})


@pytest.mark.parametrize(("kwargs", "name"), [({"ninc": 1}, "ninc"), ({"alpha": -1.0}, "alpha")])
def test_bad_options_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        mli.backends.Vegas(dim=2, **kwargs)
