"""VEGAS as an i.i.d. proposal: the uniform density pushed through the adaptive VEGAS map.

The map u = V(y) (:class:`~.bijections.VegasMap`) sends uniform y in [0,1]^d to u with density
q(u) = 1/J(y), J = ∂u/∂y the map's (diagonal, piecewise-constant) Jacobian. Points are drawn
with y uniform and i.i.d., not stratified, so they can be unweighted. ``adapt`` trains the
grid exactly as ``vegas.Integrator`` does (see :class:`~.bijections.VegasMap`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import Config
from ..validate import int_at_least, number_in
from .base import Backend
from .bijections import VegasMap

__all__ = ["Vegas", "VegasConfig"]


@dataclass(frozen=True)
class VegasConfig(Config):
    """ninc: grid increments per axis; alpha: damping of the grid adaptation (0 freezes it)."""

    ninc: int = 256
    alpha: float = 0.5

    def __post_init__(self) -> None:
        int_at_least("ninc", self.ninc, 2, "grid increments per axis, e.g. 256")
        number_in("alpha", self.alpha, 0.0, math.inf, "grid damping, e.g. 0.5")


class Vegas(Backend):
    """VEGAS adaptive-map proposal: ``Vegas(dim, ninc=256, alpha=0.5)``."""

    name = "vegas"

    def __init__(self, dim: int, config: VegasConfig | None = None, **changes: Any):
        super().__init__(dim)
        self.settings = (config or VegasConfig()).with_values(**changes)
        self.bijection = VegasMap(self.dim, self.settings.ninc, self.settings.alpha)

    @property
    def map(self):  # noqa: ANN201 - vegas.AdaptiveMap
        """The underlying ``vegas.AdaptiveMap``."""
        return self.bijection.grid

    def _sample(self, n: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        u, logj = self.bijection.forward(gen.random((n, self.dim)))
        return u, np.exp(-logj)

    def _density(self, u: np.ndarray) -> np.ndarray:
        return np.exp(self.bijection.inverse(u)[1])

    def _adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:
        self.bijection.adapt(u, q, f)

    def default_batch_size(self, calls: int) -> int:
        # ~10-20 grid iterations, as vegas users run them.
        return max(1, min(calls, max(calls // 15, 2000), 200_000))

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim, **self.settings.to_dict()}

    def state_dict(self) -> dict[str, np.ndarray]:
        return self.bijection.state_dict()

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.bijection.load_state_dict(state)
