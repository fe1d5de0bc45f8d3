"""A process turns a matrix element |M|²(p) into an integrand f(u) on [0,1]^d in pb.

    σ = ∫ dΦ_n  flux · S · |M|²(p(u)) · Θ_cuts(p)   with   dΦ_n = w_ps(u) du

so f(u) = c · flux · S · |M|²(p(u)) · Θ_cuts · w_ps(u), where w_ps is the phase-space weight of
the map u → p (it includes the (2π)^{4−3n} factors), S the symmetry factor of identical final
state particles (1/k! for k identical ones), flux 1/(2s) for massless beams and 1/(2M) for a
decay, and c = 0.3893793721e9 pb·GeV² for cross sections (c = 1, result in GeV, for widths).

Momenta given to |M|² have shape (n, n_in + n_out, 4), incoming first, (E, px, py, pz). Beams
collide along z in their centre-of-mass frame, particle 1 moving to +z; a decaying particle is
at rest. |M|² is the spin- and colour-*summed* and *averaged* squared amplitude.
"""

from __future__ import annotations

import functools
import importlib
import math
import numbers
import pickle
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError, IntegrandError
from ..phasespace.diet import rambo_diet
from ..phasespace.rambo import rambo
from .particles import Particles

__all__ = ["GEV2_TO_PB", "PhaseSpaceMap", "Process", "builtin"]

GEV2_TO_PB = 0.3893793721e9

#: a phase-space map u (n, dim) -> (momenta of the outgoing particles (n, n_out, 4), weight (n,))
PhaseSpaceMap = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


_ME_FORM = (
    "the matrix element takes momenta p of shape (n, n_in + n_out, 4) (incoming first; E, px, "
    "py, pz in GeV) and returns |M|² of shape (n,), real and ≥ 0; for a function of one event "
    "p (N, 4) pass vectorized=False"
)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _real(name: str, value: Any, what: str) -> float:
    """A real number (int, float, numpy scalar), else a ConfigError naming ``name``."""
    if not (_is_real(value) and math.isfinite(value)):
        raise ConfigError(f"{name} must be {what}, got {value!r} ({type(value).__name__})")
    return float(value)


def _as_masses(name: str, value: float | Sequence[float]) -> tuple[float, ...]:
    items = [value] if _is_real(value) else value
    what = f"{name} must be one or more finite masses ≥ 0 in GeV (numbers)"
    if isinstance(items, str | bytes) or not isinstance(items, Sequence | np.ndarray):
        raise ConfigError(f"{what}, got {value!r}")
    if not len(items) or not all(_is_real(m) and math.isfinite(m) and m >= 0 for m in items):
        raise ConfigError(f"{what}, got {value!r}")
    return tuple(float(m) for m in items)


