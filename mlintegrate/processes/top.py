"""Top decay t → b ℓ⁺ ν through an s-channel W (Breit–Wigner): a resonance a flat map misses.

Particle order: t (at rest), then b, ℓ⁺, ν. The result is a partial width in GeV.

    |M|² = 2 g⁴ (p_t·p_ℓ)(p_b·p_ν) / ((s_ℓν − M_W²)² + M_W² Γ_W²)

averaged over the top spin and colour, |V_tb| = 1, g² = 8 M_W² G_F/√2 (the muon-decay matrix
element with the W propagator restored). Reference: after integrating over the W decay
angles the massless lepton current turns the lepton tensor into the polarisation sum of a
vector boson of mass √s, so, exactly,

    Γ = ∫ ds/π · √s Γ_{W*→ℓν}(s) / ((s − M_W²)² + M_W² Γ_W²) · Γ_{t→bW*}(s)

with Γ_{W*→ℓν}(s) = g²√s/(48π) and Γ_{t→bW*}(s) = g² m_t³/(64π s) λ^{1/2}(1, y_b, y)
[(1 − y_b)² + y(1 + y_b) − 2y²], y = s/m_t², y_b = m_b²/m_t²: a 1-D integral done by
adaptive quadrature to 1e-12 relative.
"""

from __future__ import annotations

import math

import numpy as np

from ..phasespace.kinematics import dot, mass2
from .particles import Particles
from .process import Process, builtin

__all__ = ["top_decay", "top_decay_reference"]

M_TOP = 172.5
M_W = 80.379
WIDTH_W = 2.085
G_FERMI = 1.1663787e-5


def _g2() -> float:
    return 8.0 * M_W**2 * G_FERMI / math.sqrt(2.0)


def top_decay_reference(m_top: float = M_TOP, m_b: float = 0.0) -> float:
    """Γ(t → b ℓ⁺ ν) in GeV by 1-D quadrature over the W virtuality s (module docstring)."""
    g2 = _g2()
    yb = (m_b / m_top) ** 2

    def integrand(s: float) -> float:
        y = s / m_top**2
        lam = (1 - yb - y) ** 2 - 4 * yb * y
        if lam <= 0:
            return 0.0
        gamma_t = g2 * m_top**3 / (64 * math.pi * s) * math.sqrt(lam)
        gamma_t *= (1 - yb) ** 2 + y * (1 + yb) - 2 * y * y
        gamma_w = g2 * math.sqrt(s) / (48 * math.pi)
        bw = math.sqrt(s) * gamma_w / ((s - M_W**2) ** 2 + (M_W * WIDTH_W) ** 2)
        return bw * gamma_t / math.pi

    s_max = (m_top - m_b) ** 2
    # split at the peak so the adaptive rule sees the resonance
    peak = M_W**2
    parts = [
        (0.0, peak - 20 * M_W * WIDTH_W),
        (peak - 20 * M_W * WIDTH_W, peak),
        (peak, peak + 20 * M_W * WIDTH_W),
        (peak + 20 * M_W * WIDTH_W, s_max),
    ]
    from scipy import integrate  # imported on use: scipy costs start-up time

    total = 0.0
    for lo, hi in parts:
        value, _ = integrate.quad(integrand, lo, hi, epsabs=0.0, epsrel=1e-13, limit=400)
        total += value
    return total


@builtin
def top_decay(m_top: float = M_TOP, m_b: float = 0.0, phase_space: str = "diet") -> Process:
    """t → b ℓ⁺ ν (one lepton flavour) with a Breit–Wigner W; massive b optional (``m_b``)."""
    if not 0 <= m_b < m_top - M_W:
        raise ValueError(f"m_b must be in [0, m_top − M_W) GeV, got {m_b}")
    g4 = _g2() ** 2

    def matrix_element(p: np.ndarray) -> np.ndarray:
        t, b, lep, nu = (p[:, i] for i in range(4))
        q = lep + nu
        s = mass2(q)
        return 2.0 * g4 * dot(t, lep) * dot(b, nu) / ((s - M_W**2) ** 2 + (M_W * WIDTH_W) ** 2)

    return Process(
        matrix_element,
        incoming=(m_top,),
        outgoing_masses=(m_b, 0.0, 0.0),
        sqrt_s=m_top,
        phase_space=phase_space,
        name="top_decay",
        particles=Particles(pdg_ids=(6, 5, -11, 12), colours=((501, 0), (501, 0), (0, 0), (0, 0))),
        exact=top_decay_reference(m_top, m_b),
        exact_error=0.0,
        description=(
            f"t -> b l+ nu via Breit-Wigner W (M_W={M_W}, Gamma_W={WIDTH_W}), m_t={m_top}, "
            f"m_b={m_b}; partial width in GeV"
        ),
    )
