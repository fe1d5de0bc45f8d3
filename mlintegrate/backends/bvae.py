r"""The B-VAE proposal: a β-VAE whose latent space is sampled from a density information buffer.

    q(u) = (1 − λ) q_BVAE(u) + λ · 1,      λ = ``defensive``,

is ``Mixture([core, Uniform(d)], [1 − λ, λ])`` like :class:`~.flow.Flow`, with ``core`` a
:class:`~.learned.LearnedProposal` over a :class:`~.nn.bvae_model.BVAEModel`: an invertible
decoder u = T(Φ_L(z)) (coupling flow after the truncated normal CDF) whose latent density mixes
the N(0, 1) prior (weight η) with K truncated Gaussians around the exactly encoded buffer
points μ_i = g⁻¹(u_i), widths α σ_i with σ_i the β-VAE encoder's closed-form widths. Every term
is exact, so f/q stays unbiased whatever the training did. See :mod:`.nn.bvae_model` for the
construction and the two fitting modes ("prior": the prototype; "mixture": VampPrior-like).

Why the decoder is trained with the shared trainer's losses and not the β-VAE loss: an
invertible decoder trained on an ELBO with decoder noise gave weights 6–29× wider (rsd) than
exact weighted maximum likelihood on the same model (issue 13's prototype); the β-VAE loss
survives where it is meaningful, in the encoder widths.

Defaults, measured (``benchmarks/bench_bvae.py``; ``benchmarks/results/bvae_*.md``): a fixed
buffer weight costs ε as it grows (2·10⁵ calls, ee_qqg diet / camel d=4 ε_median-max: η = 0
0.9 % / 28 %, η = 0.5 13 % / 35 %, η = 0.9 19.5 % / 39 %, η = 1 18.6 % / 41 %), and on a flat
target (ee_qqg's exact map) a fixed 10 % buffer made the sampling density lumpy, so the
trainer's held-out check no longer held the decoder at the identity and it fitted sampling
noise (ε 76 %; the flow stays at q ≡ 1). So the default learns η (``learn_eta``, from
η = 1): the buffer gets the weight that lowers the variance on each batch, significantly, and
none otherwise. Screened on ee_qqg diet at 3·10⁵ calls over two seeds (``bvae_screen.md``):
learned η 23.4 / 17.1 % (rsd 0.557 / 0.570), η = 0.9 fixed 21.6 / 15.6 % (0.581 / 0.585),
the flow 18.8 / 22.1 % (0.543 / 0.558); on the exact map q ≡ 1 and ε = 100 % like the flow.
K = 1024, not 4096: the (n, K) mixture is the dominant cost (≈ 12 ns per point and component
on a loaded core) and K = 4096 was better by single-seed margins only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import Config
from ..validate import choice, int_at_least, number_in
from .base import Backend
from .composed import Composed
from .flow import CouplingConfig
from .learned import LearnedProposal
from .mixture import Mixture
from .nn.bvae_model import FITS, WIDTHS, BVAEModel
from .nn.trainer import TrainingConfig
from .uniform import Uniform

__all__ = ["BVAE", "BVAEConfig", "LatentConfig"]


@dataclass(frozen=True)
class LatentConfig(Config):
    """The latent density of the B-VAE (:mod:`.nn.bvae_model`).

    ``components``: K buffer Gaussians (cost ≈ 2 d multiply-adds and an exp per point and
    component: 12 ns measured on a loaded core, so K = 1024 and 2·10⁵ points take ≈ 2.5 s).
    ``eta``: weight η of the N(0, 1) prior in [0, 1] (1: the decoder alone, i.e. a flow); with
    ``learn_eta`` its initial value. ``learn_eta``: set η before each training step to the
    weight that minimises the variance of f/q on the new batch (:mod:`.nn.bvae_model`).
    ``alpha``: width factor α on the encoder widths (initial value when ``fit="mixture"``).
    ``beta``: β of the β-VAE loss that sets the closed-form widths, in (0, 1].
    ``widths``: "closed" (σ from β and the decoder Jacobian) or "unit" (σ = 1).
    ``fit``: "prior" (decoder trained as a flow, buffer built after each step) or "mixture"
    (decoder and α trained through the buffer latent, leave-one-out). ``memory``: keep the
    anchors as a mode memory across refreshes. ``bound``: the latent box [−bound, bound]^d.
    """

    components: int = 1024
    eta: float = 1.0
    alpha: float = 1.0
    beta: float = 0.01
    widths: str = "closed"
    fit: str = "prior"
    memory: bool = False
    bound: float = 5.0
    learn_eta: bool = True

    def __post_init__(self) -> None:
        int_at_least("components", self.components, 1, "e.g. components=1024")
        number_in("eta", self.eta, 0.0, 1.0, "e.g. eta=0.9 with learn_eta=False")
        number_in("alpha", self.alpha, 0.0, 100.0, "e.g. alpha=1.0", open_low=True)
        number_in("beta", self.beta, 0.0, 1.0, "e.g. beta=0.01", open_low=True)
        choice("widths", self.widths, WIDTHS)
        choice("fit", self.fit, FITS)
        if not isinstance(self.memory, bool):
            choice("memory", self.memory, (True, False))
        number_in("bound", self.bound, 1.0, 8.0, "e.g. bound=5 (Φ saturates beyond 8)")
        if not isinstance(self.learn_eta, bool):
            choice("learn_eta", self.learn_eta, (True, False))


@dataclass(frozen=True)
class BVAEConfig(Config):
    """Settings of :class:`BVAE`: the decoder ``model`` (:class:`~.flow.CouplingConfig`), the
    ``latent`` mixture (:class:`LatentConfig`), the shared ``training``, and like
    :class:`~.flow.FlowConfig` ``defensive``, ``device``, ``threads`` and ``seed``."""

    model: CouplingConfig = field(default_factory=CouplingConfig)
    latent: LatentConfig = field(default_factory=LatentConfig)
    # the B-VAE keeps full training and no early stopping until they are measured on it
    training: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(reuse=None, patience=None)
    )
    defensive: float = 0.05
    device: str = "cpu"
    threads: int | None = 1
    seed: int | None = None

    def __post_init__(self) -> None:
        number_in("defensive", self.defensive, 0.0, 1.0, "e.g. defensive=0.05", open_high=True)
        if self.threads is not None:
            int_at_least("threads", self.threads, 1, "or None to keep torch's setting")
        if self.seed is not None:
            int_at_least("seed", self.seed, 0, "a non-negative int or None")


def _bvae_model(dim: int, model: CouplingConfig, latent: LatentConfig, seed: int) -> BVAEModel:
    return BVAEModel(
        dim,
        components=latent.components,
        eta=latent.eta,
        alpha=latent.alpha,
        beta=latent.beta,
        widths=latent.widths,
        fit=latent.fit,
        memory=latent.memory,
        bound=latent.bound,
        learn_eta=latent.learn_eta,
        n_layers=model.n_layers,
        bins=model.bins,
        hidden=model.hidden,
        depth=model.depth,
        seed=seed,
    )


class BVAE(Composed):
    """B-VAE proposal with a defensive uniform component (module docstring)."""

    name = "bvae"

    def __init__(self, dim: int, config: BVAEConfig | None = None, **changes: Any):
        super().__init__(dim)
        self.settings = (config if config is not None else BVAEConfig()).with_values(**changes)
        s = self.settings
        self.learned = LearnedProposal(
            self.dim,
            functools.partial(_bvae_model, self.dim, s.model, s.latent),
            s.training,
            device=s.device,
            threads=s.threads,
            seed=s.seed,
        )
        self.proposal: Backend = (
            Mixture([self.learned, Uniform(self.dim)], [1.0 - s.defensive, s.defensive])
            if s.defensive > 0
            else self.learned
        )

    @property
    def model(self) -> BVAEModel:
        """The torch model (decoder, anchors, widths)."""
        return self.learned.model

    def latent_buffer(self) -> dict[str, np.ndarray]:
        """The buffer as numpy arrays: anchors u (K, d), encoded μ (K, d), widths α σ (K, d)."""
        m = self.model
        return {
            "anchors": m.anchors.cpu().numpy().copy(),
            "mu": m.mu.cpu().numpy().copy(),
            "scale": (m.sigma * m.log_alpha.detach().exp()).cpu().numpy().copy(),
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        """Decoder parameters, anchors, μ, σ, α, Adam state, trainer buffer and counters."""
        return self.learned.state_dict()

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.learned.load_state_dict(state)
