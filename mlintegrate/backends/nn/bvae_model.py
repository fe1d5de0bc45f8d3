r"""The B-VAE as an exact density model: an invertible decoder over a buffer-mixture latent.

Decoder (a bijection, so the density is exact):

    z ∈ [−L, L]^d  ──Φ_L──►  y ∈ [0, 1]^d  ──T──►  u ∈ [0, 1]^d,

Φ_L the truncated normal CDF (:mod:`.truncnorm`), T a spline :class:`~.coupling.CouplingFlow`.
Encoder: μ = g⁻¹(u) = Φ_L⁻¹(T⁻¹(u)) exactly (the decoder inverted), and per-coordinate widths σ
from the β-VAE loss (1 − β)·E‖g(z) − u‖² + β·KL(N(μ, σ²) ∥ N(0, 1)). With the decoder linearised
around μ (small noise) that loss is minimised in closed form:

    σ_j² = β / (β + 2 (1 − β) ‖∂u/∂z_j‖²)

(the amortised encoder head's optimum; a prototype's trained head matched it to a median ratio
0.91, so the closed form replaces the head: no extra network, no second loss).

Latent density (:mod:`.latent`): p(z) = η·prior + (1 − η)·(1/K) Σ_i N_L(μ_i, (α σ_i)²) over the K
*anchors*: points of the trainer's buffer resampled ∝ |f|/q_s after each training step (so they
represent the target, not the proposal), encoded with the current decoder. Then

    log q(u) = log r(Φ_L⁻¹(y)) + log|det ∂T⁻¹/∂u|,    y = T⁻¹(u),   r = p / Π φ_L,

exact for any anchors and widths, since both are fixed numbers between refreshes. With η = 1
this is exactly the coupling flow.

How the decoder learns (``fit``):

- ``"prior"``: the decoder is trained as a plain flow (r ≡ 1) by the shared trainer's losses;
  the buffer is built after each step (the prototype's construction).
- ``"mixture"`` (VampPrior-like): the trainer's loss sees the full mixture density, the anchors
  encoded *with* gradient and the bandwidth α learned; each point's own kernel is left out
  (leave-one-out), so α cannot collapse onto the training points.

``learn_eta=True`` sets η before each training step to the variance-optimal weight of the two
components prior and buffer (multi-channel weight optimisation, Kleiss & Pittau,
hep-ph/9405257, for two channels): with q_p(u) = |det ∂g⁻¹/∂u| (the decoder alone) and
q_b(u) = q_p(u)·r_b(g⁻¹(u)) (the buffer alone), the second moment of the weights

    M(η) = ∫ f² / q_η = E_{q_s}[f² / (q_η q_s)],     q_η = η q_p + (1 − η) q_b,

is convex in η; it is estimated on the new batch (points the anchors have not seen: they were
drawn from the buffer before it, so no point meets its own kernel) and minimised over
[``ETA_FLOOR``, 1] by golden-section search; the minimum replaces the current η only where it
lowers the estimate by more than ``SIGNIFICANCE`` standard errors of the paired per-point
difference (else the batch's noise chose it). η is fixed between steps, so every density stays
exact. The buffer thus keeps the weight it earns in variance: where the decoder alone is as
good (a flat target, or one the decoder maps onto the prior), η goes to 1 and the B-VAE is its
decoder, a flow; the buffer term is still evaluated on every batch, so its weight comes back
when it would lower the variance. The prior keeps ≥ ``ETA_FLOOR``: the buffer alone is a lumpy
kernel estimate with holes. (The multiplicative rule η ∝ η √W_p moves only slowly when
W_p ≈ W_b, which is the common case here: 0.5 → 0.70 in 8 batches on a flat target.)

``memory=True`` keeps the anchors as a mode memory: each refresh resamples from the trainer's
buffer *and* the previous anchors, so a region found early (by the defensive component or a
wide early proposal) survives after the FIFO buffer has dropped its points.

Sampling consumes d + 1 uniform numbers per point: one picks the component (prior or anchor i
by inverse CDF of the weights), d give the coordinates (y = v for the prior, inverse-CDF
truncated normals for an anchor).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .coupling import CouplingFlow
from .latent import log_ratio
from .truncnorm import sample_truncated, squash, squash_inverse, squash_log_density

__all__ = ["ETA_FLOOR", "BVAEModel", "closed_form_widths", "optimal_eta"]

FITS = ("prior", "mixture")
WIDTHS = ("closed", "unit")
ETA_FLOOR = 0.01  # with learn_eta, the prior keeps at least this weight
SIGNIFICANCE = 2.0  # standard errors by which a new η must lower the batch's second moment
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def optimal_eta(
    q_p: np.ndarray, q_b: np.ndarray, q_s: np.ndarray, f: np.ndarray, current: float = 1.0
) -> float:
    """argmin over η ∈ [ETA_FLOOR, 1] of the estimate Σ f²/(q_η q_s) (module docstring), by
    golden-section search (M is convex in η); arrays (n,). The minimum replaces ``current``
    only where it lowers the estimate by more than ``SIGNIFICANCE`` standard errors of the
    paired per-point difference: otherwise the batch cannot tell the two apart, and ``current``
    is returned (so on a flat target η = 1 stays exactly 1)."""
    ok = (f != 0) & (q_s > 0)
    a = (f[ok] / q_s[ok]) * (f[ok] / q_s[ok].max())  # f²/q_s, scaled against overflow
    qp, qb = q_p[ok], q_b[ok]

    def moment(eta: float) -> float:
        return float(np.sum(a / (eta * qp + (1.0 - eta) * qb)))

    lo, hi = ETA_FLOOR, 1.0
    x1, x2 = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    m1, m2 = moment(x1), moment(x2)
    while hi - lo > 1e-4:
        if m1 <= m2:
            hi, x2, m2 = x2, x1, m1
            x1 = hi - _GOLDEN * (hi - lo)
            m1 = moment(x1)
        else:
            lo, x1, m1 = x1, x2, m2
            x2 = lo + _GOLDEN * (hi - lo)
            m2 = moment(x2)
    best = min((moment(x), x) for x in (ETA_FLOOR, 0.5 * (lo + hi), 1.0))[1]
    diff = a / (best * qp + (1.0 - best) * qb) - a / (current * qp + (1.0 - current) * qb)
    if diff.size < 2 or not diff.mean() < -SIGNIFICANCE * diff.std(ddof=1) / math.sqrt(diff.size):
        return current
    return best


def closed_form_widths(jac_col_sq: torch.Tensor, beta: float) -> torch.Tensor:
    """σ (K, d) from ‖∂u/∂z_j‖² (K, d): σ_j² = β / (β + 2 (1 − β) ‖∂u/∂z_j‖²)."""
    return torch.sqrt(beta / (beta + 2.0 * (1.0 - beta) * jac_col_sq))


class BVAEModel(nn.Module):
    """Invertible decoder over the buffer-mixture latent (module docstring).

    Args:
        dim: d. components: K anchors. eta: prior weight η ∈ [0, 1]. alpha: width factor α
        (the initial value when ``fit="mixture"`` learns it). beta: β ∈ (0, 1] of the widths.
        widths: "closed" (closed-form σ) or "unit" (σ = 1: a kernel density estimate of
        bandwidth α). fit: "prior" or "mixture". memory: anchors as a mode memory. bound: L.
        learn_eta: adapt η by the multi-channel rule (``eta`` is then its initial value).
        n_layers, bins, hidden, depth: the coupling decoder. seed: initial weights.
    """

    def __init__(
        self,
        dim: int,
        components: int = 1024,
        eta: float = 0.9,
        alpha: float = 1.0,
        beta: float = 0.01,
        widths: str = "closed",
        fit: str = "prior",
        memory: bool = False,
        bound: float = 5.0,
        learn_eta: bool = False,
        n_layers: int | None = None,
        bins: int = 16,
        hidden: int = 64,
        depth: int = 2,
        seed: int = 0,
    ):
        super().__init__()
        if fit not in FITS or widths not in WIDTHS:
            raise ValueError(f"fit must be one of {FITS}, widths one of {WIDTHS}")
        self.dim, self.components = int(dim), int(components)
        self.beta, self.widths, self.fit = float(beta), widths, fit
        self.memory, self.bound, self.learn_eta = bool(memory), float(bound), bool(learn_eta)
        self.register_buffer("eta_t", torch.tensor(float(eta), dtype=torch.float64))  # η
        self.decoder = CouplingFlow(dim, n_layers, bins, hidden, depth, seed=seed)
        log_alpha = torch.tensor(math.log(alpha), dtype=torch.float64)
        if fit == "mixture":
            self.log_alpha = nn.Parameter(log_alpha)
        else:
            self.register_buffer("log_alpha", log_alpha)
        k, d = self.components, self.dim
        f64 = {"dtype": torch.float64}
        self.register_buffer("anchors", torch.full((k, d), 0.5, **f64))  # anchor points u_i
        self.register_buffer("anchor_w", torch.zeros(k, **f64))  # their |f|/q_s
        self.register_buffer("mu", torch.zeros(k, d, **f64))  # encoded anchors
        self.register_buffer("sigma", torch.ones(k, d, **f64))  # encoder widths
        self.register_buffer("ready", torch.zeros((), **f64))  # 1 once anchors exist

    @property
    def latent_dim(self) -> int:
        """Uniform numbers per sampled point: one for the component, d for the coordinates."""
        return self.dim + 1

    @property
    def alpha(self) -> float:
        return float(self.log_alpha.detach().exp())

    @property
    def eta(self) -> float:
        """The prior weight η (fixed between training steps)."""
        return float(self.eta_t)

    @property
    def is_ready(self) -> bool:
        return bool(self.ready > 0)

    def _eta(self) -> float:
        return self.eta if self.is_ready else 1.0

    def _log_w(self) -> torch.Tensor:
        return torch.full((self.components,), -math.log(self.components), dtype=torch.float64)

    def _scales(self) -> torch.Tensor:
        return self.sigma * self.log_alpha.exp()

    # ------------------------------------------------------------------ density and sampling
    def latent_log_ratio(self, z: torch.Tensor) -> torch.Tensor:
        """log r(z) = log p(z) − Σ_j log φ_L(z_j), (n,), with the stored anchors."""
        if not self.is_ready:
            return z.new_zeros(z.shape[0])
        return log_ratio(z, self.mu, self._scales(), self._log_w(), self.eta, self.bound)

    def encode(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ = g⁻¹(u), log|det ∂y/∂u|) for u (n, d): the exact encoder mean."""
        y, logdet = self.decoder.inverse(u)
        return squash_inverse(y, self.bound), logdet

    def log_prob(self, u: torch.Tensor) -> torch.Tensor:
        """The exact normalised log q(u), (n,)."""
        z, logdet = self.encode(u)
        return self.latent_log_ratio(z) + logdet

    def sample(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """v (n, d + 1) uniform → (u, log q(u)), shapes (n, d), (n,)."""
        pick, y = v[:, 0], v[:, 1:].clone()
        z = squash_inverse(y, self.bound)
        if self.is_ready and self.eta < 1.0:
            edges = (
                self.eta
                + (1.0 - self.eta)
                * torch.arange(self.components, dtype=v.dtype, device=v.device)
                / self.components
            )
            comp = torch.searchsorted(edges, pick.contiguous(), right=True)  # 0: the prior
            rows = torch.nonzero(comp > 0).squeeze(1)
            idx = comp[rows] - 1
            zb = sample_truncated(y[rows], self.mu[idx], self._scales()[idx], self.bound)
            z[rows], y[rows] = zb, squash(zb, self.bound)
        u, logdet = self.decoder(y)
        return u, self.latent_log_ratio(z) - logdet

    # ------------------------------------------------------------------ training hooks
    def training_log_prob(self, u: torch.Tensor) -> torch.Tensor:
        """What the trainer's loss sees: the flow (fit="prior") or the full mixture with the
        anchors encoded with gradient and each point's own kernel left out (fit="mixture")."""
        z, logdet = self.encode(u)
        if self.fit == "prior" or not self.is_ready:
            return logdet
        mu, _ = self.encode(self.anchors)
        same = (u[:, None, :] == self.anchors[None]).all(dim=2)  # (n, K) leave-one-out
        log_r = log_ratio(z, mu, self._scales(), self._log_w(), self.eta, self.bound, same)
        return log_r + logdet

    def decoder_jacobian_sq(self, mu: torch.Tensor) -> torch.Tensor:
        """‖∂u/∂z_j‖² (K, d) at latent points μ (K, d): d backward passes through T."""
        with torch.enable_grad():
            y = squash(mu, self.bound).detach().requires_grad_(True)
            u, _ = self.decoder(y)
            cols = torch.zeros_like(y)
            for i in range(self.dim):
                (g,) = torch.autograd.grad(u[:, i].sum(), y, retain_graph=i + 1 < self.dim)
                cols = cols + g * g  # Σ_i (∂u_i/∂y_j)²
        return cols * torch.exp(2.0 * squash_log_density(mu, self.bound))  # × (dy_j/dz_j)²

    @torch.no_grad()
    def refresh(self, u: torch.Tensor, w: torch.Tensor, gen: np.random.Generator) -> None:
        """New anchors: K points of (u (n, d), weights w (n,)) resampled ∝ w, then encoded."""
        if self.memory and self.is_ready:
            pool = torch.cat([u, self.anchors]), torch.cat([w, self.anchor_w])
            keep = np.unique(pool[0].cpu().numpy(), axis=0, return_index=True)[1]
            keep_t = torch.from_numpy(np.sort(keep)).to(u.device)
            u, w = pool[0][keep_t], pool[1][keep_t]
        p = w.cpu().numpy()
        if not np.any(p > 0):
            return
        idx = torch.from_numpy(gen.choice(p.size, self.components, p=p / p.sum())).to(u.device)
        self.anchors.copy_(u[idx])
        self.anchor_w.copy_(w[idx])
        self.mu.copy_(self.encode(self.anchors)[0])
        if self.widths == "closed":
            jac = self.decoder_jacobian_sq(self.mu)
            self.sigma.copy_(closed_form_widths(jac, self.beta))
        self.ready.fill_(1.0)

    @torch.no_grad()
    def component_densities(self, u: torch.Tensor) -> torch.Tensor:
        """(q_p(u), q_b(u)) (2, n): the decoder alone (prior latent) and the buffer alone."""
        z, logdet = self.encode(u)
        log_rb = log_ratio(z, self.mu, self._scales(), self._log_w(), 0.0, self.bound)
        return torch.stack([logdet.exp(), (logdet + log_rb).exp()])

    @torch.no_grad()
    def before_step(self, u: torch.Tensor, q: torch.Tensor, f: torch.Tensor) -> None:
        """The learned proposal's hook before each training step: with ``learn_eta``, η set to
        the variance-optimal weight estimated on the new batch (module docstring)."""
        if not (self.learn_eta and self.is_ready and bool((f != 0).any())):
            return
        q_p, q_b = self.component_densities(u).cpu().numpy()
        eta = optimal_eta(q_p, q_b, q.cpu().numpy(), f.cpu().numpy(), self.eta)
        if math.isfinite(eta):
            self.eta_t.fill_(eta)

    def after_step(self, trainer) -> None:
        """The trainer's hook after each batch: refresh the anchors from its buffer."""
        buf = trainer.buffer
        gen = np.random.default_rng([trainer.seed, trainer.batches, 13])
        self.refresh(buf.u, buf.f.abs() / buf.q, gen)
