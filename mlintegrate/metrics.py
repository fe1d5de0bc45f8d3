"""Figures of merit of a weighted sample w_i = f(u_i)/q(u_i), u_i ~ q i.i.d.

All functions take the full weight array of shape (n,), *including* the zeros of points
that failed cuts, so that ⟨w⟩ is the integral estimate. Signed weights are allowed: the
unweighting quantities then use |w| (an event carries the sign of its weight).

Unweighting efficiency ε = ⟨|w|⟩ / w_max is the expected number of unweighted events per
integrand call. It depends on the choice of w_max, so three are offered, always named:

- ``max``: the largest |w| in the sample. Exact (no overweights) but dominated by the tail:
  it only grows with the sample size.
- ``median_max``: the median of the maxima of bootstrap replicas of size k drawn with
  replacement from the sample (the robust estimate of arXiv:2001.10028). Computed
  exactly in the limit of infinitely many replicas: P(max ≤ w_(j)) = (j/n)^k, so the
  median is the order statistic w_(j) with j = ⌈n·2^(−1/k)⌉. k = n gives back the plain
  maximum, hence the default k = n/10 (close to the 7th largest weight).
- ``reduced``: the w_max whose overweights carry a fraction r (default 1e-3) of the cross
  section, Σ max(|w| − w_max, 0) = r Σ|w|: the part of σ that sits above w_max and is kept
  by giving overweight events a weight |w|/w_max > 1.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "Efficiency",
    "WeightMetrics",
    "cut_efficiency",
    "ess_fraction",
    "expected_unweighted_events",
    "max_weight",
    "median_max_weight",
    "negative_weight_fraction",
    "overweight_fraction",
    "reduced_max_weight",
    "relative_std",
    "unweighting_efficiency",
    "weight_metrics",
]

DEFAULT_OVERWEIGHT_FRACTION = 1e-3
DEFAULT_REPLICA_FRACTION = 0.1


def _abs_weights(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"weights must be a non-empty 1-D array, got shape {w.shape}")
    return np.abs(w)


def max_weight(w: np.ndarray) -> float:
    """Plain maximum max_i |w_i|."""
    return float(_abs_weights(w).max())


def median_max_weight(w: np.ndarray, replica_size: int | None = None) -> float:
    """Median of the maxima of bootstrap replicas of size k (exact infinite-replica limit).

    With the weights sorted, w_(1) ≤ … ≤ w_(n), a replica's maximum is ≤ w_(j) with
    probability (j/n)^k; the median is w_(j) for the smallest j with (j/n)^k ≥ 1/2.
    Default k = max(1, n // 10).
    """
    a = _abs_weights(w)
    n = a.size
    k = max(1, n // int(1 / DEFAULT_REPLICA_FRACTION)) if replica_size is None else replica_size
    if not 1 <= k:
        raise ValueError(f"replica_size must be ≥ 1, got {replica_size}")
    j = min(n, max(1, math.ceil(n * 0.5 ** (1.0 / k) - 1e-12)))
    return float(np.partition(a, j - 1)[j - 1])


def reduced_max_weight(
    w: np.ndarray, overweight_fraction: float = DEFAULT_OVERWEIGHT_FRACTION
) -> float:
    """w_max with Σ max(|w| − w_max, 0) = r · Σ|w| (r = ``overweight_fraction``).

    g(t) = Σ (|w_i| − t)_+ is piecewise linear and decreasing; with |w| sorted in
    descending order and S_k the sum of the k largest, g(t) = S_k − k t on
    [w_(k+1), w_(k)], so the root is t = (S_k − r Σ|w|) / k for the first k that brackets it.
    Weights equal to 1e-9 (a zero-variance proposal) have no tail: w_max is their maximum.
    """
    if not 0.0 <= overweight_fraction < 1.0:
        raise ValueError(
            f"overweight_fraction must be in [0, 1), got {overweight_fraction}; "
            "use e.g. 1e-3 for one per mille of the cross section"
        )
    a = np.sort(_abs_weights(w))[::-1]
    total = a.sum()
    if total == 0.0 or overweight_fraction == 0.0:
        return float(a[0])
    if a[0] - a[-1] <= 1e-9 * a[0]:
        # equal weights (an exact map): no tail to cut, every event has weight 1
        return float(a[0])
    target = overweight_fraction * total
    cumsum = np.cumsum(a)
    k = np.arange(1, a.size + 1)
    nxt = np.append(a[1:], 0.0)
    # g at the next smaller weight: S_k − k·w_(k+1); first k where it reaches the target.
    g_next = cumsum - k * nxt
    idx = int(np.argmax(g_next >= target))
    return float((cumsum[idx] - target) / (idx + 1))


def unweighting_efficiency(w: np.ndarray, w_max: float) -> float:
    """ε = ⟨|w|⟩ / w_max: expected unweighted events per integrand call (cut points included)."""
    if not w_max > 0:
        return 0.0
    return float(_abs_weights(w).mean() / w_max)


def expected_unweighted_events(w: np.ndarray, w_max: float) -> float:
    """Σ min(|w|/w_max, 1): the expected number of events hit-or-miss keeps."""
    if not w_max > 0:
        return 0.0
    return float(np.minimum(_abs_weights(w) / w_max, 1.0).sum())


def overweight_fraction(w: np.ndarray, w_max: float) -> float:
    """Fraction of the unweighted events that are overweight (carry |weight| > 1)."""
    a = _abs_weights(w)
    kept = expected_unweighted_events(a, w_max)
    return float(np.count_nonzero(a > w_max) / kept) if kept > 0 else 0.0


def ess_fraction(w: np.ndarray) -> float:
    """Kish effective sample size per point, (Σw)² / (n Σw²), in (0, 1]."""
    w = np.asarray(w, dtype=np.float64)
    s2 = float(np.dot(w, w))
    # ≤ 1 by Cauchy–Schwarz; equal weights can round an ulp above it
    return min(float(w.sum() ** 2 / (w.size * s2)), 1.0) if s2 > 0 else 0.0


def relative_std(w: np.ndarray) -> float:
    """Relative standard deviation of the weights, std(w)/|⟨w⟩| (the error is rsd/√n)."""
    w = np.asarray(w, dtype=np.float64)
    mean = w.mean()
    return float(w.std(ddof=1) / abs(mean)) if mean != 0 and w.size > 1 else math.inf


def cut_efficiency(w: np.ndarray) -> float:
    """Fraction of points with a nonzero weight (passing the cuts)."""
    w = np.asarray(w)
    return float(np.count_nonzero(w) / w.size)


def negative_weight_fraction(w: np.ndarray) -> float:
    """Fraction of the nonzero weights that are negative."""
    w = np.asarray(w)
    nonzero = np.count_nonzero(w)
    return float(np.count_nonzero(w < 0) / nonzero) if nonzero else 0.0


@dataclass(frozen=True)
class Efficiency:
    """Unweighting efficiency ⟨|w|⟩/w_max for the three w_max definitions (module docstring)."""

    max: float
    median_max: float
    reduced: float


@dataclass(frozen=True)
class WeightMetrics:
    """Every figure of merit of one weighted sample; see the functions of this module."""

    efficiency: Efficiency
    w_max: Efficiency  # the three maximum weights themselves, same field names
    ess_fraction: float
    rsd: float
    cut_efficiency: float
    negative_weight_fraction: float
    overweight_fraction: float  # of unweighted events, with the reduced w_max
    unweighted_per_call: float  # Σ min(|w|/w_max_reduced, 1) / n

    def to_dict(self) -> dict:
        return asdict(self)


def weight_metrics(
    w: np.ndarray,
    overweight_fraction_of_sigma: float = DEFAULT_OVERWEIGHT_FRACTION,
    replica_size: int | None = None,
) -> WeightMetrics:
    """All metrics of a weight array (n,) in one call."""
    w = np.asarray(w, dtype=np.float64)
    maxima = Efficiency(
        max=max_weight(w),
        median_max=median_max_weight(w, replica_size),
        reduced=reduced_max_weight(w, overweight_fraction_of_sigma),
    )
    eff = Efficiency(
        # ⟨|w|⟩ ≤ max|w|, but the float mean of equal weights can exceed it by an ulp
        max=min(unweighting_efficiency(w, maxima.max), 1.0),
        median_max=unweighting_efficiency(w, maxima.median_max),
        reduced=unweighting_efficiency(w, maxima.reduced),
    )
    return WeightMetrics(
        efficiency=eff,
        w_max=maxima,
        ess_fraction=ess_fraction(w),
        rsd=relative_std(w),
        cut_efficiency=cut_efficiency(w),
        negative_weight_fraction=negative_weight_fraction(w),
        overweight_fraction=overweight_fraction(w, maxima.reduced),
        unweighted_per_call=expected_unweighted_events(w, maxima.reduced) / w.size,
    )
