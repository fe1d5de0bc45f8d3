"""One place that turns an output name into an event writer: ``open_event_writer``.

Suffixes (the only ones that work): ``.lhe``, ``.lhe.gz`` (Les Houches, collisions only),
``.hepmc`` (HepMC3 ASCII, needs ``pyhepmc``), ``.h5`` / ``.hdf5`` (LHEH5, needs ``h5py``) and
``.npz`` (numpy, any integrand). Every writer follows the same life cycle:

* opening creates the target at once (replacing what was there) as a valid, empty file whose
  header says ``status = running``;
* ``write(chunk, state)`` appends the events of one completed chunk and leaves the file closed
  validly again (closing tag, footer or flushed datasets), with σ ± δσ of everything
  evaluated so far, so a SIGKILL at any moment loses at most the chunk in progress;
* ``finalize(state, status)`` writes the final σ and the status (``complete``, ``interrupted``,
  ``failed: reason``, ...).

Nothing here knows :mod:`mlintegrate.processes`: the particle content is read by duck typing
from the integrand's ``particles`` (PDG ids, colours, couplings), ``incoming`` and
``outgoing_masses`` (nominal masses, GeV), ``incoming_momenta`` and ``sqrt_s``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import ConfigError

__all__ = [
    "LHE_WEIGHTS",
    "SUFFIXES",
    "EventChunk",
    "EventLayout",
    "EventWriter",
    "RunState",
    "check_event_output",
    "event_format",
    "event_layout",
    "open_event_writer",
]

#: suffix → format name, in the order the error messages list them
SUFFIXES: dict[str, str] = {
    ".lhe": "lhe",
    ".lhe.gz": "lhe",
    ".hepmc": "hepmc",
    ".h5": "lheh5",
    ".hdf5": "lheh5",
    ".npz": "npz",
}
#: LHE weight strategies (see :mod:`mlintegrate.io.lhe`)
LHE_WEIGHTS = ("auto", "unit", "signed", "pb")
_FORMATS_HINT = "pip install 'mlintegrate[formats]'"


@dataclass(frozen=True)
class EventChunk:
    """The events kept from one chunk of integrand calls (k events, N particles)."""

    weights: np.ndarray  # (k,) ±1, or ±|w|/w_max > 1 for overweights (units of w_max)
    trials: np.ndarray  # (k,) int64: integrand calls since the previous kept event
    momenta: np.ndarray | None = None  # (k, N, 4), (E, px, py, pz) in GeV
    pdg_ids: np.ndarray | None = None  # (k, N)


@dataclass(frozen=True)
class RunState:
    """Where the run stands after a chunk: σ ± δσ pooled over every call so far."""

    cross_section: float
    error: float
    w_max: float  # the event weight 1 corresponds to w_max (pb per call)
    calls: int  # integrand calls so far, pilot included


class EventWriter(Protocol):
    """What :func:`mlintegrate.events.generate_events` needs from a writer."""

    path: Path
    n_events: int
    finalized: bool

    def write(self, chunk: EventChunk, state: RunState) -> None: ...

    def finalize(self, state: RunState, status: str) -> Path: ...


@dataclass(frozen=True)
class EventLayout:
    """Per-particle columns every event of a process shares (N particles, incoming first)."""

    n_in: int
    masses: np.ndarray  # (N,) nominal masses (GeV): 0 for massless partons
    status: np.ndarray  # (N,) −1 incoming, +1 outgoing (LHE ISTUP)
    mothers: np.ndarray  # (N, 2) 1-based, (0, 0) for incoming
    colours: np.ndarray  # (N, 2) colour, anticolour tags
    beam_ids: tuple[int, int]  # (0 for the second of a decay)
    beam_energies: tuple[float, float]
    scale: float  # SCALUP (GeV)
    alpha_qed: float  # AQEDUP, −1 when unknown
    alpha_qcd: float  # AQCDUP, −1 when unknown


def event_format(path: str | os.PathLike) -> str:
    """The format of ``path`` from its suffix; a one-line error for any other suffix."""
    name = str(path).lower()
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return SUFFIXES[suffix]
    raise ConfigError(
        f"event output {str(path)!r}: unknown suffix; use a name ending in {', '.join(SUFFIXES)}"
    )


def event_layout(integrand: Any) -> EventLayout | None:
    """Particle columns from the integrand's attributes; None if it has no particle content."""
    particles = getattr(integrand, "particles", None)
    incoming = getattr(integrand, "incoming", None)
    outgoing = getattr(integrand, "outgoing_masses", None)
    if particles is None or incoming is None or outgoing is None:
        return None
    n_in = len(incoming)
    masses = np.array([*incoming, *outgoing], dtype=np.float64)
    n = masses.size
    ids = tuple(int(i) for i in particles.pdg_ids)
    status = np.array([-1] * n_in + [1] * (n - n_in), dtype=np.int64)
    mothers = np.zeros((n, 2), dtype=np.int64)
    mothers[n_in:] = (1, n_in)
    sqrt_s = float(integrand.sqrt_s)
    if n_in == 2:
        beams = np.asarray(integrand.incoming_momenta)
        beam_ids, energies = (ids[0], ids[1]), (float(beams[0, 0]), float(beams[1, 0]))
    else:
        beam_ids, energies = (ids[0], 0), (sqrt_s, 0.0)
    return EventLayout(
        n_in=n_in,
        masses=masses,
        status=status,
        mothers=mothers,
        colours=np.asarray(particles.colour_lines(), dtype=np.int64),
        beam_ids=beam_ids,
        beam_energies=energies,
        scale=float(getattr(integrand, "scale", sqrt_s)),
        alpha_qed=float(getattr(particles, "alpha_qed", -1.0)),
        alpha_qcd=float(getattr(particles, "alpha_qcd", -1.0)),
    )


