"""Four-vector kinematics: Minkowski products, invariants, boosts and collider observables.

Four-momenta are float64 arrays whose last axis holds (E, px, py, pz); every function broadcasts
over the leading axes, so ``p`` may be one vector ``(4,)``, a set ``(n_events, 4)`` or the event
array ``(n_events, n_particles, 4)`` used throughout :mod:`mlintegrate.phasespace`. The metric is
(+, -, -, -).

The boost formulas used here (and inlined in the numba kernels) are, for a frame momentum Q of
mass M = sqrt(Q^2) and a vector k given in the rest frame of Q,

    E' = (Q^0 k^0 + Q.k) / M,        k' = k + Q (k^0 + E') / (Q^0 + M),

which is the pure (rotation-free) boost taking (M, 0, 0, 0) to Q; the inverse replaces Q by
(Q^0, -Q) in the two formulas.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._jit import jit

__all__ = [
    "boost_from_rest",
    "boost_to_rest",
    "cos_theta",
    "delta_r",
    "dot",
    "kallen",
    "mass",
    "mass2",
    "pair_invariants",
    "phi",
    "pseudorapidity",
    "pt",
    "rapidity",
    "sij",
]

FloatArray = NDArray[np.float64]

_HALF_PI = 0.5 * math.pi


def _as4(p: ArrayLike, name: str = "p") -> FloatArray:
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] != 4:
        raise ValueError(f"{name} has shape {arr.shape}; the last axis must hold (E, px, py, pz)")
    return arr


def dot(a: ArrayLike, b: ArrayLike) -> FloatArray:
    """Minkowski product a.b = a^0 b^0 - a.b, shape = broadcast of the leading axes."""
    a, b = _as4(a, "a"), _as4(b, "b")
    return a[..., 0] * b[..., 0] - (
        a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2] + a[..., 3] * b[..., 3]
    )


def mass2(p: ArrayLike) -> FloatArray:
    """Invariant mass squared p^2 = E^2 - |p|^2, shape ``p.shape[:-1]``."""
    p = _as4(p)
    return dot(p, p)


def mass(p: ArrayLike) -> FloatArray:
    """Invariant mass sign(p^2) sqrt(|p^2|) (negative for space-like p), shape ``p.shape[:-1]``."""
    m2 = mass2(p)
    return np.sign(m2) * np.sqrt(np.abs(m2))


def sij(p: ArrayLike, i: int, j: int) -> FloatArray:
    """s_ij = (p_i + p_j)^2 for momenta ``p`` of shape (n_events, n_particles, 4) -> (n_events,)."""
    p = _as4(p)
    if p.ndim != 3:
        raise ValueError(f"p has shape {p.shape}; expected (n_events, n_particles, 4)")
    return mass2(p[:, i] + p[:, j])


def pair_invariants(p: ArrayLike) -> FloatArray:
    """All s_ij = (p_i + p_j)^2 as (n_events, n_particles, n_particles); the diagonal holds 4 m_i^2
    (i.e. (2 p_i)^2), the off-diagonal s_ij = m_i^2 + m_j^2 + 2 p_i.p_j."""
    p = _as4(p)
    if p.ndim != 3:
        raise ValueError(f"p has shape {p.shape}; expected (n_events, n_particles, 4)")
    return mass2(p[:, :, None, :] + p[:, None, :, :])


def kallen(a: ArrayLike, b: ArrayLike, c: ArrayLike) -> FloatArray:
    """Kaellen function lambda(a, b, c) = a^2 + b^2 + c^2 - 2ab - 2ac - 2bc.

    For a two-body decay s -> (m1, m2): lambda(s, m1^2, m2^2) = (s - (m1+m2)^2)(s - (m1-m2)^2),
    written in this factorised form for accuracy near threshold."""
    a, b, c = (np.asarray(x, dtype=np.float64) for x in (a, b, c))
    m1, m2 = np.sqrt(b), np.sqrt(c)
    return (a - (m1 + m2) ** 2) * (a - (m1 - m2) ** 2)


def pt(p: ArrayLike) -> FloatArray:
    """Transverse momentum sqrt(px^2 + py^2)."""
    p = _as4(p)
    return np.hypot(p[..., 1], p[..., 2])


def phi(p: ArrayLike) -> FloatArray:
    """Azimuth atan2(py, px) in (-pi, pi]."""
    p = _as4(p)
    return np.arctan2(p[..., 2], p[..., 1])


def cos_theta(p: ArrayLike) -> FloatArray:
    """Polar-angle cosine pz / |p| (nan for a zero three-momentum)."""
    p = _as4(p)
    norm = np.sqrt(p[..., 1] ** 2 + p[..., 2] ** 2 + p[..., 3] ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return p[..., 3] / norm


def rapidity(p: ArrayLike) -> FloatArray:
    """Rapidity y = 1/2 ln((E + pz) / (E - pz)); +-inf along the beam for massless p."""
    p = _as4(p)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 0.5 * np.log((p[..., 0] + p[..., 3]) / (p[..., 0] - p[..., 3]))


def pseudorapidity(p: ArrayLike) -> FloatArray:
    """Pseudorapidity eta = -ln tan(theta/2) = asinh(pz / pT); +-inf along the beam."""
    p = _as4(p)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.arcsinh(p[..., 3] / pt(p))


def delta_r(a: ArrayLike, b: ArrayLike, use_rapidity: bool = False) -> FloatArray:
    """Delta R = sqrt(d_eta^2 + d_phi^2) with d_phi wrapped into [-pi, pi]; with
    ``use_rapidity=True`` the rapidity y replaces the pseudorapidity eta."""
    a, b = _as4(a, "a"), _as4(b, "b")
    eta = rapidity if use_rapidity else pseudorapidity
    d_eta = eta(a) - eta(b)
    d_phi = np.abs(phi(a) - phi(b))
    d_phi = np.where(d_phi > np.pi, 2.0 * np.pi - d_phi, d_phi)
    return np.sqrt(d_eta**2 + d_phi**2)


def _frame_mass(frame: FloatArray) -> FloatArray:
    m2 = mass2(frame)
    if not (np.all(m2 > 0.0) and np.all(frame[..., 0] > 0.0)):
        raise ValueError(
            "frame must be time-like with positive energy (frame^2 > 0, E > 0) to define a rest "
            f"frame; min frame^2 = {np.min(m2)!r}, min E = {np.min(frame[..., 0])!r}"
        )
    return np.sqrt(m2)


def _boost_np(k: FloatArray, frame: FloatArray, m: FloatArray, sign: float) -> FloatArray:
    """Pure boost of k by the frame momentum (sign=+1: rest -> lab, -1: lab -> rest)."""
    q0 = frame[..., 0]
    qx, qy, qz = sign * frame[..., 1], sign * frame[..., 2], sign * frame[..., 3]
    k0 = k[..., 0]
    e = (q0 * k0 + (qx * k[..., 1] + qy * k[..., 2] + qz * k[..., 3])) / m
    f = (k0 + e) / (q0 + m)
    return np.stack([e, k[..., 1] + qx * f, k[..., 2] + qy * f, k[..., 3] + qz * f], axis=-1)


def boost_from_rest(p: ArrayLike, frame: ArrayLike) -> FloatArray:
    """Boost momenta given in the rest frame of ``frame`` into the frame where ``frame`` has the
    given momentum (pure boost taking (M, 0, 0, 0) to ``frame``). Shapes broadcast."""
    p, frame = _as4(p), _as4(frame, "frame")
    return _boost_np(p, frame, _frame_mass(frame), 1.0)


def boost_to_rest(p: ArrayLike, frame: ArrayLike) -> FloatArray:
    """Boost momenta ``p`` into the rest frame of ``frame``: ``boost_to_rest(frame, frame)`` is
    (M, 0, 0, 0). Inverse of :func:`boost_from_rest`. Shapes broadcast."""
    p, frame = _as4(p), _as4(frame, "frame")
    return _boost_np(p, frame, _frame_mass(frame), -1.0)


# --- accurate boost of a time-like or light-like vector (used by the generators) ----------------
#
# For k = (e_r, k) in the rest frame of Q (mass m, |Q| = qabs) with k^2 = md2 >= 0, the lab energy
#     E' = (Q^0 e_r + Q.k) / m
#        = (Q^0 md2 / (e_r + |k|) + |k| m^2 / (Q^0 + |Q|) + (|Q||k| + Q.k)) / m,
# a sum of non-negative terms; the last one is computed as ||Q| k + |k| Q|^2 / (2 |Q||k|) when
# Q.k < 0. This avoids the cancellation of the textbook formula for backward vectors in fast
# frames (relative error ~ eps gamma instead of eps gamma^2). The spatial part is
# k' = k + Q (e_r + E') / (Q^0 + m).


@jit
def boost_accurate_scalar(
    er: float, md2: float, kx: float, ky: float, kz: float, kabs: float,
    q0: float, qx: float, qy: float, qz: float, qabs: float, m: float,
) -> tuple[float, float, float, float]:  # fmt: skip
    """Numba: rest frame of Q -> lab for a vector of rest energy er, mass^2 md2, momentum k."""
    a = md2 / (er + kabs) if md2 > 0.0 else 0.0
    b = m * m / (q0 + qabs)
    d = qx * kx + qy * ky + qz * kz
    if d >= 0.0:
        c = qabs * kabs + d
    else:
        wx = qabs * kx + kabs * qx
        wy = qabs * ky + kabs * qy
        wz = qabs * kz + kabs * qz
        c = (wx * wx + wy * wy + wz * wz) / (2.0 * qabs * kabs)
    e = (q0 * a + kabs * b + c) / m
    f = (er + e) / (q0 + m)
    return e, kx + qx * f, ky + qy * f, kz + qz * f


def boost_accurate_numpy(
    er: FloatArray,
    md2: FloatArray | float,
    kx: FloatArray,
    ky: FloatArray,
    kz: FloatArray,
    kabs: FloatArray,
    q0: FloatArray,
    qx: FloatArray,
    qy: FloatArray,
    qz: FloatArray,
    qabs: FloatArray,
    m: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Numpy twin of :func:`boost_accurate_scalar` (same operations, same rounding)."""
    md2 = np.broadcast_to(np.asarray(md2, dtype=np.float64), np.shape(er))
    den = er + kabs
    a = np.divide(md2, den, out=np.zeros(np.shape(er)), where=md2 > 0.0)
    b = m * m / (q0 + qabs)
    d = qx * kx + qy * ky + qz * kz
    wx = qabs * kx + kabs * qx
    wy = qabs * ky + kabs * qy
    wz = qabs * kz + kabs * qz
    neg = d < 0.0
    c_neg = np.divide(
        wx * wx + wy * wy + wz * wz, 2.0 * qabs * kabs, out=np.zeros(np.shape(d)), where=neg
    )
    c = np.where(neg, c_neg, qabs * kabs + d)
    e = (q0 * a + kabs * b + c) / m
    f = (er + e) / (q0 + m)
    return e, kx + qx * f, ky + qy * f, kz + qz * f


