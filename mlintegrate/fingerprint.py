"""A fingerprint of an integrand, so a saved proposal is never reused for another one silently.

The fingerprint is the integrand's name, its dimension and its values at a few fixed points
(drawn from a generator with a fixed seed, so the same points every time). It is stored in a
checkpoint; when a loaded proposal first meets an integrand, the values must agree to a
relative 1e-9 (:func:`mismatch`). Two different integrands agreeing at 16 random points is
not a practical concern; the same integrand evaluated on another machine agrees far better
than 1e-9.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .integrand import evaluate

__all__ = ["N_POINTS", "RTOL", "SEED", "fingerprint", "mismatch"]

N_POINTS = 16
SEED = 20261127
RTOL = 1e-9


def _points(seed: int, n: int, dim: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, dim))


def fingerprint(integrand: Callable[[np.ndarray], Any], dim: int) -> dict[str, Any]:
    """{name, dim, seed, values}: JSON-able, for a checkpoint's metadata."""
    values = evaluate(integrand, _points(SEED, N_POINTS, dim))
    name = getattr(integrand, "name", None)
    return {
        "name": name if isinstance(name, str) else None,
        "dim": int(dim),
        "seed": SEED,
        "values": [float(v) for v in values],
    }


def mismatch(saved: dict[str, Any], integrand: Callable[[np.ndarray], Any], dim: int) -> str | None:
    """Why ``integrand`` is not the one ``saved`` was taken from, or None when it is."""
    if saved["dim"] != dim:
        return f"it was made for dimension {saved['dim']}, this integrand has {dim}"
    expected = np.asarray(saved["values"], dtype=np.float64)
    got = evaluate(integrand, _points(saved["seed"], expected.size, dim))
    if np.allclose(got, expected, rtol=RTOL, atol=0.0):
        return None
    i = int(np.argmax(~np.isclose(got, expected, rtol=RTOL, atol=0.0)))
    return (
        f"its values differ at the fixed check points (e.g. {got[i]:.10g} instead of "
        f"{expected[i]:.10g} at point {i})"
    )
