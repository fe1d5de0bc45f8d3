"""The flat proposal q(u) = 1 on [0,1]^d: plain Monte Carlo, the baseline of every comparison."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..rng import RngLike, as_generator
from .base import Backend, check_points

__all__ = ["Uniform"]


class Uniform(Backend):
    """q(u) = 1 inside the unit cube, 0 outside. ``adapt`` learns nothing."""

    name = "uniform"

    def sample(self, n: int, rng: RngLike = None) -> tuple[np.ndarray, np.ndarray]:
        n = self._check_n(n)
        u = as_generator(rng).random((n, self.dim))
        return u, np.ones(n)

    def density(self, u: np.ndarray) -> np.ndarray:
        u = check_points(u, self.dim)
        inside = np.all((u >= 0.0) & (u <= 1.0), axis=1)
        return inside.astype(np.float64)

    def default_batch_size(self, calls: int) -> int:
        return max(1, min(calls, 100_000))

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim}
