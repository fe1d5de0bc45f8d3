"""e+e− annihilation toys with exact answers: μ+μ− (γ and Z), q q̄, and q q̄ g at O(α_s).

Particle order: incoming e−(p1, along +z), e+(p2); outgoing as listed per process. All
fermions massless. Constants (fixed, stated): α = 1/137.035999084, M_Z = 91.1876 GeV,
Γ_Z = 2.4952 GeV, sin²θ_W = 0.23122, N_c = 3, C_F = 4/3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .particles import Particles
from .process import GEV2_TO_PB, Process, builtin
from .qqg_maps import qqg_phase_space

__all__ = [
    "ALPHA",
    "EWParameters",
    "ee_mumu",
    "ee_qq",
    "ee_qqg",
    "qqg_reference",
    "sigma_mumu",
]

ALPHA = 1.0 / 137.035999084
N_C = 3
C_F = 4.0 / 3.0
#: relative tolerance of the quadrature in :func:`qqg_reference` (its stated error)
QQG_REFERENCE_RTOL = 1e-13
#: electric charges of d, u, s, c, b
QUARK_CHARGES = (-1 / 3, 2 / 3, -1 / 3, 2 / 3, -1 / 3)


def _quark_particles(n_flavours: int, alpha_s: float, with_gluon: bool) -> Particles:
    """e− e+ → q q̄ (g): flavours drawn ∝ Q_q² (photon exchange), colour flow q→g→q̄."""
    ids = (11, -11, 1, -1) + ((21,) if with_gluon else ())
    colours = ((0, 0), (0, 0), (501, 0), (0, 502), (502, 501))
    if not with_gluon:
        colours = ((0, 0), (0, 0), (501, 0), (0, 501))
    charges = QUARK_CHARGES[:n_flavours]
    weights = tuple(
        (pdg, q * q) for pdg, q in zip((1, 2, 3, 4, 5)[:n_flavours], charges, strict=True)
    )
    return Particles(
        pdg_ids=ids,
        colours=colours,
        alpha_qed=ALPHA,
        alpha_qcd=alpha_s if with_gluon else -1.0,
        quark_pair=(2, 3),
        flavour_weights=weights,
    )


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Minkowski product of (..., 4) arrays, metric (+, −, −, −)."""
    return (
        a[..., 0] * b[..., 0]
        - a[..., 1] * b[..., 1]
        - a[..., 2] * b[..., 2]
        - a[..., 3] * b[..., 3]
    )


@dataclass(frozen=True)
class EWParameters:
    """Z-boson parameters for e+e− → f f̄ (couplings v = T3 − 2Q sin²θ_W, a = T3)."""

    mz: float = 91.1876
    width_z: float = 2.4952
    sin2w: float = 0.23122

    def chi(self, s: float) -> complex:
        """χ(s) = s / (s − M_Z² + i M_Z Γ_Z) / (4 sin²θ_W cos²θ_W)."""
        kappa = 1.0 / (4.0 * self.sin2w * (1.0 - self.sin2w))
        return kappa * s / complex(s - self.mz**2, self.mz * self.width_z)

    def coefficients(self, s: float, with_z: bool) -> tuple[float, float]:
        """A0, A1 of dσ/dΩ = α²/(4s) [A0 (1 + cos²θ) + A1 cos θ] for e+e− → μ+μ−."""
        if not with_z:
            return 1.0, 0.0
        v = -0.5 + 2.0 * self.sin2w  # electron and muon: T3 = −1/2, Q = −1
        a = -0.5
        chi = self.chi(s)
        a0 = 1.0 + 2.0 * v * v * chi.real + (v * v + a * a) ** 2 * abs(chi) ** 2
        a1 = 4.0 * a * a * chi.real + 8.0 * v * a * v * a * abs(chi) ** 2
        return a0, a1


def sigma_mumu(sqrt_s: float, with_z: bool = False, ew: EWParameters = EWParameters()) -> float:
    """σ(e+e− → μ+μ−) = 4πα²/(3s) · A0 in pb (A0 = 1 for the photon alone)."""
    s = sqrt_s**2
    a0, _ = ew.coefficients(s, with_z)
    return 4.0 * math.pi * ALPHA**2 / (3.0 * s) * a0 * GEV2_TO_PB


