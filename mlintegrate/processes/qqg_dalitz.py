r"""Exact Dalitz inversion for e+e− → q q̄ g: (y₁₃, y₂₃) drawn from the averaged |M|².

Averaged over the beam direction, |M|² ∝ (x₁² + x₂²) / (y₁₃ y₂₃) with x₁ = 1 − y₂₃,
x₂ = 1 − y₁₃. On the cut region R = {y_ij ≥ m for every pair} (m = y_min) the density

    p(a, b) = g(a, b) / Z,   g(a, b) = ((1 − a)² + (1 − b)²) / (a b),   a = y₁₃, b = y₂₃,

is sampled exactly by inverse CDFs: a from its marginal, then b given a.

- Marginal: g_a(a) = ∫_m^{c−a} g db = (1/a) [(1 + (1 − a)²) ln((c − a)/m) − 2(c − a − m)
  + ((c − a)² − m²)/2], c = 1 − m; its CDF Φ(a) − Φ(m) is closed-form with one dilogarithm
  (see :func:`_marginal_primitive`), Z = Φ(1 − 2m) − Φ(m).
- Conditional: F(b | a) = [(1 + x₂²) ln(b/m) − 2(b − m) + (b² − m²)/2] / (a g_a(a)).

Both are inverted by safeguarded Newton steps in log a, log b
(:func:`~mlintegrate.phasespace.monotone.invert_increasing`), so the density of the map
applied is p(a, b) at the point it returns. The bijection sends v ∈ [0,1]⁵ to the
coordinates u of :func:`~mlintegrate.phasespace.three_body_dalitz` (a = m + t u₀,
b = m + t (1 − u₀) u₁, t = 1 − 3m); the three orientation coordinates pass unchanged:

    log|det ∂u/∂v| = −log p(a, b) − log(t (c − m − a)).

Chained before the Dalitz map, f · Jacobian no longer depends on (v₀, v₁) at all for the
beam-averaged |M|²; only the orientation is left (:mod:`.qqg_orientation`).

>>> import numpy as np
>>> T = DalitzInversionMap(y_min=0.01)
>>> v = np.random.default_rng(0).random((3, 5))
>>> u, logj = T.forward(v)
>>> v2, logj_inv = T.inverse(u)
>>> bool(np.allclose(v2, v, atol=1e-12)), bool(np.allclose(logj + logj_inv, 0.0))
(True, True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import spence

from ..backends.bijections import Bijection
from ..phasespace import DALITZ_DIM
from ..phasespace.monotone import invert_increasing
from ..validate import number_in

__all__ = ["DalitzInversionMap", "check_y_min"]


def check_y_min(y_min: Any) -> float:
    """y_min as a float in (0, 1/3): the density 1/(y₁₃ y₂₃) needs a cut to be integrable."""
    return number_in(
        "y_min", y_min, 0.0, 1.0 / 3.0, "the s_ij/s cut, e.g. 0.01", open_low=True, open_high=True
    )


class DalitzInversionMap(Bijection):
    """v → Dalitz coordinates u with (y₁₃, y₂₃) ~ (x₁² + x₂²)/(y₁₃ y₂₃) on y_ij ≥ y_min."""

    name = "qqg_dalitz_inversion"

    def __init__(self, y_min: float = 0.01):
        super().__init__(DALITZ_DIM)
        self.y_min = check_y_min(y_min)
        m = self.y_min
        self._c, self._t = 1.0 - m, 1.0 - 3.0 * m
        self._phi_low = float(self._marginal_primitive(np.array([m]))[0])
        self.norm = float(self._marginal_primitive(np.array([1.0 - 2.0 * m]))[0]) - self._phi_low
        # a table of the CDF in log a: only the starting points of the Newton solves
        self._guess_log_a = np.linspace(math.log(m), math.log(1.0 - 2.0 * m), 257)
        cdf = self._marginal_primitive(np.exp(self._guess_log_a)) - self._phi_low
        self._guess_cdf = np.maximum.accumulate(cdf / self.norm)

    # ------------------------------------------------------------------ the densities
    def _marginal_primitive(self, a: np.ndarray) -> np.ndarray:
        """Φ(a) with Φ'(a) = g_a(a) (module docstring)."""
        m, c = self.y_min, self._c
        t = c - a
        log_a, log_t = np.log(a), np.log(t)
        # ∫ (2/a − 2 + a) ln(c − a) da, term by term
        part = 2.0 * (math.log(c) * log_a - spence(1.0 - a / c))
        part += 2.0 * (t * log_t - t)
        part += -c * (t * log_t - t) + 0.5 * t * t * log_t - 0.25 * t * t
        # −ln m ∫ (2/a − 2 + a) da and ∫ [−2(c − a − m) + ((c − a)² − m²)/2] / a da
        part -= math.log(m) * (2.0 * log_a - 2.0 * a + 0.5 * a * a)
        k3 = 0.5 * (c * c - m * m) - 2.0 * (c - m)
        return part + k3 * log_a + (2.0 - c) * a + 0.25 * a * a

    def _marginal(self, a: np.ndarray) -> np.ndarray:
        """g_a(a) = ∫ g(a, b) db over the allowed b (> 0 inside, 0 at a = 1 − 2m)."""
        m, c = self.y_min, self._c
        top = c - a
        bracket = (1.0 + (1.0 - a) ** 2) * np.log(top / m) - 2.0 * (top - m)
        return (bracket + 0.5 * (top * top - m * m)) / a

    def _conditional_cdf(self, b: np.ndarray, x2: np.ndarray) -> np.ndarray:
        """a g_a(a) · F(b | a) = (1 + x₂²) ln(b/m) − 2(b − m) + (b² − m²)/2."""
        m = self.y_min
        return (1.0 + x2 * x2) * np.log(b / m) - 2.0 * (b - m) + 0.5 * (b * b - m * m)

    def log_density(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """log p(a, b) on the cut region (normalised to 1)."""
        return np.log(((1.0 - a) ** 2 + (1.0 - b) ** 2) / (a * b * self.norm))

    # ------------------------------------------------------------------ the map
    def sample_invariants(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(v₀, v₁) (n, 2) → (y₁₃, y₂₃) by the two inverse CDFs."""
        m, c = self.y_min, self._c
        a_max = 1.0 - 2.0 * m
        target = self._phi_low + np.clip(v[:, 0], 0.0, 1.0) * self.norm

        def marginal(log_a: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            a = np.exp(log_a)
            return self._marginal_primitive(a), a * self._marginal(a)

        start = np.interp(np.clip(v[:, 0], 0.0, 1.0), self._guess_cdf, self._guess_log_a)
        log_a = invert_increasing(marginal, target, math.log(m), math.log(a_max), x0=start)
        a = np.exp(log_a)
        a = np.clip(a, m, a_max)
        x2 = 1.0 - a
        top = c - a
        total = self._conditional_cdf(top, x2)
        goal = np.clip(v[:, 1], 0.0, 1.0) * total

        def conditional(log_b: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            b = np.exp(log_b)
            return self._conditional_cdf(b, x2[idx]), (1.0 - b) ** 2 + x2[idx] ** 2

        low, high = math.log(m), np.log(top)
        start = low + (high - low) * np.clip(v[:, 1], 0.0, 1.0)  # F is nearly linear in log b
        b = np.exp(invert_increasing(conditional, goal, low, high, x0=start))
        return a, np.clip(b, m, top)

    def forward(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = np.asarray(y, dtype=np.float64)
        a, b = self.sample_invariants(y)
        m, t = self.y_min, self._t
        u = np.array(y)
        width = self._c - m - a  # = t (1 − u₀), the range of b
        u[:, 0] = (a - m) / t
        with np.errstate(divide="ignore", invalid="ignore"):
            u[:, 1] = np.where(width > 0.0, (b - m) / width, 0.0)
            logj = -self.log_density(a, b) - np.log(t * width)
        np.clip(u[:, :2], 0.0, 1.0, out=u[:, :2])
        return u, logj

    def inverse(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = np.asarray(u, dtype=np.float64)
        m, t = self.y_min, self._t
        a = m + t * u[:, 0]
        width = t * (1.0 - u[:, 0])
        b = m + width * u[:, 1]
        y = np.array(u)
        with np.errstate(divide="ignore", invalid="ignore"):
            y[:, 0] = (self._marginal_primitive(a) - self._phi_low) / self.norm
            total = self._conditional_cdf(self._c - a, 1.0 - a)
            y[:, 1] = np.where(width > 0.0, self._conditional_cdf(b, 1.0 - a) / total, 0.0)
            logj = self.log_density(a, b) + np.log(t * width)
        np.clip(y[:, :2], 0.0, 1.0, out=y[:, :2])
        return y, logj

    def config(self) -> dict[str, Any]:
        return {"y_min": self.y_min}
