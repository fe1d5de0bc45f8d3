"""One contract, every backend: shapes, exact normalised densities, ask/tell, save/load, seeds."""

import numpy as np
import pytest
from conftest import make, trained

import mlintegrate as mli


def test_sample_shapes_and_range(backend_name):
    b = trained(backend_name, dim=3)
    u, q = b.sample(1000, rng=1)
    assert u.shape == (1000, 3) and q.shape == (1000,)
    assert u.dtype == np.float64 and q.dtype == np.float64
    assert np.all((u >= 0) & (u <= 1))
    assert np.all(q > 0) and np.all(np.isfinite(q))


def test_density_of_sample_is_the_returned_q(backend_name):
    b = trained(backend_name)
    u, q = b.sample(5000, rng=2)
    np.testing.assert_allclose(b.density(u), q, rtol=1e-10)


def test_density_integrates_to_one(backend_name):
    b = trained(backend_name)
    x = np.random.default_rng(3).random((400_000, 2))
    q = b.density(x)
    err = q.std(ddof=1) / np.sqrt(q.size)
    assert abs(q.mean() - 1.0) <= 5 * err + 1e-12
    assert err < 0.02


def test_density_matches_the_sampled_histogram(backend_name):
    """Counts of samples in a 6x6 grid of cells against n ∫_cell q (chi-square)."""
    b = trained(backend_name)
    n = 200_000
    u, _ = b.sample(n, rng=4)
    edges = np.linspace(0, 1, 7)
    counts, _, _ = np.histogram2d(u[:, 0], u[:, 1], bins=[edges, edges])
    # expected counts from the density by a fine midpoint rule (120x120 per axis)
    m = np.linspace(0, 1, 721)[:-1] + 0.5 / 720
    gx, gy = np.meshgrid(m, m, indexing="ij")
    q = b.density(np.column_stack([gx.ravel(), gy.ravel()])).reshape(720, 720) / 720**2
    expected = n * q.reshape(6, 120, 6, 120).sum(axis=(1, 3))
    assert expected.sum() == pytest.approx(n, rel=1e-3)
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 36 + 5 * np.sqrt(72)  # 36 cells: mean ≈ 35, sd ≈ 8.4


def test_outside_the_cube_density_is_zero(backend_name):
    b = trained(backend_name)
    q = b.density(np.array([[1.5, 0.5], [-0.1, 0.2]]))
    np.testing.assert_array_equal(q, 0.0)


def test_ask_tell_loop_equals_train(backend_name):
    f = mli.functions.get("camel", dim=2)
    a = make(backend_name)
    mli.Integrator(a, rng=7, progress=False).train(f, calls=20_000, batch_size=4_000)
    b = make(backend_name)
    gen = np.random.default_rng(7)
    for _ in range(5):
        u, q = b.sample(4_000, gen)
        b.adapt(u, q, f(u))
    x = np.random.default_rng(8).random((1000, 2))
    np.testing.assert_array_equal(a.density(x), b.density(x))
    for key, value in a.state_dict().items():
        np.testing.assert_array_equal(value, b.state_dict()[key])


def test_save_load_gives_identical_densities(backend_name, tmp_path):
    b = trained(backend_name)
    integ = mli.Integrator(b, rng=1, progress=False)
    path = tmp_path / "proposal.npz"
    integ.save(path)
    loaded = mli.Integrator.load(path)
    assert loaded.backend.config() == b.config()
    x = np.random.default_rng(9).random((1000, 2))
    np.testing.assert_array_equal(loaded.backend.density(x), b.density(x))
    # the saved rng state continues: both draw the same next points
    np.testing.assert_array_equal(loaded.sample(10)[0], integ.sample(10)[0])


def test_same_seed_same_numbers(backend_name):
    f = mli.functions.get("camel", dim=2)
    results = []
    for _ in range(2):
        integ = mli.Integrator(make(backend_name), rng=11, progress=False)
        integ.train(f, calls=10_000)
        results.append(integ.integrate(f, calls=10_000))
    assert results[0].mean == results[1].mean and results[0].sdev == results[1].sdev


@pytest.mark.parametrize("bad", [0, -5, 2.5, True])
def test_bad_sample_size_is_named(backend_name, bad):
    b = make(backend_name)
    with pytest.raises(ValueError, match="n must be a positive int"):
        b.sample(bad, rng=0)


def test_wrong_point_shape_is_named(backend_name):
    b = make(backend_name)
    with pytest.raises(ValueError, match=r"expected shape \(n, 2\)"):
        b.density(np.zeros((4, 3)))
