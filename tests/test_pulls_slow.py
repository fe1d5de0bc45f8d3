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
