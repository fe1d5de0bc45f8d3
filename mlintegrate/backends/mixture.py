r"""A weighted mixture of proposals: ``Mixture(components, weights)``.

    q(u) = Σ_k α_k q_k(u),   α_k > 0,  Σ α_k = 1,

sampled by drawing a component per point from the numpy generator (one uniform number each),
then each component's points in component order; q is evaluated at every point from every
component, so it is exact. The sum of positive terms is formed in float64 (no cancellation:
relative error ≤ K ulp), which is what a log-sum-exp would give without the exp/log round trip.

The defensive proposal is ``Mixture([learned, Uniform(d)], [1 − λ, λ])``: q ≥ λ wherever f ≠ 0.
A multi-channel proposal is ``Mixture([Mapped(model_k, T_k), ...], α)``. ``adapt`` passes every
point to every component with the mixture's q: importance weights f/q stay valid for each.

With ``learn_weights`` the channel weights α are adapted too (multi-channel weight
optimisation, Kleiss & Pittau, hep-ph/9405257): the variance of f/q_α is convex in α and
minimal where every W_k(α) = ∫ q_k f²/q_α² is equal; from the batch (points drawn with q_s),
W_k ≈ mean(q_k(u) f² / (q_α(u)² q_s(u))), and each step sets α_k ∝ α_k √W_k, with every
weight kept ≥ ``floor`` (so a component that is the safe one stays in). The q_k(u) are the
components' densities after they adapted to the batch, except for a component that says it
adapted lightly (``adapted_lightly``: a learned proposal whose Adam steps the budget capped,
e.g. 2 at 10⁵ calls): its densities that drew the batch (computed by ``sample``) stand in,
since evaluating it again would cost about as much as its training step. The weights are fixed
between batches, so every estimate stays unbiased.

With ``select`` the weights in use are *chosen* after each batch by the held-out figure
(:mod:`.selection`): the component densities at the batch's points, taken before any component
learns from them, make a pool of the last ``select_batches`` batches, from which ε_median-max and
rsd of every candidate α(t) = t · α_ref + (1 − t) · e_safe are estimated by reweighting (α_ref: the
learned weights with ``learn_weights``, which are also the weights in use until the choice starts,
else the initial ones; the safe component is the last), and, for the components listed in
``optional`` (mode channels), the same candidates without them. t = 0, the safe component alone, is
always a candidate; a component of weight 0 is not sampled, and evaluated only on training points
(for the pool). The choice starts after 2 · ``select_batches`` batches, the weights being the
initial (or learned) ones until then: each pooled density is the one of its own batch, so a pool of
the first batches judges the flow as it was while it still learned fast, and at 4·10⁴ calls in 10
batches the choice fell to VEGAS (rsd 2.45 where the flow alone reached 0.59 and VEGAS 2.31, camel
d=4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import CheckpointError, MLIntegrateError
from ..validate import int_at_least, number_in
from .base import Backend, prefixed, unprefixed
from .selection import candidate_weights, choose, reweighted_figures

__all__ = ["Mixture", "multichannel_weights"]

# Whether the weight step of ``learn_weights`` reads the densities that drew the batch for a
# component that adapted lightly (True) or evaluates every component again after it adapted
# (False, the rule until then; benchmarks switch it to compare the two side by side).
weights_from_sampling = True


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two float64 arrays are equal bit for bit (shape included)."""
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def multichannel_weights(
    alpha: np.ndarray,
    densities: np.ndarray,
    q_sample: np.ndarray,
    f: np.ndarray,
    floor: float = 0.0,
    steps: int = 3,
    moment: float = 2.0,
) -> np.ndarray:
    """Kleiss–Pittau steps α_k ∝ α_k W_k^(1/p) (module docstring), p = ``moment``.

    p = 2 minimises the variance of the weights; a larger p minimises E[w^p]^(1/p), which
    tends to the largest weight (what the unweighting efficiency divides by) as p grows:
    its stationarity condition is the same with W_k = ∫ q_k f^p / q_α^p.
    ``alpha`` (K,), ``densities`` q_k(u) (K, n), ``q_sample`` (n,), ``f`` (n,); returns the new
    α (K,), each ≥ ``floor``, summing to 1.
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    absf = np.abs(f)
    for _ in range(steps):
        q_alpha = alpha @ densities
        ok = (q_alpha > 0) & (absf > 0)
        w = absf[ok] / q_alpha[ok]
        # E_{q_s}[q_k f^p / (q_α^p q_s)], scaled by max(w)^p against overflow
        terms = (w / w.max()) ** moment / q_sample[ok]
        moments = (densities[:, ok] * terms).mean(axis=1)
        if not np.all(np.isfinite(moments)) or not np.any(moments > 0):
            break
        alpha = alpha * moments ** (1.0 / moment)
        alpha = floor + (1.0 - floor * alpha.size) * alpha / alpha.sum()
    return alpha


class Mixture(Backend):
    """q = Σ α_k q_k over ``components`` (backends of one dimension) with ``weights`` α."""

    name = "mixture"

    def __init__(
        self,
        components: Sequence[Backend],
        weights: Sequence[float] | None = None,
        learn_weights: bool = False,
        floor: float = 0.0,
        moment: float = 2.0,
        select: bool = False,
        select_batches: int = 10,
        optional: Sequence[int] = (),
    ):
        components = list(components)
        if not components or not all(isinstance(c, Backend) for c in components):
            raise MLIntegrateError("components must be a non-empty list of backends")
        dims = {c.dim for c in components}
        if len(dims) != 1:
            raise MLIntegrateError(f"components have different dimensions {sorted(dims)}")
        super().__init__(components[0].dim)
        if weights is None:
            weights = [1.0 / len(components)] * len(components)
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (len(components),) or not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise MLIntegrateError(
                f"weights must be {len(components)} finite numbers > 0 (one per component), "
                f"got {list(weights)!r}; drop a component rather than give it weight 0"
            )
        if not math.isclose(float(w.sum()), 1.0, rel_tol=1e-9):
            raise MLIntegrateError(f"weights must sum to 1, got {list(weights)!r} (sum {w.sum()})")
        self.components = components
        self.learn_weights = bool(learn_weights)
        self.moment = number_in("moment", moment, 1.0, 64.0, "2 minimises the variance")
        self.floor = number_in(
            "floor", floor, 0.0, 1.0 / len(components), "the smallest weight a component keeps"
        )
        self.initial_weights = w / w.sum()
        self.select = bool(select)
        self.select_batches = int_at_least("select_batches", select_batches, 1, "e.g. 10")
        self.optional = sorted({int(k) for k in optional})
        if any(not 0 <= k < len(components) - 1 for k in self.optional):
            raise MLIntegrateError(
                f"optional must index components 0…{len(components) - 2} (not the safe, last "
                f"one), got {list(optional)!r}"
            )
        self.reference_weights = self.initial_weights.copy()
        self.selection: dict[str, Any] = {}
        self._pool: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._pooled_batches = 0  # batches pooled so far; the choice starts at 2·select_batches
        self._presampled: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        # components told their own density at a batch before adapting (learned proposals)
        self._hinted = any(hasattr(c, "density_hint") for c in components)
        self._set_weights(self.initial_weights)

    def _set_weights(self, weights: np.ndarray) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self._edges = np.cumsum(self.weights)[:-1]

    def _sample(self, n: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        which = np.searchsorted(self._edges, gen.random(n), side="right")
        u = np.empty((n, self.dim))
        dens = np.full((len(self.components), n), np.nan)  # NaN: component of weight 0
        for k, comp in enumerate(self.components):
            rows = np.flatnonzero(which == k)
            if rows.size:
                u[rows], dens[k, rows] = comp._sample(rows.size, gen)
        for k, comp in enumerate(self.components):
            others = np.flatnonzero(which != k)
            if others.size and self.weights[k] > 0:
                dens[k, others] = comp._density(u[others])
        q = np.zeros(n)
        for alpha, dens_k in zip(self.weights, dens, strict=True):
            if alpha > 0:
                q += alpha * dens_k
        if self.select or self.learn_weights or self._hinted:  # read again by _adapt
            self._presampled = (u.copy(), q.copy(), dens)
        return u, q

    def _density(self, u: np.ndarray) -> np.ndarray:
        q = np.zeros(u.shape[0])
        for alpha, comp in zip(self.weights, self.components, strict=True):
            if alpha > 0:
                q += alpha * comp._density(u)
        return q

    def _densities_before_adapt(
        self, u: np.ndarray, q: np.ndarray, evaluate: bool = True
    ) -> np.ndarray | None:
        """q_k(u) (K, n) of the components as they are now (cached from ``_sample`` where
        u and q are, bit for bit, what it returned); None where they are not cached and not
        to be evaluated (``evaluate`` False)."""
        cached, self._presampled = self._presampled, None
        u = np.ascontiguousarray(u, dtype=np.float64)
        q = np.ascontiguousarray(q, dtype=np.float64)
        if cached is not None and _same_bits(cached[0], u) and _same_bits(cached[1], q):
            dens = cached[2]
        elif not evaluate:
            return None
        else:
            dens = np.full((len(self.components), u.shape[0]), np.nan)
        for k, comp in enumerate(self.components):
            if np.isnan(dens[k]).any():
                dens[k] = comp._density(u)
        return dens

    def _select(self) -> None:
        """Set the weights to the candidate with the best pooled held-out figure."""
        f = np.concatenate([b[0] for b in self._pool])
        q = np.concatenate([b[1] for b in self._pool])
        dens = np.concatenate([b[2] for b in self._pool], axis=1)
        candidates = candidate_weights(self.reference_weights, self.floor, self.optional)
        eps, rsd = reweighted_figures(candidates, dens, q, f)
        best = choose(eps, rsd, fallback=0)
        self.selection = {
            "share": float(1.0 - candidates[best, -1]),
            "candidates": (1.0 - candidates[:, -1]).tolist(),
            "eps_median_max": eps.tolist(),
            "rsd": rsd.tolist(),
            "points": int(f.size),
            "without_optional": (
                np.all(candidates[:, self.optional] == 0, axis=1).tolist() if self.optional else []
            ),
        }
        self._set_weights(candidates[best])

    def _adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:
        nonzero = bool(np.any(f != 0))
        reuse = self.learn_weights and weights_from_sampling
        needed = self.select or reuse  # else only for the hints: taken where cached
        wanted = nonzero and (needed or self._hinted)
        before = self._densities_before_adapt(u, q, evaluate=needed) if wanted else None
        if self.select and before is not None:
            self._pool.append((f.copy(), q.copy(), before))
            del self._pool[: -self.select_batches]
            self._pooled_batches += 1
        for k, comp in enumerate(self.components):
            if before is not None and hasattr(comp, "density_hint"):
                comp.density_hint(u, before[k])
            comp._adapt(u, q, f)
        if self.learn_weights and nonzero:
            # each component as it now is, but one that adapted lightly (a learned one whose
            # step the budget capped) keeps the densities that drew the batch: evaluating it
            # again would cost about as much as its training step did
            densities = np.stack(
                [
                    before[k]
                    if reuse and before is not None and getattr(comp, "adapted_lightly", False)
                    else comp._density(u)
                    for k, comp in enumerate(self.components)
                ]
            )
            self.reference_weights = multichannel_weights(
                self.reference_weights, densities, q, f, self.floor, moment=self.moment
            )
            if not self.select or not self.selection:  # learned until the choice starts
                self._set_weights(self.reference_weights)
        if self.select and self._pool and self._pooled_batches >= 2 * self.select_batches:
            self._select()

    def default_batch_size(self, calls: int) -> int:
        return min(c.default_batch_size(calls) for c in self.components)

    def config(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "components": [c.spec() for c in self.components],
            "weights": self.initial_weights.tolist(),
            "learn_weights": self.learn_weights,
            "floor": self.floor,
            "moment": self.moment,
            "select": self.select,
            "select_batches": self.select_batches,
            "optional": self.optional,
        }

    def weight_state(self) -> dict[str, np.ndarray]:
        """The mixture's own state: weights in use, reference weights, selection pool."""
        state: dict[str, np.ndarray] = {"weights": self.weights.copy()}
        if self.learn_weights or self.select:
            state["reference"] = self.reference_weights.copy()
        if self._pool:
            state["pool.sizes"] = np.array([b[0].size for b in self._pool], dtype=np.int64)
            state["pool.f"] = np.concatenate([b[0] for b in self._pool])
            state["pool.q"] = np.concatenate([b[1] for b in self._pool])
            state["pool.densities"] = np.concatenate([b[2] for b in self._pool], axis=1)
        if self.select:
            state["pool.batches"] = np.array(self._pooled_batches, dtype=np.int64)
        return state

    def load_weight_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`weight_state` returned (weights checked)."""
        if "weights" in state:
            self.load_weights(state["weights"])
        if "reference" in state:
            self.reference_weights = self._checked_weights(state["reference"])
        self._pool = []
        if "pool.sizes" in state:
            ends = np.cumsum(state["pool.sizes"])[:-1]
            f, q = np.split(state["pool.f"], ends), np.split(state["pool.q"], ends)
            dens = np.split(np.asarray(state["pool.densities"]), ends, axis=1)
            if dens[0].shape[0] != len(self.components):
                raise CheckpointError("mixture selection pool does not fit the components")
            self._pool = list(zip(f, q, dens, strict=True))
        # a checkpoint from before the warm-up existed chose from its first batch on
        self._pooled_batches = int(state.get("pool.batches", 2 * self.select_batches))

    def state_dict(self) -> dict[str, np.ndarray]:
        state = self.weight_state()
        for k, comp in enumerate(self.components):
            state.update(prefixed(f"{k}.", comp.state_dict()))
        return state

    def _checked_weights(self, weights: np.ndarray) -> np.ndarray:
        w = np.asarray(weights, dtype=np.float64)
        # chosen weights may give 0 to any component but the last (the safe one)
        fits = w.shape == self.weights.shape
        ok = fits and (np.all(w > 0) or (self.select and np.all(w >= 0) and w[-1] > 0))
        if not (ok and abs(w.sum() - 1) < 1e-9):
            raise CheckpointError(
                f"mixture weights {w.tolist()} do not fit {len(self.components)} components"
            )
        return w

    def load_weights(self, weights: np.ndarray) -> None:
        """Restore learned or chosen weights (checked: K numbers ≥ 0 summing to 1)."""
        self._set_weights(self._checked_weights(weights))

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.load_weight_state(state)
        for k, comp in enumerate(self.components):
            comp.load_state_dict(unprefixed(f"{k}.", state))
