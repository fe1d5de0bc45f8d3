r"""The B-VAE's latent density: the N(0, 1) prior mixed with a buffer of truncated Gaussians.

On the latent box [−L, L]^d (:mod:`.truncnorm`)

    p(z) = η Π_j φ_L(z_j) + (1 − η) Σ_i w_i Π_j N_L(z_j; μ_ij, s_ij²),     Σ_i w_i = 1,

with μ_i the encoded buffer points and s_ij = α σ_ij their widths. What the decoder needs is the
ratio to the prior, r(z) = p(z) / Π_j φ_L(z_j) (the density of y = Φ_L(z) on the cube), so the
prior term is exactly η whatever z is, and

    log r(z) = logsumexp(log η, log(1 − η) + log w_i + Σ_j ℓ_ij(z)),
    ℓ_ij(z) = log N_L(z_j; μ_ij, s_ij²) − log φ_L(z_j)
            = z_j² (1/2 − 1/(2 s_ij²)) + z_j μ_ij / s_ij² + c_ij,

whose sums over j for n points and K components are two (n, d) × (d, K) matrix products
(``log_ratio``); :func:`log_ratio_direct` is the plain (n, K, d) evaluation the tests compare
with. Cost: about 2 d multiply-adds per point and component.

Shapes: z (n, d); μ, s (K, d); log_w (K,); results (n,).
"""

from __future__ import annotations

import math

import torch

from .truncnorm import log_normaliser, squash_log_density, truncated_log_density

__all__ = ["component_terms", "log_ratio", "log_ratio_direct"]

_CHUNK = 256  # points per (n, K) block: 256 × 4096 float64 = 8 MiB, about a cache's size


def component_terms(
    mu: torch.Tensor, s: torch.Tensor, bound: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(A, B, c) with Σ_j ℓ_ij(z) = (z²) Aᵀ + z Bᵀ + c: A, B (K, d), c (K,)."""
    inv = 1.0 / (s * s)
    a = 0.5 - 0.5 * inv
    b = mu * inv
    log_zl = -squash_log_density(torch.zeros((), dtype=mu.dtype), bound) - 0.5 * math.log(
        2.0 * math.pi
    )  # log Z_L
    c = (-0.5 * mu * mu * inv - torch.log(s) - log_normaliser(mu, s, bound) + log_zl).sum(dim=1)
    return a, b, c


def log_ratio(
    z: torch.Tensor,
    mu: torch.Tensor,
    s: torch.Tensor,
    log_w: torch.Tensor,
    eta: float,
    bound: float = 5.0,
    exclude: torch.Tensor | None = None,
) -> torch.Tensor:
    """log r(z) (n,) (module docstring), by matrix products in chunks of points.

    ``exclude`` (n, K) bool drops components per point (leave-one-out), renormalising the
    remaining buffer weights of that point; ``log_w`` are the log buffer weights (sum to 1).
    """
    a, b, c = component_terms(mu, s, bound)
    # one matrix product per chunk: [z², z, 1] (n, 2d + 1) × [A, B, c + log w]ᵀ (2d + 1, K)
    weights = torch.cat([a, b, (c + log_w)[:, None]], dim=1).T.contiguous()
    log_eta = math.log(eta) if eta > 0 else -math.inf
    log_rest = math.log1p(-eta) if eta < 1 else -math.inf
    out = z.new_empty(z.shape[0])
    for lo in range(0, z.shape[0], _CHUNK):
        zc = z[lo : lo + _CHUNK]
        feats = torch.cat([zc * zc, zc, torch.ones_like(zc[:, :1])], dim=1)
        terms = feats @ weights  # (n, K)
        if exclude is not None:
            ex = exclude[lo : lo + _CHUNK]
            terms = terms.masked_fill(ex, -math.inf)
            kept = 1.0 - (ex.to(log_w.dtype) * log_w.exp()).sum(dim=1)
            terms = terms - torch.log(kept.clamp_min(1e-300))[:, None]
        buffer = _logsumexp_rows(terms) + log_rest
        out[lo : lo + _CHUNK] = torch.logaddexp(buffer, torch.full_like(buffer, log_eta))
    return out


def _logsumexp_rows(terms: torch.Tensor) -> torch.Tensor:
    """log Σ_k exp(terms[:, k]), (n,): in place when no gradient is needed (2 passes, no copies)."""
    if terms.requires_grad:
        return torch.logsumexp(terms, dim=1)
    top = terms.max(dim=1).values
    safe = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    return torch.log(terms.sub_(safe[:, None]).exp_().sum(dim=1)) + safe


def log_ratio_direct(
    z: torch.Tensor,
    mu: torch.Tensor,
    s: torch.Tensor,
    log_w: torch.Tensor,
    eta: float,
    bound: float = 5.0,
) -> torch.Tensor:
    """The same log r(z) evaluated term by term ((n, K, d) tensors): the tests' reference."""
    dens = truncated_log_density(z[:, None, :], mu[None], s[None], bound).sum(dim=2)
    prior = squash_log_density(z, bound).sum(dim=1)
    comp = torch.exp(dens + log_w[None]).sum(dim=1)
    return torch.log(eta * torch.exp(prior) + (1.0 - eta) * comp) - prior