def _angular_matrix_element(norm: float, a0: float, a1: float):
    """|M|² = norm [A0 (1 + cos²θ) + A1 cos θ], θ between the e− beam (+z) and particle 3."""

    def matrix_element(p: np.ndarray) -> np.ndarray:
        cos = p[:, 2, 3] / np.linalg.norm(p[:, 2, 1:], axis=1)
        return norm * (a0 * (1.0 + cos**2) + a1 * cos)

    return matrix_element


@builtin
def ee_mumu(sqrt_s: float = 91.2, with_z: bool = False, phase_space: str = "diet") -> Process:
    """e+e− → μ+μ−: |M|² = 16π²α² [A0 (1 + cos²θ) + A1 cos θ], θ = ∠(e−, μ−).

    Photon only: |M|² = 2e⁴ (t² + u²)/s², σ = 4πα²/(3s). With the Z (``with_z``), A0 and A1
    carry the interference and |χ|² terms and σ = 4πα²/(3s) A0 (the cos θ term integrates
    to zero). Outgoing: μ−, μ+.
    """
    a0, a1 = EWParameters().coefficients(sqrt_s**2, with_z)
    label = "γ/Z" if with_z else "γ"
    return Process(
        _angular_matrix_element(16.0 * math.pi**2 * ALPHA**2, a0, a1),
        incoming=(0.0, 0.0),
        outgoing_masses=(0.0, 0.0),
        sqrt_s=sqrt_s,
        phase_space=phase_space,
        name="ee_mumu",
        particles=Particles(pdg_ids=(11, -11, 13, -13), alpha_qed=ALPHA),
        exact=sigma_mumu(sqrt_s, with_z),
        exact_error=0.0,
        description=(
            f"e+e- -> mu+mu- via {label} at sqrt(s)={sqrt_s} GeV; sigma = 4 pi alpha^2/(3s) A0"
        ),
    )


@builtin
def ee_qq(sqrt_s: float = 91.2, n_flavours: int = 5, phase_space: str = "diet") -> Process:
    """e+e− → q q̄ via γ, summed over flavours: σ = N_c Σ_q Q_q² · 4πα²/(3s).

    |M|² = N_c Σ Q_q² · 2e⁴ (t² + u²)/s² (colour summed). Outgoing: q, q̄.
    """
    if not 1 <= n_flavours <= 5:
        raise ValueError(f"n_flavours must be 1..5 (d, u, s, c, b), got {n_flavours}")
    charge2 = sum(q * q for q in QUARK_CHARGES[:n_flavours])
    return Process(
        _angular_matrix_element(N_C * charge2 * 16.0 * math.pi**2 * ALPHA**2, 1.0, 0.0),
        incoming=(0.0, 0.0),
        outgoing_masses=(0.0, 0.0),
        sqrt_s=sqrt_s,
        phase_space=phase_space,
        name="ee_qq",
        particles=_quark_particles(n_flavours, -1.0, with_gluon=False),
        exact=N_C * charge2 * sigma_mumu(sqrt_s),
        exact_error=0.0,
        description=(
            f"e+e- -> q qbar via photon, {n_flavours} flavours, sqrt(s)={sqrt_s} GeV; "
            "sigma = N_c sum Q_q^2 sigma_mumu"
        ),
    )


def qqg_reference(
    sqrt_s: float = 91.2, y_cut: float = 0.01, alpha_s: float = 0.118, n_flavours: int = 5
) -> float:
    """σ(e+e− → q q̄ g) in pb with s_ij/s > y_cut for all pairs, from the x₁, x₂ formula.

        dσ/dx₁dx₂ = σ₀ (α_s/2π) C_F (x₁² + x₂²)/((1 − x₁)(1 − x₂)),   σ₀ = N_c Σ Q_q² 4πα²/(3s)

    with x_i = 2E_i/√s; the cuts read 1 − x₂ > y, 1 − x₁ > y, x₁ + x₂ − 1 > y. The x₂
    integral is done in closed form, F(t) = (1 + x₁²) ln t − 2t + t²/2 with t = 1 − x₂, and
    the x₁ integral by adaptive Gauss–Kronrod quadrature to 1e-13 relative.
    """
    y = y_cut
    if not 0 < y < 1 / 3:
        raise ValueError(f"y_cut must be in (0, 1/3) for a non-empty 3-jet region, got {y_cut}")

    def inner(x1: float) -> float:
        def big_f(t: float) -> float:
            return (1.0 + x1 * x1) * math.log(t) - 2.0 * t + 0.5 * t * t

        return (big_f(x1 - y) - big_f(y)) / (1.0 - x1)

    from scipy import integrate  # imported on use: scipy costs start-up time

    value, _ = integrate.quad(inner, 2 * y, 1 - y, epsabs=0.0, epsrel=QQG_REFERENCE_RTOL, limit=200)
    charge2 = sum(q * q for q in QUARK_CHARGES[:n_flavours])
    sigma0 = N_C * charge2 * sigma_mumu(sqrt_s)
    return sigma0 * alpha_s / (2.0 * math.pi) * C_F * value


