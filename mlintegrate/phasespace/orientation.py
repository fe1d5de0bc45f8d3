r"""Cut-aware orientation: turn a rotation-invariant event so its softest partons pass p_T.

A generator whose density q(p) is invariant under rotations (it depends on invariants only)
builds the event's shape in a body frame; the orientation is then a rotation R ∈ SO(3) with
Haar measure dR = d(cos θ) dφ dξ / (8π²), parameterised here by the lab direction m = (θ, φ)
of the softest parton (smallest energy E_s, a rotation invariant) and the azimuth ξ about m of
the second-softest parton (energy E₂), measured from the lab frame ê₁ of m. A p_T cut to the
beam keeps a parton of energy E only at |cos θ| < c_b(E) = √(1 − (p_T,min/E)²), so

    g(c | E_s) = (1 − δ) · 1[|c| < c_b(E_s)] / (2 c_b) + δ / 2        (δ = ``SHARE_OUTSIDE``),

and, the second-softest parton at cos θ₂ = α c − √((1 − α²)(1 − c²)) cos ξ (α = cos of its
angle to the softest), ξ is drawn from h(ξ) = (1 − δ) · 1[ξ ∈ A] / |A| + δ/(2π), A the one or
two arcs where |cos θ₂| < c_b(E₂), in closed form; each law is flat where its band is empty
or everything (E ≤ p_T,min: the event fails the cut whatever its orientation). The event's
density becomes q(p) · (g/(1/2)) · (h/(1/2π)): the generator's weight w is multiplied by
(1/2)/g · (1/2π)/h, exactly, and every orientation keeps a density ≥ δ² of the uniform
one, so the map stays a bijection onto the whole of phase space. Three numbers t ∈ [0,1]³:
t0 → cos θ and t2 → ξ by the inverses of the (piecewise linear) distribution functions of g
and h, φ = 2π t1. The rotation itself carries the body frame (n, u₁, u₂) of the softest parton
(u₁ the body z axis, or x where |n_z| ≥ 0.7, made ⊥ n) to (m, g₁, g₂), g₁ at the angle χ = ξ −
ψ from ê₁, ψ the second-softest parton's azimuth about n from u₁.

>>> import numpy as np
>>> c = np.array([-0.9, 0.0, 0.5]); e = np.array([20.0, 6.0, 50.0])
>>> bool(np.allclose(cos_quantile(cos_cdf(c, e, 5.0), e, 5.0), c))
True
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .arcs import ArcLaw, arc_cdf, arc_density, arc_law, arc_quantile
from .pairing import _frame, _unit_fraction

__all__ = ["SHARE_OUTSIDE", "cos_cdf", "cos_density", "cos_quantile", "orient", "orientation_of"]

FloatArray = NDArray[np.float64]

#: δ: the share of cos θ drawn uniformly on [−1, 1] (the rest inside the band the cut allows)
SHARE_OUTSIDE = 0.05
_TWO_PI = 2.0 * np.pi
_X_AXIS, _Z_AXIS = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])


def _band(energy: FloatArray, pt_min: float) -> FloatArray:
    """c_b = √(1 − (p_T,min/E)²), or 1 (no band: uniform) where E ≤ p_T,min."""
    ratio = pt_min / energy
    return np.where(ratio < 1.0, np.sqrt(np.clip(1.0 - ratio * ratio, 0.0, 1.0)), 1.0)


def cos_density(c: FloatArray, energy: FloatArray, pt_min: float) -> FloatArray:
    """g(c | E) of the module docstring, (n,)."""
    c_b = _band(energy, pt_min)
    inside = np.abs(c) <= c_b
    return np.where(inside, (1.0 - SHARE_OUTSIDE) / (2.0 * c_b), 0.0) + 0.5 * SHARE_OUTSIDE


def cos_cdf(c: FloatArray, energy: FloatArray, pt_min: float) -> FloatArray:
    """G(c | E) = ∫_{−1}^{c} g: the t that gives c."""
    c_b = _band(energy, pt_min)
    in_band = np.clip((c + c_b) / (2.0 * c_b), 0.0, 1.0)
    return np.clip((1.0 - SHARE_OUTSIDE) * in_band + 0.5 * SHARE_OUTSIDE * (c + 1.0), 0.0, 1.0)


def cos_quantile(t: FloatArray, energy: FloatArray, pt_min: float) -> FloatArray:
    """G⁻¹(t | E): linear on the three pieces c < −c_b, |c| ≤ c_b, c > c_b."""
    c_b = _band(energy, pt_min)
    d = SHARE_OUTSIDE
    t_lo = 0.5 * d * (1.0 - c_b)  # G(−c_b)
    t_hi = 1.0 - t_lo  # G(c_b)
    below = 2.0 * t / d - 1.0
    slope = (1.0 - d) / (2.0 * c_b) + 0.5 * d
    inside = -c_b + (t - t_lo) / slope
    above = 1.0 - 2.0 * (1.0 - t) / d
    c = np.where(t < t_lo, below, np.where(t > t_hi, above, inside))
    return np.clip(c, -1.0, 1.0)


def _two_softest(p: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Unit directions (n, 3) and energies (n,) of the softest and the second-softest parton:
    (n̂₁, E₁, n̂₂, E₂), from one sort of the energies."""
    order = np.argsort(p[..., 0], axis=1)
    rows = np.arange(p.shape[0])
    out = []
    for rank in (0, 1):
        part = p[rows, order[:, rank]]
        out += [part[:, 1:] / np.linalg.norm(part[:, 1:], axis=1)[:, None], part[:, 0]]
    return out[0], out[1], out[2], out[3]