class Process:
    """A physics process as an integrand on the unit cube.

    Args:
        matrix_element: |M|²(p) with p of shape (n, n_in + n_out, 4) → (n,), in GeV^(4−2n_tot)
            units as usual. ``vectorized=False`` accepts a function of one event p (N, 4).
        incoming: masses of the incoming particles: two for a collision, one for a decay.
        outgoing_masses: masses of the outgoing particles (GeV).
        sqrt_s: collision energy in the centre-of-mass frame (for a decay: the parent mass).
        cuts: ``cuts(p) -> bool (n,)``, True where an event passes; f = 0 elsewhere.
        phase_space: ``"diet"`` (RAMBO on diet, 3n−4 dims), ``"rambo"`` (4n dims), or a map
            ``u -> (p_out, weight)``; then ``dim`` must be given. ``"auto"`` is the process's
            best map: diet here; a factory may pick its own (ee_qqg: its exact map).
        symmetry_factor: S, e.g. 1/2 for two identical outgoing gluons.
        name, exact, exact_error: for reports: the reference value and its error (0 if exact).
        particles: PDG ids, colour lines and couplings, for writing events (LHE).
        channels: ``() -> [Bijection, ...]``, the channels of a multi-channel proposal on this
            process's cube (cube-to-cube maps adapted to the singular invariants of |M|², see
            :mod:`mlintegrate.backends.channels`), built fresh at each call; None: none.
    """

    def __init__(
        self,
        matrix_element: Callable[[np.ndarray], np.ndarray],
        incoming: float | Sequence[float],
        outgoing_masses: Sequence[float],
        sqrt_s: float,
        cuts: Callable[[np.ndarray], np.ndarray] | None = None,
        phase_space: str | PhaseSpaceMap = "diet",
        dim: int | None = None,
        symmetry_factor: float = 1.0,
        vectorized: bool = True,
        name: str = "process",
        exact: float | None = None,
        exact_error: float | None = None,
        description: str = "",
        particles: Particles | None = None,
        channels: Callable[[], Sequence[Any]] | None = None,
    ):
        if not callable(matrix_element):
            raise ConfigError(
                f"matrix_element must be callable, got {type(matrix_element).__name__}; " + _ME_FORM
            )
        self.incoming = _as_masses("incoming", incoming)
        self.outgoing_masses = _as_masses("outgoing_masses", outgoing_masses)
        if len(self.incoming) not in (1, 2):
            raise ConfigError(
                f"incoming must hold 1 (decay) or 2 (collision) masses, got {incoming}"
            )
        self.sqrt_s = _real("sqrt_s", sqrt_s, "a positive energy in GeV (a number, e.g. 91.2)")
        if not self.sqrt_s > 0:
            raise ConfigError(f"sqrt_s must be a positive energy in GeV, got {sqrt_s!r}")
        self.is_decay = len(self.incoming) == 1
        if self.is_decay and not math.isclose(self.incoming[0], self.sqrt_s, rel_tol=1e-12):
            raise ConfigError(
                f"for a decay sqrt_s is the parent's mass: got sqrt_s={sqrt_s} but incoming "
                f"mass {self.incoming[0]}; pass sqrt_s={self.incoming[0]}"
            )
        if not self.is_decay and sum(self.incoming) > self.sqrt_s:
            raise ConfigError(f"sqrt_s={sqrt_s} GeV is below the incoming masses {self.incoming}")
        if sum(self.outgoing_masses) >= self.sqrt_s:
            raise ConfigError(
                f"the outgoing masses {self.outgoing_masses} add up to "
                f"{sum(self.outgoing_masses)} GeV ≥ sqrt_s={sqrt_s} GeV: nothing can be produced; "
                "raise sqrt_s or lower the masses"
            )
        if not _real("symmetry_factor", symmetry_factor, "a number > 0") > 0:
            raise ConfigError(
                f"symmetry_factor must be > 0 (1/k! for k identical), got {symmetry_factor}"
            )
        self.symmetry_factor = float(symmetry_factor)
        self.n_out = len(self.outgoing_masses)
        if self.n_out < 2:
            raise ConfigError("outgoing_masses must list at least two particles")
        if not isinstance(dim, int | np.integer | type(None)) or isinstance(dim, bool):
            raise ConfigError(f"dim must be an int or None, got {dim!r}")
        self._map, self.dim = self._build_map(phase_space, dim)
        if not vectorized:
            warnings.warn(
                "a per-event matrix element is called once per event from Python: expect "
                "~µs of overhead per call; vectorise it with numpy or numba for speed",
                stacklevel=2,
            )
            matrix_element = _per_event(matrix_element)
        self.matrix_element = matrix_element
        self.cuts = cuts
        self.name = name
        self.exact = exact
        self.exact_error = exact_error
        self.description = description
        n_total = len(self.incoming) + len(self.outgoing_masses)
        if particles is not None and len(particles.pdg_ids) != n_total:
            raise ConfigError(
                f"particles lists {len(particles.pdg_ids)} PDG ids but the process has "
                f"{n_total} particles (incoming first)"
            )
        self.particles = particles
        if channels is not None and not callable(channels):
            raise ConfigError(
                f"channels must be a function returning a list of bijections, got {channels!r}"
            )
        self._channels = channels
        self.flux = self._flux()
        self.unit = "GeV" if self.is_decay else "pb"
        self._factor = self.flux * self.symmetry_factor * (1.0 if self.is_decay else GEV2_TO_PB)
        self._incoming_momenta = self._beams()

    @classmethod
    def from_library(cls, path: str, *args: Any, **kwargs: Any) -> Process:
        """A process whose |M|² is a compiled function in a shared library, called once per
        batch: see :func:`mlintegrate.processes.compiled.from_library` for the arguments."""
        from .compiled import from_library

        return from_library(path, *args, **kwargs)

    # ----------------------------------------------------------------- construction
    def _build_map(
        self, phase_space: str | PhaseSpaceMap, dim: int | None
    ) -> tuple[PhaseSpaceMap, int]:
        if callable(phase_space):
            if dim is None:
                raise ConfigError("a custom phase_space map needs its dimension: pass dim=")
            return phase_space, int(dim)
        n, sqrt_s = self.n_out, self.sqrt_s
        masses = self.outgoing_masses if any(m > 0 for m in self.outgoing_masses) else None
        if phase_space in ("auto", "diet"):  # a generic process's best map is diet
            generator, d = rambo_diet, 3 * n - 4
        elif phase_space == "rambo":
            generator, d = rambo, 4 * n
        else:
            raise ConfigError(
                f"phase_space={phase_space!r} is not a map; choose 'auto' (= 'diet'), 'diet', "
                "'rambo' or a callable u -> (p, weight) with dim="
            )
        if dim is not None and dim != d:
            raise ConfigError(
                f"phase_space={phase_space!r} with {n} particles has dim {d}, not {dim}"
            )

        return _StandardMap(generator, n, sqrt_s, masses), d

    def _flux(self) -> float:
        if self.is_decay:
            return 1.0 / (2.0 * self.sqrt_s)
        s = self.sqrt_s**2
        m1, m2 = self.incoming
        return 1.0 / (2.0 * math.sqrt((s - m1**2 - m2**2) ** 2 - 4 * m1**2 * m2**2))

    def _beams(self) -> np.ndarray:
        if self.is_decay:
            return np.array([[self.sqrt_s, 0.0, 0.0, 0.0]])
        s = self.sqrt_s**2
        m1, m2 = self.incoming
        pz = math.sqrt((s - (m1 + m2) ** 2) * (s - (m1 - m2) ** 2)) / (2 * self.sqrt_s)
        e1, e2 = math.hypot(pz, m1), math.hypot(pz, m2)
        return np.array([[e1, 0.0, 0.0, pz], [e2, 0.0, 0.0, -pz]])

    def channels(self) -> list[Any]:
        """New instances of the channels this process declares (``[]`` if none): cube-to-cube
        bijections for :class:`~mlintegrate.backends.multichannel.MultiChannel`."""
        return [] if self._channels is None else list(self._channels())

    @property
    def incoming_momenta(self) -> np.ndarray:
        """Momenta of the incoming particles (n_in, 4): beams along ±z, or the parent at rest."""
        return self._incoming_momenta.copy()

    # ----------------------------------------------------------------- evaluation
    def momenta(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All momenta (n, n_in + n_out, 4), incoming first, and the phase-space weight (n,)."""
        u = np.ascontiguousarray(u, dtype=np.float64)
        if u.ndim != 2 or u.shape[1] != self.dim:
            raise ValueError(
                f"u has shape {np.shape(u)} but {self.name} has dim {self.dim}: "
                f"expected (n, {self.dim})"
            )
        p_out, weight = self._map(u)
        n = u.shape[0]
        p = np.empty((n, len(self.incoming) + self.n_out, 4))
        p[:, : len(self.incoming)] = self._incoming_momenta
        p[:, len(self.incoming) :] = p_out
        return p, weight

    def passes_cuts(self, p: np.ndarray) -> np.ndarray:
        """Boolean mask (n,) of the events inside the cuts (all True without cuts)."""
        if self.cuts is None:
            return np.ones(p.shape[0], dtype=bool)
        mask = np.asarray(self.cuts(p))
        if mask.shape != (p.shape[0],):
            raise IntegrandError(
                f"{self.name}: cuts returned shape {mask.shape}; it must return one bool per "
                f"event, shape ({p.shape[0]},)"
            )
        return mask.astype(bool)

    def __call__(self, u: np.ndarray) -> np.ndarray:
        """f(u) = c · flux · S · |M|² · Θ_cuts · w_ps, shape (n,), in pb (GeV for a decay)."""
        p, weight = self.momenta(u)
        mask = self.passes_cuts(p) & (weight > 0)
        out = np.zeros(u.shape[0])
        if mask.any():
            me = self._evaluate_me(p[mask])
            out[mask] = self._factor * me * weight[mask]
        return out

    def _evaluate_me(self, p: np.ndarray) -> np.ndarray:
        """|M|² (n,) as float64, or an IntegrandError in the terms of a matrix element."""
        try:
            me = np.asarray(self.matrix_element(np.ascontiguousarray(p)))
        except (TypeError, ValueError, IndexError) as exc:
            if isinstance(exc, IntegrandError):
                raise
            raise IntegrandError(
                f"{self.name}: calling the matrix element on momenta of shape {p.shape} failed "
                f"with {type(exc).__name__}: {exc}. {_ME_FORM[0].upper()}{_ME_FORM[1:]}"
            ) from exc
        if np.iscomplexobj(me) or not (np.issubdtype(me.dtype, np.number)):
            raise IntegrandError(
                f"{self.name}: the matrix element returned dtype {me.dtype}; |M|² must be real: "
                "return abs(amplitude)**2 (or .real only if the imaginary part is rounding)"
            )
        if me.shape != (p.shape[0],):
            raise IntegrandError(
                f"{self.name}: the matrix element returned shape {me.shape} for momenta of shape "
                f"{p.shape}; {_ME_FORM}"
            )
        me = me.astype(np.float64, copy=False)
        bad = ~np.isfinite(me) | (me < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise IntegrandError(
                f"{self.name}: |M|² is NaN, infinite or negative at {int(bad.sum())} of "
                f"{me.size} events, e.g. {me[i]} for momenta {np.array2string(p[i], precision=5)}; "
                "|M|² must be finite and ≥ 0 inside the cuts (add a cut around singular regions)"
            )
        return me

    def __reduce_ex__(self, protocol: Any) -> Any:
        """A built-in process pickles by its recipe (see :func:`builtin`), others by state."""
        recipe, ids = self.__dict__.get("_recipe", (None, None))
        if recipe is not None and ids == _state_ids(self):
            return (_rebuild, recipe)
        return super().__reduce_ex__(protocol)

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dim": self.dim,
            "sqrt_s": self.sqrt_s,
            "incoming": self.incoming,
            "outgoing_masses": self.outgoing_masses,
            "unit": self.unit,
            "exact": self.exact,
            "exact_error": self.exact_error,
        }


class _StandardMap:
    """u → (outgoing momenta, weight) by RAMBO or RAMBO on diet (a class, so it pickles)."""

    def __init__(self, generator: Callable[..., Any], n: int, sqrt_s: float, masses: Any):
        self.generator, self.n, self.sqrt_s, self.masses = generator, n, sqrt_s, masses

    def __call__(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.generator(u, self.n, self.sqrt_s, masses=self.masses)


class _PerEvent:
    """A |M|² of one event p (N, 4) applied to a batch (a class, so it pickles)."""

    def __init__(self, fn: Callable[[np.ndarray], float]):
        self.fn = fn

    def __call__(self, p: np.ndarray) -> np.ndarray:
        # no float(): a complex |M|² must reach evaluate's check, not be cast here
        return np.array([self.fn(event) for event in p])


def _per_event(fn: Callable[[np.ndarray], float]) -> Callable[[np.ndarray], np.ndarray]:
    return _PerEvent(fn)


def _state_ids(process: Process) -> dict[str, int]:
    return {k: id(v) for k, v in vars(process).items() if k != "_recipe"}


def builtin(factory: Callable[..., Process]) -> Callable[..., Process]:
    """Make ``factory``'s processes pickle as (factory, arguments), rebuilt where unpickled.

    Their |M|² and cuts are closures, which the standard pickle cannot send to a worker
    process; rebuilding from the recipe can. A process changed after it was built (an
    attribute reassigned) pickles its state instead, so the change is never lost.
    """

    @functools.wraps(factory)
    def build(*args: Any, **kwargs: Any) -> Process:
        process = factory(*args, **kwargs)
        recipe = (factory.__module__, factory.__qualname__, args, kwargs)
        process._recipe = (recipe, _state_ids(process))
        return process

    return build


def _rebuild(module: str, qualname: str, args: tuple, kwargs: dict[str, Any]) -> Process:
    """Unpickle a built-in process: call its factory again (only modules of this package)."""
    if module.partition(".")[0] != "mlintegrate":
        raise pickle.UnpicklingError(f"{module}.{qualname} is not an mlintegrate process factory")
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target(*args, **kwargs)
