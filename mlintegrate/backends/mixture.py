r"""A weighted mixture of proposals: ``Mixture(components, weights)``.

    q(u) = Σ_k α_k q_k(u),   α_k > 0,  Σ α_k = 1,

sampled by drawing a component per point from the numpy generator (one uniform number each),
then each component's points in component order; q is evaluated at every point from every
component, so it is exact. The sum of positive terms is formed in float64 (no cancellation:
relative error ≤ K ulp), which is what a log-sum-exp would give without the exp/log round trip.

The defensive proposal is ``Mixture([learned, Uniform(d)], [1 − λ, λ])``: q ≥ λ wherever f ≠ 0.
A multi-channel proposal is ``Mixture([Mapped(model_k, T_k), ...], α)``. ``adapt`` passes every
point to every component with the mixture's q: importance weights f/q stay valid for each.

With ``learn_weights`` the channel weights α are adapted too (multi-channel weight
optimisation, Kleiss & Pittau, hep-ph/9405257): the variance of f/q_α is convex in α and
minimal where every W_k(α) = ∫ q_k f²/q_α² is equal; from the batch (points drawn with q_s),
W_k ≈ mean(q_k(u) f² / (q_α(u)² q_s(u))), and each step sets α_k ∝ α_k √W_k, with every
weight kept ≥ ``floor`` (so a component that is the safe one stays in). The weights are fixed
between batches, so every estimate stays unbiased.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import CheckpointError, MLIntegrateError
from ..validate import number_in
from .base import Backend, prefixed, unprefixed

__all__ = ["Mixture", "multichannel_weights"]


def multichannel_weights(
    alpha: np.ndarray,
    densities: np.ndarray,
    q_sample: np.ndarray,
    f: np.ndarray,
    floor: float = 0.0,
    steps: int = 3,
    moment: float = 2.0,
) -> np.ndarray:
    """Kleiss–Pittau steps α_k ∝ α_k W_k^(1/p) (module docstring), p = ``moment``.

    p = 2 minimises the variance of the weights; a larger p minimises E[w^p]^(1/p), which
    tends to the largest weight (what the unweighting efficiency divides by) as p grows:
    its stationarity condition is the same with W_k = ∫ q_k f^p / q_α^p.
    ``alpha`` (K,), ``densities`` q_k(u) (K, n), ``q_sample`` (n,), ``f`` (n,); returns the new
    α (K,), each ≥ ``floor``, summing to 1.
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    absf = np.abs(f)
    for _ in range(steps):
        q_alpha = alpha @ densities
        ok = (q_alpha > 0) & (absf > 0)
        w = absf[ok] / q_alpha[ok]
        # E_{q_s}[q_k f^p / (q_α^p q_s)], scaled by max(w)^p against overflow
        terms = (w / w.max()) ** moment / q_sample[ok]
        moments = (densities[:, ok] * terms).mean(axis=1)
        if not np.all(np.isfinite(moments)) or not np.any(moments > 0):
            break
        alpha = alpha * moments ** (1.0 / moment)
        alpha = floor + (1.0 - floor * alpha.size) * alpha / alpha.sum()
    return alpha


class Mixture(Backend):
    """q = Σ α_k q_k over ``components`` (backends of one dimension) with ``weights`` α."""

    name = "mixture"

    def __init__(
        self,
        components: Sequence[Backend],
        weights: Sequence[float] | None = None,
        learn_weights: bool = False,
        floor: float = 0.0,
        moment: float = 2.0,
    ):
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
        self.learn_weights = bool(learn_weights)
        self.moment = number_in("moment", moment, 1.0, 64.0, "2 minimises the variance")
        self.floor = number_in(
            "floor", floor, 0.0, 1.0 / len(components), "the smallest weight a component keeps"
        )
        self.initial_weights = w / w.sum()
        self._set_weights(self.initial_weights)

    def _set_weights(self, weights: np.ndarray) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
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
        if self.learn_weights and np.any(f != 0):
            densities = np.stack([comp._density(u) for comp in self.components])
            self._set_weights(
                multichannel_weights(self.weights, densities, q, f, self.floor, moment=self.moment)
            )

    def default_batch_size(self, calls: int) -> int:
        return min(c.default_batch_size(calls) for c in self.components)

    def config(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "components": [c.spec() for c in self.components],
            "weights": self.initial_weights.tolist(),
            "learn_weights": self.learn_weights,
            "floor": self.floor,
            "moment": self.moment,
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        state: dict[str, np.ndarray] = {"weights": self.weights.copy()}
        for k, comp in enumerate(self.components):
            state.update(prefixed(f"{k}.", comp.state_dict()))
        return state

    def load_weights(self, weights: np.ndarray) -> None:
        """Restore learned weights (checked: K positive numbers summing to 1)."""
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != self.weights.shape or not (np.all(w > 0) and abs(w.sum() - 1) < 1e-9):
            raise CheckpointError(
                f"mixture weights {w.tolist()} do not fit {len(self.components)} components"
            )
        self._set_weights(w)

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        if "weights" in state:
            self.load_weights(state["weights"])
        for k, comp in enumerate(self.components):
            comp.load_state_dict(unprefixed(f"{k}.", state))