@builtin
def ee_qqg(
    sqrt_s: float = 91.2,
    y_cut: float = 0.01,
    alpha_s: float = 0.118,
    n_flavours: int = 5,
    phase_space: str = "auto",
) -> Process:
    """e+e− → γ* → q(k1) q̄(k2) g(k3) at O(α_s), the full 5-d |M|² with the beam orientation.

        |M|² = 2 N_c C_F Σ Q_q² e⁴ g_s² [(p1·k1)² + (p1·k2)² + (p2·k1)² + (p2·k2)²]
               / [(p1·p2)(k1·k3)(k2·k3)]

    (spin-averaged over the beams, summed over colours, spins and flavours), e² = 4πα,
    g_s² = 4πα_s fixed. Averaged over the beam direction it gives the x₁, x₂ formula of
    :func:`qqg_reference`, which is the reference value. Cuts: s_ij/s > y_cut for every pair.

    ``phase_space="auto"`` (default) is ``"exact"``: the Dalitz map with the cuts on the
    cube's faces, preceded by the exact inversion of the averaged |M|² in (y₁₃, y₂₃) and the
    beam direction drawn from its exact density about the principal axis of the quark
    momentum tensor, so that f(u) is constant. ``"dalitz+axis"`` leaves that orientation to
    learn, ``"dalitz+me"`` keeps the Dalitz frame, ``"dalitz"`` is the plain Dalitz map and
    ``"diet"`` RAMBO on diet, where the cut surfaces s_ij = y_cut s and the soft/collinear
    ridges along them are curved surfaces inside the cube: :mod:`.qqg_maps`.
    """
    if not 0 < y_cut < 1 / 3:
        raise ValueError(f"y_cut must be in (0, 1/3) for a non-empty 3-jet region, got {y_cut}")
    charge2 = sum(q * q for q in QUARK_CHARGES[:n_flavours])
    e2, gs2 = 4.0 * math.pi * ALPHA, 4.0 * math.pi * alpha_s
    norm = 2.0 * N_C * C_F * charge2 * e2 * e2 * gs2
    s = sqrt_s**2

    def matrix_element(p: np.ndarray) -> np.ndarray:
        p1, p2, k1, k2, k3 = (p[:, i] for i in range(5))
        num = _dot(p1, k1) ** 2 + _dot(p1, k2) ** 2 + _dot(p2, k1) ** 2 + _dot(p2, k2) ** 2
        return norm * num / (_dot(p1, p2) * _dot(k1, k3) * _dot(k2, k3))

    def cuts(p: np.ndarray) -> np.ndarray:
        k = p[:, 2:]
        s12 = 2.0 * _dot(k[:, 0], k[:, 1])
        s13 = 2.0 * _dot(k[:, 0], k[:, 2])
        s23 = 2.0 * _dot(k[:, 1], k[:, 2])
        return (s12 > y_cut * s) & (s13 > y_cut * s) & (s23 > y_cut * s)

    phase_space, dim = qqg_phase_space(phase_space, sqrt_s, y_cut)
    reference = qqg_reference(sqrt_s, y_cut, alpha_s, n_flavours)
    return Process(
        matrix_element,
        incoming=(0.0, 0.0),
        outgoing_masses=(0.0, 0.0, 0.0),
        sqrt_s=sqrt_s,
        cuts=cuts,
        phase_space=phase_space,
        dim=dim,
        name="ee_qqg",
        particles=_quark_particles(n_flavours, alpha_s, with_gluon=True),
        exact=reference,
        # the quadrature's tolerance: a zero-variance map (phase_space="exact") resolves it
        exact_error=QQG_REFERENCE_RTOL * reference,
        description=(
            f"e+e- -> q qbar g at O(alpha_s), sqrt(s)={sqrt_s} GeV, {n_flavours} flavours, "
            f"alpha_s={alpha_s}, cuts s_ij/s > {y_cut}"
        ),
    )
