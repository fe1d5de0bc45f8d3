r"""VEGAS as the safe component of a mixture: its grid adapts on several batches at once.

A learned proposal trains on small batches (calls/50) while VEGAS adapts best on larger ones
(calls/15, :meth:`~.vegas.Vegas.default_batch_size`): a VEGAS grid adapted after every small
batch is noisy, and its spikes set the largest weights. Measured on top_decay, seed 3,
2·10⁵ evaluation calls: VEGAS adapting on batches of 6000 / 20000 points (3·10⁵ training
calls) reaches ε_median-max 35 % / 65 %, at 10⁶ calls on 20000 / 66666 points 33 % / 68 %.
:class:`PooledVegas` keeps the training data ((f J)² per point, importance-weighted by the
mixture density it was drawn with, exactly as :meth:`~.bijections.VegasMap.adapt`) of
``every`` batches and adapts the grid once on all of them, so inside a flow's mixture it sees
as many points per adaptation as VEGAS alone does.

Points drawn from a mixture are not uniform in the map's y: vegas's per-increment average
(sum over the points in an increment / their count) is then a conditional mean, not the
uniform-y mean the grid wants, and the grid comes out badly (top_decay, 10⁵ calls: the VEGAS
component of a 0.3/0.7 mixture with a weak VEGAS reached ε_median-max 38 %, alone 63 %).
Dividing each increment's sum of (f J)² r by its sum of r, r = q_vegas/q_sample (the
count when the points come from VEGAS itself), is the self-normalised importance-sampling
estimate of that mean.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CheckpointError
from ..validate import int_at_least
from .vegas import Vegas

__all__ = ["PooledVegas"]


class PooledVegas(Vegas):
    """:class:`~.vegas.Vegas` whose grid adapts once every ``every`` calls of ``adapt``."""

    name = "pooled_vegas"

    def __init__(self, dim: int, every: int = 3, **changes: Any):
        super().__init__(dim, **changes)
        self.every = int_at_least("every", every, 1, "batches per grid adaptation, e.g. 3")
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def _adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:
        y, log_jac_inv = self.bijection.inverse(u)
        ratio = np.exp(log_jac_inv) / q  # q_vegas / q_sample
        self._pending.append((y, np.square(f) * ratio / np.exp(2 * log_jac_inv), ratio))
        if len(self._pending) >= self.every:
            grid = self.bijection.grid
            ninc = int(np.max(grid.ninc))
            counts = np.zeros((self.dim, ninc))
            for y_b, w_b, r_b in self._pending:
                grid.add_training_data(y_b, w_b)
                index = np.minimum((y_b * ninc).astype(np.int64), ninc - 1)
                for d in range(self.dim):
                    counts[d] += np.bincount(index[:, d], weights=r_b, minlength=ninc)[:ninc]
            # importance-weighted counts (see the module docstring): = the counts for y uniform
            grid.n_f = counts
            grid.adapt(alpha=self.bijection.alpha)
            self._pending = []

    def config(self) -> dict[str, Any]:
        return {**super().config(), "every": self.every}

    def state_dict(self) -> dict[str, np.ndarray]:
        state = super().state_dict()
        if self._pending:
            state["pending.sizes"] = np.array([w.size for _, w, _ in self._pending], dtype=np.int64)
            state["pending.y"] = np.concatenate([y for y, _, _ in self._pending])
            state["pending.w"] = np.concatenate([w for _, w, _ in self._pending])
            state["pending.r"] = np.concatenate([r for _, _, r in self._pending])
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        super().load_state_dict(state)
        self._pending = []
        if "pending.sizes" in state:
            ends = np.cumsum(state["pending.sizes"])[:-1]
            y = np.asarray(state["pending.y"], dtype=np.float64)
            if y.ndim != 2 or y.shape[1] != self.dim:
                raise CheckpointError(f"VEGAS pending data has shape {y.shape}, dim {self.dim}")
            w, r = np.split(state["pending.w"], ends), np.split(state["pending.r"], ends)
            self._pending = list(zip(np.split(y, ends), w, r, strict=True))
