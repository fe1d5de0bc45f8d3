r"""Channels: cube-to-cube bijections that carry a phase-space generator onto a process's cube.

A process on RAMBO on diet integrates over u ∈ [0,1]^(3n−4) with the constant weight V_n. A
generator G adapted to some singular invariants maps y ∈ [0,1]^(3n−4) to the same phase space
with weight w_G(y); the channel is

    T(y) = diet⁻¹(G(y)),      log|det ∂u/∂y| = log w_G(y) − log V_n,

because both sides describe the same measure: dΦ = w_G dy = V_n du. A proposal p(y) on the
channel's cube is then q(u) = p(T⁻¹(u)) · V_n / w_G(T⁻¹(u)) on the process's cube
(:class:`~.mapped.Mapped`); a :class:`~.multichannel.MultiChannel` mixes one per channel.

:class:`PairingChannel` is G = the two-pair generator of
:func:`~mlintegrate.phasespace.pairing.pairing_generate` (massless 4-body, s_ab and s_cd sampled
logarithmically). To build channels for another process, write a generator with its exact
weight and inverse and wrap it the same way (``examples/multichannel_channels.py``).

>>> import numpy as np
>>> T = PairingChannel(91.2, (0, 1, 2, 3), scale=5e-4)
>>> y = np.random.default_rng(0).random((5, 8))
>>> u, logj = T.forward(y)
>>> y2, logj_inv = T.inverse(u)
>>> bool(np.allclose(y2, y, atol=1e-9)), bool(np.allclose(logj + logj_inv, 0.0, atol=1e-9))
(True, True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..phasespace import massless_volume, rambo_diet, rambo_diet_inverse
from ..phasespace.antenna import RINGS, antenna_generate, antenna_inverse
from ..phasespace.pairing import PAIRINGS, pairing_generate, pairing_inverse
from ..validate import choice, number_in
from .bijections import Bijection

__all__ = ["AntennaChannel", "PairingChannel", "antenna_channels", "pairing_channels"]

#: on-shell and momentum-sum tolerance handed to diet's inverse (the generator is exact to ~1e-14)
_DIET_RTOL = 1e-7


class PairingChannel(Bijection):
    """y ∈ [0,1]^8 → u = diet⁻¹(G(y)) for G the pairing generator P → (ab)(cd).

    Args:
        sqrt_s: collision energy (GeV) of the 4 massless outgoing particles.
        pairing: (a, b, c, d), the particles (0..3) paired as (ab)(cd).
        scale: log scale of the pair invariants as a fraction of s, of the order of the
            smallest s_ij the cuts allow (e.g. p_T,min² ΔR_min² / s).
        angular: None (flat helicity-frame decays), or δ: both decay cosines sampled with
            density ∝ 1/((1 + cos + 2δ)(1 − cos + 2δ)), and the ab decay measured from the
            direction of c in the ab rest frame, so s_bc and s_ac are sampled logarithmically
            too (the soft double poles s_ab, s_bc → 0).
    """

    name = "pairing"

    def __init__(
        self,
        sqrt_s: float,
        pairing: tuple[int, ...] | list[int],
        scale: float,
        angular: float | None = None,
    ):
        super().__init__(8)
        self.sqrt_s = number_in("sqrt_s", sqrt_s, 0.0, math.inf, "in GeV, e.g. 91.2", open_low=True)
        self.scale = number_in(
            "scale", scale, 0.0, 1.0, "a fraction of s, e.g. 5e-4", open_low=True
        )
        if not (isinstance(pairing, tuple | list) and sorted(pairing) == [0, 1, 2, 3]):
            raise ConfigError(
                f"pairing must order the particles 0..3 as (a, b, c, d) for (ab)(cd), "
                f"got {pairing!r}; e.g. (0, 1, 2, 3)"
            )
        self.pairing = tuple(int(i) for i in pairing)
        self.angular = (
            None
            if angular is None
            else number_in("angular", angular, 0.0, 1.0, "e.g. 1e-3, or None", open_low=True)
        )
        self._log_volume = math.log(massless_volume(4, self.sqrt_s))

    def forward(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, w = pairing_generate(y, self.sqrt_s, self.pairing, self.scale, self.angular)
        u, _ = rambo_diet_inverse(p, self.sqrt_s, rtol=_DIET_RTOL)
        return u, np.log(w) - self._log_volume

    def inverse(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, _ = rambo_diet(np.asarray(u, dtype=np.float64), 4, self.sqrt_s)
        y, w = pairing_inverse(p, self.sqrt_s, self.pairing, self.scale, self.angular)
        return y, self._log_volume - np.log(w)

    def momenta(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """G(y): the outgoing momenta (n, 4, 4) and the phase-space weight w_G (n,)."""
        return pairing_generate(y, self.sqrt_s, self.pairing, self.scale, self.angular)

    def config(self) -> dict[str, Any]:
        return {
            "sqrt_s": self.sqrt_s,
            "pairing": list(self.pairing),
            "scale": self.scale,
            "angular": self.angular,
        }


def pairing_channels(
    sqrt_s: float, scale: float, angular: float | None = None
) -> list[PairingChannel]:
    """The three pairings (12)(34), (23)(41), (13)(24): together they sample every adjacent
    invariant s_{i,i+1} of every colour ordering of four massless partons logarithmically.
    With ``angular`` δ, each pairing (ab)(cd) twice, its ab decay about c and about d (6)."""
    if angular is None:
        return [PairingChannel(sqrt_s, pairing, scale) for pairing in PAIRINGS]
    return [
        PairingChannel(sqrt_s, (a, b, c, d), scale, angular)
        for a, b, c0, d0 in PAIRINGS
        for c, d in ((c0, d0), (d0, c0))
    ]


class AntennaChannel(Bijection):
    """y ∈ [0,1]^8 → u = diet⁻¹(G(y)) for G the antenna generator of one colour ring a–b–c–d
    (:mod:`mlintegrate.phasespace.antenna`): s_ab, s_bc (the emission of b between a and c)
    and s_cd, s_da (the 3-parton ring) sampled logarithmically from ``scale``·s up.

    Args:
        sqrt_s: collision energy (GeV) of the 4 massless outgoing particles.
        ring: (a, b, c, d), the colour ring, b emitted by a with spectator c.
        scale: log scale of the invariants as a fraction of s, of the order of the smallest
            s_ij the cuts allow (e.g. p_T,min² ΔR_min² / s).
        e_min: the smallest parton energy the cuts allow (GeV, e.g. p_T,min).
        pt_min: the p_T cut to the beam (GeV): the event is oriented so that its softest
            parton lies inside the band of polar angles the cut allows
            (:mod:`mlintegrate.phasespace.orientation`); None (as saved before it) keeps the
            orientation flat.
        energy_azimuth: draw the emission's azimuth mostly on the arcs where both partons of
            the dipole keep E ≥ ``e_min`` (:mod:`mlintegrate.phasespace.antenna`); False (as
            saved before it) keeps it flat.
        dr_min: the ΔR cut between partons (needs ``pt_min``): where the closest pair is
            closer than ΔR_min, the orientation turns that pair towards the beam, where
            ΔR ≈ angle / sin θ passes; None (as saved before it) orients by the softest parton
            always.
    """

    name = "antenna"

    def __init__(
        self,
        sqrt_s: float,
        ring: tuple[int, ...] | list[int],
        scale: float,
        e_min: float,
        pt_min: float | None = None,
        energy_azimuth: bool = False,
        dr_min: float | None = None,
    ):
        super().__init__(8)
        self.sqrt_s = number_in("sqrt_s", sqrt_s, 0.0, math.inf, "in GeV, e.g. 91.2", open_low=True)
        self.scale = number_in(
            "scale", scale, 0.0, 1.0, "a fraction of s, e.g. 5e-4", open_low=True
        )
        if not (isinstance(ring, tuple | list) and sorted(ring) == [0, 1, 2, 3]):
            raise ConfigError(
                f"ring must order the particles 0..3 as (a, b, c, d) for the colour ring "
                f"a-b-c-d, got {ring!r}; e.g. (0, 1, 2, 3)"
            )
        self.ring = tuple(int(i) for i in ring)
        self.e_min = number_in(
            "e_min", e_min, 0.0, self.sqrt_s / 2, "in GeV, e.g. p_T,min", open_low=True
        )
        self.pt_min = (
            None
            if pt_min is None
            else number_in(
                "pt_min",
                pt_min,
                0.0,
                self.sqrt_s / 2,
                "in GeV (the p_T cut to the beam), or None",
                open_low=True,
            )
        )
        self.energy_azimuth = choice("energy_azimuth", energy_azimuth, (False, True))
        self.dr_min = (
            None
            if dr_min is None
            else number_in(
                "dr_min", dr_min, 0.0, math.inf, "a ΔR, e.g. 0.4, or None", open_low=True
            )
        )
        if self.dr_min is not None and self.pt_min is None:
            raise ConfigError(
                f"dr_min={dr_min!r} needs pt_min (it steers the cut-aware orientation); pass "
                "pt_min too, or dr_min=None"
            )
        self._log_volume = math.log(massless_volume(4, self.sqrt_s))

    def _map_args(self) -> tuple:
        return (
            self.sqrt_s,
            self.ring,
            self.scale,
            self.e_min,
            self.pt_min,
            self.energy_azimuth,
            self.dr_min,
        )

    def forward(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, w = antenna_generate(y, *self._map_args())
        u, _ = rambo_diet_inverse(p, self.sqrt_s, rtol=_DIET_RTOL)
        return u, np.log(w) - self._log_volume

    def inverse(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, _ = rambo_diet(np.asarray(u, dtype=np.float64), 4, self.sqrt_s)
        y, w = antenna_inverse(p, *self._map_args())
        return y, self._log_volume - np.log(w)

    def momenta(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """G(y): the outgoing momenta (n, 4, 4) and the phase-space weight w_G (n,)."""
        return antenna_generate(y, *self._map_args())

    def config(self) -> dict[str, Any]:
        return {
            "sqrt_s": self.sqrt_s,
            "ring": list(self.ring),
            "scale": self.scale,
            "e_min": self.e_min,
            # absent in proposals saved before the cut-aware orientation: they load the old map
            **({} if self.pt_min is None else {"pt_min": self.pt_min}),
            **({"energy_azimuth": True} if self.energy_azimuth else {}),
            **({} if self.dr_min is None else {"dr_min": self.dr_min}),
        }


def antenna_channels(
    sqrt_s: float,
    scale: float,
    e_min: float,
    per_ring: int = 2,
    pt_min: float | None = None,
    energy_azimuth: bool = False,
    dr_min: float | None = None,
) -> list[AntennaChannel]:
    """Antenna channels of the three colour rings of four partons. In the ring a–b–c–d the
    channel emitting b samples s_ab, s_bc, s_cd, s_da logarithmically (soft b and soft d);
    ``per_ring`` 2 emits b and then c (every parton soft in some channel: 6 channels), 4 emits
    each parton in turn (12). ``pt_min``: the p_T cut to the beam, which the cut-aware
    orientation (:mod:`mlintegrate.phasespace.orientation`) keeps the softest parton inside;
    ``energy_azimuth``: the emission's azimuth keeps both dipole partons above ``e_min``;
    ``dr_min``: the ΔR cut, towards which the orientation turns a pair closer than it."""
    if per_ring not in (1, 2, 4):
        raise ConfigError(f"per_ring must be 1, 2 or 4, got {per_ring!r}")
    out = []
    for ring in RINGS:
        for k in range(per_ring):
            ring_k = ring[k:] + ring[:k]
            out.append(AntennaChannel(sqrt_s, ring_k, scale, e_min, pt_min, energy_azimuth, dr_min))
    return out
