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

A ΔR cut (``dr_min``) is not a band of the softest parton: a pair at opening angle α and
polar angle θ has ΔR ≈ α / sin θ, so a pair closer than ΔR_min passes only towards the beam,
|cos θ| > √(1 − (α/ΔR_min)²). With ``dr_min``, an event whose closest pair (a rotation
invariant, like the energies) has α < ΔR_min is oriented by that pair instead: m is the
direction of its summed momentum, drawn (1 − δ) in lo < |cos θ| < hi with lo that bound and
hi the softer one's band edge, each widened (``_DR_SLACK``, and by α for hi: the partons lie up
to α off the pair's direction), and ξ turns the softest other parton into its p_T band.
The cos θ law is the arc law of :mod:`.arcs` in x = π(1 + c), whose pass set has the same
two-piece shape.

>>> import numpy as np
>>> c = np.array([-0.9, 0.0, 0.5]); e = np.array([20.0, 6.0, 50.0])
>>> bool(np.allclose(cos_quantile(cos_cdf(c, e, 5.0), e, 5.0), c))
True
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray

from .arcs import ArcLaw, arc_cdf, arc_density, arc_law, arc_law_of_angles, arc_quantile
from .pairing import _frame, _unit_fraction

__all__ = ["SHARE_OUTSIDE", "cos_cdf", "cos_density", "cos_quantile", "orient", "orientation_of"]

FloatArray = NDArray[np.float64]

#: δ: the share of cos θ drawn uniformly on [−1, 1] (the rest inside the band the cut allows)
SHARE_OUTSIDE = 0.05
#: the close pair's band is widened to ΔR ≈ α/sin θ > 0.9 ΔR_min and to polar angles α beyond
#: the softer parton's p_T band: ΔR ≈ α/sin θ and the pair's direction are approximations, and
#: a point that passes outside the band carries 1/δ. Of the close pairs of flat 4-parton
#: events that pass ee_4jet's cuts, > 5 % fall outside the unwidened band, < 0.2 % outside this
#: one (tests/test_orientation.py)
_DR_SLACK = 0.9
_TWO_PI = 2.0 * np.pi
_X_AXIS, _Z_AXIS = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])


def _band(energy: FloatArray, pt_min: float) -> FloatArray:
    """c_b = √(1 − (p_T,min/E)²), or 1 (no band: uniform) where E ≤ p_T,min."""
    ratio = pt_min / energy
    return np.where(ratio < 1.0, np.sqrt(np.clip(1.0 - ratio * ratio, 0.0, 1.0)), 1.0)


def _cos_law(lo: FloatArray, hi: FloatArray) -> ArcLaw:
    """g(c) = (1 − δ) · 1[lo < |c| < hi] / (2 (hi − lo)) + δ/2, as the arc law of x = π(1 + c)
    (its pass set (π(1 − hi), π(1 − lo)) ∪ (π(1 + lo), π(1 + hi)) has the same shape); flat
    where the band is empty or everything."""
    return arc_law_of_angles(np.pi * (1.0 - hi), np.pi * (1.0 - lo), SHARE_OUTSIDE)


def _cos_law_of(energy: FloatArray, pt_min: float) -> ArcLaw:
    """g(c | E): the band |c| < c_b(E) of a parton of energy E."""
    return _cos_law(np.zeros_like(energy), _band(energy, pt_min))


def _cos_density(c: FloatArray, law: ArcLaw) -> FloatArray:
    return np.pi * arc_density(np.pi * (1.0 + c), law)


def _cos_cdf(c: FloatArray, law: ArcLaw) -> FloatArray:
    return np.clip(arc_cdf(np.pi * (1.0 + c), law), 0.0, 1.0)


def _cos_quantile(t: FloatArray, law: ArcLaw) -> FloatArray:
    return np.clip(arc_quantile(t, law) / np.pi - 1.0, -1.0, 1.0)


def cos_density(c: FloatArray, energy: FloatArray, pt_min: float) -> FloatArray:
    """g(c | E) of the module docstring, (n,)."""
    return _cos_density(c, _cos_law_of(energy, pt_min))


def cos_cdf(c: FloatArray, energy: FloatArray, pt_min: float) -> FloatArray:
    """G(c | E) = ∫_{−1}^{c} g: the t that gives c."""
    return _cos_cdf(c, _cos_law_of(energy, pt_min))


def cos_quantile(t: FloatArray, energy: FloatArray, pt_min: float) -> FloatArray:
    """G⁻¹(t | E): linear on the pieces c < −c_b, |c| ≤ c_b, c > c_b."""
    return _cos_quantile(t, _cos_law_of(energy, pt_min))


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


