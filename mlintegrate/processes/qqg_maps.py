"""The phase-space maps of e+e− → q q̄ g, by name, and the one ``"auto"`` picks.

==================  =========================================================================
``"exact"``          (a) + (c) + (b): Dalitz inversion of the averaged |M|², the beam
                     direction from its exact density in the principal frame: f(u) = σ for
                     every u (to rounding), so ε = 100 % for uniform sampling. ``"auto"``.
``"dalitz+axis"``    (a) + (b): the orientation left to learn, in the principal frame with the
                     polar axis on the event-plane normal: f = σ h, h ∈ [3/4, 3/2], so uniform
                     sampling has ε_max = 2/3; a proposal must learn h (2 angles, given r).
``"dalitz+major"``   (a) + (b) with the polar axis on the principal axis (the prototype's).
``"dalitz+me"``      (a) only: the orientation in the Dalitz frame (k₁ the body z axis).
``"dalitz"``         :func:`~mlintegrate.phasespace.three_body_dalitz`, cuts on the faces.
``"diet"``           RAMBO on diet: cut surfaces curved inside the cube.
``"rambo"``          RAMBO, 12 numbers.
==================  =========================================================================

(a) :class:`~.qqg_dalitz.DalitzInversionMap`, (b) :class:`~.qqg_orientation.PrincipalAxisMap`,
(c) :class:`~.qqg_orientation.BeamDirectionMap`; each is a cube-to-cube bijection with exact
log-Jacobians, chained (:class:`~mlintegrate.backends.chain.Chain`) in front of the Dalitz map.
"""

from __future__ import annotations

import numpy as np

from ..backends.bijections import Bijection
from ..backends.chain import Chain, pull_back
from ..errors import ConfigError
from ..phasespace import DALITZ_DIM, three_body_dalitz
from .qqg_dalitz import DalitzInversionMap
from .qqg_orientation import BeamDirectionMap, PrincipalAxisMap

__all__ = ["QQG_PHASE_SPACES", "qqg_bijection", "qqg_phase_space"]

#: every ``phase_space=`` value of ee_qqg; "auto" means "exact"
QQG_PHASE_SPACES = (
    "auto",
    "exact",
    "dalitz+axis",
    "dalitz+major",
    "dalitz+me",
    "dalitz",
    "diet",
    "rambo",
)
_PARTS = {"exact": "acb", "dalitz+axis": "ab", "dalitz+major": "aB", "dalitz+me": "a", "dalitz": ""}


def check_phase_space(phase_space: object) -> str:
    """The map's name, "auto" resolved; a :class:`ConfigError` naming the choices otherwise."""
    if phase_space not in QQG_PHASE_SPACES:
        raise ConfigError(
            f"phase_space={phase_space!r} is not a map of ee_qqg; choose one of "
            f"{', '.join(map(repr, QQG_PHASE_SPACES))} (auto = exact)"
        )
    return "exact" if phase_space == "auto" else str(phase_space)


def qqg_bijection(phase_space: str, y_cut: float) -> Bijection | None:
    """The chain of physics-aware maps in front of the Dalitz map (None for plain Dalitz)."""
    builders = {
        "a": DalitzInversionMap,
        "b": PrincipalAxisMap,
        "B": lambda y: PrincipalAxisMap(y, polar="major"),
        "c": BeamDirectionMap,
    }
    parts = [builders[k](y_cut) for k in _PARTS[check_phase_space(phase_space)]]
    return Chain(*parts) if parts else None


def qqg_phase_space(phase_space: str, sqrt_s: float, y_cut: float):
    """(map u → (p, w), dim) for the Dalitz-based names, or the name itself for diet/rambo."""
    name = check_phase_space(phase_space)
    if name not in _PARTS:
        return name, None

    def dalitz(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return three_body_dalitz(u, sqrt_s, y_min=y_cut)

    bijection = qqg_bijection(name, y_cut)
    return (dalitz if bijection is None else pull_back(dalitz, bijection)), DALITZ_DIM
