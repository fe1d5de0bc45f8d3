"""The shared loop: pull tests against exact integrals, bad input, checkpoints, callbacks."""

import math

import numpy as np
import pytest

import mlintegrate as mli

# (function, dim, bound on δI/I for uniform, for vegas) at 100k training + 200k evaluation
# calls. Uniform has no bound on peaks in d=4: its weights are too heavy-tailed there for the
# error estimate itself to be trusted at this budget (rsd ≈ 80).
CASES = [
    ("camel", 2, 6e-3, 3e-3),
    ("camel", 4, 2e-2, 8e-3),
    ("ring", 2, 8e-3, 5e-3),
    ("peaks", 2, 6e-2, 6e-4),
    ("peaks", 4, None, 1e-3),
    ("polynomial", 3, 2e-3, 1.2e-4),
    ("cut", 2, 1.5e-3, 1e-3),
]


PULL_CASES = [
    (backend, name, dim, bound)
    for name, dim, bound_uniform, bound_vegas in CASES
    for backend, bound in (("uniform", bound_uniform), ("vegas", bound_vegas))
    if bound is not None
]


@pytest.mark.parametrize(("backend", "name", "dim", "bound"), PULL_CASES)
def test_pull_against_exact_integral(backend, name, dim, bound):
    f = mli.functions.get(name, dim=dim)
    integ = mli.Integrator(mli.backends.get(backend, dim=dim), rng=2024, progress=False)
    integ.train(f, calls=100_000)
    r = integ.integrate(f, calls=200_000, iterations=4)
    assert abs(r.mean - f.exact) < 5 * r.sdev
    assert r.sdev / f.exact < bound
    assert r.calls == 200_000 and r.calls_train == 100_000
    assert 0 < r.efficiency.max <= r.efficiency.median_max <= 1.0
    assert 0 < r.ess_fraction <= 1.0


def test_cut_efficiency_is_the_cut_volume_for_uniform():
    f = mli.functions.get("cut", dim=2)
    r = mli.Integrator(mli.backends.Uniform(2), rng=1, progress=False).integrate(f, calls=100_000)
    p = f.nonzero_fraction
    assert abs(r.metrics.cut_efficiency - p) < 5 * math.sqrt(p * (1 - p) / 100_000)


def test_iterations_are_reported_with_chi2():
    f = mli.functions.get("camel", dim=2)
    integ = mli.Integrator(mli.backends.Vegas(2), rng=3, progress=False)
    integ.train(f, calls=50_000)
    r = integ.integrate(f, calls=100_000, iterations=10)
    assert len(r.iterations) == 10 and r.dof == 9
    assert sum(e.calls for e in r.iterations) == 100_000
    # pooled: the estimate is the mean of the batch means (equal batches)
    assert r.mean == pytest.approx(np.mean([e.mean for e in r.iterations]), rel=1e-12)
    assert 0.0 < r.Q <= 1.0


def test_include_training_combines_all_iterations():
    f = mli.functions.get("camel", dim=2)
    integ = mli.Integrator(mli.backends.Vegas(2), rng=4, progress=False)
    integ.train(f, calls=50_000, batch_size=10_000)
    r = integ.integrate(f, calls=50_000, include_training=True)
    # 5 training iterations + the final estimate; the first iteration only weights the second
    assert r.combination == "weighted" and r.dof == 4 and len(r.iterations) == 6
    assert abs(r.mean - f.exact) < 5 * r.sdev
    assert r.iterations[:5] == [s.estimate for s in integ.history.iterations]


