"""VEGAS as an i.i.d. proposal: the separable adaptive map of the ``vegas`` package.

The map x = x(y) sends uniform y in [0,1]^d to x with density q(x) = 1/J(y), J = ∂x/∂y the
map's (diagonal, piecewise-constant) Jacobian. Points are drawn with y uniform and i.i.d.,
not stratified, so they can be unweighted. ``adapt`` feeds (f/q)² = (f·J)² to the map's own
``add_training_data`` and calls its ``adapt(alpha)``, exactly as ``vegas.Integrator`` trains
its grid, so ask/tell training is the same algorithm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import vegas as _vegas

from ..rng import RngLike, as_generator
from .base import Backend, check_points

__all__ = ["Vegas"]


class Vegas(Backend):
    """VEGAS adaptive-map proposal.

    Args:
        dim: dimension d.
        ninc: grid increments per axis.
        alpha: damping of the grid adaptation (vegas' ``alpha``; 0 freezes the grid).
    """

    name = "vegas"

    def __init__(self, dim: int, ninc: int = 256, alpha: float = 0.5):
        super().__init__(dim)
        if not isinstance(ninc, int | np.integer) or ninc < 2:
            raise ValueError(f"ninc must be an int ≥ 2 (grid increments per axis), got {ninc!r}")
        if not (np.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"alpha must be a finite number ≥ 0 (grid damping), got {alpha!r}")
        self.ninc = int(ninc)
        self.alpha = float(alpha)
        self.map = _vegas.AdaptiveMap([[0.0, 1.0]] * self.dim, ninc=self.ninc)

    def sample(self, n: int, rng: RngLike = None) -> tuple[np.ndarray, np.ndarray]:
        n = self._check_n(n)
        y = as_generator(rng).random((n, self.dim))
        u = np.empty_like(y)
        jac = np.empty(n)
        self.map.map(y, u, jac)
        # The map's float rounding can land a hair outside [0, 1]; the density is unchanged.
        np.clip(u, 0.0, 1.0, out=u)
        return u, 1.0 / jac

    def _inverse(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = np.empty_like(u)
        jac = np.empty(u.shape[0])
        self.map.invmap(u, y, jac)
        return y, jac

    def density(self, u: np.ndarray) -> np.ndarray:
        u = check_points(u, self.dim)
        inside = np.all((u >= 0.0) & (u <= 1.0), axis=1)
        q = np.zeros(u.shape[0])
        if inside.any():
            _, jac = self._inverse(np.ascontiguousarray(u[inside]))
            q[inside] = 1.0 / jac
        return q

    def adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:
        u = check_points(u, self.dim)
        y, _ = self._inverse(u)
        w2 = np.square(np.asarray(f, dtype=np.float64) / np.asarray(q, dtype=np.float64))
        self.map.add_training_data(y, w2)
        self.map.adapt(alpha=self.alpha)

    def default_batch_size(self, calls: int) -> int:
        # ~10-20 grid iterations, as vegas users run them.
        return max(1, min(calls, max(calls // 15, 2000), 200_000))

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim, "ninc": self.ninc, "alpha": self.alpha}

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"grid": np.array(self.map.extract_grid(), dtype=np.float64)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        grid = np.asarray(state["grid"], dtype=np.float64)
        if grid.shape != (self.dim, self.ninc + 1):
            raise ValueError(
                f"VEGAS grid has shape {grid.shape}, expected ({self.dim}, {self.ninc + 1}) "
                f"for dim={self.dim}, ninc={self.ninc}"
            )
        if not (np.all(np.diff(grid, axis=1) > 0) and np.allclose(grid[:, [0, -1]], [0, 1])):
            raise ValueError("VEGAS grid must increase strictly from 0 to 1 along each axis")
        self.map = _vegas.AdaptiveMap(grid)
