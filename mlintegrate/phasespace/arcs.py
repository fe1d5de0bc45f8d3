r"""An angle drawn mostly where a cut passes: ψ ∈ [0, 2π) for a cut keeping lo ≤ cos ψ ≤ hi.

Where a cut on a kinematic quantity that varies as A + B cos ψ with an azimuth ψ (a parton's
polar angle as the event turns about another parton, a parton's energy as an emission turns
about its dipole) passes on the set A = {ψ : lo ≤ cos ψ ≤ hi}, one or two arcs
(a₁, a₂) ∪ (2π − a₂, 2π − a₁) with a₁ = arccos(hi), a₂ = arccos(lo), the law

    h(ψ) = (1 − δ) · 1[ψ ∈ A] / |A| + δ / (2π)          (δ = ``share_outside``)

spends 1 − δ of the draws on A and keeps h ≥ δ/(2π) everywhere, so the map stays a bijection
onto the whole circle. Where A is empty or the whole circle, h is flat (1/2π). Its distribution
function is piecewise linear with breakpoints (0, a₁, a₂, 2π − a₂, 2π − a₁, 2π), so the
quantile is exact and closed-form. A generator that drew ψ flat multiplies its weight by
(1/2π)/h(ψ).

>>> import numpy as np
>>> law = arc_law(np.array([-0.5]), np.array([0.5]), 0.05)
>>> psi = arc_quantile(np.array([0.3]), law)
>>> bool(np.allclose(arc_cdf(psi, law), 0.3)), bool(0.5 * np.pi < psi[0] < 2 * np.pi / 3 + 1e-9)
(True, True)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ArcLaw",
    "arc_cdf",
    "arc_density",
    "arc_law",
    "arc_law_of_angles",
    "arc_quantile",
]

FloatArray = NDArray[np.float64]
_TWO_PI = 2.0 * np.pi


class ArcLaw(NamedTuple):
    """Breakpoints ``xs`` (n, 6), the density's two levels ``outside`` and ``inside`` the
    pass set (n,), and the width a₂ − a₁ of each of its two arcs (n,)."""

    xs: FloatArray
    outside: FloatArray
    inside: FloatArray
    width: FloatArray


def arc_law(lo: FloatArray, hi: FloatArray, share_outside: float) -> ArcLaw:
    """The law h of the module docstring for pass sets lo ≤ cos ψ ≤ hi, (n,) each (any real
    numbers: clipped to [−1, 1]; NaN or hi ≤ lo gives the flat law)."""
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(lo) & np.isfinite(hi) & (hi > lo)
    lo_c = np.clip(np.where(valid, lo, -1.0), -1.0, 1.0)
    hi_c = np.clip(np.where(valid, hi, 1.0), -1.0, 1.0)
    return arc_law_of_angles(np.arccos(hi_c), np.arccos(lo_c), share_outside, valid)


def arc_law_of_angles(
    a1: FloatArray, a2: FloatArray, share_outside: float, valid: FloatArray | None = None
) -> ArcLaw:
    """The law h for the pass set (a₁, a₂) ∪ (2π − a₂, 2π − a₁), 0 ≤ a₁ ≤ a₂ ≤ π (n,) each;
    flat where ``valid`` is False or the set is empty or the whole circle."""
    width = a2 - a1
    # an empty set (width 0) or the whole circle (width π) is drawn flat
    banded = (width > 0.0) & (width < np.pi)
    if valid is not None:
        banded &= valid
    width = np.where(banded, width, 0.0)
    a1 = np.where(banded, a1, 0.0)
    a2 = a1 + width
    outside = np.where(banded, share_outside, 1.0) / _TWO_PI
    inside = np.where(banded, (1.0 - share_outside) / np.where(banded, 2.0 * width, 1.0), 0.0)
    xs = np.stack(
        [np.zeros_like(a1), a1, a2, _TWO_PI - a2, _TWO_PI - a1, np.full_like(a1, _TWO_PI)], axis=1
    )
    return ArcLaw(xs, outside, inside, width)


def arc_cdf(psi: FloatArray, law: ArcLaw) -> FloatArray:
    """H(ψ) = ∫₀^ψ h for ψ ∈ [0, 2π], (n,) or (n, k) against the law's (n,) arrays."""
    xs, outside, inside, width = law
    if psi.ndim == 2:
        outside, inside, width = outside[:, None], inside[:, None], width[:, None]
        a1, a2 = xs[:, 1:2], xs[:, 2:3]
    else:
        a1, a2 = xs[:, 1], xs[:, 2]
    in_pass = np.clip(psi - a1, 0.0, width) + np.clip(psi - (_TWO_PI - a2), 0.0, width)
    return outside * psi + inside * in_pass


def arc_quantile(t: FloatArray, law: ArcLaw) -> FloatArray:
    """H⁻¹(t) for t ∈ [0, 1] (n,): linear between the breakpoints."""
    xs = law.xs
    hs = arc_cdf(xs, law)
    k = np.clip(np.sum(hs[:, 1:5] <= t[:, None], axis=1), 0, 4)
    rows = np.arange(t.size)
    x0, x1, h0, h1 = xs[rows, k], xs[rows, k + 1], hs[rows, k], hs[rows, k + 1]
    span = h1 - h0
    frac = np.where(span > 0, (t - h0) / np.where(span > 0, span, 1.0), 0.0)
    return np.clip(x0 + frac * (x1 - x0), 0.0, _TWO_PI)


def arc_density(psi: FloatArray, law: ArcLaw) -> FloatArray:
    """h(ψ) (n,)."""
    xs, outside, inside, _ = law
    in_pass = ((psi > xs[:, 1]) & (psi < xs[:, 2])) | ((psi > xs[:, 3]) & (psi < xs[:, 4]))
    return outside + np.where(in_pass, inside, 0.0)
