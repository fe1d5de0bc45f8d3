r"""A normalizing-flow proposal on the unit cube, composed from the shared parts.

    q(u) = t q_flow(u) + (1 − t) q_safe(u),

is ``Mixture([core, safe], [t, 1 − t])`` with ``core`` a :class:`~.learned.LearnedProposal`
over a :class:`~.nn.CouplingFlow` (spline couplings, a bijection of [0,1]^d with a uniform
base) trained by the shared :class:`~.nn.trainer.Trainer`. The safe component keeps q > 0
wherever f ≠ 0 whatever the training did; both terms are exact, so every estimate f/q is
unbiased.

By default the safe component is a VEGAS map (:class:`~.pooled_vegas.PooledVegas`, its grid
adapting every ``safe_every`` batches, on as many points as VEGAS alone uses) and the flow share
t is *selected* after every batch by the held-out ε_median-max and rsd of each candidate
(:mod:`.selection`), t = 0 (VEGAS alone) always among them: the proposal falls back to VEGAS
where the flow does not help (top_decay) and keeps the flow where it does. Measured at 10⁶
training calls, seed 3 (``benchmarks/results/never_worse.md``), this default against the former
one (``safe="uniform"``, λ = 1 − t = ``defensive`` fixed) is at least as good in ε_median-max
on every case (top_decay 68.1 % vs 41.3 %, camel d=8 20.7 % vs 9.2 %) and in rsd on all but
camel d=4, where it trades rsd for ε. ``safe="uniform", select_weights=False,
find_modes=False`` restores the former proposal. With another weight rule (``learn_weights``)
or ``defensive=0`` the default is the uniform safe component at starting weight λ =
``defensive``.

With ``find_modes`` (the default) the first ``modes.search_batches`` batches also search the
peaks of |f| (:mod:`.modes`) and the proposal becomes ``Mixture([core, *channels, safe])``, one
truncated-normal channel per peak found, whose weights are learned (Kleiss–Pittau) until the
held-out choice starts and then chosen as above among candidates with and without the
channels: where the channels do not help, the choice drops them (weight 0).

With ``premap="vegas"`` (MadNIS style) the core is ``Mapped(flow, VegasMap)``: the VEGAS grid
adapts on the first ``premap_batches`` batches (the flow stays the identity meanwhile) and is
frozen afterwards.

Settings are :class:`FlowConfig` (a ``model`` :class:`CouplingConfig`, a ``training``
:class:`~.nn.trainer.TrainingConfig`, and the flow's own knobs); ``Flow(d, loss="kl")`` changes
one of them by its unique name, ``Flow(d, FlowConfig(...))`` gives them all.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import Config
from ..errors import ConfigError
from ..validate import choice, int_at_least, number_in
from .base import Backend, prefixed, unprefixed
from .bijections import VegasMap
from .composed import Composed
from .learned import LearnedProposal
from .mapped import Mapped
from .mixture import Mixture
from .modes import ModeConfig, ModeSeeded
from .nn.coupling import CouplingFlow
from .nn.trainer import TrainingConfig
from .pooled_vegas import PooledVegas
from .uniform import Uniform

__all__ = ["CouplingConfig", "Flow", "FlowConfig"]

PREMAPS = (None, "vegas")
SAFE_COMPONENTS = ("uniform", "vegas")
WEIGHT_FLOOR = 0.01  # with learned weights, each component keeps at least this share


@dataclass(frozen=True)
class CouplingConfig(Config):
    """The coupling stack: ``n_layers`` (None: every binary mask once, 2⌈log₂ d⌉; 1 for
    d = 1), spline ``bins``, conditioner MLP width ``hidden`` and hidden layers ``depth``."""

    n_layers: int | None = None
    bins: int = 16
    hidden: int = 64
    depth: int = 2

    def __post_init__(self) -> None:
        if self.n_layers is not None:
            int_at_least("n_layers", self.n_layers, 1, "or None for the default")
        int_at_least("bins", self.bins, 2, "e.g. bins=16")
        int_at_least("hidden", self.hidden, 1, "e.g. hidden=64")
        int_at_least("depth", self.depth, 1, "e.g. depth=2")


@dataclass(frozen=True)
class FlowConfig(Config):
    """Settings of :class:`Flow`.

    ``defensive``: weight λ of the safe component, in [0, 1) (the starting weight when the
    weights are selected or learned); ``safe``: that component, "uniform" or "vegas" (a VEGAS
    map trained on the same points: q > 0 everywhere, and a proposal at least as good as VEGAS
    is in reach), None (default): "vegas" when the weights are selected, else "uniform";
    ``learn_weights``: adapt the two weights by the multi-channel rule (:mod:`.mixture`; each
    keeps ≥ 1 %) minimising E[w^p] with p = ``weight_moment`` (2: the variance; larger p: the
    largest weights).
    ``select_weights``: after every batch, set the weights to the candidate (flow share t in
    :data:`~.selection.SHARES`, t = 0 being the safe component alone) with the best held-out
    ε_median-max among those with rsd ≤ the safe component's, estimated by reweighting the
    last ``select_batches`` batches (:mod:`.selection`); None (default): on unless
    ``learn_weights`` or ``defensive`` = 0 (:attr:`selects`). ``safe_every``:
    batches per grid adaptation of a VEGAS safe component (3: VEGAS's own batch is calls/15, the
    flow's calls/50).
    ``premap``: None or "vegas"; ``premap_batches``: batches that adapt the VEGAS map first.
    ``device``: torch device of the network ("cpu", "cuda", or "auto": the GPU where there is
    one, else the CPU). ``threads``: torch intra-op threads on the CPU during each call (None:
    torch's setting); the default 1 is measured: these tensors are small, and on a shared
    2-core machine two threads made a training step 4× slower (a ReLU on 1024×64 numbers:
    8 ms with 2 threads against 30 µs with 1). ``seed``: initial weights and minibatches
    (None: drawn from the integrator's generator, so its seed fixes everything).
    ``find_modes``: spend a share ``modes.search_share`` of the first ``modes.search_batches``
    training batches finding the peaks of |f| and add one channel per peak (:mod:`.modes`,
    settings :class:`~.modes.ModeConfig` in ``modes``): with the selection, the channels join
    the selected mixture and may be dropped by the choice; without it, every weight is learned
    (Kleiss–Pittau, the former mode flow). For integrands with separated narrow peaks, e.g.
    camel in d = 16. On by default: measured side by side at 10⁶ training calls, seed 3
    (``benchmarks/results/never_worse_modes.md``, ``camel16_modes.md``), the default with the
    search is at least as good as without it in ε_median-max and rsd on top_decay, ee_qqg@diet
    and camel d = 4, 8 (where the choice drops the channels it changes nothing but the
    search's 5 % of the training points), and on camel d = 16 it finds both peaks (pull +1.67,
    rsd 0.50 where the flow without it had −2.63 and 52). ``find_modes=False`` (``--set
    flow.find_modes=false``) turns it off; checkpoints keep the settings they were made with
    (:meth:`Flow._legacy`).
    """

    model: CouplingConfig = field(default_factory=CouplingConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    defensive: float = 0.05
    safe: str | None = None
    learn_weights: bool = False
    weight_moment: float = 2.0
    select_weights: bool | None = None
    select_batches: int = 10
    safe_every: int = 3
    premap: str | None = None
    premap_batches: int = 5
    device: str = "cpu"
    threads: int | None = 1
    seed: int | None = None
    find_modes: bool = True
    modes: ModeConfig = field(default_factory=ModeConfig)

    def __post_init__(self) -> None:
        number_in("defensive", self.defensive, 0.0, 1.0, "e.g. defensive=0.05", open_high=True)
        choice("safe", self.safe, (*SAFE_COMPONENTS, None))
        choice("learn_weights", self.learn_weights, (False, True))
        number_in("weight_moment", self.weight_moment, 1.0, 64.0, "2: least variance")
        choice("select_weights", self.select_weights, (False, True, None))
        int_at_least("select_batches", self.select_batches, 1, "e.g. 10")
        int_at_least("safe_every", self.safe_every, 1, "e.g. 3")
        if self.select_weights is True and self.defensive == 0:
            raise ConfigError(
                "select_weights=True needs a safe component to choose weights with: "
                "set defensive > 0 (e.g. 0.05)"
            )
        choice("premap", self.premap, PREMAPS)
        int_at_least("premap_batches", self.premap_batches, 0, "e.g. 5")
        if self.threads is not None:
            int_at_least("threads", self.threads, 1, "or None to keep torch's setting")
        if self.seed is not None:
            int_at_least("seed", self.seed, 0, "a non-negative int or None")
        choice("find_modes", self.find_modes, (False, True))

    @property
    def selects(self) -> bool:
        """Whether the weights are selected: ``select_weights``, or by default (None) on
        unless another weight rule is asked for (``learn_weights``) or there is no safe
        component (``defensive`` = 0). ``find_modes`` composes with either."""
        if self.select_weights is not None:
            return self.select_weights
        return self.defensive > 0 and not self.learn_weights

    @property
    def safe_component(self) -> str:
        """The safe component: ``safe``, or by default (None) "vegas" when the weights are
        selected (the candidate a flow share of 0 falls back to), else "uniform"."""
        if self.safe is not None:
            return self.safe
        return "vegas" if self.selects else "uniform"


def _coupling_flow(dim: int, model: CouplingConfig, seed: int) -> CouplingFlow:
    return CouplingFlow(dim, model.n_layers, model.bins, model.hidden, model.depth, seed=seed)


class Flow(Composed):
    """Normalizing-flow proposal mixed with a safe component (module docstring)."""

    name = "flow"

    def __init__(self, dim: int, config: FlowConfig | None = None, **changes: Any):
        super().__init__(dim)
        self.settings = (config if config is not None else FlowConfig()).with_values(**changes)
        self._assemble()

    def _assemble(self) -> None:
        """Build the learned core, the pre-map, the safe component and the proposal."""
        s = self.settings
        self.learned = LearnedProposal(
            self.dim,
            functools.partial(_coupling_flow, self.dim, s.model),
            s.training,
            device=s.device,
            threads=s.threads,
            seed=s.seed,
        )
        self.premap = (
            Mapped(self.learned, VegasMap(self.dim), s.premap_batches)
            if s.premap == "vegas"
            else None
        )
        core: Backend = self.premap or self.learned
        self.safe = (
            PooledVegas(self.dim, s.safe_every)
            if s.safe_component == "vegas"
            else Uniform(self.dim)
        )
        if s.find_modes:
            base = [core, self.safe] if s.defensive > 0 else [core]
            weights = [1.0 - s.defensive, s.defensive] if s.defensive > 0 else [1.0]
            self.proposal = ModeSeeded(
                base,
                weights,
                s.modes,
                WEIGHT_FLOOR,
                s.weight_moment,
                select=s.selects,
                select_batches=s.select_batches,
            )
            return
        self.proposal = (
            Mixture(
                [core, self.safe],
                [1.0 - s.defensive, s.defensive],
                learn_weights=s.learn_weights,
                floor=WEIGHT_FLOOR if s.learn_weights else 0.0,
                moment=s.weight_moment,
                select=s.selects,
                select_batches=s.select_batches,
            )
            if s.defensive > 0
            else core
        )

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters, Adam state, buffer, counters and pre-map: resuming repeats a run exactly."""
        state = self.learned.state_dict()
        if self.premap is not None:
            state.update(prefixed("premap.", self.premap.bijection.state_dict()))
            state["premap.batches"] = np.array(self.premap.batches, dtype=np.int64)
        state.update(prefixed("safe.", self.safe.state_dict()))
        if isinstance(self.proposal, Mixture):
            state.update(prefixed("mixture.", self.proposal.weight_state()))
        if isinstance(self.proposal, ModeSeeded):
            state.update(prefixed("modes.", self.proposal.state_dict()))
        return state

    def _legacy(self, state: dict[str, np.ndarray]) -> None:
        """Settings a checkpoint was made with where today's resolution of them differs:
        a file without the mode search (saved before ``find_modes`` existed) has none; one
        with the search but without ``modes.layout`` (saved while ``find_modes`` turned the
        selection off) had ``select_weights`` None resolve to False."""
        s = self.settings
        if s.find_modes and "modes.search.batches" not in state:
            self.settings = s.with_values(find_modes=False)
        elif s.find_modes and "modes.layout" not in state and s.select_weights is None:
            self.settings = s.with_values(select_weights=False)
        if self.settings is not s:
            self._assemble()

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self._legacy(state)
        self.learned.load_state_dict(state)
        if self.premap is not None:
            premap = unprefixed("premap.", state)
            self.premap.bijection.load_state_dict(premap)
            self.premap.batches = int(premap.get("batches", 0))
        self.safe.load_state_dict(unprefixed("safe.", state))
        if isinstance(self.proposal, Mixture):
            self.proposal.load_weight_state(unprefixed("mixture.", state))
        if isinstance(self.proposal, ModeSeeded):
            self.proposal.load_state_dict(unprefixed("modes.", state))
