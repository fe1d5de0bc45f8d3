r"""Invertible maps with exact log-Jacobians in both directions.

A :class:`Bijection` T sends points y of the unit cube [0,1]^d to points u = T(y) and back:

- ``forward(y) -> (u, log|det ∂u/∂y|)``, ``inverse(u) -> (y, log|det ∂y/∂u|)``, shapes
  (n, d) → (n, d'), (n,);
- ``adapt(u, q, f)`` for maps that learn (the VEGAS grid); a fixed map ignores it;
- ``config()``, ``state_dict()``, ``load_state_dict()`` like a backend.

``cube_to_cube`` says whether u lives in the unit cube too: only such maps can carry a
proposal (:class:`~.mapped.Mapped`): a density p(y) on the cube becomes
q(u) = p(T⁻¹(u)) · |det ∂T⁻¹/∂u|. :class:`DietMap` sends the cube onto massless n-body
phase space instead (its log-Jacobian is the log of the phase-space weight).

>>> import numpy as np
>>> T = LogMap(dim=2, axis=0, epsilon=1e-3)
>>> y = np.random.default_rng(0).random((4, 2))
>>> u, logj = T.forward(y)
>>> y2, logj_inv = T.inverse(u)
>>> bool(np.allclose(y2, y)), bool(np.allclose(logj + logj_inv, 0.0))
(True, True)
"""

from __future__ import annotations

import importlib
import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import vegas as _vegas

from ..errors import MLIntegrateError
from ..phasespace import breit_wigner, breit_wigner_inverse, rambo_diet, rambo_diet_inverse
from ..validate import int_at_least, number_in, positive_int

__all__ = [
    "BIJECTIONS",
    "Bijection",
    "BreitWignerMap",
    "DietMap",
    "LAZY_BIJECTIONS",
    "LogMap",
    "VegasMap",
    "build_bijection",
]


