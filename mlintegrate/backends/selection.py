r"""Mixture weights chosen by the held-out figure a user is judged on (issue 14 §1).

A mixture q_α = Σ_k α_k q_k evaluates every component's density at every point, so one batch
u_i ~ q_s (drawn from the mixture in use, f known) tells the weight distribution of *any*
other α by reweighting: under q_α a point carries the importance ratio r_i = q_α(u_i)/q_s(u_i)
and the weight w_i = |f_i|/q_α(u_i). Hence, self-normalised,

    P_α(w ≤ t) ≈ Σ_i r_i 1{w_i ≤ t} / Σ_i r_i,        E_α[w²] ≈ mean(f_i² / (q_α(u_i) q_s(u_i))),

and the figures of :mod:`mlintegrate.metrics` follow for every candidate α without a new
integrand call: ε_median-max = ⟨|w|⟩ / w_mm, with w_mm the median of the maximum of k = n/10
weights, i.e. the weighted quantile of level 2^(−1/k) (with r ≡ 1 this is exactly
:func:`~mlintegrate.metrics.median_max_weight`), and rsd² = E_α[w²]/I² − 1.

:func:`choose` keeps, among the candidates whose rsd is at most the fallback's (α = e_safe,
the safe component alone, always a candidate), the one with the largest ε_median-max: where
the learned component does not help the mixture falls back to the safe one (VEGAS), where it
helps its gain is kept. The choice is made from points already evaluated during training and
fixes the weights before the next points are drawn, so every estimate stays unbiased.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["SHARES", "candidate_weights", "choose", "reweighted_figures", "weighted_median_max"]

#: shares t of the non-safe components tried: α(t) = t · α_rest + (1 − t) · e_safe
SHARES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)


def weighted_median_max(w: np.ndarray, r: np.ndarray, calls: int) -> float:
    """Median of the largest of k = max(1, calls // 10) weights drawn from the r-weighted sample.

    ``w`` (n,) weights, ``r`` (n,) importance ratios ≥ 0 (not all 0). The maximum of k
    i.i.d. weights is ≤ t with probability F(t)^k, so the median is the smallest w_(j) with
    F(w_(j)) ≥ 2^(−1/k), F the r-weighted empirical distribution. With r ≡ 1 and
    calls = n this is :func:`mlintegrate.metrics.median_max_weight` exactly.
    """
    n = w.size
    k = max(1, calls // 10)
    total = float(np.sum(r))
    # the first j (ascending w) whose cumulated r reaches total · level, the same 1e-12 guard
    # as metrics.median_max_weight uses on j = ⌈n 2^(−1/k)⌉
    target = total * (0.5 ** (1.0 / k) - 1e-12 / n)
    m = min(n, 256)
    while True:  # only the top of the distribution matters: sort the m largest, widen if short
        top = np.argpartition(w, n - m)[n - m :] if m < n else np.arange(n)
        top = top[np.argsort(w[top], kind="stable")]
        below = total - float(np.sum(r[top])) if m < n else 0.0
        cum = below + np.cumsum(r[top])
        if m == n or below < target:
            j = int(np.searchsorted(cum, target, side="left"))
            return float(w[top[min(j, m - 1)]])
        m = min(n, 8 * m)


def reweighted_figures(
    alphas: np.ndarray,
    densities: np.ndarray,
    q_sample: np.ndarray,
    f: np.ndarray,
    calls: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(ε_median-max, rsd) of the mixture with weights α, for each row of ``alphas`` (C, K).

    ``densities`` q_k(u_i) (K, n) of the components at points drawn with density ``q_sample``
    (n,) where the integrand is ``f`` (n,); ``calls``: the evaluation size ε refers to
    (None: n). A candidate with q_α = 0 where f ≠ 0 gets ε = 0 and rsd = inf.
    """
    alphas = np.atleast_2d(np.asarray(alphas, dtype=np.float64))
    n = f.size
    calls = n if calls is None else calls
    absf = np.abs(f)
    mean_abs = float(np.mean(absf / q_sample))
    mean = float(np.mean(f / q_sample))
    eps = np.zeros(alphas.shape[0])
    rsd = np.full(alphas.shape[0], np.inf)
    for c, alpha in enumerate(alphas):
        q_alpha = alpha @ densities
        if np.any((q_alpha <= 0) & (absf > 0)) or mean == 0:
            continue
        w = np.divide(absf, q_alpha, out=np.zeros(n), where=absf > 0)
        w_mm = weighted_median_max(w, q_alpha / q_sample, calls)
        eps[c] = mean_abs / w_mm if w_mm > 0 else 0.0
        terms = np.divide(absf * absf, q_alpha * q_sample, out=np.zeros(n), where=absf > 0)
        second = float(np.mean(terms))
        rsd[c] = float(np.sqrt(max(second / mean**2 - 1.0, 0.0)))
    return eps, rsd


def candidate_weights(
    reference: np.ndarray, floor: float = 0.0, optional: Sequence[int] = ()
) -> np.ndarray:
    """Candidates (C, K): α(t) = t · α_rest + (1 − t) · e_K for t in :data:`SHARES` and the
    reference's own share, with α_rest the ``reference`` weights of components 1…K−1
    renormalised; the last (safe) component keeps ≥ max(``floor``, 0.01). With ``optional``
    (indices of components, e.g. the mode channels of :mod:`.modes`), the same shares again
    with those components' weights set to 0 in α_rest: the choice may drop them entirely."""
    reference = np.asarray(reference, dtype=np.float64)
    cap = 1.0 - max(floor, 0.01)
    shares = sorted({min(t, cap) for t in (*SHARES, 1.0 - reference[-1])})
    rests = [reference[:-1]]
    if len(optional):
        kept = reference[:-1].copy()
        kept[np.asarray(optional, dtype=int)] = 0.0
        if kept.sum() > 0:
            rests.append(kept)
    return np.array([np.append(t * rest / rest.sum(), 1.0 - t) for rest in rests for t in shares])


def choose(eps: np.ndarray, rsd: np.ndarray, fallback: int = 0) -> int:
    """Index of the candidate with the largest ε among those whose rsd ≤ the fallback's."""
    ok = rsd <= rsd[fallback]
    ok[fallback] = True
    score = np.where(ok, eps, -np.inf)
    return int(np.argmax(score))
