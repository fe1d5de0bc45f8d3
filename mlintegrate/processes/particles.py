"""What an event file needs about a process beyond momenta: PDG ids, colour lines, couplings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..rng import RngLike, as_generator

__all__ = ["Particles"]


@dataclass(frozen=True)
class Particles:
    """Particle content of a process, incoming first (same order as its momenta).

    ``colours`` gives (colour, anticolour) line tags per particle (0: none), e.g. for
    e+e− → q q̄ g: q (501, 0), q̄ (0, 502), g (502, 501). With ``quark_pair`` = (i, j) the
    quark flavour of particles i (quark) and j (antiquark) is drawn per event from
    ``flavour_weights`` {pdg id: weight} (e.g. ∝ Q_q² for a photon), the antiquark getting −id.
    """

    pdg_ids: tuple[int, ...]
    colours: tuple[tuple[int, int], ...] = ()
    alpha_qed: float = -1.0
    alpha_qcd: float = -1.0
    quark_pair: tuple[int, int] | None = None
    flavour_weights: tuple[tuple[int, float], ...] = ()

    def __post_init__(self) -> None:
        if self.colours and len(self.colours) != len(self.pdg_ids):
            raise ValueError(
                f"colours has {len(self.colours)} entries but pdg_ids {len(self.pdg_ids)}"
            )

    def ids(self, n: int, rng: RngLike = None) -> np.ndarray:
        """PDG ids of n events, shape (n, n_particles), flavours drawn where asked."""
        ids = np.tile(np.asarray(self.pdg_ids, dtype=np.int64), (n, 1))
        if self.quark_pair is not None and self.flavour_weights:
            flavours = np.array([f for f, _ in self.flavour_weights])
            weights = np.array([w for _, w in self.flavour_weights], dtype=np.float64)
            chosen = as_generator(rng).choice(flavours, size=n, p=weights / weights.sum())
            ids[:, self.quark_pair[0]] = chosen
            ids[:, self.quark_pair[1]] = -chosen
        return ids

    def colour_lines(self) -> np.ndarray:
        """(n_particles, 2) colour and anticolour tags (zeros when none were given)."""
        if not self.colours:
            return np.zeros((len(self.pdg_ids), 2), dtype=np.int64)
        return np.asarray(self.colours, dtype=np.int64)