def _close_pair(p: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per event the pair of partons with the smallest opening angle: their indices (2, n)
    and that angle (n,) (rotation invariants, like the energies), and every parton's unit
    direction (n, k, 3)."""
    unit = p[..., 1:] / np.linalg.norm(p[..., 1:], axis=2)[..., None]
    pairs = np.array(list(itertools.combinations(range(p.shape[1]), 2))).T  # (2, k(k−1)/2)
    cosines = np.einsum("nki,nki->nk", unit[:, pairs[0]], unit[:, pairs[1]])
    best = np.argmax(cosines, axis=1)
    angle = np.arccos(np.clip(cosines[np.arange(p.shape[0]), best], -1.0, 1.0))
    return pairs[:, best], angle, unit


def _references(
    p: FloatArray, pt_min: float, dr_min: float | None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per event: the direction m (n, 3) whose cos θ the band law draws, that band
    lo < |cos θ| < hi (n,) each, and the direction and energy (n, 3), (n,) of the parton whose
    azimuth ξ about m the arc law draws. The softest parton in its p_T band, the second-softest
    for ξ; with ``dr_min``, where the closest pair (opening angle α) is closer than ΔR_min, the
    pair's summed momentum instead, in the band √(1 − (α/(0.9 ΔR_min))²) < |cos θ| <
    cos(θ_b − α) (θ_b the softer one's p_T band edge), since ΔR ≈ α / sin θ passes only
    towards the beam, and for ξ the softest other parton."""
    n1, e1, n2, e2 = _two_softest(p)
    lo, hi = np.zeros_like(e1), _band(e1, pt_min)
    if dr_min is None:
        return n1, lo, hi, n2, e2
    (i, j), angle, unit = _close_pair(p)
    rows = np.arange(p.shape[0])
    pair = p[rows, i, 1:] + p[rows, j, 1:]
    pair /= np.linalg.norm(pair, axis=1)[:, None]
    lo_pair = np.sqrt(np.clip(1.0 - (angle / (_DR_SLACK * dr_min)) ** 2, 0.0, 1.0))
    softer = np.minimum(p[rows, i, 0], p[rows, j, 0])
    theta_b = np.arcsin(np.clip(pt_min / softer, 0.0, 1.0))  # the softer one's band edge
    hi_pair = np.cos(np.maximum(theta_b - angle, 0.0))  # either may lie α off the sum
    # the pair where its band is the narrower law (near α = ΔR_min it is nearly flat)
    close = ((angle < dr_min) & (hi_pair - lo_pair < hi))[:, None]
    others = p[..., 0].copy()
    others[rows, i] = others[rows, j] = np.inf
    r = np.argmin(others, axis=1)
    return (
        np.where(close, pair, n1),
        np.where(close[:, 0], lo_pair, lo),
        np.where(close[:, 0], hi_pair, hi),
        np.where(close, unit[rows, r], n2),
        np.where(close[:, 0], p[rows, r, 0], e2),
    )


def _factor(c: FloatArray, cos_law: ArcLaw, xi: FloatArray, xi_law: ArcLaw) -> FloatArray:
    """(1/2)/g(c) · (1/2π)/h(ξ): the orientation's factor on the generator's weight."""
    return 0.5 / _cos_density(c, cos_law) / (_TWO_PI * arc_density(xi, xi_law))


def orient(
    p_body: FloatArray, t: FloatArray, pt_min: float, dr_min: float | None = None
) -> tuple[FloatArray, FloatArray]:
    """Body-frame momenta (n, k, 4) and t (n, 3) → lab momenta (n, k, 4) and the factor
    (1/2)/g · (1/2π)/h (n,) that multiplies the generator's weight (with ``dr_min``, close
    pairs are turned towards the beam: :func:`_references`)."""
    n_body, lo, hi, n2_body, energy2 = _references(p_body, pt_min, dr_min)
    u1, u2 = _body_perpendicular(n_body)
    cos_law = _cos_law(lo, hi)
    c = _cos_quantile(t[:, 0], cos_law)
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
    return out, _factor(c, cos_law, xi, law)


def orientation_of(
    p_lab: FloatArray, pt_min: float, dr_min: float | None = None
) -> tuple[FloatArray, FloatArray]:
    """Inverse of :func:`orient`: lab momenta (n, k, 4) → t (n, 3) and the factor (n,)."""
    m, lo, hi, n2, energy2 = _references(p_lab, pt_min, dr_min)
    c = np.clip(m[:, 2], -1.0, 1.0)
    cos_law = _cos_law(lo, hi)
    t = np.empty((p_lab.shape[0], 3))
    t[:, 0] = _cos_cdf(c, cos_law)
    t[:, 1] = _unit_fraction(np.arctan2(m[:, 1], m[:, 0]))
    _, f1, f2 = _frame(c, t[:, 1])
    xi = _TWO_PI * _unit_fraction(np.arctan2(np.sum(n2 * f2, axis=1), np.sum(n2 * f1, axis=1)))
    law = _xi_law(np.sum(m * n2, axis=1), c, energy2, pt_min)
    t[:, 2] = np.clip(arc_cdf(xi, law), 0.0, 1.0)
    return t, _factor(c, cos_law, xi, law)
