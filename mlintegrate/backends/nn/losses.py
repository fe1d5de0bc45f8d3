r"""Training losses of a proposal q_θ on weighted batches, as pure functions.

Every loss takes a batch of points u_i drawn from *some* sampling density q_s (not
necessarily q_θ: buffered points were drawn from earlier proposals) as three tensors of
shape (n,):

- ``f``: integrand values f(u_i) (signed allowed: the losses use |f|),
- ``q_sample``: q_s(u_i), the density each point was drawn with,
- ``log_q``: log q_θ(u_i), the model's log-density (carries the gradient).

With w_i = |f_i| / q_s(u_i), Σ_i w_i g(u_i) / n estimates ∫ |f| g for any g whatever
q_s was, so mixing points from several proposals in one batch is fine.

- :func:`kl_loss`: forward KL(p ∥ q_θ) with p = |f|/∫|f|, up to a θ-independent
  constant: −Σ w_i log q_θ(u_i) / Σ w_i (a weighted maximum likelihood).
- :func:`variance_loss`: log of the normalised second moment of the weights f/q_θ,
  log(E_{q_s}[f² / (q_θ q_s)] / I²) = log(1 + rsd_θ²), I = E_{q_s}[w]. Its minimum is the
  minimum-variance proposal q ∝ |f|; the log makes the gradient scale-free: it is a weighted
  maximum-likelihood gradient with weights ∝ f² / (q_θ q_s).
- :func:`mixed_loss`: (1 − α) KL + α variance (both gradients are averages of −∇log q_θ,
  so they have the same scale).

:func:`reweighted_rsd` is the validation figure: the rsd that q_θ would have, estimated
on points drawn from q_s.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["LOSSES", "kl_loss", "mixed_loss", "reweighted_rsd", "variance_loss"]


def _weights(f: torch.Tensor, q_sample: torch.Tensor) -> torch.Tensor:
    return f.abs() / q_sample


def kl_loss(f: torch.Tensor, q_sample: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """−Σ w log q_θ / Σ w, w = |f|/q_s: KL(|f|/I ∥ q_θ) up to a constant. Scalar."""
    w = _weights(f, q_sample)
    return -(w * log_q).sum() / w.sum()


def _log_second_moment(
    f: torch.Tensor, q_sample: torch.Tensor, log_q: torch.Tensor
) -> torch.Tensor:
    """log(mean(w² q_s/q_θ) / mean(w)²), computed in log space (no overflow)."""
    w = _weights(f, q_sample)
    nonzero = w > 0
    if not bool(nonzero.any()):
        raise ValueError("the batch has f = 0 at every point: no loss can be formed")
    logw = torch.log(w[nonzero])
    terms = 2.0 * logw + torch.log(q_sample[nonzero]) - log_q[nonzero]
    n = f.shape[0]
    log_mean_w = torch.logsumexp(logw, dim=0) - math.log(n)
    return torch.logsumexp(terms, dim=0) - math.log(n) - 2.0 * log_mean_w


def variance_loss(f: torch.Tensor, q_sample: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """log(E_{q_s}[f²/(q_θ q_s)] / I²) = log(1 + rsd_θ²), I = E_{q_s}[|f|/q_s]. Scalar."""
    return _log_second_moment(f, q_sample, log_q)


def mixed_loss(
    f: torch.Tensor, q_sample: torch.Tensor, log_q: torch.Tensor, alpha: float = 0.5
) -> torch.Tensor:
    """(1 − α) · KL + α · variance loss. Scalar."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    return (1.0 - alpha) * kl_loss(f, q_sample, log_q) + alpha * variance_loss(f, q_sample, log_q)


def reweighted_rsd(f: torch.Tensor, q_sample: torch.Tensor, log_q: torch.Tensor) -> float:
    """Estimated rsd of the weights |f|/q_θ under q_θ, from points drawn from q_s.

    rsd² = E_{q_s}[f²/(q_θ q_s)] / I² − 1 with I = mean(|f|/q_s) (clipped at 0). When
    q_θ = q_s this is the plain sample rsd of the weights (with 1/n normalisation).
    """
    with torch.no_grad():
        log_m2 = float(_log_second_moment(f, q_sample, log_q))
    return math.sqrt(max(math.expm1(log_m2), 0.0))


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "kl": kl_loss,
    "variance": variance_loss,
    "mix": mixed_loss,
}
