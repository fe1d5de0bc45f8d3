r"""Composition of bijections, and a phase-space map pulled back through one.

``Chain(T₁, …, T_k)`` applies T₁ first: u = T_k(…T₁(y)), with
log|det ∂u/∂y| = Σᵢ log|det ∂Tᵢ| at the intermediate points; the inverse runs backwards.
Every part keeps its exact log-Jacobian, so the chain does too.

``pull_back(phase_space, T)`` is the phase-space map y ↦ (p(T(y)), w(T(y)) · |det ∂T/∂y|):
the same measure on new coordinates, which is how a :class:`~mlintegrate.processes.Process`
puts a physics-aware map in front of its phase space (the integrand becomes f(T(y)) |det ∂T|).

>>> import numpy as np
>>> from mlintegrate.backends.bijections import LogMap
>>> T = Chain(LogMap(2, axis=0), LogMap(2, axis=1))
>>> y = np.random.default_rng(0).random((3, 2))
>>> u, logj = T.forward(y)
>>> y2, logj_inv = T.inverse(u)
>>> bool(np.allclose(y2, y)), bool(np.allclose(logj + logj_inv, 0.0))
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ConfigError
from .base import prefixed, unprefixed
from .bijections import Bijection

__all__ = ["Chain", "pull_back"]

PhaseSpaceMap = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class Chain(Bijection):
    """T₁ then T₂ … then T_k, all cube-to-cube maps of one dimension."""

    name = "chain"

    def __init__(self, *parts: Bijection):
        if not parts or not all(isinstance(p, Bijection) and p.cube_to_cube for p in parts):
            raise ConfigError(f"Chain needs one or more cube-to-cube bijections, got {parts!r}")
        dims = {p.dim for p in parts}
        if len(dims) != 1:
            raise ConfigError(f"Chain parts must share one dimension, got dims {sorted(dims)}")
        super().__init__(parts[0].dim)
        self.parts = tuple(parts)

    def forward(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logj = np.zeros(np.shape(y)[0])
        for part in self.parts:
            y, step = part.forward(y)
            logj += step
        return y, logj

    def inverse(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logj = np.zeros(np.shape(u)[0])
        for part in reversed(self.parts):
            u, step = part.inverse(u)
            logj += step
        return u, logj

    def adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:
        """Each part learns in its own output coordinates, last part first: pulled back
        through T, points drawn with density q where the integrand is f are drawn with q·J
        where it is f·J (J = |det ∂T/∂y|), as in :class:`~.mapped.Mapped`."""
        for part in reversed(self.parts):
            part.adapt(u, q, f)
            u, logj_inv = part.inverse(u)
            jac = np.exp(-logj_inv)
            q, f = q * jac, f * jac

    def config(self) -> dict[str, Any]:
        return {"parts": [p.spec() for p in self.parts]}

    def state_dict(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for i, part in enumerate(self.parts):
            out.update(prefixed(f"{i}.", part.state_dict()))
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for i, part in enumerate(self.parts):
            part.load_state_dict(unprefixed(f"{i}.", state))


def pull_back(phase_space: PhaseSpaceMap, bijection: Bijection) -> PhaseSpaceMap:
    """y ↦ (p, w) = (p(T(y)), w(T(y)) · |det ∂T/∂y|) for a phase-space map u ↦ (p, w)."""

    def mapped(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u, logj = bijection.forward(y)
        p, weight = phase_space(u)
        return p, weight * np.exp(logj)

    return mapped
