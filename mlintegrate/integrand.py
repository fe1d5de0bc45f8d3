"""The user's integrand f(u) on [0,1]^d, checked at every call.

Any callable that maps ``u`` of shape (n, d) to values of shape (n,) is an integrand. A
function of one point at a time (``fn(x) -> float`` with ``x`` of shape (d,)) is accepted
when wrapped with :func:`vectorize`. Whatever the integrand returns is checked: the shape,
NaN/inf (with how many points and one example ``u``), so that a bad value never turns
silently into a wrong cross section.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import IntegrandError

__all__ = [
    "Integrand",
    "IntegrandError",
    "IntegrandInfo",
    "KnownIntegral",
    "PhysicsIntegrand",
    "Vectorized",
    "evaluate",
    "integrand_dim",
    "integrand_info",
    "vectorize",
]


@runtime_checkable
class Integrand(Protocol):
    """Any callable f(u) with u (n, d) in [0,1]^d → values (n,). ``dim``, ``name`` optional."""

    def __call__(self, u: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class KnownIntegral(Protocol):
    """An integrand that knows its integral (test functions, processes with a reference)."""

    dim: int
    name: str
    unit: str
    exact: float | None
    exact_error: float | None

    def __call__(self, u: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class PhysicsIntegrand(Protocol):
    """|M|² over phase space: momenta of every point, particle content, incoming count.

    ``momenta(u) -> (p, weight)`` with p (n, N, 4), incoming particles first;
    ``incoming``: masses of the incoming particles (1: a decay, 2: a collision);
    ``outgoing_masses``: nominal masses of the outgoing ones; ``particles``: PDG ids and
    colour (or None).
    """

    dim: int
    name: str
    incoming: tuple[float, ...]
    outgoing_masses: tuple[float, ...]
    particles: Any

    def __call__(self, u: np.ndarray) -> np.ndarray: ...

    def momenta(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class IntegrandInfo:
    """What a result records about its integrand (empty/None where it does not say)."""

    name: str = ""
    unit: str = ""
    exact: float | None = None
    exact_error: float | None = None


def integrand_info(integrand: Any, name: str | None = None) -> IntegrandInfo:
    """Name, unit and known integral of ``integrand``: the one place that reads them."""
    known = isinstance(integrand, KnownIntegral)
    return IntegrandInfo(
        name=name or str(getattr(integrand, "name", "") or ""),
        unit=str(getattr(integrand, "unit", "") or ""),
        exact=integrand.exact if known else getattr(integrand, "exact", None),
        exact_error=integrand.exact_error if known else getattr(integrand, "exact_error", None),
    )


class Vectorized:
    """Wraps a per-point function ``fn(x: (d,)) -> float`` into ``f(u: (n, d)) -> (n,)``.

    This loops in Python (about a microsecond of overhead per point plus ``fn`` itself):
    write a vectorised numpy function instead where speed matters.
    """

    def __init__(self, fn: Callable[[np.ndarray], float], dim: int | None = None):
        if not callable(fn):
            raise TypeError(f"vectorize expects a callable, got {type(fn).__name__}")
        self.fn = fn
        self.dim = dim if dim is not None else getattr(fn, "dim", None)
        self.name = getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, u: np.ndarray) -> np.ndarray:
        out = np.empty(u.shape[0], dtype=np.float64)
        for i, x in enumerate(u):
            value = self.fn(x)
            if np.ndim(value) != 0:
                raise IntegrandError(
                    f"vectorize({self.name}): the function returned shape {np.shape(value)} "
                    "for one point; it must return a single number"
                )
            out[i] = value
        return out


def vectorize(fn: Callable[[np.ndarray], float], dim: int | None = None) -> Vectorized:
    """Turn a function of one point ``x`` (shape (d,)) into a batch integrand."""
    return Vectorized(fn, dim)


def integrand_dim(integrand: Any) -> int | None:
    """The dimension an integrand declares through a ``dim`` attribute, else None."""
    dim = getattr(integrand, "dim", None)
    return int(dim) if dim is not None else None


def evaluate(integrand: Callable[[np.ndarray], Any], u: np.ndarray) -> np.ndarray:
    """f(u) as a float64 array of shape (n,), or an IntegrandError that says what went wrong."""
    n = u.shape[0]
    try:
        values = integrand(u)
    except (TypeError, ValueError, IndexError) as exc:
        if isinstance(exc, IntegrandError):
            raise
        raise IntegrandError(
            f"calling the integrand on u of shape {u.shape} failed with "
            f"{type(exc).__name__}: {exc}. An integrand takes a batch u of shape (n, d) and "
            "returns (n,); if yours takes one point at a time, wrap it: mli.vectorize(fn)"
        ) from exc
    values = np.asarray(values)
    if values.shape != (n,):
        raise IntegrandError(
            f"the integrand returned shape {values.shape} for u of shape {u.shape}; "
            f"it must return one value per point, shape ({n},). If it is written for one "
            "point x of shape (d,), wrap it: mli.vectorize(fn)."
        )
    if not np.issubdtype(values.dtype, np.number) or np.iscomplexobj(values):
        raise IntegrandError(
            f"the integrand returned dtype {values.dtype}; it must return real numbers"
        )
    values = values.astype(np.float64, copy=False)
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise IntegrandError(
            f"the integrand returned {int(bad.sum())} non-finite value(s) (NaN or inf) out of "
            f"{n}; e.g. f(u) = {values[first]} at u = {np.array2string(u[first], precision=6)}. "
            "Guard the singular region (a cut) or return 0 there."
        )
    return values