def test_predictable_weights_by_hand():
    """Iteration k is weighted by n_k / s²_{k-1} (s² = calls·sdev² of the one before); the
    first only weights the second; the error is that of the weighted sum."""
    from mlintegrate.result import Estimate, combine_predictable

    its = [Estimate(1.2, 0.2, 100), Estimate(0.9, 0.1, 100), Estimate(1.05, 0.05, 400)]
    est, chi2, dof, q = combine_predictable(its[:2], its[2])
    a = np.array([100 / (0.2**2 * 100), 400 / (0.1**2 * 100)])  # = [25, 400]
    mean = (a[0] * 0.9 + a[1] * 1.05) / a.sum()
    assert est.mean == pytest.approx(mean, rel=1e-14)
    assert est.sdev == pytest.approx(math.hypot(a[0] * 0.1, a[1] * 0.05) / a.sum(), rel=1e-14)
    assert est.calls == 500 and dof == 1
    assert chi2 == pytest.approx(((0.9 - mean) / 0.1) ** 2 + ((1.05 - mean) / 0.05) ** 2)
    # nothing before the final estimate: it stands alone
    assert combine_predictable([], its[2]) == (its[2], 0.0, 0, 1.0)


def test_scalar_function_through_vectorize():
    def g(x):
        return 3.0 * x[0] ** 2 * (1.0 + x[1])  # ∫ = 1 · 3/2

    integ = mli.Integrator(mli.backends.Uniform(2), rng=5, progress=False)
    r = integ.integrate(mli.vectorize(g), calls=20_000)
    assert abs(r.mean - 1.5) < 5 * r.sdev
    with pytest.raises(mli.IntegrandError, match=r"mli\.vectorize"):
        integ.integrate(g, calls=100)


def test_nan_from_integrand_reports_count_and_example():
    def f(u):
        out = u[:, 0].copy()
        out[u[:, 0] < 0.1] = np.nan
        return out

    integ = mli.Integrator(mli.backends.Uniform(2), rng=6, progress=False)
    with pytest.raises(mli.IntegrandError, match=r"non-finite value\(s\).*at u = \[0\.0"):
        integ.integrate(f, calls=1000)


def test_wrong_output_shape():
    integ = mli.Integrator(mli.backends.Uniform(2), rng=0, progress=False)
    with pytest.raises(mli.IntegrandError, match=r"returned shape \(10, 2\).*shape \(10,\)"):
        integ.integrate(lambda u: u, calls=10)


def test_dimension_mismatch_names_both():
    f = mli.functions.get("camel", dim=3)
    integ = mli.Integrator(mli.backends.Vegas(2), rng=0, progress=False)
    with pytest.raises(ValueError, match=r"dim=3.*dim=2.*dim=3"):
        integ.train(f, calls=1000)


def test_zero_integrand_is_an_error():
    integ = mli.Integrator(mli.backends.Vegas(2), rng=0, progress=False)
    with pytest.raises(mli.IntegrandError, match="zero"):
        integ.train(lambda u: np.zeros(len(u)), calls=1000)
    with pytest.raises(mli.IntegrandError, match="zero everywhere"):
        integ.integrate(lambda u: np.zeros(len(u)), calls=1000)


@pytest.mark.parametrize("calls", [0, -1, 1.5])
def test_bad_calls(calls):
    integ = mli.Integrator(mli.backends.Uniform(2), rng=0, progress=False)
    with pytest.raises(ValueError, match="calls must be a positive integer"):
        integ.integrate(lambda u: u[:, 0], calls=calls)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="uniform, vegas"):
        mli.backends.get("nope", dim=2)
    with pytest.raises(ValueError, match="camel"):
        mli.functions.get("nope")


def test_bad_rng_and_backend_types():
    with pytest.raises(TypeError, match="rng"):
        mli.Integrator(mli.backends.Uniform(2), rng="seed")
    with pytest.raises(TypeError, match="backend"):
        mli.Integrator("vegas")


def test_callback_sees_every_iteration_and_can_stop():
    f = mli.functions.get("camel", dim=2)
    seen = []
    integ = mli.Integrator(mli.backends.Vegas(2), rng=0, progress=False)
    hist = integ.train(f, calls=50_000, batch_size=5_000, callbacks=[lambda s: seen.append(s)])
    assert [s.iteration for s in seen] == list(range(1, 11))
    assert seen[-1].calls == 50_000 == hist.calls
    integ2 = mli.Integrator(mli.backends.Vegas(2), rng=0, progress=False)
    hist2 = integ2.train(f, calls=50_000, batch_size=5_000, callbacks=[lambda s: s.iteration >= 3])
    assert hist2.calls == 15_000


