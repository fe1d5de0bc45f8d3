r"""Diagonal normal densities truncated to the unit cube, vectorised over K of them at once.

For a centre μ ∈ [0,1]^d and widths s > 0 the component is

    q(u) = Π_i φ((u_i − μ_i)/s_i) / (s_i Z_i),   Z_i = Φ((1 − μ_i)/s_i) − Φ(−μ_i/s_i),

an exact normalised density on [0,1]^d. Z_i is formed as 1 − Φ(a_i) − Φ(−b_i) from the two
tails (a_i ≤ 0 ≤ b_i), so it never cancels; sampling is the inverse CDF from one uniform number
per coordinate, taken from the nearer tail. :func:`log_pdf` evaluates n points under K
components as matrix products (no (n, K, d) array): Σ_i (u_i − μ_i)²/s_i² =
u²·(1/s²) − 2 u·(μ/s²) + μ²·(1/s²). :class:`TruncatedNormal` is one such component as a backend
(a mode channel of :mod:`.modes`), optionally refitted to the f-weighted moments it is
responsible for.

>>> import numpy as np
>>> mu, s = np.array([[0.3, 0.9]]), np.array([[0.1, 0.2]])
>>> u = sample(np.random.default_rng(0).random((4, 2)), mu[0], s[0])
>>> bool(np.all((u >= 0) & (u <= 1))), log_pdf(u, mu, s).shape
(True, (4, 1))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri

from ..errors import MLIntegrateError
from ..validate import number_in
from .base import Backend

__all__ = ["TruncatedNormal", "log_normaliser", "log_pdf", "sample"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
MIN_SCALE = 1e-3  # narrower components lose digits in the expanded square (module docstring)
MAX_SCALE = 10.0  # wider is uniform to float64 precision anyway
_CHUNK = 4096


def log_normaliser(mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """log Z (elementwise), Z = Φ((1 − μ)/s) − Φ(−μ/s), for μ ∈ [0, 1], s > 0."""
    a, b = -mu / s, (1.0 - mu) / s
    return np.log1p(-(np.exp(log_ndtr(a)) + np.exp(log_ndtr(-b))))


def log_pdf(u: np.ndarray, mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """log q_k(u) for u (n, d) under K components μ, s (K, d): shape (n, K)."""
    inv = 1.0 / (s * s)  # (K, d)
    const = -0.5 * np.einsum("kd,kd->k", mu * mu, inv) - np.sum(
        np.log(s) + _HALF_LOG_2PI + log_normaliser(mu, s), axis=1
    )
    out = np.empty((u.shape[0], mu.shape[0]))
    for lo in range(0, u.shape[0], _CHUNK):
        x = u[lo : lo + _CHUNK]
        out[lo : lo + _CHUNK] = -0.5 * ((x * x) @ inv.T) + x @ (mu * inv).T + const
    return out


def sample(v: np.ndarray, mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Inverse CDF at uniform numbers v (n, d) of the components μ, s (broadcast to (n, d))."""
    a, b = -mu / s, (1.0 - mu) / s
    pa, pb = ndtr(a), ndtr(-b)  # Φ(a), 1 − Φ(b)
    width = 1.0 - pa - pb
    lower = pa + v * width
    upper = pb + (1.0 - v) * width
    with np.errstate(invalid="ignore"):
        t = np.where(lower < 0.5, ndtri(lower), -ndtri(upper))
    return np.clip(mu + s * t, 0.0, 1.0)


def check_component(dim: int, mean: Any, scale: Any) -> tuple[np.ndarray, np.ndarray]:
    """``mean`` in [0,1]^d and ``scale`` in [MIN_SCALE, MAX_SCALE]^d as float64 (d,) arrays."""
    mu = np.array(mean, dtype=np.float64)  # fresh, aligned copies: loaded arrays may be views
    s = np.array(scale, dtype=np.float64)
    if mu.shape != (dim,) or not np.all((mu >= 0) & (mu <= 1)):
        raise MLIntegrateError(f"mean must be {dim} numbers in [0, 1], got {mean!r}")
    if s.shape != (dim,) or not np.all((s >= MIN_SCALE) & (s <= MAX_SCALE)):
        raise MLIntegrateError(
            f"scale must be {dim} numbers in [{MIN_SCALE}, {MAX_SCALE}], got {scale!r}"
        )
    return mu, s


class TruncatedNormal(Backend):
    """One diagonal normal N(mean, diag scale²) truncated to the cube (module docstring).

    With ``refit`` > 0, ``adapt`` moves (mean, scale) a fraction ``refit`` of the way to the
    moments of the part of f this component is responsible for, estimated from the batch:
    weights ω_j = |f_j| q_k(u_j) / q_s(u_j)² (the responsibility q_k/q times the importance
    weight |f|/q_s, up to the component's constant mixture weight, which cancels), scale =
    ``widen`` × the weighted standard deviation. That is the KL-optimal Gaussian for the
    responsible part of f (ignoring the truncation); updates wait for an effective sample size
    of ≥ ``min_ess`` points. The parameters are fixed between batches, so q stays exact.
    """

    name = "truncnormal"

    def __init__(
        self,
        dim: int,
        mean: Any,
        scale: Any,
        refit: float = 0.0,
        widen: float = 1.0,
        min_ess: float = 100.0,
    ):
        super().__init__(dim)
        self.mean, self.scale = check_component(self.dim, mean, scale)
        self.refit = number_in("refit", refit, 0.0, 1.0, "0: fixed, 1: jump to the moments")
        self.widen = number_in("widen", widen, 1.0, 10.0, "e.g. 1.2")
        self.min_ess = number_in("min_ess", min_ess, 1.0, 1e9)
        self.initial = (self.mean.copy(), self.scale.copy())

    def _log_q(self, u: np.ndarray) -> np.ndarray:
        return log_pdf(u, self.mean[None], self.scale[None])[:, 0]

    def _sample(self, n: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        u = sample(gen.random((n, self.dim)), self.mean, self.scale)
        return u, np.exp(self._log_q(u))

    def _density(self, u: np.ndarray) -> np.ndarray:
        return np.exp(self._log_q(u))

    def _adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:
        if self.refit == 0.0:
            return
        omega = np.abs(f) * np.exp(self._log_q(u) - 2.0 * np.log(q))
        total = omega.sum()
        if not (np.isfinite(total) and total > 0):
            return
        omega = omega / total
        if 1.0 / np.sum(omega * omega) < self.min_ess:
            return
        mean = omega @ u
        std = np.sqrt(np.maximum(omega @ (u - mean) ** 2, 0.0))
        r = self.refit
        self.mean = np.clip((1 - r) * self.mean + r * mean, 0.0, 1.0)
        scale = (1 - r) * self.scale + r * self.widen * std
        self.scale = np.clip(scale, MIN_SCALE, MAX_SCALE)

    def default_batch_size(self, calls: int) -> int:
        return max(1, min(calls, 100_000))

    def config(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "mean": self.initial[0].tolist(),
            "scale": self.initial[1].tolist(),
            "refit": self.refit,
            "widen": self.widen,
            "min_ess": self.min_ess,
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean.copy(), "scale": self.scale.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        if "mean" in state:
            self.mean, self.scale = check_component(self.dim, state["mean"], state["scale"])
