r"""Monotonic rational-quadratic splines on [0, 1] (Durkan et al. 2019, arXiv:1906.04032).

A spline with K bins is fixed by K+1 knots 0 = x_0 < … < x_K = 1 (abscissae),
0 = y_0 < … < y_K = 1 (ordinates) and K+1 derivatives δ_k > 0 at the knots. In bin k, with
w_k = x_{k+1} − x_k, h_k = y_{k+1} − y_k, s_k = h_k / w_k and ξ = (x − x_k)/w_k ∈ [0, 1],

    y(x) = y_k + h_k [s_k ξ² + δ_k ξ(1−ξ)] / [s_k + (δ_{k+1} + δ_k − 2 s_k) ξ(1−ξ)],

    dy/dx = s_k² [δ_{k+1} ξ² + 2 s_k ξ(1−ξ) + δ_k (1−ξ)²] / [s_k + (δ_{k+1} + δ_k − 2 s_k) ξ(1−ξ)]²,

which is strictly increasing and maps [x_k, x_{k+1}] onto [y_k, y_{k+1}]; the inverse solves
a quadratic in ξ. The whole map sends [0, 1] onto [0, 1] with both endpoints fixed exactly
(the first knot is exactly 0; the last, a cumulative sum equal to 1 up to round-off, is pinned
by mapping 1 ↦ 1 explicitly).

The knots come from unconstrained parameters (the output of a network):
widths = m_w + (1 − K m_w) softmax(θ_w), heights likewise with m_h, and
δ = m_δ + softplus(θ_δ + c) with c chosen so that θ_δ = 0 gives δ = 1. All-zero parameters
therefore give equal bins, s_k = 1 and δ_k = 1: the identity map. The boundary derivatives
δ_0 and δ_K are free, so the density may differ from 1 at the edges of the cube.

Inputs are clamped into [0, 1] first (a float64 round-off outside the cube must not leave
the domain), outputs are clamped as well. Use float64: this is integration, and the inverse
must reproduce the input to ~1e-12.

>>> import torch
>>> x = torch.tensor([0.0, 0.3, 1.0], dtype=torch.float64)
>>> zeros = torch.zeros(3, 4, dtype=torch.float64)
>>> y, logdet = rq_spline(x, zeros, zeros, torch.zeros(3, 5, dtype=torch.float64))
>>> y.tolist(), logdet.abs().max().item() < 1e-12
([0.0, 0.3, 1.0], True)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "MIN_BIN_HEIGHT",
    "MIN_BIN_WIDTH",
    "MIN_DERIVATIVE",
    "n_spline_params",
    "rq_spline",
    "split_spline_params",
]

MIN_BIN_WIDTH = 1e-4
MIN_BIN_HEIGHT = 1e-4
MIN_DERIVATIVE = 1e-4


def n_spline_params(bins: int) -> int:
    """Unconstrained parameters per transformed coordinate: K widths, K heights, K+1 slopes."""
    return 3 * bins + 1


def split_spline_params(
    params: torch.Tensor, bins: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(..., 3K+1) → widths (..., K), heights (..., K), derivatives (..., K+1) (views)."""
    if params.shape[-1] != n_spline_params(bins):
        raise ValueError(
            f"spline parameters have last dimension {params.shape[-1]}, expected "
            f"3*bins+1 = {n_spline_params(bins)} for bins={bins}"
        )
    w, h, d = torch.split(params, [bins, bins, bins + 1], dim=-1)
    return w, h, d


def _derivatives(raw: torch.Tensor, min_derivative: float) -> torch.Tensor:
    """δ = m + softplus(θ + c) > 0, with c such that θ = 0 gives δ = 1."""
    shift = math.log(math.expm1(1.0 - min_derivative))
    return min_derivative + F.softplus(raw + shift)


def _cumulative(raw: torch.Tensor, min_size: float, dtype: torch.dtype):
    """Knot j = m·j + scale·c_j of the bins m + (1 − K m) softmax(raw), raw (..., K).

    Returns (c, scale): c (..., K+1) with c_j = Σ_{i<j} e_i, e = exp(raw − max raw) in
    ``dtype``, and scale (..., 1) = (1 − K m) / Σ e. Knot 0 is exactly 0, knot K is 1 up to
    round-off; every bin is at least m wide, far above round-off, so the knots increase
    strictly. The sums are one ``torch.cumsum`` pass; the maximum is taken before the cast
    (a cast of a float32 maximum is exact).
    """
    e = torch.exp(raw.to(dtype) - raw.detach().amax(dim=-1, keepdim=True).to(dtype))
    c = F.pad(torch.cumsum(e, dim=-1), (1, 0))
    return c, (1.0 - raw.shape[-1] * min_size) / c[..., -1:]


