"""e+e− → 4 partons, a Parke–Taylor toy: the singular 8-dimensional case VEGAS struggles with.

A toy, not QCD: four massless "gluons" k1..k4 from a colour-singlet at √s carry the
maximally-helicity-violating (Parke–Taylor) structure summed over helicities and colour
orderings at leading colour,

    |M|² = e⁴ g_s⁴ / s² · Σ_{i<j} s_ij⁴ · Σ_{σ} 1 / (s_{σ1σ2} s_{σ2σ3} s_{σ3σ4} s_{σ4σ1}),

σ over the 3 distinct cyclic orderings (each with its reflection: 6 terms), with the soft and
collinear poles s_ij → 0 of real multi-jet matrix elements. Cuts: p_T > ``pt_min`` (to the
beam) for every parton and ΔR > ``dr_min`` for every pair. Symmetry factor 1/4! for four
identical gluons. For a multi-channel proposal the process declares ``channels()``: one
antenna channel per colour ring and emitted parton (3 rings × 4 = 12,
:class:`~mlintegrate.backends.channels.AntennaChannel` on diet's cube): the ring a–b–c–d as a
3-parton ring plus the dipole emission of b between a and c, so that all four adjacent
invariants s_ab, s_bc, s_cd, s_da of that ordering are sampled logarithmically, and the parton
energies from the smallest the p_T cut allows (e_min = p_T,min), and the event oriented so that
its two softest partons lie inside the polar-angle bands their p_T cut allows, or, where two
partons are closer than ΔR_min, so that pair points where ΔR passes, towards the beam
(:mod:`~mlintegrate.phasespace.orientation`), and the emission's azimuth drawn where both of
its dipole partons keep E ≥ p_T,min (``energy_azimuth``). With a flow per channel on the
variance loss (the ``multichannel`` backend), the issue-14 command at 10⁶ training calls
(``benchmarks/results/compare-ee_4jet-1e6/``) gives ε_median-max 10.76 % against VEGAS's
0.56 % (19×) and rsd 0.73 against 3.94, pull +1.10 (seed 3; seeds 4–6: 17.6–22.4×).
Multi-channel VEGAS on the channels without the azimuth (2·10⁵ training calls, seeds 3 / 5,
``benchmarks/bench_orientation.py``): ε_median-max 3.8 / 2.5 %, rsd 1.24 / 1.27, 55 % of the
points passing the cuts, against 2.0 / 1.3 %, 1.75 / 1.85, 40 % with the angles flat; the
six pairing channels of the earlier default (``pairing_channels(√s, scale, angular=1e-2)``)
gave 1.4 %, 2.5 (seed 3).
There is no closed form: the reference is a long VEGAS run, stored in ``references.json`` with
its error and the command that recomputes it (``python -m mlintegrate.recompute_reference
ee_4jet``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..phasespace.kinematics import delta_r, pt
from .ee import ALPHA
from .particles import Particles
from .process import Process, builtin
from .references import stored_reference

__all__ = ["ee_4jet"]

_ORDERINGS = [(0,) + perm for perm in itertools.permutations((1, 2, 3))]


def _invariants(k: np.ndarray) -> np.ndarray:
    """s_ij = 2 k_i·k_j for massless k (n, 4, 4) → (n, 4, 4) symmetric."""
    dots = k[..., 0, None] * k[:, None, :, 0] - np.einsum("nia,nja->nij", k[..., 1:], k[..., 1:])
    return 2.0 * dots


@builtin
def ee_4jet(
    sqrt_s: float = 91.2,
    alpha_s: float = 0.118,
    pt_min: float = 5.0,
    dr_min: float = 0.4,
    phase_space: str = "diet",
) -> Process:
    """The Parke–Taylor 4-parton toy (module docstring); σ in pb."""
    if not 0 < pt_min < sqrt_s / 2:
        raise ValueError(f"pt_min must be in (0, sqrt_s/2) GeV, got {pt_min}")
    if not dr_min > 0:
        raise ValueError(f"dr_min must be > 0, got {dr_min}")
    s = sqrt_s**2
    norm = (4 * math.pi * ALPHA) ** 2 * (4 * math.pi * alpha_s) ** 2 / s**2

    def matrix_element(p: np.ndarray) -> np.ndarray:
        sij = _invariants(p[:, 2:])
        iu, ju = np.triu_indices(4, 1)
        numerator = np.sum(sij[:, iu, ju] ** 4, axis=1)
        denominator = np.zeros(p.shape[0])
        for o in _ORDERINGS:
            denominator += 1.0 / (
                sij[:, o[0], o[1]] * sij[:, o[1], o[2]] * sij[:, o[2], o[3]] * sij[:, o[3], o[0]]
            )
        return norm * numerator * denominator

    def cuts(p: np.ndarray) -> np.ndarray:
        k = p[:, 2:]
        ok = np.all(pt(k) > pt_min, axis=1)
        for i, j in itertools.combinations(range(4), 2):
            ok &= delta_r(k[:, i], k[:, j]) > dr_min
        return ok

    def channels() -> list:
        from ..backends.channels import antenna_channels

        # log scale ≈ the smallest s_ij the cuts allow: 2 p_T² (1 − cos ΔR) ≈ p_T² ΔR²; the
        # earlier default, pairing_channels(sqrt_s, scale, angular=1e-2), measured worse
        return antenna_channels(
            sqrt_s,
            pt_min**2 * dr_min**2 / s,
            e_min=pt_min,
            per_ring=4,
            pt_min=pt_min,
            energy_azimuth=True,
            dr_min=dr_min,
        )

    options = {"sqrt_s": sqrt_s, "alpha_s": alpha_s, "pt_min": pt_min, "dr_min": dr_min}
    ref = stored_reference("ee_4jet", options)
    return Process(
        matrix_element,
        incoming=(0.0, 0.0),
        outgoing_masses=(0.0, 0.0, 0.0, 0.0),
        sqrt_s=sqrt_s,
        cuts=cuts,
        phase_space=phase_space,
        # the channels live on diet's cube
        channels=channels if phase_space in ("diet", "auto") else None,
        symmetry_factor=1.0 / 24.0,
        name="ee_4jet",
        particles=Particles(
            pdg_ids=(11, -11, 21, 21, 21, 21),
            # one colour ring g1 g2 g3 g4 (the leading-colour ordering 1234)
            colours=((0, 0), (0, 0), (501, 504), (502, 501), (503, 502), (504, 503)),
            alpha_qed=ALPHA,
            alpha_qcd=alpha_s,
        ),
        exact=None if ref is None else ref["value"],
        exact_error=None if ref is None else ref["error"],
        description=(
            f"e+e- -> 4 partons, Parke-Taylor MHV toy, sqrt(s)={sqrt_s} GeV, pT>{pt_min} GeV, "
            f"dR>{dr_min}; reference from a long VEGAS run"
        ),
    )
