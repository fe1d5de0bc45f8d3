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
  :func:`~mlintegrate.phasespace.three_body_dalitz` (there k₁ is the body z axis) in a
  principal frame: R = R' Pᵀ with P the frame (:func:`principal_frame`), ψ the angle of â from
  k₁ towards k₂. Right-multiplying by a fixed rotation keeps the Haar measure: log|det| = 0.
  The beam seen from the event is n̂ = R'⁻¹ẑ = (−sin β' cos γ', sin β' sin γ', cos β') in the
  new body axes. Default frame: polar axis on the normal ĉ, azimuth from â, so that

      h = (3/4) [1 + sin²β'/2 + (r − 1/2) sin²β' cos 2γ'];

  ``polar="major"`` (the prototype's frame, polar axis on â) gives
  h = (3/4) [1 + r cos²β' + (1 − r) sin²β' cos²γ'].
- :class:`BeamDirectionMap` (c) draws (cos β', γ') of the normal frame from h: cos β' from
  its marginal (3/16)(3 − cos²β'), the same for every event shape, by inverting a cubic CDF;
  γ' from the conditional 1 + ρ cos 2γ', ρ = (2r − 1) sin²β' / (2 + sin²β').
  log|det ∂u/∂w| = −log h.

Where λ₁ = λ₂ (x₁ = x₂ = 2 − √2, y₁₃ = y₂₃ = √2 − 1 ≈ 0.414) â is undefined: going once
around that point â turns by half a turn, so ψ jumps by π on a branch line from it. The
frame flip â → −â, b̂ → −b̂ leaves h unchanged, so h stays continuous across the line. In the
normal frame the point is harmless by construction: â enters h only through the term
(r − 1/2) sin²β' cos 2γ', which vanishes there (r = 1/2), and the rest of h, the polar
marginal, is the same for every event. In the major frame the proposal must move density
from "beam along â" (r → 1, two-jet events) to "beam anywhere in the plane" (r → 1/2): a
learned proposal's largest weights sit there (measured, README).

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
from ..errors import ConfigError
from ..phasespace import DALITZ_DIM
from ..phasespace.monotone import invert_increasing
from .qqg_dalitz import check_y_min

__all__ = [
    "BeamDirectionMap",
    "PrincipalAxisMap",
    "euler_angles",
    "euler_matrix",
    "event_shape",
    "principal_frame",
]

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


def principal_frame(psi: np.ndarray, polar: str = "normal") -> np.ndarray:
    """P (n, 3, 3) whose columns are the new body axes (x', y', z') in the Dalitz body frame.

    ``polar="normal"``: (â, b̂, ĉ), the polar axis on the event-plane normal ĉ = ŷ and the
    azimuth measured from â = (sin ψ, 0, cos ψ); ``polar="major"``: (b̂, ĉ, â) = R_y(ψ), the
    polar axis on â. Both right-handed, b̂ = ĉ × â = (cos ψ, 0, −sin ψ).
    """
    c, s = np.cos(psi), np.sin(psi)
    frame = np.zeros((psi.shape[0], 3, 3))
    if polar == "normal":  # x' = â, y' = b̂ = ĉ × â = (cos ψ, 0, −sin ψ), z' = ĉ
        frame[:, 0, 0], frame[:, 2, 0] = s, c
        frame[:, 0, 1], frame[:, 2, 1] = c, -s
        frame[:, 1, 2] = 1.0
    else:  # R_y(ψ): x' = (cos ψ, 0, −sin ψ) = b̂, y' = ĉ, z' = â
        frame[:, 0, 0], frame[:, 2, 0] = c, -s
        frame[:, 1, 1] = 1.0
        frame[:, 0, 2], frame[:, 2, 2] = s, c
    return frame


class _ShapeConditioned(Bijection):
    """A map of the orientation coordinates (2, 3, 4) that reads the event shape from (0, 1)."""

    def __init__(self, y_min: float = 0.01):
        super().__init__(DALITZ_DIM)
        self.y_min = check_y_min(y_min)

    def config(self) -> dict[str, Any]:
        return {"y_min": self.y_min}


class PrincipalAxisMap(_ShapeConditioned):
    """(b): Euler angles in the principal frame → those of the Dalitz map; |det| = 1.

    ``polar="normal"`` (default) puts the polar axis on the event-plane normal and the
    azimuth origin on â: h = (3/4)[1 + sin²β'/2 + (r − 1/2) sin²β' cos 2γ'], whose only
    shape-dependent term vanishes where â is undefined. ``polar="major"`` puts the polar
    axis on â: h = (3/4)[1 + r cos²β' + (1 − r) sin²β' cos²γ'].
    """

    name = "qqg_principal_axis"

    def __init__(self, y_min: float = 0.01, polar: str = "normal"):
        super().__init__(y_min)
        if polar not in ("normal", "major"):
            raise ConfigError(f"polar={polar!r} is not a frame; choose 'normal' or 'major'")
        self.polar = polar

    def _rotate(self, x: np.ndarray, forward: bool) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=np.float64)
        psi, _ = event_shape(x, self.y_min)
        frame = principal_frame(psi, self.polar)
        out = np.array(x)
        # forward: R = R' Pᵀ (Dalitz angles from principal ones); inverse: R' = R P
        rotated = np.matmul(euler_matrix(x[:, 2:5]), frame.transpose(0, 2, 1) if forward else frame)
        out[:, 2:5] = euler_angles(rotated)
        return out, np.zeros(x.shape[0])

    def forward(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._rotate(y, forward=True)

    def inverse(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._rotate(u, forward=False)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "polar": self.polar}


class BeamDirectionMap(_ShapeConditioned):
    """(c): the angles (cos β', γ') of the normal frame drawn from the exact beam density h.

    Marginal of c = cos β': (3/16)(3 − c²), the same for every event shape (CDF a cubic);
    conditional of γ': 1 + ρ cos 2γ' with ρ = (2r − 1)(1 − c²)/(3 − c²) ∈ [0, 1/3].
    """

    name = "qqg_beam_direction"

    @staticmethod
    def log_density(cos_b: np.ndarray, gamma: np.ndarray, r: np.ndarray) -> np.ndarray:
        """log h on the cube of (u₃, u₄) in the normal frame (h integrates to 1 there)."""
        sin2 = 1.0 - cos_b * cos_b
        return np.log(0.75 * (1.0 + 0.5 * sin2 + (r - 0.5) * sin2 * np.cos(2.0 * gamma)))

    def forward(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = np.asarray(y, dtype=np.float64)
        _, r = event_shape(y, self.y_min)
        target = np.clip(y[:, 3], 0.0, 1.0)

        def marginal(c: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return _polar_cdf(c), 3.0 / 16.0 * (3.0 - c * c)

        # c³ − 9c + 16w − 8 = 0 in closed form (three real roots; this one lies in [−1, 1]),
        # polished by Newton on the CDF itself
        angle = np.arccos(np.clip((8.0 - 16.0 * target) / (6.0 * math.sqrt(3.0)), -1.0, 1.0))
        start = 2.0 * math.sqrt(3.0) * np.cos(angle / 3.0 - 2.0 * math.pi / 3.0)
        cos_b = invert_increasing(marginal, target, -1.0, 1.0, x0=start)
        rho = _rho(cos_b, r)
        goal = np.clip(y[:, 4], 0.0, 1.0)

        def conditional(x: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            phase = 2.0 * TWO_PI * x
            return x + rho[idx] * np.sin(phase) / (2.0 * TWO_PI), 1.0 + rho[idx] * np.cos(phase)

        start = goal - rho * np.sin(2.0 * TWO_PI * goal) / (2.0 * TWO_PI)  # first order in ρ
        u4 = invert_increasing(conditional, goal, 0.0, 1.0, x0=start)
        u = np.array(y)
        u[:, 3], u[:, 4] = 0.5 * (cos_b + 1.0), u4
        return u, -self.log_density(cos_b, TWO_PI * u4, r)

    def inverse(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = np.asarray(u, dtype=np.float64)
        _, r = event_shape(u, self.y_min)
        cos_b = 2.0 * u[:, 3] - 1.0
        phase = 2.0 * TWO_PI * u[:, 4]
        y = np.array(u)
        y[:, 3] = np.clip(_polar_cdf(cos_b), 0.0, 1.0)
        y[:, 4] = np.clip(u[:, 4] + _rho(cos_b, r) * np.sin(phase) / (2.0 * TWO_PI), 0.0, 1.0)
        return y, self.log_density(cos_b, TWO_PI * u[:, 4], r)


def _polar_cdf(c: np.ndarray) -> np.ndarray:
    """∫_{−1}^{c} (3/16)(3 − t²) dt = (3/16)(3(c + 1) − (c³ + 1)/3)."""
    return 3.0 / 16.0 * (3.0 * (c + 1.0) - (c**3 + 1.0) / 3.0)


def _rho(cos_b: np.ndarray, r: np.ndarray) -> np.ndarray:
    """ρ of the conditional density 1 + ρ cos 2γ' of γ' given cos β' (class docstring)."""
    sin2 = 1.0 - cos_b * cos_b
    return (2.0 * r - 1.0) * sin2 / (2.0 + sin2)