def _knots_at(
    c: torch.Tensor, scale: torch.Tensor, min_size: float, idx: torch.Tensor
) -> torch.Tensor:
    """The knots with indices ``idx`` (..., m) from :func:`_cumulative`'s (c, scale)."""
    return torch.gather(c, -1, idx) * scale + min_size * idx.to(c.dtype)


def rq_spline(
    x: torch.Tensor,
    widths: torch.Tensor,
    heights: torch.Tensor,
    derivatives: torch.Tensor,
    inverse: bool = False,
    min_bin_width: float = MIN_BIN_WIDTH,
    min_bin_height: float = MIN_BIN_HEIGHT,
    min_derivative: float = MIN_DERIVATIVE,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the spline (or its inverse) elementwise.

    Args:
        x: points, any shape S (clamped into [0, 1]).
        widths, heights: unconstrained bin parameters, shape S + (K,).
        derivatives: unconstrained knot slopes, shape S + (K+1,).
        inverse: apply y ↦ x instead of x ↦ y.
        min_bin_width, min_bin_height, min_derivative: lower bounds (K·min < 1).

    Returns:
        (out, logdet), both of shape S: out = y(x) and log dy/dx, or with ``inverse``
        out = x(y) and log dx/dy = −log dy/dx at x(y).
    """
    bins = widths.shape[-1]
    if heights.shape[-1] != bins or derivatives.shape[-1] != bins + 1:
        raise ValueError(
            f"spline with {bins} bins needs {bins} heights and {bins + 1} derivatives, got "
            f"{heights.shape[-1]} and {derivatives.shape[-1]}"
        )
    if max(min_bin_width, min_bin_height) * bins >= 1.0:
        raise ValueError(f"minimal bin sizes times {bins} bins must be < 1")
    dtype = x.dtype
    inp = x.clamp(0.0, 1.0)
    # The side searched (x knots forward, y knots inverse) needs all its knots; the other one
    # only the two ends of the bin found, each m·k + scale·c_k (:func:`_bins`).
    search, other = (heights, widths) if inverse else (widths, heights)
    m_search, m_other = (
        (min_bin_height, min_bin_width) if inverse else (min_bin_width, min_bin_height)
    )
    c_s, scale_s = _cumulative(search, m_search, dtype)
    j = torch.arange(1, bins, dtype=dtype, device=x.device)
    interior = (c_s[..., 1:-1] * scale_s + m_search * j).detach()  # knots 1 … K−1
    idx = torch.searchsorted(interior, inp.unsqueeze(-1), right=True)  # S + (1,), in [0, K-1]
    idx = torch.cat([idx, idx + 1], dim=-1)  # both ends of the bin
    ends_search = _knots_at(c_s, scale_s, m_search, idx)
    ends_other = _knots_at(*_cumulative(other, m_other, dtype), m_other, idx)
    xs, ys = (ends_other, ends_search) if inverse else (ends_search, ends_other)
    d = _derivatives(torch.gather(derivatives, -1, idx).to(dtype), min_derivative)
    xk, yk, dk, dk1 = xs[..., 0], ys[..., 0], d[..., 0], d[..., 1]
    wk, hk = xs[..., 1] - xk, ys[..., 1] - yk
    sk = hk / wk
    curv = dk1 + dk - 2.0 * sk

    if inverse:
        dy = inp - yk
        a = hk * (sk - dk) + dy * curv
        b = hk * dk - dy * curv
        c = -sk * dy
        disc = (b * b - 4.0 * a * c).clamp_min(0.0)
        xi = ((2.0 * c) / (-b - torch.sqrt(disc))).clamp(0.0, 1.0)
    else:
        xi = ((inp - xk) / wk).clamp(0.0, 1.0)

    xi1 = xi * (1.0 - xi)
    den = sk + curv * xi1
    log_deriv = (
        2.0 * torch.log(sk)
        + torch.log(dk1 * xi * xi + 2.0 * sk * xi1 + dk * (1.0 - xi) ** 2)
        - 2.0 * torch.log(den)
    )
    # The last knot is 1 up to round-off of the cumulative sum: pin the endpoint x = 1 ↦ 1.
    top = inp >= 1.0
    if inverse:
        out = torch.where(top, 1.0, (xk + xi * wk).clamp(0.0, 1.0))
        return out, -log_deriv
    out = torch.where(top, 1.0, (yk + hk * (sk * xi * xi + dk * xi1) / den).clamp(0.0, 1.0))
    return out, log_deriv
