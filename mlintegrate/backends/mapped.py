r"""A backend living in the pre-image of a bijection: ``Mapped(inner, T)``.

With u = T(y) and the inner proposal p(y) on the cube,

    q(u) = p(T⁻¹(u)) · |det ∂T⁻¹/∂u|,

sampled as y ~ p, u = T(y), q = p(y) / |det ∂T/∂y|. ``adapt(u, q, f)`` passes the points on in
the inner coordinates: y = T⁻¹(u) drawn with density q·J and integrand f·J (J = |det ∂u/∂y|),
so the weights f/q are unchanged. With ``adapt_map_batches = k`` an adaptive map (the VEGAS
grid) learns from the first k batches while the inner proposal waits, then stays frozen
(MadNIS's VEGAS pre-map); the inner proposal never trains on points of a map that later moved.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import MLIntegrateError
from ..validate import int_at_least
from .base import Backend, prefixed, unprefixed
from .bijections import Bijection

__all__ = ["Mapped"]


class Mapped(Backend):
    """``inner`` on the cube of y, pushed through the cube-to-cube bijection ``bijection``."""

    name = "mapped"

    def __init__(self, inner: Backend, bijection: Bijection, adapt_map_batches: int = 0):
        if not isinstance(inner, Backend):
            raise MLIntegrateError(f"inner must be a backend, got {type(inner).__name__}")
        if not isinstance(bijection, Bijection) or not bijection.cube_to_cube:
            raise MLIntegrateError(
                f"bijection must map the unit cube onto itself, got {bijection!r}; "
                "a phase-space map belongs in a Process"
            )
        if bijection.dim != inner.dim:
            raise MLIntegrateError(
                f"bijection has dim {bijection.dim} but inner has dim {inner.dim}"
            )
        super().__init__(inner.dim)
        self.inner, self.bijection = inner, bijection
        self.adapt_map_batches = int_at_least("adapt_map_batches", adapt_map_batches, 0)
        self.batches = 0

    def _sample(self, n: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        y, p = self.inner._sample(n, gen)
        u, logj = self.bijection.forward(y)
        return u, p * np.exp(-logj)

    def _density(self, u: np.ndarray) -> np.ndarray:
        y, logj_inv = self.bijection.inverse(u)
        return self.inner.density(y) * np.exp(logj_inv)

    def _adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:
        if self.batches < self.adapt_map_batches:
            self.bijection.adapt(u, q, f)
        else:
            y, logj_inv = self.bijection.inverse(u)
            jac = np.exp(-logj_inv)
            self.inner._adapt(np.clip(y, 0.0, 1.0), q * jac, f * jac)
        self.batches += 1

    def default_batch_size(self, calls: int) -> int:
        return self.inner.default_batch_size(calls)

    def config(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "inner": self.inner.spec(),
            "bijection": self.bijection.spec(),
            "adapt_map_batches": self.adapt_map_batches,
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        return {
            **prefixed("inner.", self.inner.state_dict()),
            **prefixed("map.", self.bijection.state_dict()),
            "batches": np.array(self.batches, dtype=np.int64),
        }

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.inner.load_state_dict(unprefixed("inner.", state))
        self.bijection.load_state_dict(unprefixed("map.", state))
        self.batches = int(state.get("batches", 0))
