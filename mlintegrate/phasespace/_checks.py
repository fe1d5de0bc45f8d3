"""Input validation shared by the phase-space generators: errors name the parameter, the
value and the fix."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "check_masses",
    "check_momenta",
    "check_n_particles",
    "check_sqrt_s",
    "check_unit_array",
]


def check_n_particles(n_particles: int, minimum: int = 2) -> int:
    """Return ``n_particles`` as an int >= ``minimum``."""
    if isinstance(n_particles, bool) or not isinstance(n_particles, (int, np.integer)):
        raise TypeError(f"n_particles={n_particles!r} must be an integer >= {minimum}")
    if n_particles < minimum:
        raise ValueError(f"n_particles={n_particles} is too small; need n_particles >= {minimum}")
    return int(n_particles)


def check_sqrt_s(sqrt_s: float) -> float:
    """Return ``sqrt_s`` as a finite positive float."""
    value = float(sqrt_s)
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"sqrt_s={sqrt_s!r} must be a finite positive energy (GeV)")
    return value


def check_unit_array(u: ArrayLike, dim: int, name: str = "u") -> NDArray[np.float64]:
    """Return ``u`` as a C-contiguous float64 array (n_events, dim) with values in [0, 1]."""
    arr = np.ascontiguousarray(u, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(
            f"{name} has shape {arr.shape}; expected (n_events, {dim}) random numbers in [0, 1]"
        )
    if arr.size and (arr.min() >= 0.0 and arr.max() <= 1.0):  # NaN fails both tests
        return arr
    bad = ~((arr >= 0.0) & (arr <= 1.0))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name}[{idx[0]}, {idx[1]}] = {float(arr[idx])!r} is outside [0, 1]; "
            f"pass uniform random numbers in the unit cube"
        )
    return arr


def check_masses(
    masses: Sequence[float] | ArrayLike | None, n_particles: int, sqrt_s: float
) -> NDArray[np.float64] | None:
    """Return the final-state masses as a float64 array of length ``n_particles``, or None when
    all are zero (massless case). Requires ``sum(masses) < sqrt_s``."""
    if masses is None:
        return None
    m = np.asarray(masses, dtype=np.float64)
    if m.ndim == 0:
        m = np.full(n_particles, float(m))
    m = np.ascontiguousarray(m)
    if m.shape != (n_particles,):
        raise ValueError(
            f"masses has shape {m.shape}; expected ({n_particles},), one mass per particle"
        )
    if not (np.all(np.isfinite(m)) and np.all(m >= 0.0)):
        raise ValueError(f"masses={m.tolist()} must be finite and >= 0")
    if m.sum() >= sqrt_s:
        raise ValueError(
            f"sum(masses)={m.sum()!r} >= sqrt_s={sqrt_s!r}: the final state is not kinematically "
            f"allowed; raise sqrt_s or lower the masses"
        )
    if not np.any(m > 0.0):
        return None
    return m


def check_momenta(p: ArrayLike, name: str = "p") -> NDArray[np.float64]:
    """Return ``p`` as a C-contiguous float64 array of shape (n_events, n_particles, 4)."""
    arr = np.ascontiguousarray(p, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[2] != 4:
        raise ValueError(
            f"{name} has shape {arr.shape}; expected (n_events, n_particles, 4) with "
            f"components (E, px, py, pz)"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf; momenta must be finite")
    return arr
