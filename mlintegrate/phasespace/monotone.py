r"""Vectorised inversion of increasing functions: the numeric half of an inverse-CDF map.

Solves F(x) = target for arrays, where F is increasing on [lo, hi] with a known derivative
F' > 0, by Newton steps kept inside a shrinking bracket (a bisection step wherever Newton
would leave it). An inverse-CDF map x = F⁻¹(u) built on it has the exact density F'(x) at
the x it returns, to the solver's tolerance: the Jacobian of a map that uses it is
1/F'(x), the derivative of the map actually applied.

>>> import numpy as np
>>> cube = lambda x, idx: (x**3, 3 * x**2)
>>> x = invert_increasing(cube, np.array([0.125, 0.5]), 0.0, 1.0)
>>> np.round(x, 12).tolist()
[0.5, 0.793700525984]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["invert_increasing"]

#: (x, idx) -> (F(x), F'(x)): x (k,) holds the points still moving, idx (k,) their positions in
#: the flattened target (to pick per-point parameters of F)
ValueAndSlope = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def invert_increasing(
    fn: ValueAndSlope,
    target: np.ndarray,
    lo: np.ndarray | float,
    hi: np.ndarray | float,
    x0: np.ndarray | None = None,
    xtol: float = 1e-9,
    max_steps: int = 200,
) -> np.ndarray:
    """x in [lo, hi] with F(x) = target (shapes broadcast to target's), F increasing.

    Args:
        fn: (x, idx) -> (F(x), F'(x)), arrays like x; idx are the flat indices of x in target
            (points stop being passed once they converge).
        target: values of F to reach, with F(lo) ≤ target ≤ F(hi).
        lo, hi: the bracket (scalars or arrays like target).
        x0: a starting point inside the bracket (default its middle).
        xtol: a point stops after a Newton step below xtol · (1 + |x|) (its error is then
            O(xtol²) for a smooth F) or when its bracket is down to rounding.
        max_steps: at most this many steps (bisection alone needs ~60 in float64).
    """
    target = np.asarray(target, dtype=np.float64)
    lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), target.shape).copy()
    hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), target.shape).copy()
    x = 0.5 * (lo + hi) if x0 is None else np.clip(np.asarray(x0, dtype=np.float64), lo, hi)
    x, flat = x.ravel().copy(), target.ravel()
    lo, hi = lo.ravel(), hi.ravel()
    active = np.arange(x.size)
    for _ in range(max_steps):
        if active.size == 0:
            break
        xa, la, ha = x[active], lo[active], hi[active]
        value, slope = fn(xa, active)
        excess = value - flat[active]
        below = excess < 0.0
        la = np.where(below, xa, la)
        ha = np.where(below, ha, xa)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = xa - excess / slope
        inside = np.isfinite(newton) & (newton >= la) & (newton <= ha)
        step = np.where(inside, newton, 0.5 * (la + ha))
        step = np.where(excess == 0.0, xa, step)
        size = 1.0 + np.abs(xa)
        converged = inside & (np.abs(step - xa) <= xtol * size)
        done = (excess == 0.0) | converged | (ha - la <= 4e-16 * size)
        x[active], lo[active], hi[active] = step, la, ha
        active = active[~done]
    return x.reshape(target.shape)
