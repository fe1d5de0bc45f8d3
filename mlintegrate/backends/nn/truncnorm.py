r"""Normal distributions truncated to a box [−L, L]: the exact squashing and the kernels.

The B-VAE's latent space is the box [−L, L]^d (L = ``bound``, 5 by default). Two pieces live here:

- the squashing y = Φ_L(z) = (Φ(z) − Φ(−L)) / Z_L, Z_L = Φ(L) − Φ(−L), an increasing bijection
  [−L, L] → [0, 1] with density φ_L(z) = φ(z) / Z_L (the standard normal truncated to the box).
  Without the truncation Φ saturates in float64 beyond |z| ≈ 8 and density(u) stops reproducing
  the sampling density; with it both directions are well conditioned. Each side is computed from
  the nearer tail (Φ(−|z|)), so no 1 − Φ cancellation occurs.
- Gaussian kernels N(μ, s²) truncated to the same box: log-density with the exact normaliser
  Z = Φ((L − μ)/s) − Φ((−L − μ)/s) (for μ inside the box a ≤ 0 ≤ b, so Z ≥ 1/2 · erf-like and
  never cancels), and inverse-CDF sampling from one uniform number per coordinate (again from the
  nearer tail).

All functions are elementwise in float64 torch tensors and broadcast.

>>> import torch
>>> z = torch.linspace(-5, 5, 11, dtype=torch.float64)
>>> bool(torch.allclose(squash_inverse(squash(z)), z, atol=1e-12))
True
"""

from __future__ import annotations

import math

import torch
from torch.special import log_ndtr, ndtr, ndtri

__all__ = [
    "log_normaliser",
    "sample_truncated",
    "squash",
    "squash_inverse",
    "squash_log_density",
    "truncated_log_density",
]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _box(bound: float) -> tuple[float, float]:
    """(Φ(−L), Z_L) as Python floats."""
    lo = float(ndtr(torch.tensor(-bound, dtype=torch.float64)))
    return lo, 1.0 - 2.0 * lo


def squash(z: torch.Tensor, bound: float = 5.0) -> torch.Tensor:
    """y = Φ_L(z) ∈ [0, 1] for z ∈ [−L, L] (elementwise)."""
    lo, width = _box(bound)
    neg = z < 0
    tail = (ndtr(torch.where(neg, z, -z)) - lo) / width  # mass between −L and −|z|, / Z_L
    return torch.where(neg, tail, 1.0 - tail)


def squash_inverse(y: torch.Tensor, bound: float = 5.0) -> torch.Tensor:
    """z = Φ_L⁻¹(y) ∈ [−L, L] for y ∈ [0, 1] (elementwise)."""
    lo, width = _box(bound)
    near = torch.minimum(y, 1.0 - y)
    t = ndtri(lo + near * width).clamp(-bound, 0.0)
    return torch.where(y < 0.5, t, -t)


def squash_log_density(z: torch.Tensor, bound: float = 5.0) -> torch.Tensor:
    """log φ_L(z) = −z²/2 − log √(2π) − log Z_L (elementwise): log dy/dz."""
    _, width = _box(bound)
    return -0.5 * z * z - _HALF_LOG_2PI - math.log(width)


def log_normaliser(mu: torch.Tensor, s: torch.Tensor, bound: float = 5.0) -> torch.Tensor:
    """log Z, Z = Φ((L − μ)/s) − Φ((−L − μ)/s), for μ ∈ [−L, L] and s > 0 (elementwise)."""
    a, b = (-bound - mu) / s, (bound - mu) / s  # a ≤ 0 ≤ b
    # Z = 1 − Φ(a) − Φ(−b): both tails are small numbers computed without cancellation
    return torch.log1p(-(torch.exp(log_ndtr(a)) + torch.exp(log_ndtr(-b))))


def truncated_log_density(
    z: torch.Tensor, mu: torch.Tensor, s: torch.Tensor, bound: float = 5.0
) -> torch.Tensor:
    """log N_L(z; μ, s²): the truncated normal's normalised log-density (elementwise)."""
    x = (z - mu) / s
    return -0.5 * x * x - _HALF_LOG_2PI - torch.log(s) - log_normaliser(mu, s, bound)


def sample_truncated(
    v: torch.Tensor, mu: torch.Tensor, s: torch.Tensor, bound: float = 5.0
) -> torch.Tensor:
    """Inverse CDF of N(μ, s²) truncated to [−L, L] at uniform numbers v ∈ [0, 1).

    With a, b the standardised box edges, the quantile is μ + s Φ⁻¹(Φ(a) + v Z); it is taken
    from the lower tail when that probability is below 1/2 and from the upper tail
    (−Φ⁻¹(Φ(−b) + (1 − v) Z)) otherwise, so neither side loses digits.
    """
    a, b = (-bound - mu) / s, (bound - mu) / s
    pa, pb = ndtr(a), ndtr(-b)  # Φ(a), 1 − Φ(b)
    width = 1.0 - pa - pb
    lower = pa + v * width
    upper = pb + (1.0 - v) * width
    t = torch.where(lower < 0.5, ndtri(lower), -ndtri(upper))
    return (mu + s * t).clamp(-bound, bound)
