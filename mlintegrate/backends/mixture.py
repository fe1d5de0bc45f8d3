r"""A weighted mixture of proposals: ``Mixture(components, weights)``.

    q(u) = Σ_k α_k q_k(u),   α_k > 0,  Σ α_k = 1,

sampled by drawing a component per point from the numpy generator (one uniform number each),
then each component's points in component order; q is evaluated at every point from every
component, so it is exact. The sum of positive terms is formed in float64 (no cancellation:
relative error ≤ K ulp), which is what a log-sum-exp would give without the exp/log round trip.

The defensive proposal is ``Mixture([learned, Uniform(d)], [1 − λ, λ])``: q ≥ λ wherever f ≠ 0.
A multi-channel proposal is ``Mixture([Mapped(model_k, T_k), ...], α)``. ``adapt`` passes every
point to every component with the mixture's q: importance weights f/q stay valid for each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import MLIntegrateError
from .base import Backend, prefixed, unprefixed

__all__ = ["Mixture"]


class Mixture(Backend):
    """q = Σ α_k q_k over ``components`` (backends of one dimension) with ``weights`` α."""

    name = "mixture"

    def __init__(self, components: Sequence[Backend], weights: Sequence[float] | None = None):
        components = list(components)
        if not components or not all(isinstance(c, Backend) for c in components):
            raise MLIntegrateError("components must be a non-empty list of backends")
        dims = {c.dim for c in components}
        if len(dims) != 1:
            raise MLIntegrateError(f"components have different dimensions {sorted(dims)}")
        super().__init__(components[0].dim)
        if weights is None:
            weights = [1.0 / len(components)] * len(components)
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (len(components),) or not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise MLIntegrateError(
                f"weights must be {len(components)} finite numbers > 0 (one per component), "
                f"got {list(weights)!r}; drop a component rather than give it weight 0"
            )
        if not math.isclose(float(w.sum()), 1.0, rel_tol=1e-9):
            raise MLIntegrateError(f"weights must sum to 1, got {list(weights)!r} (sum {w.sum()})")
        self.components = components
        self.weights = w / w.sum()
        self._edges = np.cumsum(self.weights)[:-1]

    def _sample(self, n: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        which = np.searchsorted(self._edges, gen.random(n), side="right")
        u = np.empty((n, self.dim))
        q = np.zeros(n)
        for k, comp in enumerate(self.components):
            rows = np.flatnonzero(which == k)
            if rows.size:
                u[rows], q_k = comp._sample(rows.size, gen)
                q[rows] += self.weights[k] * q_k
        for k, comp in enumerate(self.components):
            others = np.flatnonzero(which != k)
            if others.size:
                q[others] += self.weights[k] * comp._density(u[others])
        return u, q

    def _density(self, u: np.ndarray) -> np.ndarray:
        q = np.zeros(u.shape[0])
        for alpha, comp in zip(self.weights, self.components, strict=True):
            q += alpha * comp._density(u)
        return q

    def _adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:
        for comp in self.components:
            comp._adapt(u, q, f)

    def default_batch_size(self, calls: int) -> int:
        return min(c.default_batch_size(calls) for c in self.components)

    def config(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "components": [c.spec() for c in self.components],
            "weights": self.weights.tolist(),
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        state: dict[str, np.ndarray] = {}
        for k, comp in enumerate(self.components):
            state.update(prefixed(f"{k}.", comp.state_dict()))
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for k, comp in enumerate(self.components):
            comp.load_state_dict(unprefixed(f"{k}.", state))