def _body_perpendicular(n: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(u₁, u₂) ⊥ n: u₁ the body z axis projected ⊥ n and normalised, or the x axis where
    |n_z| ≥ 0.7 (any fixed rule serves: ξ, not χ, is what t2 names)."""
    axis = np.where((np.abs(n[:, 2]) < 0.7)[:, None], _Z_AXIS, _X_AXIS)
    u1 = axis - np.sum(axis * n, axis=1)[:, None] * n
    u1 /= np.linalg.norm(u1, axis=1)[:, None]
    return u1, np.cross(n, u1)


def _xi_law(alpha: FloatArray, c: FloatArray, energy2: FloatArray, pt_min: float) -> ArcLaw:
    """The law of ξ (module docstring) for the second-softest parton at cos∠(n, n₂) = alpha:
    cos θ₂ = A − B cos ξ passes |cos θ₂| < c_b(E₂) where (A − c_b)/B < cos ξ < (A + c_b)/B."""
    big_a = alpha * c
    big_b = np.sqrt(np.clip((1.0 - alpha * alpha) * (1.0 - c * c), 0.0, None))
    c2 = _band(energy2, pt_min)
    with np.errstate(divide="ignore", invalid="ignore"):
        return arc_law((big_a - c2) / big_b, (big_a + c2) / big_b, SHARE_OUTSIDE)


def orient(p_body: FloatArray, t: FloatArray, pt_min: float) -> tuple[FloatArray, FloatArray]:
    """Body-frame momenta (n, k, 4) and t (n, 3) → lab momenta (n, k, 4) and the factor
    (1/2)/g · (1/2π)/h (n,) that multiplies the generator's weight."""
    n_body, energy, n2_body, energy2 = _two_softest(p_body)
    u1, u2 = _body_perpendicular(n_body)
    c = cos_quantile(t[:, 0], energy, pt_min)
    m, f1, f2 = _frame(c, t[:, 1])
    law = _xi_law(np.sum(n_body * n2_body, axis=1), c, energy2, pt_min)
    xi = arc_quantile(t[:, 2], law)
    psi = np.arctan2(np.sum(n2_body * u2, axis=1), np.sum(n2_body * u1, axis=1))
    chi = xi - psi
    cx, sx = np.cos(chi)[:, None], np.sin(chi)[:, None]
    g1, g2 = cx * f1 + sx * f2, cx * f2 - sx * f1
    # R = [m g1 g2] · [n u1 u2]ᵀ: n → m, u1 → g1, u2 → g2
    lab = np.stack([m, g1, g2], axis=2)
    body = np.stack([n_body, u1, u2], axis=2)
    rot = np.einsum("nij,nkj->nik", lab, body)
    out = np.empty_like(p_body)
    out[..., 0] = p_body[..., 0]
    out[..., 1:] = np.einsum("nij,nkj->nki", rot, p_body[..., 1:])
    factor = 0.5 / cos_density(c, energy, pt_min) / (_TWO_PI * arc_density(xi, law))
    return out, factor


def orientation_of(p_lab: FloatArray, pt_min: float) -> tuple[FloatArray, FloatArray]:
    """Inverse of :func:`orient`: lab momenta (n, k, 4) → t (n, 3) and the factor (n,)."""
    m, energy, n2, energy2 = _two_softest(p_lab)
    c = np.clip(m[:, 2], -1.0, 1.0)
    t = np.empty((p_lab.shape[0], 3))
    t[:, 0] = cos_cdf(c, energy, pt_min)
    t[:, 1] = _unit_fraction(np.arctan2(m[:, 1], m[:, 0]))
    _, f1, f2 = _frame(c, t[:, 1])
    xi = _TWO_PI * _unit_fraction(np.arctan2(np.sum(n2 * f2, axis=1), np.sum(n2 * f1, axis=1)))
    law = _xi_law(np.sum(m * n2, axis=1), c, energy2, pt_min)
    t[:, 2] = np.clip(arc_cdf(xi, law), 0.0, 1.0)
    factor = 0.5 / cos_density(c, energy, pt_min) / (_TWO_PI * arc_density(xi, law))
    return t, factor
