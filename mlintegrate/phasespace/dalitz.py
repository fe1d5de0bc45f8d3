r"""Massless three-body phase space in Dalitz variables, with a lower bound on every invariant.

With y_ij = s_ij / s and x_i = 2E_i/√s (x₁ = 1 − y₂₃, x₂ = 1 − y₁₃, y₁₂ + y₁₃ + y₂₃ = 1),

    dΦ₃ = s / (128 π³) dx₁ dx₂ · dR / (8π²),

with dR the Haar measure of the event plane's orientation (Euler angles α, cos β, γ uniform).
The five numbers u map to

    y₁₃ = y_min + t u₀,   y₂₃ = y_min + t (1 − u₀) u₁,   t = 1 − 3 y_min,
    (α, cos β, γ) = (2π u₂, 2u₃ − 1, 2π u₄),

a bijection of the cube onto the region y_ij ≥ y_min for every pair (y₁₂ ≥ y_min follows), with
weight s t² (1 − u₀) / (128 π³). Cuts y_ij > y_min are then faces of the cube, not curved
surfaces inside it: the map a generator would use for e+e− → 3 jets, and the contrast to
:func:`~mlintegrate.phasespace.rambo_diet`, whose cut surfaces a proposal has to learn. Averaged
over uniform u the weight is the volume s (1 − 3 y_min)² / (256 π³) (y_min = 0:
:func:`~mlintegrate.phasespace.massless_volume` (3, √s)).

numpy only (array expressions over events; there is no per-event loop to compile).

>>> import numpy as np
>>> u = np.random.default_rng(1).random((4, 5))
>>> p, w = three_body_dalitz(u, 91.2, y_min=0.01)
>>> p.shape, bool(np.allclose(p.sum(axis=1), [91.2, 0, 0, 0]))
((4, 3, 4), True)
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import check_sqrt_s, check_unit_array

__all__ = ["DALITZ_DIM", "three_body_dalitz"]

DALITZ_DIM = 5


def _rotate_z(v: np.ndarray, angle: np.ndarray) -> None:
    """Rotate the spatial parts of v (n, k, 4) about z by ``angle`` (n,), in place."""
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    x, y = v[..., 1].copy(), v[..., 2]
    v[..., 1] = c * x - s * y
    v[..., 2] = s * x + c * y


def _rotate_y(v: np.ndarray, cos_b: np.ndarray) -> None:
    """Rotate the spatial parts of v (n, k, 4) about y by β with cos β = ``cos_b``, in place."""
    c = cos_b[:, None]
    s = np.sqrt((1.0 - cos_b) * (1.0 + cos_b))[:, None]
    x, z = v[..., 1].copy(), v[..., 3]
    v[..., 1] = c * x + s * z
    v[..., 3] = c * z - s * x


def three_body_dalitz(
    u: np.ndarray, sqrt_s: float, y_min: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Massless momenta (n, 3, 4), total (√s, 0, 0, 0), every y_ij ≥ ``y_min``; weights (n,).

    Args:
        u: (n, 5) numbers in [0, 1].
        sqrt_s: total energy √s in GeV.
        y_min: lower bound on every s_ij / s, in [0, 1/3).
    """
    sqrt_s = check_sqrt_s(sqrt_s)
    if not 0.0 <= y_min < 1.0 / 3.0:
        raise ValueError(f"y_min={y_min!r} must lie in [0, 1/3) for a non-empty region")
    u = check_unit_array(u, DALITZ_DIM)
    t = 1.0 - 3.0 * y_min
    y13 = y_min + t * u[:, 0]
    y23 = y_min + t * (1.0 - u[:, 0]) * u[:, 1]
    y12 = 1.0 - y13 - y23
    x1, x2 = 1.0 - y23, 1.0 - y13
    x3 = y13 + y23  # = 2 − x1 − x2
    # in the event plane: k1 along z, k2 at angle θ12 from it (s12 = 2 E1 E2 (1 − cos θ12));
    # on the edge x1 x2 = 0 (y_min = 0 only) a momentum vanishes and θ12 is moot
    x12 = x1 * x2
    ratio = np.divide(2.0 * y12, x12, out=np.zeros_like(x12), where=x12 > 0.0)
    cos12 = np.clip(1.0 - ratio, -1.0, 1.0)
    sin12 = np.sqrt((1.0 - cos12) * (1.0 + cos12))
    half = 0.5 * sqrt_s
    p = np.zeros((u.shape[0], 3, 4))
    p[:, 0, 0] = p[:, 0, 3] = half * x1
    p[:, 1, 0] = half * x2
    p[:, 1, 1] = half * x2 * sin12
    p[:, 1, 3] = half * x2 * cos12
    p[:, 2, 0] = half * x3
    p[:, 2, 1:] = -(p[:, 0, 1:] + p[:, 1, 1:])
    _rotate_z(p, 2.0 * math.pi * u[:, 4])
    _rotate_y(p, 2.0 * u[:, 3] - 1.0)
    _rotate_z(p, 2.0 * math.pi * u[:, 2])
    weight = sqrt_s**2 * t * t / (128.0 * math.pi**3) * (1.0 - u[:, 0])
    return p, weight
