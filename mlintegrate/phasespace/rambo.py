"""RAMBO: flat n-body phase space for massless particles (Kleiss, Stirling, Ellis 1986).

From 4 random numbers per particle, build n massless vectors q_i with isotropic directions and
energies q_i^0 = -ln(u_3 u_4) (density q^0 e^{-q^0}):

    cos(theta_i) = 2 u_1 - 1,   phi_i = 2 pi u_2,   q_i = q_i^0 (1, sin(theta) cos(phi), ...).

With Q = sum q_i, M = sqrt(Q^2), b = -Q/M, gamma = Q^0/M, a = 1/(1+gamma), x = sqrt(s)/M, the
conformal transformation (boost by b, then scale by x)

    p_i^0 = x (gamma q_i^0 + b.q_i),      p_i = x (q_i + b q_i^0 + a (b.q_i) b)

gives massless p_i with sum (sqrt(s), 0, 0, 0) distributed exactly uniformly in phase space, so
the weight is the constant massless volume

    V_n = (2 pi)^(4-3n) (pi/2)^(n-1) s^(n-2) / ((n-1)! (n-2)!).

Numerics: written as above, the transformation loses ~eps gamma^2 relative precision when Q is
strongly boosted (nearly collinear q_i, common for n = 2). Here M^2 and the rest-frame energies
Q.q_i are summed from the cancellation-free pair products 2 q_i.q_j = q_i^0 q_j^0 |n_i - n_j|^2
(n = unit directions), and p_i = x (Q.q_i / M, q_i - Q (q_i^0 + Q.q_i/M) / (Q^0 + M)) (the same
boost), which keeps conservation and masslessness at ~1e-15 relative. The numba kernel works
on blocks of events: each stage is one loop over the block that LLVM vectorises (sin is a
polynomial within 1 ulp of libm; log stays a libm call, in a loop of its own), with the
operations of the numpy twin per event.

The map uses 4n random numbers for a (3n-4)-dimensional phase space: it is not a bijection (see
:mod:`mlintegrate.phasespace.diet` for one that is). Column layout of ``u``: particle i uses
columns 4i .. 4i+3 as (cos theta, phi, energy, energy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import check_masses, check_n_particles, check_sqrt_s, check_unit_array
from ._jit import check_kernel, jit
from .kinematics import cos_sin_2pi_numpy, cos_sin_2pi_scalar
from .massive import reshuffle_masses

__all__ = ["massless_volume", "rambo", "rambo_dim"]

FloatArray = NDArray[np.float64]

#: Smallest positive normal double: u_3 u_4 is clipped to it so that u = 0 gives a finite energy.
_TINY = 2.2250738585072014e-308
_TWO_PI = 2.0 * math.pi


def rambo_dim(n_particles: int) -> int:
    """Number of random numbers RAMBO uses for ``n_particles``: 4n."""
    return 4 * check_n_particles(n_particles)


def massless_volume(n_particles: int, sqrt_s: float) -> float:
    """Massless n-body phase-space volume
    V_n = (2 pi)^(4-3n) (pi/2)^(n-1) s^(n-2) / ((n-1)! (n-2)!), s = sqrt_s^2."""
    n = check_n_particles(n_particles)
    s = check_sqrt_s(sqrt_s) ** 2
    return (
        _TWO_PI ** (4 - 3 * n)
        * (0.5 * math.pi) ** (n - 1)
        * s ** (n - 2)
        / (math.factorial(n - 1) * math.factorial(n - 2))
    )


#: Events per block of the numba kernel: its scratch rows stay in the L1/L2 cache.
_BLOCK = 256


@jit
def _massless_block(
    uc: FloatArray, uph: FloatArray, q0: FloatArray, nx: FloatArray, ny: FloatArray,
    nz: FloatArray, s0: FloatArray, sx: FloatArray, sy: FloatArray, sz: FloatArray,
) -> None:  # fmt: skip
    """Unit direction n of one particle (energy q0 given) for a block; adds q0 (1, n) to s."""
    for e in range(q0.shape[0]):
        c = 2.0 * uc[e] - 1.0
        st = math.sqrt((1.0 - c) * (1.0 + c))
        cph, sph = cos_sin_2pi_scalar(uph[e])
        nx[e] = st * cph
        ny[e] = st * sph
        nz[e] = c
        s0[e] = s0[e] + q0[e]
        sx[e] = sx[e] + q0[e] * nx[e]
        sy[e] = sy[e] + q0[e] * ny[e]
        sz[e] = sz[e] + q0[e] * nz[e]


@jit
def _pair_block(
    q0a: FloatArray, nxa: FloatArray, nya: FloatArray, nza: FloatArray,
    q0b: FloatArray, nxb: FloatArray, nyb: FloatArray, nzb: FloatArray,
    acca: FloatArray, accb: FloatArray, m2: FloatArray,
) -> None:  # fmt: skip
    """2 q_a.q_b = q0a q0b |n_a - n_b|^2 added to 2 Q.q_a, 2 Q.q_b and M^2."""
    for e in range(m2.shape[0]):
        dx = nxa[e] - nxb[e]
        dy = nya[e] - nyb[e]
        dz = nza[e] - nzb[e]
        d = q0a[e] * q0b[e] * (dx * dx + dy * dy + dz * dz)
        acca[e] = acca[e] + d
        accb[e] = accb[e] + d
        m2[e] = m2[e] + d


@jit
def _boost_block(
    sqrt_s: float, q0: FloatArray, nx: FloatArray, ny: FloatArray, nz: FloatArray,
    acc: FloatArray, s0: FloatArray, sx: FloatArray, sy: FloatArray, sz: FloatArray,
    m2: FloatArray, out: FloatArray,
) -> None:  # fmt: skip
    """p = x (Q.q / M, q - Q (q0 + Q.q/M) / (Q^0 + M)), x = sqrt_s / M, into ``out`` (4, nb)."""
    for e in range(q0.shape[0]):
        m = math.sqrt(m2[e])
        x = sqrt_s / m
        h = 1.0 / (s0[e] + m)
        er = 0.5 * acc[e] / m
        f = (q0[e] + er) * h
        out[0, e] = x * er
        out[1, e] = x * (q0[e] * nx[e] - sx[e] * f)
        out[2, e] = x * (q0[e] * ny[e] - sy[e] * f)
        out[3, e] = x * (q0[e] * nz[e] - sz[e] * f)


@jit
def _rambo_numba(u: FloatArray, sqrt_s: float, p: FloatArray) -> None:
    """Blocks of _BLOCK events, u transposed into rows; each stage is one loop over the block
    (vectorised by LLVM, but for the one calling log) with the operations of
    :func:`_rambo_numpy`."""
    n_ev, n = p.shape[0], p.shape[1]
    ut = np.empty((4 * n, _BLOCK))
    q = np.empty((4, n, _BLOCK))  # q_i^0 and the unit direction n_i of each particle
    acc = np.empty((n, _BLOCK))  # 2 Q.q_i, accumulated over pairs
    s = np.empty((5, _BLOCK))  # Q = sum q_i, then M^2
    out = np.empty((4, _BLOCK))
    for e0 in range(0, n_ev, _BLOCK):
        nb = min(_BLOCK, n_ev - e0)
        for e in range(nb):
            for c in range(4 * n):
                ut[c, e] = u[e0 + e, c]
        s[:, :nb] = 0.0
        acc[:, :nb] = 0.0
        for i in range(n):
            for e in range(nb):  # libm log: a call, so a loop of its own
                prod = ut[4 * i + 2, e] * ut[4 * i + 3, e]
                q[0, i, e] = -math.log(prod if prod >= _TINY else _TINY)
            _massless_block(
                ut[4 * i, :nb], ut[4 * i + 1, :nb], q[0, i, :nb], q[1, i, :nb], q[2, i, :nb],
                q[3, i, :nb], s[0, :nb], s[1, :nb], s[2, :nb], s[3, :nb],
            )  # fmt: skip
        # M^2 = sum_{i<j} 2 q_i.q_j with 2 q_i.q_j = q_i^0 q_j^0 |n_i - n_j|^2: no cancellation
        for i in range(n):
            for j in range(i + 1, n):
                _pair_block(
                    q[0, i, :nb], q[1, i, :nb], q[2, i, :nb], q[3, i, :nb],
                    q[0, j, :nb], q[1, j, :nb], q[2, j, :nb], q[3, j, :nb],
                    acc[i, :nb], acc[j, :nb], s[4, :nb],
                )  # fmt: skip
        for i in range(n):
            _boost_block(
                sqrt_s, q[0, i, :nb], q[1, i, :nb], q[2, i, :nb], q[3, i, :nb], acc[i, :nb],
                s[0, :nb], s[1, :nb], s[2, :nb], s[3, :nb], s[4, :nb], out,
            )  # fmt: skip
            for e in range(nb):
                for c in range(4):
                    p[e0 + e, i, c] = out[c, e]


def _rambo_numpy(u: FloatArray, n: int, sqrt_s: float) -> FloatArray:
    c = 2.0 * u[:, 0::4] - 1.0
    prod = np.maximum(u[:, 2::4] * u[:, 3::4], _TINY)
    q0 = -np.log(prod)
    st = np.sqrt((1.0 - c) * (1.0 + c))
    cph, sph = cos_sin_2pi_numpy(u[:, 1::4])
    nx, ny, nz = st * cph, st * sph, c
    s0, sx, sy, sz = (np.zeros(u.shape[0]) for _ in range(4))
    for i in range(n):  # sequential sums: same rounding as the kernel
        s0 = s0 + q0[:, i]
        sx = sx + q0[:, i] * nx[:, i]
        sy = sy + q0[:, i] * ny[:, i]
        sz = sz + q0[:, i] * nz[:, i]
    acc = [np.zeros(u.shape[0]) for _ in range(n)]
    m2 = np.zeros(u.shape[0])
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy, dz = nx[:, i] - nx[:, j], ny[:, i] - ny[:, j], nz[:, i] - nz[:, j]
            d = q0[:, i] * q0[:, j] * (dx * dx + dy * dy + dz * dz)
            acc[i] = acc[i] + d
            acc[j] = acc[j] + d
            m2 = m2 + d
    m = np.sqrt(m2)[:, None]
    x = sqrt_s / m
    h = 1.0 / (s0[:, None] + m)
    er = 0.5 * np.stack(acc, axis=1) / m
    f = (q0 + er) * h
    p = np.empty((u.shape[0], n, 4))
    p[:, :, 0] = x * er
    p[:, :, 1] = x * (q0 * nx - sx[:, None] * f)
    p[:, :, 2] = x * (q0 * ny - sy[:, None] * f)
    p[:, :, 3] = x * (q0 * nz - sz[:, None] * f)
    return p


def rambo(
    u: ArrayLike,
    n_particles: int,
    sqrt_s: float,
    *,
    masses: Sequence[float] | ArrayLike | None = None,
    kernel: str = "numba",
) -> tuple[FloatArray, FloatArray]:
    """n-body phase-space point in the centre-of-mass frame from ``u`` (n_events, 4n) in [0, 1].

    Returns ``(p, weight)``: momenta (n_events, n, 4) with sum (sqrt_s, 0, 0, 0), and the
    phase-space weight (n_events,) including the (2 pi)^(4-3n) factors, so that the mean weight
    over uniform ``u`` is the phase-space volume. Massless: weight == V_n for every event. With
    ``masses`` the momenta are reshuffled (:func:`~mlintegrate.phasespace.reshuffle_masses`) and
    the weight is V_n times the reshuffling factor.

    >>> import numpy as np
    >>> p, w = rambo(np.random.default_rng(1).random((5, 12)), 3, 100.0)
    >>> p.shape, bool(np.allclose(p.sum(axis=1), [100.0, 0, 0, 0]))
    ((5, 3, 4), True)
    """
    check_kernel(kernel)
    n = check_n_particles(n_particles)
    sqrt_s = check_sqrt_s(sqrt_s)
    m = check_masses(masses, n, sqrt_s)
    u = check_unit_array(u, 4 * n)
    if kernel == "numpy":
        p = _rambo_numpy(u, n, sqrt_s)
    else:
        p = np.empty((u.shape[0], n, 4))
        _rambo_numba(u, sqrt_s, p)
    weight = np.full(u.shape[0], massless_volume(n, sqrt_s))
    if m is not None:
        p, factor = reshuffle_masses(p, m, sqrt_s, kernel=kernel)
        weight *= factor
    return p, weight