def test_batches_are_equal_sizes():
    f = mli.functions.get("camel", dim=2)
    integ = mli.Integrator(mli.backends.Vegas(2), rng=0, progress=False)
    hist = integ.train(f, calls=20_001, batch_size=5_000)
    sizes = np.diff([0] + [s.calls for s in hist.iterations])
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == 20_001


def test_interrupted_training_resumes_to_identical_numbers(tmp_path):
    f = mli.functions.get("camel", dim=3)
    path = tmp_path / "run.npz"
    full = mli.Integrator(mli.backends.Vegas(3), rng=9, progress=False)
    full.train(f, calls=40_000, batch_size=5_000)

    def interrupt(status):
        if status.iteration == 3:
            raise KeyboardInterrupt

    first = mli.Integrator(mli.backends.Vegas(3), rng=9, progress=False)
    with pytest.raises(KeyboardInterrupt):
        first.train(f, calls=40_000, batch_size=5_000, checkpoint=path, callbacks=[interrupt])
    resumed = mli.Integrator(mli.backends.Vegas(3), rng=12345, progress=False)
    hist = resumed.train(f, calls=40_000, batch_size=5_000, checkpoint=path)
    assert hist.calls == 40_000 and len(hist.iterations) == 8
    np.testing.assert_array_equal(
        resumed.backend.state_dict()["grid"], full.backend.state_dict()["grid"]
    )
    a = full.integrate(f, calls=10_000)
    b = resumed.integrate(f, calls=10_000)
    assert a.mean == b.mean


def test_checkpoint_of_another_backend_is_refused(tmp_path):
    path = tmp_path / "run.npz"
    mli.Integrator(mli.backends.Vegas(2), rng=0, progress=False).save(path)
    with pytest.raises(mli.CheckpointError, match="holds backend 'vegas'"):
        mli.Integrator(mli.backends.Uniform(2), progress=False).train(
            mli.functions.get("camel"), calls=100, checkpoint=path
        )


@pytest.mark.parametrize(
    "content",
    [b"", b"not a zip file at all", b"PK\x03\x04truncated"],
)
def test_corrupt_checkpoints_give_clear_errors(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(mli.CheckpointError, match="bad.npz"):
        mli.Integrator.load(path)


def test_foreign_npz_and_pickles_are_refused(tmp_path):
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, grid=np.zeros(3))
    with pytest.raises(mli.CheckpointError, match="not an mlintegrate checkpoint"):
        mli.Integrator.load(foreign)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __meta__=np.array([{"format": "mlintegrate-checkpoint"}], dtype=object))
    with pytest.raises(mli.CheckpointError):
        mli.Integrator.load(pickled)


def test_truncated_real_checkpoint(tmp_path):
    path = tmp_path / "run.npz"
    mli.Integrator(mli.backends.Vegas(2), rng=0, progress=False).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(mli.CheckpointError, match="corrupt, truncated"):
        mli.Integrator.load(path)


def test_summary_names_every_definition():
    f = mli.functions.get("camel", dim=2)
    integ = mli.Integrator(mli.backends.Vegas(2), rng=0, progress=False)
    integ.train(f, calls=20_000)
    text = str(integ.integrate(f, calls=20_000, iterations=2))
    for word in ("bootstrap median of max", "reduced", "ESS fraction", "rsd", "chi2/dof", "pull"):
        assert word in text


def test_huge_calls_are_refused_up_front_with_the_memory_needed():
    def never(u):
        raise AssertionError("the integrand must not be called")

    never.dim = 2
    integ = mli.Integrator(mli.backends.Vegas(2), rng=0, progress=False)
    with pytest.raises(mli.ConfigError, match=r"calls=1e\+12 needs 7.28 TiB for the weights") as e:
        integ.integrate(never, calls=10**12)
    assert "fit in half of the memory available" in str(e.value)
    with pytest.raises(mli.ConfigError, match="iterations"):
        integ.integrate(never, calls=10, iterations=11)