class Bijection(ABC):
    """An invertible map of the unit cube with exact log-Jacobians (module docstring)."""

    name: ClassVar[str] = "bijection"
    cube_to_cube: ClassVar[bool] = True

    def __init__(self, dim: int):
        self.dim = positive_int("dim", dim)

    @abstractmethod
    def forward(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """y (n, d) in the cube → (u, log|det ∂u/∂y|)."""

    @abstractmethod
    def inverse(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """u → (y (n, d), log|det ∂y/∂u|)."""

    def adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:  # noqa: B027
        """Learn from points u drawn with density q where the integrand is f (adaptive maps)."""

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    def spec(self) -> dict[str, Any]:
        return {"bijection": self.name, "config": self.config()}

    def state_dict(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:  # noqa: B027
        pass


class _OneAxis(Bijection):
    """A 1-D monotonic map t → x of the coordinate ``axis``; the others pass unchanged."""

    def __init__(self, dim: int, axis: int):
        super().__init__(dim)
        self.axis = int_at_least("axis", axis, 0)
        if self.axis >= self.dim:
            raise MLIntegrateError(f"axis must be < dim={self.dim}, got {axis!r}")

    @abstractmethod
    def _map(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """t (n,) → (x, log dx/dt)."""

    @abstractmethod
    def _unmap(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x (n,) → (t, log dt/dx)."""

    def forward(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = np.array(y, dtype=np.float64)
        u[:, self.axis], logj = self._map(u[:, self.axis])
        return u, logj

    def inverse(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = np.array(u, dtype=np.float64)
        y[:, self.axis], logj = self._unmap(y[:, self.axis])
        return y, logj

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim, "axis": self.axis}


class LogMap(_OneAxis):
    r"""Logarithmic sampling of one axis: density ∝ 1/(x + ε) on [0, 1].

    x = ε((1 + 1/ε)^t − 1), dx/dt = (x + ε) L with L = ln(1 + 1/ε); the map for an
    integrand singular like 1/x at the face x = 0 (a soft or collinear invariant).
    """

    name = "log"

    def __init__(self, dim: int, axis: int = 0, epsilon: float = 1e-3):
        super().__init__(dim, axis)
        self.epsilon = number_in("epsilon", epsilon, 0.0, math.inf, "e.g. 1e-3", open_low=True)
        self._log_range = math.log1p(1.0 / self.epsilon)

    def _map(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.clip(self.epsilon * np.expm1(t * self._log_range), 0.0, 1.0)
        return x, np.log((x + self.epsilon) * self._log_range)

    def _unmap(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = np.clip(np.log1p(x / self.epsilon) / self._log_range, 0.0, 1.0)
        return t, -np.log((x + self.epsilon) * self._log_range)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "epsilon": self.epsilon}


class BreitWignerMap(_OneAxis):
    """A Breit–Wigner peak on one axis: x = (s − s_min)/(s_max − s_min) with s ~ BW(M, Γ)."""

    name = "breit_wigner"

    def __init__(self, dim: int, axis: int, mass: float, width: float, s_min: float, s_max: float):
        super().__init__(dim, axis)
        self.mass, self.width = float(mass), float(width)
        self.s_min, self.s_max = float(s_min), float(s_max)
        breit_wigner(np.zeros(1), self.mass, self.width, self.s_min, self.s_max)  # validates
        self._log_range = math.log(self.s_max - self.s_min)

    def _map(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s, jac = breit_wigner(t, self.mass, self.width, self.s_min, self.s_max)
        x = np.clip((s - self.s_min) / (self.s_max - self.s_min), 0.0, 1.0)
        return x, np.log(jac) - self._log_range

    def _unmap(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = np.clip(self.s_min + x * (self.s_max - self.s_min), self.s_min, self.s_max)
        t, jac = breit_wigner_inverse(s, self.mass, self.width, self.s_min, self.s_max)
        return t, self._log_range - np.log(jac)

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "mass": self.mass,
            "width": self.width,
            "s_min": self.s_min,
            "s_max": self.s_max,
        }


class VegasMap(Bijection):
    """The separable adaptive map of the ``vegas`` package, trained like ``vegas.Integrator``.

    ``adapt(u, q, f)`` accumulates, per grid increment, Σ f² J/q over the points (J = ∂u/∂y):
    an unbiased estimate of ∫ (f J)² dy for points drawn from *any* density q, which is what
    vegas accumulates from uniform y (there q = 1/J and f² J/q = (f J)²), then moves the grid
    with damping ``alpha``.
    """

    name = "vegas"

    def __init__(self, dim: int, ninc: int = 256, alpha: float = 0.5):
        super().__init__(dim)
        self.ninc = int_at_least("ninc", ninc, 2, "grid increments per axis, e.g. 256")
        self.alpha = number_in("alpha", alpha, 0.0, math.inf, "grid damping, e.g. 0.5")
        self.grid = _vegas.AdaptiveMap([[0.0, 1.0]] * self.dim, ninc=self.ninc)

    def forward(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = np.ascontiguousarray(y, dtype=np.float64)
        u, jac = np.empty_like(y), np.empty(y.shape[0])
        self.grid.map(y, u, jac)
        # the map's float rounding can land a hair outside [0, 1]; the density is unchanged
        np.clip(u, 0.0, 1.0, out=u)
        return u, np.log(jac)

    def inverse(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = np.ascontiguousarray(u, dtype=np.float64)
        y, jac = np.empty_like(u), np.empty(u.shape[0])
        self.grid.invmap(u, y, jac)
        return y, -np.log(jac)

    def adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:
        y, log_jac_inv = self.inverse(u)
        self.grid.add_training_data(y, np.square(f) / (q * np.exp(log_jac_inv)))
        self.grid.adapt(alpha=self.alpha)

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim, "ninc": self.ninc, "alpha": self.alpha}

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"grid": np.array(self.grid.extract_grid(), dtype=np.float64)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        if "grid" not in state:
            raise MLIntegrateError("VEGAS state lacks its 'grid' array: saved by another backend")
        grid = np.asarray(state["grid"], dtype=np.float64)
        if grid.shape != (self.dim, self.ninc + 1):
            raise MLIntegrateError(
                f"VEGAS grid has shape {grid.shape}, expected ({self.dim}, {self.ninc + 1}) "
                f"for dim={self.dim}, ninc={self.ninc}"
            )
        if not (
            np.all(np.isfinite(grid))
            and np.all(np.diff(grid, axis=1) > 0)
            and np.allclose(grid[:, [0, -1]], [0, 1])
        ):
            raise MLIntegrateError("VEGAS grid must increase strictly from 0 to 1 along each axis")
        self.grid = _vegas.AdaptiveMap(grid)


class DietMap(Bijection):
    """RAMBO on diet: the cube [0,1]^(3n−4) onto massless n-body phase space at √s.

    ``forward(y) -> (p, log w)`` with momenta p (n_events, n, 4) and w the phase-space weight
    (constant, V_n); ``inverse(p) -> (y, −log w)``. Not cube-to-cube: it turns a density on
    the cube into one on phase space (q_Φ(p) = q(y) / w), e.g. to score events.
    """

    name = "diet"
    cube_to_cube = False

    def __init__(self, n_particles: int, sqrt_s: float):
        self.n_particles = int_at_least("n_particles", n_particles, 2)
        self.sqrt_s = number_in("sqrt_s", sqrt_s, 0.0, math.inf, open_low=True)
        super().__init__(3 * self.n_particles - 4)

    def forward(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, w = rambo_diet(y, self.n_particles, self.sqrt_s)
        return p, np.log(w)

    def inverse(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y, w = rambo_diet_inverse(u, self.sqrt_s)
        return y, -np.log(w)

    def config(self) -> dict[str, Any]:
        return {"n_particles": self.n_particles, "sqrt_s": self.sqrt_s}


BIJECTIONS: dict[str, type[Bijection]] = {
    cls.name: cls for cls in (LogMap, BreitWignerMap, VegasMap, DietMap)
}


#: bijections defined in other modules, imported on first use ("module:class")
LAZY_BIJECTIONS = {
    "pairing": "mlintegrate.backends.channels:PairingChannel",
    "antenna": "mlintegrate.backends.channels:AntennaChannel",
}


def build_bijection(spec: dict[str, Any]) -> Bijection:
    """Rebuild a bijection from ``Bijection.spec()``: ``{"bijection": name, "config": {...}}``."""
    name = spec.get("bijection") if isinstance(spec, dict) else None
    if name in LAZY_BIJECTIONS and name not in BIJECTIONS:
        module, _, attr = LAZY_BIJECTIONS[name].partition(":")
        BIJECTIONS[name] = getattr(importlib.import_module(module), attr)
    if name not in BIJECTIONS:
        valid = ", ".join(sorted({*BIJECTIONS, *LAZY_BIJECTIONS}))
        raise MLIntegrateError(f"unknown bijection {name!r}; valid: {valid}")
    try:
        return BIJECTIONS[name](**spec.get("config", {}))
    except TypeError as exc:
        raise MLIntegrateError(f"bijection {name!r}: bad settings ({exc})") from exc
