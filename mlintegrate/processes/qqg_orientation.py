r"""Event-plane orientation for e+e− → γ* → q q̄ g: the principal-axis frame and the beam density.

With massless beams along ±z and the quark momenta k₁, k₂ (spatial parts),

    (p₁·k)² + (p₂·k)² = (s/2)(E² + k_z²)   ⇒   |M|² ∝ [A + n̂ᵀ T n̂] / (y₁₃ y₂₃),

where n̂ is the beam direction seen from the event, T = k₁k₁ᵀ + k₂k₂ᵀ the quark momentum
tensor and A = tr T = E₁² + E₂² = (s/4)(x₁² + x₂²). T lives in the event plane with
eigenvalues λ₁ ≥ λ₂ (λ₁ + λ₂ = A) along the principal axes â (major) and b̂; ĉ is the normal.
Writing r = λ₁/A ∈ [1/2, 1] and averaging over n̂ (⟨n̂ᵀTn̂⟩ = A/3),

    |M|² ∝ (x₁² + x₂²)/(y₁₃ y₂₃) · h(n̂),   h = (3/4) [1 + r (n̂·â)² + (1 − r) (n̂·b̂)²],

with ⟨h⟩ = 1 over the sphere: the beam-averaged Dalitz density times the exact density of the
beam direction, 1 + cos²θ-like about the principal axis with the event-shape coefficient r
(two-jet limit r → 1: h = (3/4)(1 + cos²θ_â)).

- :class:`PrincipalAxisMap` (b) re-expresses the Euler angles of
  :func:`~mlintegrate.phasespace.three_body_dalitz` (there k₁ is the body z axis) in the
  principal frame (body z = â, x = b̂, y = ĉ): R = R' R_y(−ψ), ψ the angle of â from k₁
  towards k₂. Right-multiplying by a fixed rotation keeps the Haar measure: log|det| = 0.
  In the new angles the beam reads n̂·â = cos β', n̂·b̂ = −sin β' cos γ'.
- :class:`BeamDirectionMap` (c) draws (cos β', γ') from h: cos β' by the inverse of its
  cubic marginal CDF, γ' from the conditional 1 + ρ cos 2γ', ρ = L/(2K + L),
  K = 1 + r cos²β', L = (1 − r) sin²β'. log|det ∂u/∂w| = −log h.

Where λ₁ = λ₂ (x₁ = x₂ = 2 − √2, y₁₃ = y₂₃ = √2 − 1 ≈ 0.414) â is undefined: going once
around that point â turns by half a turn, so ψ jumps by π on a branch line from it. The
frame flip â → −â, b̂ → −b̂ leaves h unchanged, and at the point itself h is symmetric about
ĉ, so the density in the primed angles is continuous there: a proposal on these coordinates
sees no edge, only a kink (r − 1/2 grows like the distance from the point).

Both maps read the event shape from the Dalitz coordinates (u₀, u₁) with the cut y_min, so
they chain *after* :class:`~.qqg_dalitz.DalitzInversionMap` (or on plain Dalitz coordinates).

>>> import numpy as np
>>> w = np.random.default_rng(1).random((4, 5))
>>> for T in (PrincipalAxisMap(0.01), BeamDirectionMap(0.01)):
...     u, logj = T.forward(w)
...     w2, logj_inv = T.inverse(u)
...     print(bool(np.allclose(w2, w, atol=1e-10)), bool(np.allclose(logj + logj_inv, 0)))
True True
True True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backends.bijections import Bijection
from ..phasespace import DALITZ_DIM
from ..phasespace.monotone import invert_increasing
from .qqg_dalitz import check_y_min

__all__ = ["BeamDirectionMap", "PrincipalAxisMap", "event_shape", "euler_angles", "euler_matrix"]

TWO_PI = 2.0 * math.pi


def event_shape(u: np.ndarray, y_min: float) -> tuple[np.ndarray, np.ndarray]:
    """(ψ, r) (n,) from Dalitz coordinates u (n, ≥2): the angle of the major axis â from k₁
    towards k₂ in the event plane, in (−π/2, π/2], and r = λ₁/A ∈ [1/2, 1]."""
    t = 1.0 - 3.0 * y_min
    y13 = y_min + t * u[:, 0]
    y23 = y_min + t * (1.0 - u[:, 0]) * u[:, 1]
    x1, x2 = 1.0 - y23, 1.0 - y13
    cos12 = np.clip(1.0 - 2.0 * (1.0 - y13 - y23) / (x1 * x2), -1.0, 1.0)
    sin12 = np.sqrt((1.0 - cos12) * (1.0 + cos12))
    # T in the Dalitz body frame (k₁ = x₁ ẑ, k₂ = x₂ (sin θ₁₂, 0, cos θ₁₂)), units of (√s/2)²
    t_zz = x1 * x1 + (x2 * cos12) ** 2
    t_xx = (x2 * sin12) ** 2
    t_xz = x2 * x2 * sin12 * cos12
    half_diff = 0.5 * (t_zz - t_xx)
    spread = np.hypot(half_diff, t_xz)
    return 0.5 * np.arctan2(t_xz, half_diff), 0.5 + spread / (t_zz + t_xx)


def euler_matrix(u: np.ndarray) -> np.ndarray:
    """R = R_z(α) R_y(β) R_z(γ) (n, 3, 3) from cube coordinates (α/2π, (cos β + 1)/2, γ/2π)."""
    alpha, gamma = TWO_PI * u[:, 0], TWO_PI * u[:, 2]
    cb = 2.0 * u[:, 1] - 1.0
    sb = np.sqrt(np.clip((1.0 - cb) * (1.0 + cb), 0.0, None))
    ca, sa, cg, sg = np.cos(alpha), np.sin(alpha), np.cos(gamma), np.sin(gamma)
    r = np.empty((u.shape[0], 3, 3))
    r[:, 0, 0] = ca * cb * cg - sa * sg
    r[:, 0, 1] = -ca * cb * sg - sa * cg
    r[:, 0, 2] = ca * sb
    r[:, 1, 0] = sa * cb * cg + ca * sg
    r[:, 1, 1] = -sa * cb * sg + ca * cg
    r[:, 1, 2] = sa * sb
    r[:, 2, 0] = -sb * cg
    r[:, 2, 1] = sb * sg
    r[:, 2, 2] = cb
    return r


def euler_angles(r: np.ndarray) -> np.ndarray:
    """Inverse of :func:`euler_matrix`: (n, 3, 3) → cube coordinates (n, 3)."""
    out = np.empty((r.shape[0], 3))
    out[:, 0] = np.mod(np.arctan2(r[:, 1, 2], r[:, 0, 2]) / TWO_PI, 1.0)
    out[:, 1] = np.clip(0.5 * (r[:, 2, 2] + 1.0), 0.0, 1.0)
    out[:, 2] = np.mod(np.arctan2(r[:, 2, 1], -r[:, 2, 0]) / TWO_PI, 1.0)
    return out


def _rotation_y(psi: np.ndarray) -> np.ndarray:
    """R_y(ψ) (n, 3, 3): x' = x cos ψ + z sin ψ, z' = z cos ψ − x sin ψ."""
    c, s = np.cos(psi), np.sin(psi)
    r = np.zeros((psi.shape[0], 3, 3))
    r[:, 0, 0] = r[:, 2, 2] = c
    r[:, 0, 2], r[:, 2, 0] = s, -s
    r[:, 1, 1] = 1.0
    return r


class _ShapeConditioned(Bijection):
    """A map of the orientation coordinates (2, 3, 4) that reads the event shape from (0, 1)."""

    def __init__(self, y_min: float = 0.01):
        super().__init__(DALITZ_DIM)
        self.y_min = check_y_min(y_min)

    def config(self) -> dict[str, Any]:
        return {"y_min": self.y_min}


class PrincipalAxisMap(_ShapeConditioned):
    """(b): Euler angles about the principal axes of T → those of the Dalitz map; |det| = 1."""

    name = "qqg_principal_axis"

    def _rotate(self, x: np.ndarray, sign: float) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=np.float64)
        psi, _ = event_shape(x, self.y_min)
        out = np.array(x)
        rotated = np.matmul(euler_matrix(x[:, 2:5]), _rotation_y(sign * psi))
        out[:, 2:5] = euler_angles(rotated)
        return out, np.zeros(x.shape[0])

    def forward(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._rotate(y, -1.0)  # R = R' R_y(−ψ)

    def inverse(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._rotate(u, 1.0)  # R' = R R_y(ψ)


class BeamDirectionMap(_ShapeConditioned):
    """(c): the principal-frame angles (cos β', γ') drawn from the exact beam density h."""

    name = "qqg_beam_direction"

    @staticmethod
    def log_density(cos_b: np.ndarray, gamma: np.ndarray, r: np.ndarray) -> np.ndarray:
        """log h on the cube of (u₃, u₄) (h integrates to 1 there)."""
        n_b2 = (1.0 - cos_b * cos_b) * np.cos(gamma) ** 2
        return np.log(0.75 * (1.0 + r * cos_b * cos_b + (1.0 - r) * n_b2))

    def forward(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = np.asarray(y, dtype=np.float64)
        _, r = event_shape(y, self.y_min)
        k0, k2 = 1.0 + 0.5 * (1.0 - r), r - 0.5 * (1.0 - r)  # marginal ∝ k0 + k2 c²
        target = np.clip(y[:, 3], 0.0, 1.0) * (2.0 * k0 + 2.0 * k2 / 3.0)

        def marginal(c: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return k0[idx] * (c + 1.0) + k2[idx] * (c**3 + 1.0) / 3.0, k0[idx] + k2[idx] * c * c

        cos_b = invert_increasing(marginal, target, -1.0, 1.0, x0=2.0 * y[:, 3] - 1.0)
        rho = _rho(cos_b, r)
        goal = np.clip(y[:, 4], 0.0, 1.0)

        def conditional(x: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            phase = 2.0 * TWO_PI * x
            return x + rho[idx] * np.sin(phase) / (2.0 * TWO_PI), 1.0 + rho[idx] * np.cos(phase)

        u4 = invert_increasing(conditional, goal, 0.0, 1.0, x0=goal)
        u = np.array(y)
        u[:, 3], u[:, 4] = 0.5 * (cos_b + 1.0), u4
        return u, -self.log_density(cos_b, TWO_PI * u4, r)

    def inverse(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = np.asarray(u, dtype=np.float64)
        _, r = event_shape(u, self.y_min)
        k0, k2 = 1.0 + 0.5 * (1.0 - r), r - 0.5 * (1.0 - r)
        cos_b = 2.0 * u[:, 3] - 1.0
        marginal = k0 * (cos_b + 1.0) + k2 * (cos_b**3 + 1.0) / 3.0
        phase = 2.0 * TWO_PI * u[:, 4]
        y = np.array(u)
        y[:, 3] = np.clip(marginal / (2.0 * k0 + 2.0 * k2 / 3.0), 0.0, 1.0)
        y[:, 4] = np.clip(u[:, 4] + _rho(cos_b, r) * np.sin(phase) / (2.0 * TWO_PI), 0.0, 1.0)
        return y, self.log_density(cos_b, TWO_PI * u[:, 4], r)


def _rho(cos_b: np.ndarray, r: np.ndarray) -> np.ndarray:
    """ρ of the conditional density 1 + ρ cos 2γ' of γ' given cos β' (module docstring)."""
    big_k = 1.0 + r * cos_b * cos_b
    big_l = (1.0 - r) * (1.0 - cos_b * cos_b)
    return big_l / (2.0 * big_k + big_l)
