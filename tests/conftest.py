"""Shared fixtures: every backend, trained a little so its density is not trivial."""

import numpy as np
import pytest
import torch

import mlintegrate as mli

BACKENDS = mli.backends.names()


def trained(name: str, dim: int = 2, seed: int = 0) -> mli.backends.Backend:
    """A backend adapted on camel (dim) with a small budget, deterministically."""
    backend = mli.backends.get(name, dim=dim)
    integ = mli.Integrator(backend, rng=seed, progress=False)
    integ.train(mli.functions.get("camel", dim=dim), calls=30_000, batch_size=5_000)
    return backend


@pytest.fixture(params=BACKENDS)
def backend_name(request) -> str:
    return request.param


@pytest.fixture
def one_torch_thread():
    """Small tensors: one intra-op thread is several times faster on a shared machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
