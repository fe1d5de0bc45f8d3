"""The flat proposal q(u) = 1 on [0,1]^d: plain Monte Carlo, the baseline of every comparison."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend

__all__ = ["Uniform"]


class Uniform(Backend):
    """q(u) = 1 inside the unit cube, 0 outside. ``adapt`` learns nothing."""

    name = "uniform"

    def _sample(self, n: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return gen.random((n, self.dim)), np.ones(n)

    def _density(self, u: np.ndarray) -> np.ndarray:
        return np.ones(u.shape[0])

    def default_batch_size(self, calls: int) -> int:
        return max(1, min(calls, 100_000))

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim}