# --- (cos, sin) of 2 pi u with one sine ------------------------------------------------------
#
# 4u = q + t with q the nearest integer and |t| <= 1/2 (t exact by Sterbenz' lemma); with
# r = t pi/2 in [-pi/4, pi/4], s = sin r and c = sqrt((1-s)(1+s)) >= 1/sqrt(2) (well conditioned),
# (cos, sin)(2 pi u) is (c, s), (-s, c), (-c, -s) or (s, -c) for q mod 4 = 0, 1, 2, 3, i.e. swap
# (with sign) for odd q and negate both for q mod 4 >= 2. The numpy twin calls np.sin; the numba
# version needs no call: on [-pi/4, pi/4] (no further range reduction) sin r is the fdlibm kernel
# polynomial r + r^3 (S1 + r^2 S2 + ... + r^10 S6), |error| < 2^-58 |r| (within 1 ulp of libm),
# and the quadrant is chosen without branches, so loops over events calling it vectorise.

_S1 = -1.66666666666666324348e-01
_S2 = 8.33333333332248946124e-03
_S3 = -1.98412698298579493134e-04
_S4 = 2.75573137070700676789e-06
_S5 = -2.50507602534068634195e-08
_S6 = 1.58969099521155010221e-10


@jit(inline="always")
def cos_sin_2pi_scalar(u: float) -> tuple[float, float]:
    """Numba: (cos(2 pi u), sin(2 pi u)) from sin r, r = (4u - round(4u)) pi/2 in [-pi/4, pi/4]."""
    v = 4.0 * u
    q = math.floor(v + 0.5)
    r = (v - q) * _HALF_PI
    z = r * r
    s = r + z * r * (_S1 + z * (_S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))))
    c = math.sqrt((1.0 - s) * (1.0 + s))
    iq = int(q)
    sign = float(1 - (iq & 2))
    odd = (iq & 1) != 0
    return sign * (-s if odd else c), sign * (c if odd else s)


def cos_sin_2pi_numpy(u: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Numpy twin of :func:`cos_sin_2pi_scalar`."""
    v = 4.0 * u
    q = np.floor(v + 0.5)
    s = np.sin((v - q) * _HALF_PI)
    c = np.sqrt((1.0 - s) * (1.0 + s))
    iq = q.astype(np.int64) & 3
    cos = np.choose(iq, (c, -s, -c, s))
    sin = np.choose(iq, (s, c, -s, -c))
    return cos, sin
