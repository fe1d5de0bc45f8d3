"""Hit-or-miss unweighting with overweights kept.

A point with weight w is kept with probability min(|w|/w_max, 1) and then carries the event
weight sign(w)·max(|w|/w_max, 1). The expected sum of event weights is Σ w / w_max, so
σ = w_max · Σ(event weights) / n_points stays unbiased whatever w_max is; a w_max below
the true maximum only makes some events overweight (|weight| > 1) instead of biasing σ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rng import RngLike, as_generator

__all__ = ["Unweighted", "unweight"]


@dataclass(frozen=True)
class Unweighted:
    """Result of unweighting n points: indices of the kept points and their event weights."""

    indices: np.ndarray  # (k,) int64, indices into the weighted sample
    weights: np.ndarray  # (k,) float64, ±1 or ±|w|/w_max for overweights
    w_max: float
    n_points: int

    @property
    def n_overweight(self) -> int:
        return int(np.count_nonzero(np.abs(self.weights) > 1.0))

    @property
    def cross_section(self) -> float:
        """σ estimate from the kept events alone: w_max Σ weights / n_points."""
        return float(self.w_max * self.weights.sum() / self.n_points)


def unweight(w: np.ndarray, w_max: float, rng: RngLike = None) -> Unweighted:
    """Hit-or-miss unweighting of the weights ``w`` (n,) against ``w_max`` (> 0)."""
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"w must be a 1-D array of weights, got shape {w.shape}")
    if not (np.isfinite(w_max) and w_max > 0):
        raise ValueError(f"w_max must be a finite positive number, got {w_max}")
    gen = as_generator(rng)
    ratio = np.abs(w) / w_max
    keep = gen.random(w.size) < ratio
    idx = np.flatnonzero(keep)
    weights = np.sign(w[idx]) * np.maximum(ratio[idx], 1.0)
    return Unweighted(indices=idx, weights=weights, w_max=float(w_max), n_points=w.size)
