"""The error estimate itself: pulls (I − exact)/δI over many seeds are standard normal."""

import numpy as np
import pytest

import mlintegrate as mli

N_SEEDS = 200


def _pulls(backend: str, name: str, dim: int, train: int, calls: int) -> np.ndarray:
    f = mli.functions.get(name, dim=dim)
    pulls = []
    for seed in range(N_SEEDS):
        integ = mli.Integrator(mli.backends.get(backend, dim=dim), rng=seed, progress=False)
        if train:
            integ.train(f, calls=train)
        r = integ.integrate(f, calls=calls)
        pulls.append((r.mean - f.exact) / r.sdev)
    return np.array(pulls)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "name", "dim", "train", "calls"),
    [
        ("uniform", "polynomial", 3, 0, 2_000),
        ("uniform", "cut", 2, 0, 2_000),
        ("vegas", "camel", 2, 20_000, 5_000),
        ("vegas", "ring", 2, 20_000, 5_000),
    ],
)
def test_pulls_are_standard_normal(backend, name, dim, train, calls):
    pulls = _pulls(backend, name, dim, train, calls)
    assert abs(pulls.mean()) < 0.2, pulls.mean()
    assert 0.85 < pulls.std(ddof=1) < 1.15, pulls.std(ddof=1)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "dim", "options", "train", "calls"),
    # ee_qqg on diet: its default map makes every weight equal, leaving no error to check
    [("camel", 2, {}, 20_000, 5_000), ("ee_qqg", None, {"phase_space": "diet"}, 60_000, 20_000)],
)
def test_flow_pulls_are_standard_normal(name, dim, options, train, calls):
    """One trained flow, 200 evaluation seeds: the error of the estimate given the proposal
    (what δI claims) is checked; training once keeps this test to seconds."""
    f = mli.processes.get(name, dim=dim, **options)
    backend = mli.backends.get("flow", dim=f.dim)
    mli.Integrator(backend, rng=1, progress=False).train(f, calls=train)
    pulls = []
    for seed in range(N_SEEDS):
        r = mli.Integrator(backend, rng=1000 + seed, progress=False).integrate(f, calls=calls)
        pulls.append((r.mean - f.exact) / r.sdev)
    pulls = np.array(pulls)
    assert abs(pulls.mean()) < 0.2, pulls.mean()
    assert 0.85 < pulls.std(ddof=1) < 1.15, pulls.std(ddof=1)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "dim", "train", "batch", "calls"),
    [("camel", 4, 20_000, 2_000, 5_000), ("ee_qqg", None, 50_000, 5_000, 20_000)],
)
def test_include_training_pulls_are_standard_normal(name, dim, train, batch, calls):
    """VEGAS training iterations averaged with the final estimate (include_training): the
    pulls over 200 seeds are standard normal. The same iterations averaged with 1/δI² from
    their own points (the old combination) are pulled low on these runs: the test can tell."""
    from scipy import stats

    from mlintegrate.result import combine_weighted

    # ee_qqg on diet, where it was measured: on its default exact map every weight is σ
    options = {"phase_space": "diet"} if name in mli.processes.process_names() else {}
    f = mli.processes.get(name, dim=dim, **options)
    pulls, old, q_values = [], [], []
    for seed in range(N_SEEDS):
        integ = mli.Integrator(mli.backends.Vegas(f.dim), rng=seed, progress=False)
        integ.train(f, calls=train, batch_size=batch)
        r = integ.integrate(f, calls=calls, include_training=True)
        assert r.combination == "weighted" and len(r.iterations) == train // batch + 1
        pulls.append(r.pull)
        q_values.append(r.Q)
        biased = combine_weighted(r.iterations)[0]
        old.append((biased.mean - f.exact) / biased.sdev)
    pulls, old = np.array(pulls), np.array(old)
    # 200 seeds: the mean of standard-normal pulls has sd 0.071, their sd has sd 0.05
    assert abs(pulls.mean()) < 0.2, pulls.mean()
    assert 0.85 < pulls.std(ddof=1) < 1.15, pulls.std(ddof=1)
    assert old.mean() < -0.25, old.mean()
    assert stats.kstest(q_values, "uniform").pvalue > 1e-3
