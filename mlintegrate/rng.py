"""Seeds: every entry point takes ``rng`` as an int seed, a numpy Generator or None."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["RngLike", "as_generator", "child_seed"]

RngLike = int | np.random.Generator | None


def as_generator(rng: RngLike) -> np.random.Generator:
    """An int seeds a fresh PCG64 Generator; a Generator is used as is (shared state)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        if rng is not None and rng < 0:
            raise ValueError(f"rng seed must be a non-negative int, got {rng}")
        return np.random.default_rng(rng)
    raise TypeError(
        f"rng must be an int seed, a numpy.random.Generator or None, got {type(rng).__name__}"
    )


def child_seed(gen: np.random.Generator) -> int:
    """A 63-bit seed drawn from ``gen``, to seed another generator (e.g. torch or gvar)."""
    return int(gen.integers(0, 2**63 - 1))
