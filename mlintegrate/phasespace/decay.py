"""Two-body decays and Breit-Wigner sampling of an s-channel invariant mass.

Two-body decay P -> p1 + p2 of a parent of mass M = sqrt(P^2) into masses m1, m2, from two random
numbers: isotropic in the parent rest frame (axes parallel to the lab axes),

    cos(theta) = 2 u_0 - 1,   phi = 2 pi u_1,   |p*| = lambda^(1/2)(M^2, m1^2, m2^2) / (2M),
    E1* = (M^2 + m1^2 - m2^2) / (2M),   E2* = (M^2 - m1^2 + m2^2) / (2M),

followed by the pure boost to the frame where the parent has momentum P. The weight is the
two-body volume (including the (2 pi)^(4-3n) factors, n = 2)

    Phi_2 = |p*| / (4 pi M) = lambda^(1/2)(M^2, m1^2, m2^2) / (8 pi M^2),

which is Lorentz invariant. Parents below threshold (M < m1 + m2) get weight 0 and daughters at
rest in the parent frame.

Breit-Wigner mapping of s in [s_min, s_max] for a propagator 1/((s - M^2)^2 + M^2 Gamma^2):

    y = y_min + u (y_max - y_min),  y = arctan((s - M^2) / (M Gamma)),  s = M^2 + M Gamma tan(y),
    ds/du = (y_max - y_min) ((s - M^2)^2 + M^2 Gamma^2) / (M Gamma),

so ``jacobian * bw`` is the constant (y_max - y_min) / (M Gamma) = the integral of the
Breit-Wigner over [s_min, s_max]: the propagator is sampled exactly. The mapping is one
vectorised expression, so it has no numba twin.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import check_unit_array
from ._jit import check_kernel, jit
from .kinematics import (
    boost_accurate_numpy,
    boost_accurate_scalar,
    cos_sin_2pi_numpy,
    cos_sin_2pi_scalar,
    kallen,
)

__all__ = [
    "breit_wigner",
    "breit_wigner_density",
    "breit_wigner_inverse",
    "two_body_decay",
    "two_body_volume",
]

FloatArray = NDArray[np.float64]

_FOUR_PI = 4.0 * math.pi


def two_body_volume(s: ArrayLike, m1: ArrayLike, m2: ArrayLike) -> FloatArray:
    """Two-body phase-space volume lambda^(1/2)(s, m1^2, m2^2) / (8 pi s); 0 below threshold."""
    s, m1, m2 = (np.asarray(x, dtype=np.float64) for x in (s, m1, m2))
    lam = kallen(s, m1 * m1, m2 * m2)
    with np.errstate(invalid="ignore", divide="ignore"):
        vol = np.sqrt(lam) / (8.0 * math.pi * s)
    return np.where((lam > 0.0) & (s > 0.0), vol, 0.0)


# --- two-body decay ---------------------------------------------------------------------------


@jit
def _decay_numba(
    u: FloatArray, parent: FloatArray, m1: FloatArray, m2: FloatArray, p: FloatArray, w: FloatArray
) -> None:
    for e in range(u.shape[0]):
        q0 = parent[e, 0]
        qx = parent[e, 1]
        qy = parent[e, 2]
        qz = parent[e, 3]
        qabs = math.sqrt(qx * qx + qy * qy + qz * qz)
        mm2 = (q0 - qabs) * (q0 + qabs)
        mm = math.sqrt(mm2)
        a1 = m1[e]
        a2 = m2[e]
        lam = (mm2 - (a1 + a2) * (a1 + a2)) * (mm2 - (a1 - a2) * (a1 - a2))
        if lam > 0.0:
            pstar = math.sqrt(lam) / (2.0 * mm)
        else:
            pstar = 0.0
        e1 = (mm2 + a1 * a1 - a2 * a2) / (2.0 * mm)
        e2 = (mm2 - a1 * a1 + a2 * a2) / (2.0 * mm)
        c = 2.0 * u[e, 0] - 1.0
        st = math.sqrt((1.0 - c) * (1.0 + c))
        cph, sph = cos_sin_2pi_scalar(u[e, 1])
        kx = pstar * st * cph
        ky = pstar * st * sph
        kz = pstar * c
        r0, rx, ry, rz = boost_accurate_scalar(
            e1, a1 * a1, kx, ky, kz, pstar, q0, qx, qy, qz, qabs, mm
        )
        p[e, 0, 0] = r0
        p[e, 0, 1] = rx
        p[e, 0, 2] = ry
        p[e, 0, 3] = rz
        r0, rx, ry, rz = boost_accurate_scalar(
            e2, a2 * a2, -kx, -ky, -kz, pstar, q0, qx, qy, qz, qabs, mm
        )
        p[e, 1, 0] = r0
        p[e, 1, 1] = rx
        p[e, 1, 2] = ry
        p[e, 1, 3] = rz
        w[e] = pstar / (_FOUR_PI * mm)


def _decay_numpy(
    u: FloatArray, parent: FloatArray, m1: FloatArray, m2: FloatArray
) -> tuple[FloatArray, FloatArray]:
    q0, qx, qy, qz = parent[:, 0], parent[:, 1], parent[:, 2], parent[:, 3]
    qabs = np.sqrt(qx * qx + qy * qy + qz * qz)
    mm2 = (q0 - qabs) * (q0 + qabs)
    mm = np.sqrt(mm2)
    lam = (mm2 - (m1 + m2) * (m1 + m2)) * (mm2 - (m1 - m2) * (m1 - m2))
    pstar = np.where(lam > 0.0, np.sqrt(np.maximum(lam, 0.0)) / (2.0 * mm), 0.0)
    e1 = (mm2 + m1 * m1 - m2 * m2) / (2.0 * mm)
    e2 = (mm2 - m1 * m1 + m2 * m2) / (2.0 * mm)
    c = 2.0 * u[:, 0] - 1.0
    st = np.sqrt((1.0 - c) * (1.0 + c))
    cph, sph = cos_sin_2pi_numpy(u[:, 1])
    kx, ky, kz = pstar * st * cph, pstar * st * sph, pstar * c
    p = np.empty((u.shape[0], 2, 4))
    args = (q0, qx, qy, qz, qabs, mm)
    p1 = boost_accurate_numpy(e1, m1 * m1, kx, ky, kz, pstar, *args)
    p2 = boost_accurate_numpy(e2, m2 * m2, -kx, -ky, -kz, pstar, *args)
    for c_ in range(4):
        p[:, 0, c_] = p1[c_]
        p[:, 1, c_] = p2[c_]
    return p, pstar / (_FOUR_PI * mm)


def two_body_decay(
    u: ArrayLike,
    parent: ArrayLike,
    m1: ArrayLike,
    m2: ArrayLike,
    *,
    kernel: str = "numba",
) -> tuple[FloatArray, FloatArray]:
    """Decay ``parent`` (n_events, 4) (or one (4,) vector) into masses ``m1``, ``m2`` (scalars or
    (n_events,)) using ``u`` (n_events, 2) in [0, 1] for (cos theta, phi) in the parent rest frame.

    Returns ``(p, weight)``: daughters (n_events, 2, 4) with p[:, 0] + p[:, 1] == parent, and the
    two-body phase-space weight lambda^(1/2)(M^2, m1^2, m2^2) / (8 pi M^2) (0 below threshold).

    >>> import numpy as np
    >>> p, w = two_body_decay([[0.5, 0.25]], [91.1876, 0.0, 0.0, 0.0], 0.0, 0.0)
    >>> bool(np.allclose(p.sum(axis=1), [91.1876, 0, 0, 0]))
    True
    >>> bool(np.isclose(w[0], 1 / (8 * np.pi)))  # massless: Phi_2 = 1 / (8 pi)
    True
    """
    check_kernel(kernel)
    u = check_unit_array(u, 2)
    n_ev = u.shape[0]
    par = np.asarray(parent, dtype=np.float64)
    if par.shape == (4,):
        par = np.broadcast_to(par, (n_ev, 4))
    if par.shape != (n_ev, 4):
        raise ValueError(f"parent has shape {par.shape}; expected ({n_ev}, 4) or (4,) to match u")
    par = np.ascontiguousarray(par)
    if not np.all(np.isfinite(par)):
        raise ValueError("parent contains NaN or inf; momenta must be finite")
    m2_par = par[:, 0] ** 2 - (par[:, 1] ** 2 + par[:, 2] ** 2 + par[:, 3] ** 2)
    if not (np.all(m2_par > 0.0) and np.all(par[:, 0] > 0.0)):
        i = int(np.argmin(np.where(par[:, 0] > 0.0, m2_par, -np.inf)))
        raise ValueError(
            f"parent[{i}] = {par[i].tolist()} is not time-like with E > 0 "
            f"(mass^2 = {float(m2_par[i])!r}); a decaying particle needs a positive mass"
        )
    masses = []
    for name, m in (("m1", m1), ("m2", m2)):
        arr = np.ascontiguousarray(np.broadcast_to(np.asarray(m, dtype=np.float64), (n_ev,)))
        if not (np.all(np.isfinite(arr)) and np.all(arr >= 0.0)):
            raise ValueError(f"{name} must be finite and >= 0; got min {float(np.min(arr))!r}")
        masses.append(arr)
    if kernel == "numpy":
        return _decay_numpy(u, par, masses[0], masses[1])
    p = np.empty((n_ev, 2, 4))
    w = np.empty(n_ev)
    _decay_numba(u, par, masses[0], masses[1], p, w)
    return p, w


# --- Breit-Wigner -----------------------------------------------------------------------------


def _bw_params(
    mass: float, width: float, s_min: float, s_max: float
) -> tuple[float, float, float, float]:
    mass, width, s_min, s_max = float(mass), float(width), float(s_min), float(s_max)
    if not (math.isfinite(mass) and mass > 0.0):
        raise ValueError(f"mass={mass!r} must be finite and > 0 (GeV)")
    if not (math.isfinite(width) and width > 0.0):
        raise ValueError(f"width={width!r} must be finite and > 0 (GeV); use a fixed s for width 0")
    if not (math.isfinite(s_min) and math.isfinite(s_max) and s_min < s_max):
        raise ValueError(f"need finite s_min < s_max; got s_min={s_min!r}, s_max={s_max!r}")
    mg = mass * width
    y_min = math.atan((s_min - mass * mass) / mg)
    y_max = math.atan((s_max - mass * mass) / mg)
    return mass * mass, mg, y_min, y_max


def breit_wigner_density(s: ArrayLike, mass: float, width: float) -> FloatArray:
    """The propagator factor 1 / ((s - M^2)^2 + M^2 Gamma^2)."""
    s = np.asarray(s, dtype=np.float64)
    return 1.0 / ((s - mass * mass) ** 2 + (mass * width) ** 2)


def breit_wigner(
    u: ArrayLike, mass: float, width: float, s_min: float, s_max: float
) -> tuple[FloatArray, FloatArray]:
    """Map ``u`` (any shape, in [0, 1]) to s in [s_min, s_max] following a Breit-Wigner.

    Returns ``(s, jacobian)`` with jacobian = ds/du, so that for any f,
    integral f(s) ds over [s_min, s_max] = E_u[f(s(u)) jacobian(u)].
    """
    m2, mg, y_min, y_max = _bw_params(mass, width, s_min, s_max)
    u = np.asarray(u, dtype=np.float64)
    if u.size and not (u.min() >= 0.0 and u.max() <= 1.0):
        raise ValueError("u must lie in [0, 1]; pass uniform random numbers")
    t = np.tan(y_min + u * (y_max - y_min))
    s = np.clip(m2 + mg * t, s_min, s_max)
    jac = (y_max - y_min) * mg * (1.0 + t * t)
    return s, jac


def breit_wigner_inverse(
    s: ArrayLike, mass: float, width: float, s_min: float, s_max: float
) -> tuple[FloatArray, FloatArray]:
    """Inverse of :func:`breit_wigner`: s in [s_min, s_max] -> ``(u, jacobian)``."""
    m2, mg, y_min, y_max = _bw_params(mass, width, s_min, s_max)
    s = np.asarray(s, dtype=np.float64)
    if s.size and not (s.min() >= s_min and s.max() <= s_max):
        raise ValueError(f"s must lie in [s_min, s_max] = [{s_min!r}, {s_max!r}]")
    t = (s - m2) / mg
    u = np.clip((np.arctan(t) - y_min) / (y_max - y_min), 0.0, 1.0)
    return u, (y_max - y_min) * mg * (1.0 + t * t)
