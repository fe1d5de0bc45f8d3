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
