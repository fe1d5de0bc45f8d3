r"""Mode discovery before training: find the peaks of |f|, then give each its own channel.

A flow that starts as the identity sees a narrow peak only when a uniform point lands in it; in
d = 16 none does (camel: two Gaussians of width 0.1, each ~10⁻¹³ of the cube), so it collapses
onto whatever it saw first. :class:`ModeSeeded` spends a share σ = ``search_share`` of the
first ``search_batches`` training batches (of whatever size the integrator asks for; at the
flow's default batch, calls/50, σ = 0.5 of the default 5 batches is 5 % of the training calls)
on a search, through ask/tell only, the rest of those batches coming from the base mixture
(q = σ q_s + (1 − σ) q_base at every point):

1. batch 1 is uniform; the walkers (``σ n / offspring`` of them) start at the best half of its
   points with f ≠ 0 and at as many random others;
2. every later search batch draws from q_s = ν·1 + (1 − ν)/M Σ_m N_□(x_m, s_m) (ν = 0.1, N_□
   a diagonal normal truncated to the cube, :mod:`.cubenormal`): an exact density, so the
   search points are ordinary importance-sampling points with correct weights f/q_s;
3. each walker fits the quadratic ℓ(y) ≈ a + b·δ + ½ Σ h_i δ_i² (δ = (y − x_m)/s_m) to
   ℓ = log|f| at the points it owns (those its component explains best), and moves to the fitted
   maximum δ_i = −b_i/h_i (clipped to ±3 widths; one width up the gradient where h_i ≥ 0), with
   the fitted width s_i/√(−h_i). For a Gaussian peak ℓ is exactly quadratic, so one step lands on
   it; a walker with too few points with f ≠ 0 moves to its best point, or, with none, restarts
   at a random point of the batch with f ≠ 0;
4. after the last search batch the end points are clustered (two are one mode when their
   distance in widths, √Σ((x − x')/s)² with the narrower s, is below ``merge``; the higher peak
   represents it; only walkers whose fit holds to a factor e and whose step ended within a
   width, or at a face, count when any does), modes
   with an estimated mass e^ℓ̂ Π s_i√(2π) Z_i below ``min_mass`` of the largest are dropped, and at
   most ``max_modes`` are kept.

The proposal is then a mixture of the base components (the flow, the safe one) and the
channels N_□(x_k, κ s_k) (κ = ``widen``), the base keeping 1 − ``share`` of the starting weight
and the modes sharing the rest by estimated mass: with ``select`` (the flow's default)
``Mixture([flow, *channels, safe])`` whose weights are learned (Kleiss–Pittau, :mod:`.mixture`)
until the held-out choice of :mod:`.selection` starts, the candidates including the same flow
shares without the channels (so channels that do not help are dropped); without it
``Mixture([*base, *channels], learn_weights=True)``. The flow trains on points of the whole
mixture, every mode included.

Unbiasedness: every point the integrator draws, search points included, has its exact density
q_s, so the training estimates and any ``include_training`` average are unbiased; the base
components learn from the search points with those weights. ``integrate`` uses fresh points of
the frozen final mixture, whose density is exact.

Limits: a mode narrower than 10⁻³ (the smallest width) or one no walker's basin contains is not
found (more walkers: a smaller ``offspring`` or larger batches); a peak on a face of the cube or
a ridge is fitted as well as a diagonal quadratic fits it, and the flow and the safe component
must do the rest; an integrand that is zero on all of the first batch leaves no walker (the
proposal is then the base mixture, and the integrator's own zero-integrand check applies).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import Config
from ..errors import CheckpointError, MLIntegrateError
from ..validate import int_at_least, number_in
from .base import Backend, prefixed, unprefixed
from .cubenormal import MAX_SCALE, MIN_SCALE, TruncatedNormal, log_normaliser, log_pdf, sample
from .mixture import Mixture

__all__ = ["ModeConfig", "ModeSearch", "ModeSeeded"]

UNIFORM_SHARE = 0.1  # ν: share of uniform points in every search batch
START_SCALE = 0.15  # the walkers' initial widths
TRUST = 3.0  # largest step of a walker, in its widths
_LOG_HALF_2PI = 0.5 * np.log(2.0 * np.pi)


@dataclass(frozen=True)
class ModeConfig(Config):
    """Settings of the mode search (module docstring).

    ``search_batches``: training batches spent on the search (≥ 2: one uniform, then ascent);
    ``offspring``: points per walker in a search batch (None: 4(d + 1), enough for the
    2d + 1 coefficients of the quadratic fit); ``max_modes``, ``merge`` (widths), ``min_mass``
    (relative): which end points become channels; ``widen``: channel width over fitted width;
    ``share``: initial weight of all mode channels together; ``refit``: fraction by which each
    channel moves to its f-weighted moments per batch (0: fixed); ``search_share``: fraction σ
    of each search batch drawn from the search density, the rest from the base mixture (1: the
    whole batch, as before this setting existed), so the search costs σ · ``search_batches``
    batches of the base's training points (5 % of the calls at the flow's default batch).
    """

    search_batches: int = 5
    offspring: int | None = None
    max_modes: int = 8
    merge: float = 3.0
    min_mass: float = 1e-3
    widen: float = 1.2
    share: float = 0.5
    refit: float = 0.5
    search_share: float = 0.5

    def __post_init__(self) -> None:
        int_at_least("search_batches", self.search_batches, 2, "one uniform batch, then ascent")
        if self.offspring is not None:
            int_at_least("offspring", self.offspring, 4, "or None for 4(d + 1)")
        int_at_least("max_modes", self.max_modes, 1, "e.g. max_modes=8")
        number_in("merge", self.merge, 0.0, 1e3, "e.g. merge=3 (widths)", open_low=True)
        number_in(
            "min_mass", self.min_mass, 0.0, 1.0, "e.g. min_mass=1e-3", open_low=True, open_high=True
        )
        number_in("widen", self.widen, 1.0, 10.0, "e.g. widen=1.2")
        number_in("share", self.share, 0.0, 1.0, "e.g. share=0.5", open_low=True, open_high=True)
        number_in("refit", self.refit, 0.0, 1.0, "0: fixed channels, e.g. 0.5")
        number_in("search_share", self.search_share, 0.0, 1.0, "e.g. 0.5", open_low=True)


def _log_abs(f: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(np.abs(f))


class ModeSearch:
    """The walkers of the search and their exact sampling density (module docstring)."""

    def __init__(self, dim: int, config: ModeConfig):
        self.dim, self.config = dim, config
        self.offspring = config.offspring or 4 * (dim + 1)
        self.batches = 0
        self.x = np.empty((0, dim))  # walker centres, where the next batch samples (M, d)
        self.s = np.empty((0, dim))  # walker widths (M, d)
        self.est = np.empty((0, dim))  # each walker's mode estimate, a point its data support
        self.peak = np.empty(0)  # log|f| there, fitted or observed (M,)
        self.converged = np.empty(0, dtype=bool)  # the last step ended at a fitted maximum

    @property
    def done(self) -> bool:
        return self.batches >= self.config.search_batches

    def _log_density(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(log q_s (n,), log N_□ of every walker (n, M))."""
        if not len(self.x):
            return np.zeros(u.shape[0]), np.empty((u.shape[0], 0))
        lp = log_pdf(u, self.x, self.s)
        top = lp.max(axis=1)
        mix = top + np.log(np.mean(np.exp(lp - top[:, None]), axis=1))
        nu = UNIFORM_SHARE
        return np.logaddexp(np.log(nu), np.log1p(-nu) + mix), lp

    def sample(self, n: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if not len(self.x):
            return gen.random((n, self.dim)), np.ones(n)
        which = gen.integers(0, len(self.x), n)
        uniform = gen.random(n) < UNIFORM_SHARE
        v = gen.random((n, self.dim))
        u = np.where(uniform[:, None], v, sample(v, self.x[which], self.s[which]))
        return u, np.exp(self._log_density(u)[0])

    def density(self, u: np.ndarray) -> np.ndarray:
        return np.exp(self._log_density(u)[0])

    def tell(self, u: np.ndarray, f: np.ndarray, gen: np.random.Generator) -> None:
        """One search step from the batch (u, f)."""
        ell = _log_abs(f)
        finite = np.flatnonzero(np.isfinite(ell))
        self.batches += 1
        if not len(self.x):
            self._start(u, ell, finite, gen)
            return
        # each point goes to one walker with probability ∝ its density there (walkers that met
        # at one peak share its points instead of the first of them taking all)
        lp = self._log_density(u)[1]
        cdf = np.cumsum(np.exp(lp - lp.max(axis=1, keepdims=True)), axis=1)
        draw = gen.random(u.shape[0]) * cdf[:, -1]
        owner = np.minimum((cdf < draw[:, None]).sum(axis=1), len(self.x) - 1)
        for m in range(len(self.x)):
            self._step(m, u[owner == m], ell[owner == m], u[finite], gen)

    def _start(self, u: np.ndarray, ell: np.ndarray, finite: np.ndarray, gen: np.random.Generator):
        if not finite.size:
            return
        drawn = int(u.shape[0] * self.config.search_share)  # the search's own points
        count = max(1, min(drawn // self.offspring, finite.size))
        best = finite[np.argsort(-ell[finite], kind="stable")][: (count + 1) // 2]
        rest = np.setdiff1d(finite, best)
        others = gen.choice(rest, size=min(count - best.size, rest.size), replace=False)
        rows = np.concatenate([best, others]).astype(int)
        self.x = u[rows].copy()
        self.s = np.full_like(self.x, START_SCALE)
        self.est, self.peak = self.x.copy(), ell[rows].copy()
        self.converged = np.zeros(len(rows), dtype=bool)

    def _step(self, m: int, y: np.ndarray, ell: np.ndarray, alive: np.ndarray, gen) -> None:
        """Move walker m by the quadratic fit of log|f| to its points (module docstring)."""
        d = self.dim
        delta = (y - self.x[m]) / self.s[m]
        ok = np.isfinite(ell) & np.all(np.abs(delta) <= 2 * TRUST, axis=1)
        if np.count_nonzero(ok) < 2 * d + 2:
            self.converged[m] = False
            if np.any(ok):
                j = np.flatnonzero(ok)[np.argmax(ell[ok])]
                if ell[j] > self.peak[m]:
                    self.x[m], self.est[m], self.peak[m] = y[j], y[j], ell[j]
            elif y.shape[0] and alive.size:  # it has points but f = 0 at all: restart
                self.x[m] = self.est[m] = alive[gen.integers(0, alive.shape[0])]
                self.s[m], self.peak[m] = START_SCALE, -np.inf
            return
        delta, target = delta[ok], ell[ok]
        design = np.hstack([np.ones((delta.shape[0], 1)), delta, 0.5 * delta * delta])
        shift = target.max()
        coef, *_ = np.linalg.lstsq(design, target - shift, rcond=None)
        misfit = np.sqrt(np.mean((design @ coef + shift - target) ** 2))
        a, b, h = coef[0] + shift, coef[1 : d + 1], coef[d + 1 :]
        curved = h < -1e-9
        step = np.where(curved, -b / np.where(curved, h, -1.0), np.sign(b))
        step = np.clip(step, -TRUST, TRUST)
        width = np.where(curved, 1.0 / np.sqrt(np.abs(np.where(curved, h, -1.0))), 2.0)
        new = np.clip(self.x[m] + self.s[m] * step, 0.0, 1.0)
        taken = (new - self.x[m]) / self.s[m]
        at_face = ((new <= 0.0) & (step < 0)) | ((new >= 1.0) & (step > 0))
        # converged: the fit holds to a factor e, and its maximum lies within a width of the
        # centre (inside its points), or the points reach the face it is pressed against
        inside = np.abs(taken) <= 1.0
        self.converged[m] = misfit <= 1.0 and np.all(inside & (curved | at_face))
        self.x[m] = new
        self.s[m] = np.clip(self.s[m] * np.clip(width, 0.25, 4.0), MIN_SCALE, 0.5)
        if self.converged[m]:
            self.est[m], self.peak[m] = new, a + b @ taken + 0.5 * h @ (taken * taken)
        else:  # an extrapolation, not yet evaluated: the best point seen stands for the mode
            j = np.argmax(target)
            self.est[m], self.peak[m] = y[ok][j], target[j]

    def _distance(self, m: int, k: int) -> float:
        """√Σ((x_m − x_k)/s)² in the narrower of the two widths per coordinate."""
        width = np.minimum(self.s[m], self.s[k])
        return float(np.sqrt(np.sum(((self.est[m] - self.est[k]) / width) ** 2)))

    def modes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct modes (centres (K, d), widths (K, d), log masses (K,)), heaviest first."""
        c = self.config
        if not len(self.x):
            return np.empty((0, self.dim)), np.empty((0, self.dim)), np.empty(0)
        usable = np.isfinite(self.peak) & (self.converged if self.converged.any() else True)
        centres: list[int] = []
        for m in np.argsort(-self.peak, kind="stable"):
            if not usable[m]:
                continue
            dist = [self._distance(m, k) for k in centres]
            if not centres or min(dist) >= c.merge:
                centres.append(int(m))
        x, s = self.est[centres], self.s[centres]
        log_mass = self.peak[centres] + np.sum(
            np.log(s) + _LOG_HALF_2PI + log_normaliser(x, s), axis=1
        )
        keep = np.argsort(-log_mass, kind="stable")[: c.max_modes]
        keep = keep[log_mass[keep] >= log_mass[keep[0]] + np.log(c.min_mass)] if keep.size else keep
        return x[keep], s[keep], log_mass[keep]

    def state_dict(self) -> dict[str, np.ndarray]:
        return {
            "batches": np.array(self.batches, dtype=np.int64),
            "x": self.x.copy(),
            "est": self.est.copy(),
            "s": self.s.copy(),
            "peak": self.peak.copy(),
            "converged": self.converged.copy(),
        }

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        x, s, est, peak = (np.array(state[k], dtype=np.float64) for k in ("x", "s", "est", "peak"))
        if (
            x.ndim != 2
            or x.shape[1] != self.dim
            or s.shape != x.shape
            or est.shape != x.shape
            or peak.shape != x[:, 0].shape
        ):
            raise CheckpointError(f"mode-search walkers of shape {x.shape} do not fit d={self.dim}")
        self.batches = int(state["batches"])
        self.x, self.s, self.est, self.peak = x, s, est, peak
        self.converged = np.array(state["converged"], dtype=bool).reshape(peak.shape)


class ModeSeeded(Backend):
    """The search, then a mixture of the base components and the mode channels (module doc).

    ``base``: the proposal's own components (a flow, a safe one) with their ``weights``;
    ``floor`` and ``moment`` go to the final :class:`~.mixture.Mixture`. Without ``select``
    it is ``Mixture([*base, *channels])`` with learned weights. With ``select`` (``base`` =
    [core, safe]) it is ``Mixture([core, *channels, safe])`` whose weights are learned until
    the held-out choice of :mod:`.selection` starts (every ``select_batches``), the candidates
    including the same shares without the channels: where the modes do not help, the choice
    is the one the base mixture alone would have had. With no mode found and ``select`` it is
    the base mixture exactly (``Mixture(base, weights, select=True)``). ``state_dict`` holds
    the search, the channels and the mixture's weights and selection pool, not the base
    components (their owner saves those).
    """

    name = "modeseeded"

    def __init__(
        self,
        base: list[Backend],
        weights: list[float],
        config: ModeConfig,
        floor: float = 0.01,
        moment: float = 2.0,
        select: bool = False,
        select_batches: int = 10,
    ):
        super().__init__(base[0].dim)
        if select and len(base) != 2:
            raise MLIntegrateError("select needs base = [core, safe] (the safe one last)")
        self.base, self.base_weights = list(base), np.asarray(weights, dtype=np.float64)
        self.settings, self.floor, self.moment = config, floor, moment
        self.select, self.select_batches = bool(select), select_batches
        self.search = ModeSearch(self.dim, config)
        self.base_mixture = Mixture(self.base, self.base_weights / self.base_weights.sum())
        self.channels: list[TruncatedNormal] = []
        self.mixture: Mixture | None = None
        self._gen = np.random.default_rng(0)  # replaced by a child of the sampling generator

    def _build(self, x: np.ndarray, s: np.ndarray, log_mass: np.ndarray) -> None:
        c = self.settings
        self.channels = [
            TruncatedNormal(
                self.dim, xk, np.clip(c.widen * sk, MIN_SCALE, MAX_SCALE), c.refit, c.widen
            )
            for xk, sk in zip(x, s, strict=True)
        ]
        share = c.share if self.channels else 0.0
        mass = np.exp(log_mass - log_mass.max()) if self.channels else np.empty(0)
        weights = np.concatenate(
            [(1 - share) * self.base_weights, share * mass / max(mass.sum(), 1e-300)]
        )
        floor = min(self.floor, 1.0 / weights.size)
        weights = np.maximum(weights, floor)
        self.mixture = self._mixture(weights / weights.sum(), floor)

    def _mixture(self, weights: np.ndarray, floor: float) -> Mixture:
        """The final mixture from weights in the order [*base, *channels] (module docstring)."""
        k = len(self.channels)
        if not self.select:
            return Mixture(
                [*self.base, *self.channels],
                weights,
                learn_weights=True,
                floor=floor,
                moment=self.moment,
            )
        if not k:  # nothing found: the base mixture, as without the search
            return Mixture(self.base, weights, select=True, select_batches=self.select_batches)
        order = [0, *range(2, 2 + k), 1]  # [core, *channels, safe]: the safe one last
        return Mixture(
            [self.base[0], *self.channels, self.base[1]],
            weights[order],
            learn_weights=True,
            floor=floor,
            moment=self.moment,
            select=True,
            select_batches=self.select_batches,
            optional=range(1, 1 + k),
        )

    def _sample(self, n: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if self.mixture is not None:
            return self.mixture._sample(n, gen)
        self._gen = np.random.default_rng(gen.integers(2**63))
        sigma = self.settings.search_share
        if sigma >= 1.0:
            return self.search.sample(n, gen)
        # q = σ q_search + (1 − σ) q_base at every point, whichever drew it
        searched = gen.random(n) < sigma
        mine, rest = np.flatnonzero(searched), np.flatnonzero(~searched)
        u, q_base = np.empty((n, self.dim)), np.empty(n)
        u[mine], _ = self.search.sample(mine.size, gen)
        u[rest], q_base[rest] = self.base_mixture._sample(rest.size, gen)
        if mine.size:
            q_base[mine] = self.base_mixture._density(u[mine])
        return u, sigma * self.search.density(u) + (1.0 - sigma) * q_base

    def _density(self, u: np.ndarray) -> np.ndarray:
        if self.mixture is not None:
            return self.mixture._density(u)
        sigma = self.settings.search_share
        if sigma >= 1.0:
            return self.search.density(u)
        return sigma * self.search.density(u) + (1.0 - sigma) * self.base_mixture._density(u)

    def _adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:
        if self.mixture is not None:
            self.mixture._adapt(u, q, f)
            return
        for comp in self.base:
            comp._adapt(u, q, f)
        self.search.tell(u, f, self._gen)
        if self.search.done:
            self._build(*self.search.modes())

    def default_batch_size(self, calls: int) -> int:
        return min(c.default_batch_size(calls) for c in self.base)

    def config(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "base": [c.spec() for c in self.base],
            "weights": self.base_weights.tolist(),
            "modes": self.settings.to_dict(),
            "floor": self.floor,
            "moment": self.moment,
            "select": self.select,
            "select_batches": self.select_batches,
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        state = prefixed("search.", self.search.state_dict())
        state["layout"] = np.array(int(self.select), dtype=np.int64)  # 1: safe one last
        if self.mixture is not None:
            state["channels.mean"] = np.array([c.initial[0] for c in self.channels])
            state["channels.scale"] = np.array([c.initial[1] for c in self.channels])
            state["weights"] = self.mixture.weights.copy()
            if self.select:
                state.update(prefixed("mixture.", self.mixture.weight_state()))
            for k, c in enumerate(self.channels):
                state.update(prefixed(f"channel{k}.", c.state_dict()))
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.search.load_state_dict(unprefixed("search.", state))
        self.mixture, self.channels = None, []
        if "weights" not in state:
            return
        mean, scale = state["channels.mean"], state["channels.scale"]
        c = self.settings
        # channels were built at widen × the fitted width: rebuild them from the stored widths
        self.channels = [
            TruncatedNormal(self.dim, mk, sk, c.refit, c.widen)
            for mk, sk in zip(mean, scale, strict=True)
        ]
        weights = np.asarray(state["weights"], dtype=np.float64)
        if weights.shape != (len(self.base) + len(self.channels),):
            raise CheckpointError(f"{weights.size} mixture weights do not fit the saved channels")
        if int(state.get("layout", 0)) != int(self.select):
            raise CheckpointError(
                "the saved mode channels were mixed "
                + ("with" if int(state.get("layout", 0)) else "without")
                + " selected weights, these settings mix them the other way"
            )
        floor = min(self.floor, 1.0 / weights.size)
        self.mixture = self._mixture(self._base_order(weights), floor)
        if self.select:
            self.mixture.load_weight_state(unprefixed("mixture.", state))
        self.mixture.load_weights(weights)  # exactly as saved (the constructor renormalises)
        for k, ch in enumerate(self.channels):
            ch.load_state_dict(unprefixed(f"channel{k}.", state))

    def _base_order(self, weights: np.ndarray) -> np.ndarray:
        """Weights saved in the mixture's order → [*base, *channels] (what _mixture takes);
        zeros (a choice that dropped the channels) become the floor, ``load_weights`` then
        restores them exactly."""
        w = np.maximum(np.asarray(weights, dtype=np.float64), 1e-12)
        if self.select and self.channels:
            w = np.concatenate([[w[0], w[-1]], w[1:-1]])
        return w / w.sum()
