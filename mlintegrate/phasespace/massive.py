"""Mass reshuffling: turn a massless n-body configuration into a massive one (RAMBO's method).

Given massless momenta p_i with sum (sqrt(s), 0, 0, 0) and masses m_i with sum(m) < sqrt(s), the
massive momenta are

    k_i = ( sqrt(m_i^2 + xi^2 E_i^2),  xi p_i ),

with the one scale factor xi in (0, 1] fixed by energy conservation
sum_i sqrt(m_i^2 + xi^2 E_i^2) = sqrt(s). That equation is solved by Newton's method from
xi_0 = sqrt(1 - (sum m / sqrt s)^2), which lies right of the root (Minkowski's inequality); the
function is convex and increasing, so the iterates decrease monotonically and the loop stops when
they stop decreasing, i.e. at machine precision.

The massive phase-space weight is the massless one times (Kleiss, Stirling, Ellis 1986)

    F = (sum|k_i| / sqrt s)^(2n-3) * prod_i(|k_i| / k_i^0) * sqrt(s) / sum_i(|k_i|^2 / k_i^0).

For n = 2 this is F = lambda^(1/2)(s, m1^2, m2^2) / s, the ratio of the massive to the massless
two-body volume. The map is invertible in closed form (:func:`unreshuffle_masses`):
xi = sum|k_i| / sqrt(s), p_i = (|k_i|, k_i) / xi.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import check_masses, check_momenta, check_sqrt_s
from ._jit import check_kernel, jit

__all__ = ["reshuffle_masses", "unreshuffle_masses"]

FloatArray = NDArray[np.float64]

#: Safety cap on the Newton iterations (convergence takes ~5-10 in practice).
_MAX_NEWTON = 100


def _xi_start(masses: FloatArray, sqrt_s: float) -> float:
    msum = 0.0
    for m in masses:
        msum += float(m)
    return math.sqrt(1.0 - (msum / sqrt_s) ** 2)


# --- numba kernels ---------------------------------------------------------------------------


@jit
def _reshuffle_numba(
    p: FloatArray, masses: FloatArray, sqrt_s: float, xi0: float, k: FloatArray, w: FloatArray
) -> None:
    n_ev, n = p.shape[0], p.shape[1]
    for e in range(n_ev):
        xi = xi0
        for _ in range(_MAX_NEWTON):
            f = -sqrt_s
            fp = 0.0
            for i in range(n):
                en = p[e, i, 0]
                t = math.sqrt(masses[i] * masses[i] + (xi * en) * (xi * en))
                f = f + t
                fp = fp + xi * en * en / t
            if not f > 0.0:
                break
            x_new = xi - f / fp
            if not x_new < xi:
                break
            xi = x_new
        sum_abs = 0.0
        prod = 1.0
        sum_k2e = 0.0
        for i in range(n):
            kabs = xi * p[e, i, 0]
            k0 = math.sqrt(masses[i] * masses[i] + kabs * kabs)
            k[e, i, 0] = k0
            k[e, i, 1] = xi * p[e, i, 1]
            k[e, i, 2] = xi * p[e, i, 2]
            k[e, i, 3] = xi * p[e, i, 3]
            sum_abs = sum_abs + kabs
            prod = prod * (kabs / k0)
            sum_k2e = sum_k2e + kabs * kabs / k0
        w[e] = (sum_abs / sqrt_s) ** (2 * n - 3) * prod * sqrt_s / sum_k2e


@jit
def _unreshuffle_numba(k: FloatArray, sqrt_s: float, p: FloatArray, w: FloatArray) -> None:
    n_ev, n = k.shape[0], k.shape[1]
    for e in range(n_ev):
        sum_abs = 0.0
        prod = 1.0
        sum_k2e = 0.0
        for i in range(n):
            k0 = k[e, i, 0]
            kabs = math.sqrt(
                k[e, i, 1] * k[e, i, 1] + k[e, i, 2] * k[e, i, 2] + k[e, i, 3] * k[e, i, 3]
            )
            sum_abs = sum_abs + kabs
            prod = prod * (kabs / k0)
            sum_k2e = sum_k2e + kabs * kabs / k0
        xi = sum_abs / sqrt_s
        for i in range(n):
            px = k[e, i, 1] / xi
            py = k[e, i, 2] / xi
            pz = k[e, i, 3] / xi
            p[e, i, 0] = math.sqrt(px * px + py * py + pz * pz)
            p[e, i, 1] = px
            p[e, i, 2] = py
            p[e, i, 3] = pz
        w[e] = (sum_abs / sqrt_s) ** (2 * n - 3) * prod * sqrt_s / sum_k2e


# --- numpy twins ------------------------------------------------------------------------------


def _reshuffle_numpy(
    p: FloatArray, masses: FloatArray, sqrt_s: float, xi0: float
) -> tuple[FloatArray, FloatArray]:
    n_ev, n = p.shape[0], p.shape[1]
    en = p[:, :, 0]
    xi = np.full(n_ev, xi0)
    active = np.ones(n_ev, dtype=bool)
    for _ in range(_MAX_NEWTON):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        x = xi[idx]
        f = np.full(idx.size, -sqrt_s)
        fp = np.zeros(idx.size)
        for i in range(n):
            e_i = en[idx, i]
            t = np.sqrt(masses[i] * masses[i] + (x * e_i) * (x * e_i))
            f = f + t
            fp = fp + x * e_i * e_i / t
        x_new = x - f / fp
        move = (f > 0.0) & (x_new < x)
        xi[idx[move]] = x_new[move]
        active[idx[~move]] = False
    kabs = xi[:, None] * en
    k = np.empty_like(p)
    k[:, :, 0] = np.sqrt(masses * masses + kabs * kabs)
    k[:, :, 1:] = xi[:, None, None] * p[:, :, 1:]
    return k, _weight_factor_numpy(k[:, :, 0], kabs, sqrt_s)


def _weight_factor_numpy(k0: FloatArray, kabs: FloatArray, sqrt_s: float) -> FloatArray:
    n = k0.shape[1]
    sum_abs = np.zeros(k0.shape[0])
    prod = np.ones(k0.shape[0])
    sum_k2e = np.zeros(k0.shape[0])
    for i in range(n):  # sequential sums: same rounding as the kernel
        sum_abs = sum_abs + kabs[:, i]
        prod = prod * (kabs[:, i] / k0[:, i])
        sum_k2e = sum_k2e + kabs[:, i] * kabs[:, i] / k0[:, i]
    return (sum_abs / sqrt_s) ** (2 * n - 3) * prod * sqrt_s / sum_k2e


def _unreshuffle_numpy(k: FloatArray, sqrt_s: float) -> tuple[FloatArray, FloatArray]:
    kv = k[:, :, 1:]
    kabs = np.sqrt(kv[..., 0] * kv[..., 0] + kv[..., 1] * kv[..., 1] + kv[..., 2] * kv[..., 2])
    w = _weight_factor_numpy(k[:, :, 0], kabs, sqrt_s)
    sum_abs = np.zeros(k.shape[0])
    for i in range(k.shape[1]):
        sum_abs = sum_abs + kabs[:, i]
    pv = kv / (sum_abs / sqrt_s)[:, None, None]
    p = np.empty_like(k)
    p[:, :, 0] = np.sqrt(
        pv[..., 0] * pv[..., 0] + pv[..., 1] * pv[..., 1] + pv[..., 2] * pv[..., 2]
    )
    p[:, :, 1:] = pv
    return p, w


# --- public -----------------------------------------------------------------------------------


def reshuffle_masses(
    p: ArrayLike,
    masses: Sequence[float] | ArrayLike,
    sqrt_s: float,
    *,
    kernel: str = "numba",
) -> tuple[FloatArray, FloatArray]:
    """Give massless momenta masses, keeping the total momentum (sqrt(s), 0, 0, 0).

    Parameters: ``p`` (n_events, n, 4) massless momenta in the centre-of-mass frame summing to
    (sqrt_s, 0, 0, 0); ``masses`` (n,) (or a scalar for equal masses) with sum < sqrt_s.

    Returns ``(k, factor)``: massive momenta (n_events, n, 4) and the weight factor (n_events,)
    that multiplies the massless phase-space weight. All-zero masses return a copy and ones.
    """
    check_kernel(kernel)
    sqrt_s = check_sqrt_s(sqrt_s)
    p = check_momenta(p)
    m = check_masses(masses, p.shape[1], sqrt_s)
    if m is None:
        return p.copy(), np.ones(p.shape[0])
    xi0 = _xi_start(m, sqrt_s)
    if kernel == "numpy":
        return _reshuffle_numpy(p, m, sqrt_s, xi0)
    k = np.empty_like(p)
    w = np.empty(p.shape[0])
    _reshuffle_numba(p, m, sqrt_s, xi0, k, w)
    return k, w


def unreshuffle_masses(
    k: ArrayLike, sqrt_s: float, *, kernel: str = "numba"
) -> tuple[FloatArray, FloatArray]:
    """Inverse of :func:`reshuffle_masses`: massive momenta (n_events, n, 4) summing to
    (sqrt_s, 0, 0, 0) -> ``(p, factor)``, the massless momenta and the same weight factor F that
    :func:`reshuffle_masses` returns for them (so F(unreshuffle(k)) == F(k))."""
    check_kernel(kernel)
    sqrt_s = check_sqrt_s(sqrt_s)
    k = check_momenta(k, "k")
    if kernel == "numpy":
        return _unreshuffle_numpy(k, sqrt_s)
    p = np.empty_like(k)
    w = np.empty(k.shape[0])
    _unreshuffle_numba(k, sqrt_s, p, w)
    return p, w