def check_event_output(
    path: str | os.PathLike, integrand: Any, lhe_weights: str = "auto"
) -> tuple[str, EventLayout | None]:
    """Everything that can be refused before a run: suffix, particle content, beams, libraries.

    Returns (format, layout). Creates nothing, so a caller can check before it trains.
    """
    fmt = event_format(path)
    if lhe_weights not in LHE_WEIGHTS:
        raise ConfigError(
            f"lhe_weights={lhe_weights!r}: use one of {', '.join(LHE_WEIGHTS)} "
            "(see the module docstring of mlintegrate.io.lhe)"
        )
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise ConfigError(f"cannot write {path}: folder {parent} does not exist; create it first")
    layout = event_layout(integrand)
    name = getattr(integrand, "name", "this integrand")
    if fmt != "npz" and layout is None:
        raise ConfigError(
            f"{name} has no particle content (PDG ids): {fmt.upper()} output needs a physics "
            "process; write .npz instead"
        )
    if fmt == "lhe" and layout is not None and layout.n_in != 2:
        raise ConfigError(
            f"{name} is a decay (one incoming particle): a Les Houches file needs two beams "
            "and showers reject it; write .hepmc, .h5 or .npz instead"
        )
    if fmt == "hepmc":
        _require("pyhepmc", path)
    if fmt == "lheh5":
        _require("h5py", path)
    return fmt, layout


def _require(module: str, path: str | os.PathLike) -> None:
    try:
        __import__(module)
    except ImportError:
        raise ConfigError(
            f"writing {path} needs the {module} package, which is not installed: {_FORMATS_HINT}"
        ) from None


def open_event_writer(
    path: str | os.PathLike,
    integrand: Any,
    meta: dict[str, Any],
    lhe_weights: str = "auto",
) -> EventWriter:
    """Create the event file ``path`` (valid and empty, ``status = running``) and its writer."""
    fmt, layout = check_event_output(path, integrand, lhe_weights)
    if fmt == "lhe":
        from .lhe import LHEWriter

        return LHEWriter(path, layout, meta, weights=lhe_weights)
    if fmt == "hepmc":
        from .hepmc import HepMCWriter

        return HepMCWriter(path, layout, meta)
    if fmt == "lheh5":
        from .lheh5 import LHEH5Writer

        return LHEH5Writer(path, layout, meta)
    from .npz import NPZEventWriter

    return NPZEventWriter(path, meta)
