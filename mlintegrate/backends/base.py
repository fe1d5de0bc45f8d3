"""The proposal contract every backend implements (ask/tell).

A backend is a normalised density q on the unit cube [0,1]^d that it can sample from,
evaluate exactly, and improve from evaluated points:

- ``sample(n, rng) -> (u, q)``: u (n, d) i.i.d. from q, and q(u) (n,) exactly;
- ``density(u) -> q`` (n,): the same q at any points;
- ``adapt(u, q, f)``: learn from points drawn from the current proposal, their q and the
  integrand values f (n,) (the "tell" of ask/tell);
- ``state_dict()`` / ``load_state_dict(state)``: everything needed to rebuild the
  proposal, as a flat dict of numpy arrays and JSON-able config (see ``checkpoint``).

Because q is exact, f/q averages to the integral whatever the training did.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ..rng import RngLike

__all__ = ["Backend", "check_points"]


def check_points(u: np.ndarray, dim: int, name: str = "u") -> np.ndarray:
    """u as a C-contiguous float64 array of shape (n, dim), or a ValueError naming the shape."""
    arr = np.ascontiguousarray(u, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(
            f"{name} has shape {np.shape(u)} but this backend works in dimension {dim}: "
            f"expected shape (n, {dim})"
        )
    return arr


class Backend(ABC):
    """Base class of the proposals; see the module docstring for the contract."""

    #: short name used by the CLI and in results
    name: ClassVar[str] = "backend"

    def __init__(self, dim: int):
        if not isinstance(dim, int | np.integer) or isinstance(dim, bool) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        self.dim = int(dim)

    @abstractmethod
    def sample(self, n: int, rng: RngLike = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw u (n, dim) i.i.d. from the proposal and return (u, q(u))."""

    @abstractmethod
    def density(self, u: np.ndarray) -> np.ndarray:
        """The normalised proposal density q(u), shape (n,)."""

    def adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:  # noqa: B027
        """Learn from points u ~ q with integrand values f. Default: a fixed proposal."""

    def default_batch_size(self, calls: int) -> int:
        """Integrand calls per training iteration when the user gives none."""
        return max(1, min(calls, max(calls // 10, 1000), 100_000))

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-able constructor arguments: ``type(self)(**config())`` rebuilds it untrained."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """The trained state as numpy arrays (empty for a fixed proposal)."""
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:  # noqa: B027
        """Restore what ``state_dict`` returned."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"

    @staticmethod
    def _check_n(n: int) -> int:
        if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive int (number of points), got {n!r}")
        return int(n)
