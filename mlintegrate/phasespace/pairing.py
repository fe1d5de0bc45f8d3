r"""Massless 4-body phase space as two pairs, P → (ab)(cd): a generator adapted to s_ab, s_cd.

    dΦ_4 = ds_ab/(2π) ds_cd/(2π) dΦ_2(P; Q_ab, Q_cd) dΦ_2(Q_ab; p_a, p_b) dΦ_2(Q_cd; p_c, p_d),

each two-body factor dΦ_2 = β/(8π) dΩ/(4π) (β = λ^½(s, s_ab, s_cd)/s for the production, 1 for
a massless decay). Eight numbers t ∈ [0,1]^8 (column layout):

- t0 → x_ab = s_ab/s = a((1 + 1/a)^t0 − 1), dx/dt0 = (x + a) ln(1 + 1/a);
- t1 → x_cd = a((1 + x_max/a)^t1 − 1) on [0, x_max], x_max = (1 − √x_ab)² (so √s_ab + √s_cd ≤ √s
  exactly), dx/dt1 = (x + a) ln(1 + x_max/a);
- t2, t3: production direction ê of Q_ab in the centre-of-mass frame, cos θ = 2t2 − 1, φ = 2π t3;
- t4, t5 (t6, t7): decay of Q_ab (Q_cd) in its rest frame, helicity angles: cos θ* = 2t − 1 from the
  pair's flight direction, φ* = 2π t' about it (measured from ê₁ = ∂ê/∂θ).

a = ``scale`` is the log scale of the invariants (of the order of the smallest s_ij the cuts
allow, over s): 1/s_ab and 1/s_cd poles become flat in t0, t1 while the whole of phase space stays
covered. The weight of a point is

    w = (s² (x_ab + a)(x_cd + a) ln(1 + 1/a) ln(1 + x_max/a)) / (2π)² · β/(8π) · 1/(8π)²,

so mean(w) over uniform t is the massless volume V_4. The boosts are written without
cancellation (E_a = |Q| t + A, p_a∥ = |Q| t + A cos θ*, A = M²/(2(E + |Q|))), so the momenta
are massless and sum to P to rounding even for very light pairs, and the complements 1 − x_ab,
x_max − x_cd are computed without cancellation. x_ab and x_cd are kept 10⁻¹⁶ x_max away from
their ends (t0, t1 within ~10⁻¹³ of 0 or 1 only), so the weight stays finite and > 0 everywhere.

>>> import numpy as np
>>> t = np.random.default_rng(1).random((4, 8))
>>> p, w = pairing_generate(t, 91.2, (0, 1, 2, 3), 1e-3)
>>> t2, w2 = pairing_inverse(p, 91.2, (0, 1, 2, 3), 1e-3)
>>> bool(np.allclose(t2, t, atol=1e-10)), bool(np.allclose(w2, w))
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .kinematics import boost_accurate_numpy

__all__ = ["PAIRINGS", "pairing_generate", "pairing_inverse"]

FloatArray = NDArray[np.float64]

#: the three ways to split four particles into two pairs: (a, b, c, d) for (ab)(cd)
PAIRINGS: tuple[tuple[int, int, int, int], ...] = ((0, 1, 2, 3), (1, 2, 3, 0), (0, 2, 1, 3))

_X_FLOOR = 1e-16
_TWO_PI = 2.0 * math.pi
_CONST = 1.0 / (_TWO_PI**2 * 8.0 * math.pi * (8.0 * math.pi) ** 2)


def _check(sqrt_s: float, pairing: Sequence[int], scale: float) -> tuple[int, int, int, int]:
    if not (math.isfinite(sqrt_s) and sqrt_s > 0):
        raise ValueError(f"sqrt_s must be a positive energy in GeV, got {sqrt_s!r}")
    if sorted(pairing) != [0, 1, 2, 3]:
        raise ValueError(f"pairing must order the particles 0..3 as (a, b, c, d), got {pairing!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive fraction of s (e.g. 1e-3), got {scale!r}")
    a, b, c, d = (int(i) for i in pairing)
    return a, b, c, d


def _frame(cos_t: FloatArray, t_phi: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Orthonormal (ê, ê₁, ê₂) (each (n, 3)) of the direction with cos θ and φ = 2π t_phi."""
    sin_t = np.sqrt(np.clip((1.0 - cos_t) * (1.0 + cos_t), 0.0, None))
    cp, sp = np.cos(_TWO_PI * t_phi), np.sin(_TWO_PI * t_phi)
    e = np.stack([sin_t * cp, sin_t * sp, cos_t], axis=-1)
    e1 = np.stack([cos_t * cp, cos_t * sp, -sin_t], axis=-1)
    e2 = np.stack([-sp, cp, np.zeros_like(cp)], axis=-1)
    return e, e1, e2


