r"""A multi-channel proposal: one learned (or VEGAS) proposal per channel, with learned weights.

Given channels T_k (cube-to-cube bijections, each adapted to some singular invariants of the
integrand; see :mod:`.channels`) and a proposal p_k on each channel's cube,

    q(u) = Σ_k α_k q_k(u),     q_k(u) = p_k(T_k⁻¹(u)) · |det ∂T_k⁻¹/∂u|,

is ``Mixture([Mapped(p_1, T_1), …], α)``, exact, so f/q is unbiased whatever the training did.
Each p_k is a :class:`~.flow.Flow` (with its defensive uniform component, so q_k > 0 wherever
T_k reaches, i.e. everywhere) or a :class:`~.vegas.Vegas` map (multi-channel VEGAS).

Training (``adapt``), per batch of points u drawn from q_s with integrand values f:

- ``partition="proposal"`` (default, as MadNIS): channel k learns the part of f it carries,
  f_k = f · α_k q_k(u)/q_α(u) (Σ_k f_k = f), so each p_k only has to fit the region its map
  is built for; ``"full"``: every channel learns the whole f;
- with ``learn_weights`` the channel weights α take Kleiss–Pittau steps on the same batch
  (:func:`~.mixture.multichannel_weights`, minimising E[w^p], each α_k ≥ ``floor``); they are
  fixed between batches, so every estimate stays unbiased.

Built by name with the integrand's channels: ``backends.get("multichannel", d,
channels=process.channels())``; the command line and :func:`mlintegrate.report.compare` pass
a process's channels themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..config import Config
from ..errors import ConfigError
from ..validate import choice, number_in
from .base import Backend
from .bijections import Bijection, build_bijection
from .flow import Flow, FlowConfig
from .mapped import Mapped
from .mixture import Mixture, multichannel_weights
from .vegas import Vegas, VegasConfig

__all__ = ["MultiChannel", "MultiChannelConfig", "channels_of"]

INNERS = ("flow", "vegas")
PARTITIONS = ("proposal", "full")

HOW_TO_BUILD = (
    "build them yourself: MultiChannel(dim, channels=[T_1, T_2, ...]) with cube-to-cube "
    "Bijections (see examples/multichannel_channels.py)"
)


def channels_of(integrand: Any) -> list[Bijection]:
    """The channels an integrand declares (``integrand.channels()``), or a one-line error."""
    declared = getattr(integrand, "channels", None)
    chans = list(declared() if callable(declared) else declared or [])
    if not chans:
        name = getattr(integrand, "name", type(integrand).__name__)
        raise ConfigError(
            f"backend 'multichannel' needs channels, but the integrand {name!r} declares none "
            f"(no channels()); use another backend, or {HOW_TO_BUILD}"
        )
    return chans


@dataclass(frozen=True)
class MultiChannelConfig(Config):
    """Settings of :class:`MultiChannel` (module docstring).

    ``inner``: "flow" or "vegas", the proposal of each channel; ``flow`` / ``vegas``: its
    settings (the flows take 8 Adam steps per batch, not a single flow's 20: K channels train
    K flows on the same calls, and one flow alone took 456 s of training on ee_4jet at 10⁶
    calls on 2 shared cores; each with the uniform safe component at fixed weight, as measured:
    the channel weights already fall back between proposals; and the variance loss, not a
    single flow's "mix": each channel's flow fits only its share of f, and the largest weights
    are what a multi-channel proposal loses ε to. On ee_4jet at 2·10⁵ training calls, seed 3
    (``benchmarks/results/multichannel_inner/``): ε_median-max 4.63 % against 4.62 % with
    "mix", rsd 0.995 against 1.046; at 10⁶ with the energy-aware azimuth
    (``compare-ee_4jet-1e6/``) 6.14 % and 0.880 against 3.58 % and 0.954 before both);
    ``learn_weights``, ``floor``, ``weight_moment``: the channel weights;
    ``partition``: "proposal" (channel k learns f · α_k q_k / q) or "full" (every channel f).
    """

    inner: str = "flow"
    flow: FlowConfig = field(
        default_factory=lambda: FlowConfig(
            safe="uniform", select_weights=False, find_modes=False
        ).with_values(steps_per_batch=8, loss="variance")
    )
    vegas: VegasConfig = field(default_factory=VegasConfig)
    learn_weights: bool = True
    floor: float = 0.01
    weight_moment: float = 2.0
    partition: str = "proposal"

    def __post_init__(self) -> None:
        choice("inner", self.inner, INNERS)
        choice("learn_weights", self.learn_weights, (False, True))
        number_in("floor", self.floor, 0.0, 0.1, "the smallest weight a channel keeps, e.g. 0.01")
        number_in("weight_moment", self.weight_moment, 1.0, 64.0, "2: least variance")
        choice("partition", self.partition, PARTITIONS)


class MultiChannel(Backend):
    """``MultiChannel(dim, channels, config=None, **changes)``: Σ_k α_k Mapped(p_k, T_k)."""

    name = "multichannel"
    #: built by name only with the integrand's channels (see :func:`channels_of`)
    needs_channels: ClassVar[bool] = True

    def __init__(
        self,
        dim: int,
        channels: Sequence[Bijection | dict[str, Any]] | None = None,
        config: MultiChannelConfig | None = None,
        **changes: Any,
    ):
        super().__init__(dim)
        if not channels:
            raise ConfigError(f"MultiChannel needs channels=, got {channels!r}; {HOW_TO_BUILD}")
        self.channels = [c if isinstance(c, Bijection) else build_bijection(c) for c in channels]
        for k, T in enumerate(self.channels):
            if not T.cube_to_cube or T.dim != self.dim:
                raise ConfigError(
                    f"channel {k} ({T.name}, dim {T.dim}) must map the unit cube of dim "
                    f"{self.dim} onto itself; a phase-space map belongs in a Process"
                )
        self.settings = (config or MultiChannelConfig()).with_values(**changes)
        self.inners = [self._inner() for _ in self.channels]
        k = len(self.channels)
        self.proposal = Mixture(
            [Mapped(p, T) for p, T in zip(self.inners, self.channels, strict=True)],
            [1.0 / k] * k,
        )

    def _inner(self) -> Backend:
        if self.settings.inner == "vegas":
            return Vegas(self.dim, self.settings.vegas)
        return Flow(self.dim, self.settings.flow)

    @property
    def weights(self) -> np.ndarray:
        """The current channel weights α (K,)."""
        return self.proposal.weights

    def _sample(self, n: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return self.proposal._sample(n, gen)

    def _density(self, u: np.ndarray) -> np.ndarray:
        return self.proposal._density(u)

    def _densities(self, u: np.ndarray) -> np.ndarray:
        return np.stack([c._density(u) for c in self.proposal.components])

    def _adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:
        s = self.settings
        alpha = self.proposal.weights
        if s.partition == "proposal":
            parts = alpha[:, None] * self._densities(u)
            total = parts.sum(axis=0)
            share = np.divide(
                parts, total, out=np.full_like(parts, 1.0 / alpha.size), where=total > 0
            )
        else:
            share = np.ones((alpha.size, u.shape[0]))
        for comp, share_k in zip(self.proposal.components, share, strict=True):
            comp._adapt(u, q, f * share_k)
        if s.learn_weights and np.any(f != 0):
            new = multichannel_weights(
                alpha, self._densities(u), q, f, s.floor, moment=s.weight_moment
            )
            self.proposal._set_weights(new)

    def default_batch_size(self, calls: int) -> int:
        return self.proposal.default_batch_size(calls)

    def config(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "channels": [T.spec() for T in self.channels],
            **self.settings.to_dict(),
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        return self.proposal.state_dict()

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.proposal.load_state_dict(state)
