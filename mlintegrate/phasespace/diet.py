"""RAMBO on diet: flat massless n-body phase space from exactly 3n-4 random numbers.

S. Plaetzer, "RAMBO on diet", arXiv:1308.2922. The massless n-body phase space factorises into a
chain of two-body decays Q_{i-1} -> p_{i-1} + Q_i (i = 2..n, Q_1 = P = (sqrt s, 0, 0, 0),
Q_n = p_n):

    dPhi_n(P) = dPhi_2(Q_1; p_1, Q_2) dM_2^2/(2 pi) dPhi_2(Q_2; p_2, Q_3) dM_3^2/(2 pi) ...
                dPhi_2(Q_{n-1}; p_{n-1}, p_n).

With x_i = M_i^2 / M_{i-1}^2 and k = n - i, integrating out the rest of the chain gives x_i the
density (k+1) k x^(k-1) (1 - x) on [0, 1], whose distribution function is

    u_i = (k+1) x_i^k - k x_i^(k+1)                                          (i = 2 .. n-1),

solved for x_i to machine precision (closed form for k = 1, Halley/Newton steps otherwise, see
:mod:`mlintegrate.phasespace._massfrac`; Plaetzer's r_i is sqrt(x_i)). Each decay is isotropic
in the rest frame of Q_{i-1}: cos(theta) = 2u - 1, phi = 2 pi u', |p_{i-1}| = M_{i-1} (1 - x_i)/2,
followed by the pure boost to the lab. Every factor of the measure is sampled exactly, so the
weight is the constant volume V_n.

The map is a bijection of the open cube (0,1)^(3n-4) onto massless phase space of n labelled
momenta (boundaries of measure zero aside), and :func:`rambo_diet_inverse` gives u back. Column
layout of ``u``: columns 0 .. n-3 are u_2 .. u_{n-1} (masses), then (cos theta, phi) for each of
the n-1 decays, i.e. columns n-2+2j and n-1+2j for decay j = 0 .. n-2 (p_{j+1} is emitted by
decay j).

Numerics: the lab energies use cancellation-free boost formulas
(:func:`~mlintegrate.phasespace.kinematics.boost_accurate_scalar`), so on-shell masses and
momentum conservation hold to ~1e-15 relative even for strongly boosted intermediate states.
Mass fractions are kept >= 1e-30 (u_i < 2e-30 only), so the output stays finite everywhere.

The numba kernel works on blocks of events (u transposed into cache-resident rows): each step
of the chain (root solve, emission) is one call-free, branch-free loop over the block, which
LLVM vectorises; per event it performs the operations of the numpy twin, except that
sin is a polynomial (:func:`~mlintegrate.phasespace.kinematics.cos_sin_2pi_scalar`, within 1 ulp
of libm), so the twins agree to ~1e-16 relative.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import (
    check_masses,
    check_momenta,
    check_n_particles,
    check_sqrt_s,
    check_unit_array,
)
from ._jit import check_kernel, jit
from ._massfrac import cdf_numpy, cdf_scalar, solve_block, solve_numpy
from .kinematics import (
    boost_accurate_numpy,
    boost_accurate_scalar,
    cos_sin_2pi_numpy,
    cos_sin_2pi_scalar,
)
from .massive import reshuffle_masses, unreshuffle_masses
from .rambo import massless_volume

__all__ = ["diet_dim", "rambo_diet", "rambo_diet_inverse"]

FloatArray = NDArray[np.float64]

_TWO_PI = 2.0 * math.pi


def diet_dim(n_particles: int) -> int:
    """Number of random numbers RAMBO on diet uses for ``n_particles``: 3n - 4."""
    return 3 * check_n_particles(n_particles) - 4


# --- one emission Q -> p (massless) + Q' (mass^2 x m^2), boosted from the rest frame of Q ------
#
# The two daughters share the frame, so the accurate boost formulas of
# :mod:`~mlintegrate.phasespace.kinematics` are fused: with d = Q.k, b = m^2 / (Q^0 + |Q|),
#     E_p  = (|k| b + c_+) / m,            c_+ = |Q||k| + d  (= ||Q| k + |k| Q|^2 / (2|Q||k|))
#     E_Q' = (Q^0 m x + |k| b + c_-) / m,  c_- = |Q||k| - d  (= ||Q| k - |k| Q|^2 / (2|Q||k|)),
# each c taken in the second form when the first one cancels (d < 0 for c_+, d > 0 for c_-)
# (Q^0 m x = Q^0 (e_r - |k|) for Q' of rest energy e_r = m (1+x)/2 and |k| = m (1-x)/2).


@jit(inline="always")
def _emit_scalar(
    m: float, x: float, kx: float, ky: float, kz: float, kabs: float,
    q0: float, qx: float, qy: float, qz: float,
) -> tuple[float, float, float, float, float, float, float, float]:  # fmt: skip
    qabs = math.sqrt(qx * qx + qy * qy + qz * qz)
    b = m * m / (q0 + qabs)
    d = qx * kx + qy * ky + qz * kz
    base = kabs * b
    if d >= 0.0:
        c1 = qabs * kabs + d
    else:
        wx = qabs * kx + kabs * qx
        wy = qabs * ky + kabs * qy
        wz = qabs * kz + kabs * qz
        c1 = (wx * wx + wy * wy + wz * wz) / (2.0 * qabs * kabs)
    if d <= 0.0:
        c2 = qabs * kabs - d
    else:
        wx = qabs * kx - kabs * qx
        wy = qabs * ky - kabs * qy
        wz = qabs * kz - kabs * qz
        c2 = (wx * wx + wy * wy + wz * wz) / (2.0 * qabs * kabs)
    g = 1.0 / m
    h = 1.0 / (q0 + m)
    e1 = (base + c1) * g
    e2 = (q0 * (m * x) + base + c2) * g
    f1 = (kabs + e1) * h
    f2 = (0.5 * m * (1.0 + x) + e2) * h
    return (
        e1, kx + qx * f1, ky + qy * f1, kz + qz * f1,
        e2, qx * f2 - kx, qy * f2 - ky, qz * f2 - kz,
    )  # fmt: skip


def _emit_numpy(
    m: FloatArray,
    x: FloatArray,
    kx: FloatArray,
    ky: FloatArray,
    kz: FloatArray,
    kabs: FloatArray,
    q0: FloatArray,
    qx: FloatArray,
    qy: FloatArray,
    qz: FloatArray,
) -> tuple[FloatArray, ...]:
    qabs = np.sqrt(qx * qx + qy * qy + qz * qz)
    b = m * m / (q0 + qabs)
    d = qx * kx + qy * ky + qz * kz
    base = kabs * b
    den = 2.0 * qabs * kabs
    wx, wy, wz = qabs * kx + kabs * qx, qabs * ky + kabs * qy, qabs * kz + kabs * qz
    neg = d < 0.0
    c1 = np.divide(wx * wx + wy * wy + wz * wz, den, out=qabs * kabs + d, where=neg)
    wx, wy, wz = qabs * kx - kabs * qx, qabs * ky - kabs * qy, qabs * kz - kabs * qz
    pos = d > 0.0
    c2 = np.divide(wx * wx + wy * wy + wz * wz, den, out=qabs * kabs - d, where=pos)
    g = 1.0 / m
    h = 1.0 / (q0 + m)
    e1 = (base + c1) * g
    e2 = (q0 * (m * x) + base + c2) * g
    f1 = (kabs + e1) * h
    f2 = (0.5 * m * (1.0 + x) + e2) * h
    return (
        e1, kx + qx * f1, ky + qy * f1, kz + qz * f1,
        e2, qx * f2 - kx, qy * f2 - ky, qz * f2 - kz,
    )  # fmt: skip


# --- forward map ------------------------------------------------------------------------------


#: Events per block of the numba kernel: its scratch rows stay in the L1/L2 cache.
_BLOCK = 256


@jit
def _first_block(
    sqrt_s: float, ct: FloatArray, ph: FloatArray, x: FloatArray, m: FloatArray,
    q: FloatArray, out: FloatArray,
) -> None:  # fmt: skip
    """Decay of P = (sqrt_s, 0, 0, 0) at rest: p_1 into ``out``, Q_2 into ``q``, M_2 into ``m``."""
    for i in range(x.shape[0]):
        xi = x[i]
        c = 2.0 * ct[i] - 1.0
        cph, sph = cos_sin_2pi_scalar(ph[i])
        st = math.sqrt((1.0 - c) * (1.0 + c))
        kabs = 0.5 * sqrt_s * (1.0 - xi)
        kx = kabs * st * cph
        ky = kabs * st * sph
        kz = kabs * c
        out[0, i] = kabs
        out[1, i] = kx
        out[2, i] = ky
        out[3, i] = kz
        q[0, i] = 0.5 * sqrt_s * (1.0 + xi)
        q[1, i] = -kx
        q[2, i] = -ky
        q[3, i] = -kz
        m[i] = sqrt_s * math.sqrt(xi)


@jit
def _emit_block(
    ct: FloatArray, ph: FloatArray, x: FloatArray, m: FloatArray, q: FloatArray, out: FloatArray
) -> None:
    """Decay Q -> p + Q' of mass^2 x m^2: p into ``out``, Q' and its mass replace ``q``, ``m``."""
    for i in range(x.shape[0]):
        mi = m[i]
        xi = x[i]
        c = 2.0 * ct[i] - 1.0
        cph, sph = cos_sin_2pi_scalar(ph[i])
        st = math.sqrt((1.0 - c) * (1.0 + c))
        kabs = 0.5 * mi * (1.0 - xi)
        kx = kabs * st * cph
        ky = kabs * st * sph
        kz = kabs * c
        e1, x1, y1, z1, q0, qx, qy, qz = _emit_scalar(
            mi, xi, kx, ky, kz, kabs, q[0, i], q[1, i], q[2, i], q[3, i]
        )
        out[0, i] = e1
        out[1, i] = x1
        out[2, i] = y1
        out[3, i] = z1
        q[0, i] = q0
        q[1, i] = qx
        q[2, i] = qy
        q[3, i] = qz
        m[i] = mi * math.sqrt(xi)


@jit
def _diet_numba(u: FloatArray, sqrt_s: float, p: FloatArray) -> None:
    """Blocks of _BLOCK events, u transposed into rows; every step of the decay chain is one loop
    over the block (vectorised by LLVM), the same operations per event as :func:`_diet_numpy`."""
    n_ev, n = p.shape[0], p.shape[1]
    dim = u.shape[1]
    ut = np.empty((dim, _BLOCK))
    x = np.empty(_BLOCK)
    m = np.empty(_BLOCK)
    q = np.empty((4, _BLOCK))
    out = np.empty((4, _BLOCK))
    work = np.empty((2, _BLOCK))
    for e0 in range(0, n_ev, _BLOCK):
        nb = min(_BLOCK, n_ev - e0)
        for i in range(nb):
            for c in range(dim):
                ut[c, i] = u[e0 + i, c]
        for j in range(n - 1):
            k = n - 2 - j
            if k > 0:
                solve_block(ut[j, :nb], k, x[:nb], work)
            else:
                x[:nb] = 0.0
            ct, ph = ut[n - 2 + 2 * j, :nb], ut[n - 1 + 2 * j, :nb]
            if j == 0:
                _first_block(sqrt_s, ct, ph, x[:nb], m, q, out)
            else:
                _emit_block(ct, ph, x[:nb], m, q, out)
            for i in range(nb):
                for c in range(4):
                    p[e0 + i, j, c] = out[c, i]
        for i in range(nb):
            for c in range(4):
                p[e0 + i, n - 1, c] = q[c, i]


def _diet_numpy(u: FloatArray, n: int, sqrt_s: float) -> FloatArray:
    n_ev = u.shape[0]
    p = np.empty((n_ev, n, 4))
    q0 = np.full(n_ev, sqrt_s)
    qx, qy, qz = np.zeros(n_ev), np.zeros(n_ev), np.zeros(n_ev)
    m = np.full(n_ev, sqrt_s)
    for j in range(n - 1):
        k = n - 2 - j
        x = solve_numpy(u[:, j], k) if k > 0 else np.zeros(n_ev)
        c = 2.0 * u[:, n - 2 + 2 * j] - 1.0
        cph, sph = cos_sin_2pi_numpy(u[:, n - 1 + 2 * j])
        st = np.sqrt((1.0 - c) * (1.0 + c))
        kabs = 0.5 * m * (1.0 - x)
        kx, ky, kz = kabs * st * cph, kabs * st * sph, kabs * c
        if j == 0:  # parent at rest: no boost
            e1, x1, y1, z1 = kabs, kx, ky, kz
            q0, qx, qy, qz = 0.5 * m * (1.0 + x), -kx, -ky, -kz
        else:
            e1, x1, y1, z1, q0, qx, qy, qz = _emit_numpy(m, x, kx, ky, kz, kabs, q0, qx, qy, qz)
        p[:, j, 0], p[:, j, 1], p[:, j, 2], p[:, j, 3] = e1, x1, y1, z1
        m = m * np.sqrt(x)
    p[:, n - 1, 0], p[:, n - 1, 1], p[:, n - 1, 2], p[:, n - 1, 3] = q0, qx, qy, qz
    return p


def rambo_diet(
    u: ArrayLike,
    n_particles: int,
    sqrt_s: float,
    *,
    masses: Sequence[float] | ArrayLike | None = None,
    kernel: str = "numba",
) -> tuple[FloatArray, FloatArray]:
    """n-body phase-space point in the centre-of-mass frame from ``u`` (n_events, 3n-4) in [0, 1].

    Returns ``(p, weight)``: momenta (n_events, n, 4) with sum (sqrt_s, 0, 0, 0) and the
    phase-space weight (n_events,) including the (2 pi)^(4-3n) factors. Massless: the weight is
    V_n for every event. With ``masses`` the momenta are reshuffled
    (:func:`~mlintegrate.phasespace.reshuffle_masses`) and the weight is V_n times that factor.

    >>> import numpy as np
    >>> p, w = rambo_diet(np.random.default_rng(1).random((5, 8)), 4, 100.0)
    >>> p.shape, bool(np.allclose(p.sum(axis=1), [100.0, 0, 0, 0]))
    ((5, 4, 4), True)
    """
    check_kernel(kernel)
    n = check_n_particles(n_particles)
    sqrt_s = check_sqrt_s(sqrt_s)
    m = check_masses(masses, n, sqrt_s)
    u = check_unit_array(u, 3 * n - 4)
    if kernel == "numpy":
        p = _diet_numpy(u, n, sqrt_s)
    else:
        p = np.empty((u.shape[0], n, 4))
        _diet_numba(u, sqrt_s, p)
    weight = np.full(u.shape[0], massless_volume(n, sqrt_s))
    if m is not None:
        p, factor = reshuffle_masses(p, m, sqrt_s, kernel=kernel)
        weight *= factor
    return p, weight


# --- inverse map ------------------------------------------------------------------------------


@jit
def _diet_inverse_numba(p: FloatArray, u: FloatArray) -> None:
    n_ev, n = p.shape[0], p.shape[1]
    two_pi = 2.0 * math.pi
    m2s = np.empty(n)  # M_j^2 of Q_j = sum_{l >= j} p_l, cancellation-free pair sums
    qs = np.empty((n, 4))  # Q_j
    for e in range(n_ev):
        m2s[n - 1] = 0.0
        for c in range(4):
            qs[n - 1, c] = p[e, n - 1, c]
        for j in range(n - 2, -1, -1):
            aj = math.sqrt(
                p[e, j, 1] * p[e, j, 1] + p[e, j, 2] * p[e, j, 2] + p[e, j, 3] * p[e, j, 3]
            )
            acc = 0.0
            for b in range(j + 1, n):
                ab = math.sqrt(
                    p[e, b, 1] * p[e, b, 1] + p[e, b, 2] * p[e, b, 2] + p[e, b, 3] * p[e, b, 3]
                )
                dx = p[e, j, 1] / aj - p[e, b, 1] / ab
                dy = p[e, j, 2] / aj - p[e, b, 2] / ab
                dz = p[e, j, 3] / aj - p[e, b, 3] / ab
                acc = acc + aj * ab * (dx * dx + dy * dy + dz * dz)
            m2s[j] = m2s[j + 1] + acc
            for c in range(4):
                qs[j, c] = qs[j + 1, c] + p[e, j, c]
        for j in range(n - 1):
            k = n - 2 - j
            if k > 0:
                u[e, j] = cdf_scalar(m2s[j + 1] / m2s[j], k)
            m = math.sqrt(m2s[j])
            qabs = math.sqrt(qs[j, 1] * qs[j, 1] + qs[j, 2] * qs[j, 2] + qs[j, 3] * qs[j, 3])
            kabs = math.sqrt(
                p[e, j, 1] * p[e, j, 1] + p[e, j, 2] * p[e, j, 2] + p[e, j, 3] * p[e, j, 3]
            )
            _, rx, ry, rz = boost_accurate_scalar(
                kabs, 0.0, p[e, j, 1], p[e, j, 2], p[e, j, 3], kabs,
                qs[j, 0], -qs[j, 1], -qs[j, 2], -qs[j, 3], qabs, m,
            )  # fmt: skip
            r = math.sqrt(rx * rx + ry * ry + rz * rz)
            u[e, n - 2 + 2 * j] = 0.5 * (1.0 + rz / r)
            ph = math.atan2(ry, rx) / two_pi
            u[e, n - 1 + 2 * j] = ph + 1.0 if ph < 0.0 else ph


def _diet_inverse_numpy(p: FloatArray) -> FloatArray:
    n_ev, n = p.shape[0], p.shape[1]
    u = np.empty((n_ev, 3 * n - 4))
    px, py, pz = p[:, :, 1], p[:, :, 2], p[:, :, 3]
    pabs = np.sqrt(px * px + py * py + pz * pz)
    m2s = [np.zeros(n_ev) for _ in range(n)]
    qs = [p[:, n - 1, :].copy() for _ in range(n)]
    for j in range(n - 2, -1, -1):
        aj = pabs[:, j]
        acc = np.zeros(n_ev)
        for b in range(j + 1, n):
            ab = pabs[:, b]
            dx = px[:, j] / aj - px[:, b] / ab
            dy = py[:, j] / aj - py[:, b] / ab
            dz = pz[:, j] / aj - pz[:, b] / ab
            acc = acc + aj * ab * (dx * dx + dy * dy + dz * dz)
        m2s[j] = m2s[j + 1] + acc
        qs[j] = qs[j + 1] + p[:, j, :]
    for j in range(n - 1):
        k = n - 2 - j
        if k > 0:
            u[:, j] = cdf_numpy(m2s[j + 1] / m2s[j], k)
        q = qs[j]
        m = np.sqrt(m2s[j])
        qabs = np.sqrt(q[:, 1] * q[:, 1] + q[:, 2] * q[:, 2] + q[:, 3] * q[:, 3])
        kabs = pabs[:, j]
        _, rx, ry, rz = boost_accurate_numpy(
            kabs,
            0.0,
            px[:, j],
            py[:, j],
            pz[:, j],
            kabs,
            q[:, 0],
            -q[:, 1],
            -q[:, 2],
            -q[:, 3],
            qabs,
            m,
        )
        r = np.sqrt(rx * rx + ry * ry + rz * rz)
        u[:, n - 2 + 2 * j] = 0.5 * (1.0 + rz / r)
        ph = np.arctan2(ry, rx) / _TWO_PI
        u[:, n - 1 + 2 * j] = np.where(ph < 0.0, ph + 1.0, ph)
    return u


def rambo_diet_inverse(
    p: ArrayLike,
    sqrt_s: float,
    *,
    masses: Sequence[float] | ArrayLike | None = None,
    kernel: str = "numba",
    rtol: float = 1e-8,
) -> tuple[FloatArray, FloatArray]:
    """Inverse of :func:`rambo_diet`: momenta (n_events, n, 4) -> ``(u, weight)``.

    ``p`` must sum to (sqrt_s, 0, 0, 0) and be on shell (massless, or with the given
    ``masses``), both to relative tolerance ``rtol``; massive momenta are first mapped back to
    massless ones (:func:`~mlintegrate.phasespace.unreshuffle_masses`). Returns u
    (n_events, 3n-4) in [0, 1] with ``rambo_diet(u, n, sqrt_s, masses=masses)`` reproducing
    ``p``, and the phase-space weight of the point (what :func:`rambo_diet` returns for that u):
    a density g(p) with respect to dPhi_n corresponds to the density g(p(u)) * weight on the
    unit cube, e.g. to score phase-space points under a proposal trained on u.
    """
    check_kernel(kernel)
    sqrt_s = check_sqrt_s(sqrt_s)
    p = check_momenta(p)
    n = check_n_particles(p.shape[1])
    m = check_masses(masses, n, sqrt_s)
    total = p.sum(axis=1)
    dev = np.abs(total - np.array([sqrt_s, 0.0, 0.0, 0.0])).max(initial=0.0)
    if dev > rtol * sqrt_s:
        raise ValueError(
            f"p does not sum to (sqrt_s, 0, 0, 0) with sqrt_s={sqrt_s!r}: largest deviation "
            f"{dev!r}; pass centre-of-mass momenta (boost them first) and the matching sqrt_s"
        )
    en2 = p[..., 0] ** 2
    off = np.abs(en2 - (p[..., 1] ** 2 + p[..., 2] ** 2 + p[..., 3] ** 2)
                 - (0.0 if m is None else m**2))  # fmt: skip
    if off.size and (off > rtol * np.maximum(en2, 1e-300)).any():
        raise ValueError(
            f"p is off shell by up to {float((off / np.maximum(en2, 1e-300)).max())!r} (relative "
            f"to E^2) for masses={None if m is None else m.tolist()}; pass the masses used to "
            f"generate p"
        )
    weight = np.full(p.shape[0], massless_volume(n, sqrt_s))
    if m is not None:
        p, factor = unreshuffle_masses(p, sqrt_s, kernel=kernel)
        weight *= factor
    if kernel == "numpy":
        u = _diet_inverse_numpy(p)
    else:
        u = np.empty((p.shape[0], 3 * n - 4))
        _diet_inverse_numba(p, u)
    return u, weight
