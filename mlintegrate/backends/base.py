"""The proposal contract every backend implements (ask/tell), validated once here.

A backend is a normalised density q on the unit cube [0,1]^d that it can sample from,
evaluate exactly, and improve from evaluated points:

- ``sample(n, rng) -> (u, q)``: u (n, d) i.i.d. from q, and q(u) (n,) exactly;
- ``density(u) -> q`` (n,): the same q at any points (0 outside the cube);
- ``adapt(u, q, f)``: learn from points drawn from *some* density q (the current proposal,
  or a mixture it is part of) and the integrand values f (n,): the "tell" of ask/tell;
- ``state_dict()`` / ``load_state_dict(state)``: the trained state as numpy arrays;
- ``config()``: JSON-able settings, ``spec()``: ``{"backend": name, "config": config()}``,
  from which :func:`mlintegrate.backends.build` makes the same proposal untrained.

The public methods check their input (counts, shapes, finiteness, q > 0) once and call the
subclass's ``_sample(n, gen)``, ``_density(u)`` (u inside the cube only) and
``_adapt(u, q, f)``; wrappers (:class:`~.mixture.Mixture`, :class:`~.mapped.Mapped`) call
their parts' underscore methods, so nothing is checked twice. Capability flags replace
special cases: ``exact_density`` (q is the exact normalised density) and ``iid`` (points are
independent, so they can be unweighted).

Because q is exact, f/q averages to the integral whatever the training did.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ..errors import MLIntegrateError
from ..rng import RngLike, as_generator
from ..validate import positive_int

__all__ = ["Backend", "check_points", "prefixed", "unprefixed"]


def check_points(u: np.ndarray, dim: int, name: str = "u") -> np.ndarray:
    """u as a C-contiguous float64 array of shape (n, dim), or an error naming the shape."""
    arr = np.ascontiguousarray(u, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise MLIntegrateError(
            f"{name} has shape {np.shape(u)} but this backend works in dimension {dim}: "
            f"expected shape (n, {dim})"
        )
    return arr


def _check_values(name: str, values: Any, n: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.shape != (n,):
        raise MLIntegrateError(
            f"{name} has shape {arr.shape} but u has {n} points: expected shape ({n},)"
        )
    if np.iscomplexobj(arr) or not np.issubdtype(arr.dtype, np.number):
        raise MLIntegrateError(f"{name} has dtype {arr.dtype}; it must hold real numbers")
    return np.ascontiguousarray(arr, dtype=np.float64)


class Backend(ABC):
    """Base class of the proposals; see the module docstring for the contract."""

    #: short name used by the CLI and in results
    name: ClassVar[str] = "backend"
    #: q is the exact normalised density of the points ``sample`` returns
    exact_density: ClassVar[bool] = True
    #: ``sample`` returns independent points (so they can be unweighted)
    iid: ClassVar[bool] = True

    def __init__(self, dim: int):
        self.dim = positive_int("dim", dim)

    # ------------------------------------------------------------------ the contract
    def sample(self, n: int, rng: RngLike = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw u (n, dim) i.i.d. from the proposal and return (u, q(u))."""
        return self._sample(self._check_n(n), as_generator(rng))

    def density(self, u: np.ndarray) -> np.ndarray:
        """The normalised proposal density q(u), shape (n,); 0 outside the unit cube."""
        u = check_points(u, self.dim)
        inside = np.all((u >= 0.0) & (u <= 1.0), axis=1)
        if inside.all():
            return self._density(u)
        q = np.zeros(u.shape[0])
        if inside.any():
            q[inside] = self._density(np.ascontiguousarray(u[inside]))
        return q

    def adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:
        """Learn from points u drawn with density q (n,) where the integrand is f (n,)."""
        u = check_points(u, self.dim)
        q = _check_values("q", q, u.shape[0])
        f = _check_values("f", f, u.shape[0])
        if not (np.all(np.isfinite(q)) and np.all(q > 0)):
            raise MLIntegrateError(
                "q must be finite and > 0 at every point (the density each point was drawn with)"
            )
        if not np.all(np.isfinite(f)):
            bad = int(np.sum(~np.isfinite(f)))
            raise MLIntegrateError(
                f"f has {bad} NaN or inf value(s) out of {f.size}; check the integrand "
                "(guard the singular region or return 0 there)"
            )
        self._adapt(u, q, f)

    # ------------------------------------------------------------------ to implement
    @abstractmethod
    def _sample(self, n: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(u, q) for n ≥ 1 points from the numpy generator ``gen``."""

    @abstractmethod
    def _density(self, u: np.ndarray) -> np.ndarray:
        """q(u) for checked points u (n, dim) inside the cube."""

    def _adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:  # noqa: B027
        """Learn from checked points. Default: a fixed proposal."""

    def default_batch_size(self, calls: int) -> int:
        """Integrand calls per training iteration when the user gives none."""
        return max(1, min(calls, max(calls // 10, 1000), 100_000))

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-able settings, ``dim`` included: :func:`~.build` rebuilds it untrained."""

    def spec(self) -> dict[str, Any]:
        """``{"backend": name, "config": config()}``: what :func:`~.build` takes."""
        return {"backend": self.name, "config": self.config()}

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
        return positive_int("n", n, "the number of points")


def prefixed(prefix: str, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``state`` with every key prefixed (for a part's state inside a wrapper's)."""
    return {prefix + k: v for k, v in state.items()}


def unprefixed(prefix: str, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The entries of ``state`` under ``prefix``, with the prefix removed."""
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