def _decay(
    m2: FloatArray,
    energy: FloatArray,
    qabs: FloatArray,
    axes: tuple,
    u: FloatArray,
    u_bar: FloatArray,
    t_phi: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """A pair of mass² m2, energy, momentum qabs along axes[0] → two massless momenta (n, 4),
    the first at cos θ* = u − u_bar (u = (1 + cos θ*)/2, u_bar = 1 − u) in the helicity frame."""
    e, e1, e2 = axes
    c = u - u_bar
    big_a = m2 / (2.0 * (energy + qabs))
    perp_size = np.sqrt(m2 * u * u_bar)
    cp, sp = np.cos(_TWO_PI * t_phi), np.sin(_TWO_PI * t_phi)
    perp = perp_size[:, None] * (cp[:, None] * e1 + sp[:, None] * e2)
    p1, p2 = np.empty((u.size, 4)), np.empty((u.size, 4))
    p1[:, 0] = qabs * u + big_a
    p2[:, 0] = qabs * u_bar + big_a
    p1[:, 1:] = (qabs * u + big_a * c)[:, None] * e + perp
    p2[:, 1:] = (qabs * u_bar - big_a * c)[:, None] * e - perp
    return p1, p2


def _cos_map(t: FloatArray, delta: float | None) -> tuple[FloatArray, FloatArray, FloatArray]:
    """t → (u, 1 − u, du/dt) with density ∝ 1/((u + δ)(1 + δ − u)) (both ends logarithmic):
    u = δ expm1(2Lt) / (1 + e^{2Lt − L}), L = ln((1 + δ)/δ); 1 − u is u at 1 − t. δ None: u = t."""
    if delta is None:
        return t, 1.0 - t, np.ones_like(t)
    big_l = math.log1p(1.0 / delta)

    def u_of(x: FloatArray) -> FloatArray:
        return delta * np.expm1(2.0 * big_l * x) / (1.0 + np.exp(2.0 * big_l * x - big_l))

    u, u_bar = u_of(t), u_of(1.0 - t)
    return u, u_bar, _cos_jacobian(u, u_bar, delta)


def _cos_jacobian(u: FloatArray, u_bar: FloatArray, delta: float | None) -> FloatArray:
    if delta is None:
        return np.ones_like(u)
    big_l = math.log1p(1.0 / delta)
    return 2.0 * big_l * (u + delta) * (u_bar + delta) / (1.0 + 2.0 * delta)


def _cos_unmap(u: FloatArray, u_bar: FloatArray, delta: float | None) -> FloatArray:
    """Inverse of :func:`_cos_map`: t from u and 1 − u."""
    if delta is None:
        return np.clip(u, 0.0, 1.0)
    big_l = math.log1p(1.0 / delta)
    return np.clip((np.log((u + delta) / (u_bar + delta)) + big_l) / (2.0 * big_l), 0.0, 1.0)


def _to_rest(k: FloatArray, frame: FloatArray, m: FloatArray) -> FloatArray:
    """Spatial part (n, 3) of k (n, 4) boosted to the rest frame of ``frame`` of mass m."""
    q0, qv = frame[:, 0], frame[:, 1:]
    e_rest = (q0 * k[:, 0] - np.sum(qv * k[:, 1:], axis=1)) / m
    return k[:, 1:] - qv * ((k[:, 0] + e_rest) / (q0 + m))[:, None]


def _direction_frame(v: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(n̂, ê₁, ê₂) of the direction of v (n, 3), via its polar angles."""
    n = v / np.linalg.norm(v, axis=1)[:, None]
    cos_t = np.clip(n[:, 2], -1.0, 1.0)
    return _frame(cos_t, _unit_fraction(np.arctan2(n[:, 1], n[:, 0])))


def _partner_decay(
    m2: FloatArray, pair: FloatArray, qabs: FloatArray, partner: FloatArray,
    u: FloatArray, u_bar: FloatArray, t_phi: FloatArray,
) -> tuple[FloatArray, FloatArray]:  # fmt: skip
    """A pair (4-momentum ``pair``, mass² m2) → two massless momenta, the first at cos θ* =
    u − u_bar from the direction of ``partner`` in the pair's rest frame."""
    m = np.sqrt(m2)
    axis, f1, f2 = _direction_frame(_to_rest(partner, pair, m))
    cp, sp = np.cos(_TWO_PI * t_phi), np.sin(_TWO_PI * t_phi)
    sin_t = 2.0 * np.sqrt(u * u_bar)
    n = (u - u_bar)[:, None] * axis + (sin_t * cp)[:, None] * f1 + (sin_t * sp)[:, None] * f2
    half = 0.5 * m
    out = []
    for sign in (1.0, -1.0):
        k = sign * half[:, None] * n
        out.append(np.stack(boost_accurate_numpy(
            half, 0.0, k[:, 0], k[:, 1], k[:, 2], half,
            pair[:, 0], pair[:, 1], pair[:, 2], pair[:, 3], qabs, m,
        ), axis=-1))  # fmt: skip
    return out[0], out[1]


def _log_map(t: FloatArray, x_max: FloatArray | float, a: float) -> tuple[FloatArray, ...]:
    """x = a((1 + x_max/a)^t − 1) kept 1e-16 x_max away from 0 and x_max, its complement
    x_max − x = a (1 + x_max/a)^t expm1((1 − t) ln(1 + x_max/a)) (no cancellation), and
    dx/dt = (x + a) ln(1 + x_max/a)."""
    span = np.log1p(x_max / a)
    edge = _X_FLOOR * x_max
    x = np.clip(a * np.expm1(t * span), edge, x_max - edge)
    rest = np.clip(a * np.exp(t * span) * np.expm1((1.0 - t) * span), edge, x_max - edge)
    return x, rest, (x + a) * span


def _production(
    x1: FloatArray, rest1: FloatArray, x2: FloatArray, rest2: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Energies E1, E2 and momentum |Q| of the pairs (units of √s) and x_max = (1 − √x1)², from
    x1 (complement rest1 = 1 − x1) and x2 (rest2 = x_max − x2), written without cancellation."""
    m1, m2 = np.sqrt(x1), np.sqrt(x2)
    d1 = rest1 / (1.0 + m1)  # 1 − m1
    gap = rest2 / (d1 + m2)  # 1 − m1 − m2
    lam = gap * (1.0 + m1 + m2) * (d1 + m2) * (1.0 + m1 - m2)
    one_minus_x2 = m1 * (2.0 - m1) + rest2
    return 0.5 * (one_minus_x2 + x1), 0.5 * (rest1 + x2), 0.5 * np.sqrt(lam), d1 * d1


def _weight(x1: FloatArray, x2: FloatArray, x2_max: FloatArray, qabs: FloatArray, sqrt_s: float,
            a: float) -> FloatArray:  # fmt: skip
    """w of the module docstring (the angles are flat); qabs = |Q|/√s, so β = 2 qabs."""
    s = sqrt_s * sqrt_s
    jac = (x1 + a) * math.log1p(1.0 / a) * (x2 + a) * np.log1p(x2_max / a)
    return _CONST * s * s * jac * 2.0 * qabs


def pairing_generate(
    t: FloatArray, sqrt_s: float, pairing: Sequence[int], scale: float, angular: float | None = None
) -> tuple[FloatArray, FloatArray]:
    """t (n, 8) in [0,1] → (momenta (n, 4, 4) of particles 0..3, weight w (n,)) (module doc)."""
    a_, b_, c_, d_ = _check(sqrt_s, pairing, scale)
    t = np.asarray(t, dtype=np.float64)
    if t.ndim != 2 or t.shape[1] != 8:
        raise ValueError(f"t has shape {t.shape}; expected (n, 8)")
    x1, rest1, _ = _log_map(t[:, 0], 1.0, scale)
    x2_max = (rest1 / (1.0 + np.sqrt(x1))) ** 2
    x2, rest2, _ = _log_map(t[:, 1], x2_max, scale)
    e1, e2, qabs, _ = _production(x1, rest1, x2, rest2)
    e, n1, n2 = _frame(2.0 * t[:, 2] - 1.0, t[:, 3])
    p = np.empty((t.shape[0], 4, 4))
    s = sqrt_s * sqrt_s
    u_cd, ubar_cd, jac_cd = _cos_map(t[:, 6], angular)
    p[:, c_], p[:, d_] = _decay(
        x2 * s, e2 * sqrt_s, qabs * sqrt_s, (-e, n1, n2), u_cd, ubar_cd, t[:, 7]
    )
    u_ab, ubar_ab, jac_ab = _cos_map(t[:, 4], angular)
    if angular is None:
        p[:, a_], p[:, b_] = _decay(
            x1 * s, e1 * sqrt_s, qabs * sqrt_s, (e, n1, n2), u_ab, ubar_ab, t[:, 5]
        )
    else:
        pair = np.concatenate([(e1 * sqrt_s)[:, None], (qabs * sqrt_s)[:, None] * e], axis=1)
        p[:, a_], p[:, b_] = _partner_decay(
            x1 * s, pair, qabs * sqrt_s, p[:, c_], u_ab, ubar_ab, t[:, 5]
        )
    return p, _weight(x1, x2, x2_max, qabs, sqrt_s, scale) * jac_ab * jac_cd


def _pair_mass2(pi: FloatArray, pj: FloatArray) -> FloatArray:
    """s_ij = 2 p_i·p_j = E_i E_j |n̂_i − n̂_j|² for massless p (no cancellation when collinear)."""
    ni = pi[:, 1:] / np.linalg.norm(pi[:, 1:], axis=1)[:, None]
    nj = pj[:, 1:] / np.linalg.norm(pj[:, 1:], axis=1)[:, None]
    return pi[:, 0] * pj[:, 0] * np.sum((ni - nj) ** 2, axis=1)


def _unit_fraction(angle: FloatArray) -> FloatArray:
    """φ ∈ (−π, π] → φ/(2π) mod 1 in [0, 1)."""
    frac = angle / _TWO_PI
    return np.where(frac < 0.0, frac + 1.0, frac)


def pairing_inverse(
    p: FloatArray, sqrt_s: float, pairing: Sequence[int], scale: float, angular: float | None = None
) -> tuple[FloatArray, FloatArray]:
    """Momenta (n, 4, 4) summing to (√s, 0, 0, 0) → (t (n, 8), weight w (n,)) of
    :func:`pairing_generate`: its inverse, and the weight it gives at that t."""
    a_, b_, c_, d_ = _check(sqrt_s, pairing, scale)
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (4, 4):
        raise ValueError(f"p has shape {p.shape}; expected (n, 4, 4)")
    s = sqrt_s * sqrt_s
    t = np.empty((p.shape[0], 8))
    s1 = _pair_mass2(p[:, a_], p[:, b_])
    s2 = _pair_mass2(p[:, c_], p[:, d_])
    q1 = p[:, a_] + p[:, b_]
    q2 = p[:, c_] + p[:, d_]
    x1, x2 = np.clip(s1 / s, _X_FLOOR, 1.0), s2 / s
    # 1 − x1 = 2 E_cd/√s − x2 (no cancellation: x2 ≤ (E_cd/√s)²), so x_max is exact for light cd
    rest1 = np.clip(2.0 * q2[:, 0] / sqrt_s - x2, 0.0, 1.0)
    x2_max = (rest1 / (1.0 + np.sqrt(x1))) ** 2
    x2 = np.clip(x2, _X_FLOOR, x2_max)
    t[:, 0] = np.clip(np.log1p(x1 / scale) / math.log1p(1.0 / scale), 0.0, 1.0)
    t[:, 1] = np.clip(np.log1p(x2 / scale) / np.log1p(x2_max / scale), 0.0, 1.0)
    qvec = 0.5 * (q1[:, 1:] - q2[:, 1:])  # = q1's momentum when the total is at rest
    qabs = np.linalg.norm(qvec, axis=1)
    cos_t = np.clip(qvec[:, 2] / qabs, -1.0, 1.0)
    t[:, 2] = 0.5 * (1.0 + cos_t)
    t[:, 3] = _unit_fraction(np.arctan2(qvec[:, 1], qvec[:, 0]))
    _, e1, e2 = _frame(cos_t, t[:, 3])
    jac = np.ones(p.shape[0])
    pairs = ((p[:, a_], p[:, b_], s1, q1[:, 0]), (p[:, c_], p[:, d_], s2, q2[:, 0]))
    for col, (pi, pj, m2, energy) in enumerate(pairs):
        if col == 0 and angular is not None:  # about the partner c in the ab rest frame
            m = np.sqrt(s1)
            axis, f1, f2 = _direction_frame(_to_rest(p[:, c_], q1, m))
            na = _to_rest(pi, q1, m)
            na /= np.linalg.norm(na, axis=1)[:, None]
            u = np.clip(0.25 * np.sum((na + axis) ** 2, axis=1), 0.0, 1.0)
            u_bar = np.clip(0.25 * np.sum((na - axis) ** 2, axis=1), 0.0, 1.0)
            along = (np.sum(na * f1, axis=1), np.sum(na * f2, axis=1))
        else:  # helicity frame: E_i = |Q| u + A, E_j = |Q| (1 − u) + A
            big_a = m2 / (2.0 * (energy + qabs))
            u = np.clip((pi[:, 0] - big_a) / qabs, 0.0, 1.0)
            u_bar = np.clip((pj[:, 0] - big_a) / qabs, 0.0, 1.0)
            along = (np.sum(pi[:, 1:] * e1, axis=1), np.sum(pi[:, 1:] * e2, axis=1))
        t[:, 4 + 2 * col] = _cos_unmap(u, u_bar, angular)
        t[:, 5 + 2 * col] = _unit_fraction(np.arctan2(along[1], along[0]))
        jac *= _cos_jacobian(u, u_bar, angular)
    return t, _weight(x1, x2, x2_max, qabs / sqrt_s, sqrt_s, scale) * jac
