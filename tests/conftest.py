"""Shared fixtures: every backend *configuration*, trained a little so its density is not trivial.

The contract tests run over the named backends and over compositions of the parts (no
defensive component, a VEGAS pre-map, a mixture of two backends, a mapped backend), so a
wrapper that broke exactness or ask/tell would fail the same tests as a backend.
"""

from collections.abc import Callable

import numpy as np
import pytest
import torch

import mlintegrate as mli
from mlintegrate.backends import BVAE, Flow, LogMap, Mapped, Mixture, MultiChannel, Vegas


def _two_channels(d: int) -> list:
    """Two channels of the unit cube: 1/x sampling of the first or of the last axis."""
    return [LogMap(d, axis=0, epsilon=0.05), LogMap(d, axis=d - 1, epsilon=0.05)]


def draw_arc_law_checked(law, rng: np.random.Generator) -> np.ndarray:
    """Draw ψ (n,) from an arc law (:mod:`mlintegrate.phasespace.arcs`), asserting that the
    quantile inverts the CDF, that the CDF reaches 1 at 2π, and that the density is its
    derivative away from the breakpoints."""
    from mlintegrate.phasespace.arcs import arc_cdf, arc_density, arc_quantile

    n = law.xs.shape[0]
    t = rng.uniform(1e-9, 1 - 1e-9, n)
    psi = arc_quantile(t, law)
    np.testing.assert_allclose(arc_cdf(psi, law), t, atol=1e-12)
    np.testing.assert_allclose(arc_cdf(np.full(n, 2 * np.pi), law), 1.0, atol=1e-12)
    h = 1e-7
    fd = (arc_cdf(psi + h, law) - arc_cdf(psi - h, law)) / (2 * h)
    away = np.min(np.abs(law.xs[:, 1:5] - psi[:, None]), axis=1) > 1e-5
    np.testing.assert_allclose(fd[away], arc_density(psi, law)[away], rtol=1e-6)
    return psi


# a small, quick flow for the mechanics tests (the defaults are tuned for accuracy)
QUICK = {"bins": 8, "hidden": 16, "steps_per_batch": 5, "minibatch": 256}

CONFIGURATIONS: dict[str, Callable[[int], mli.backends.Backend]] = {
    **{name: (lambda d, name=name: mli.backends.get(name, dim=d)) for name in mli.backends.names()},
    # multichannel takes the integrand's channels; here two generic ones of any dimension
    "multichannel": lambda d: MultiChannel(d, _two_channels(d), **QUICK),
    "multichannel-vegas": lambda d: MultiChannel(d, _two_channels(d), inner="vegas", ninc=32),
    "flow-defensive0": lambda d: Flow(d, defensive=0.0, **QUICK),
    "flow-premap": lambda d: Flow(d, premap="vegas", premap_batches=2, **QUICK),
    "flow-vegas-safe": lambda d: Flow(d, safe="vegas", learn_weights=True, **QUICK),
    # the former default: the uniform safe component at fixed weight λ = 0.05
    "flow-uniform-safe": lambda d: Flow(
        d, safe="uniform", select_weights=False, find_modes=False, **QUICK
    ),
    # mode search on 3 of the 6 training batches, then [flow, *one channel per peak, VEGAS]
    # with the default's selection ...
    "flow-modes": lambda d: Flow(d, find_modes=True, search_batches=3, **QUICK),
    # ... or the former [flow, uniform, *channels] with all weights learned
    "flow-modes-kp": lambda d: Flow(
        d, find_modes=True, select_weights=False, search_batches=3, **QUICK
    ),
    "mixture-vegas-flow": lambda d: Mixture(
        [Vegas(d), Flow(d, defensive=0.0, **QUICK)], [0.3, 0.7]
    ),
    "mapped-flow": lambda d: Mapped(Flow(d, **QUICK), LogMap(d, axis=0, epsilon=0.05)),
    # the registry's "bvae" with K = 256 buffer components instead of 1024: the (n, K) latent
    # mixture dominates the cost of the 518 400-point histogram test on a shared machine
    "bvae": lambda d: BVAE(d, components=256),
    # the B-VAE's other constructions: buffer as training base (VampPrior-like) + mode memory
    "bvae-vampprior-memory": lambda d: BVAE(
        d, fit="mixture", memory=True, eta=0.5, components=128, **QUICK
    ),
}
BACKENDS = list(CONFIGURATIONS)


def make(name: str, dim: int = 2) -> mli.backends.Backend:
    """A fresh, untrained backend of the configuration ``name``."""
    return CONFIGURATIONS[name](dim)


def trained(name: str, dim: int = 2, seed: int = 0) -> mli.backends.Backend:
    """A backend adapted on camel (dim) with a small budget, deterministically."""
    backend = make(name, dim)
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
