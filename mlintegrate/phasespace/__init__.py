"""Phase-space generators and kinematics: numba kernels with numpy reference twins.

Conventions: momenta are float64 arrays
(n_events, n_particles, 4) with components (E, px, py, pz); the measure is
dPhi_n = (2 pi)^4 delta^4(P - sum p) prod d^3p_i / ((2 pi)^3 2 E_i); random inputs ``u`` of shape
(n_events, dim) in [0, 1] are owned by the caller, every generator is a deterministic map
u -> ``(p, weight)`` whose weight includes the (2 pi)^(4-3n) factors, so mean(weight) over uniform
u is the phase-space volume. Every kernel function takes ``kernel="numba"`` (compiled, default)
or ``kernel="numpy"`` (vectorised reference); the two agree to rounding.

- :func:`rambo` (4n numbers) and :func:`rambo_diet` (3n-4 numbers, a bijection; inverse
  :func:`rambo_diet_inverse`): flat massless n-body phase space, weight V_n =
  :func:`massless_volume`; ``masses=`` reshuffles to massive final states
  (:func:`reshuffle_masses`).
- :func:`three_body_dalitz`: massless 3-body phase space in Dalitz variables with a lower bound
  on every invariant s_ij/s (cuts on the faces of the cube; numpy only).
- :func:`two_body_decay`, :func:`breit_wigner`: building blocks for decay chains.
- :mod:`~mlintegrate.phasespace.kinematics`: boosts, invariants, pT, rapidity, Delta R.

>>> import numpy as np
>>> from mlintegrate import phasespace as ps
>>> u = np.random.default_rng(7).random((1000, ps.diet_dim(4)))
>>> p, w = ps.rambo_diet(u, 4, sqrt_s=500.0)
>>> bool(np.allclose(w, ps.massless_volume(4, 500.0)))
True
"""

from .dalitz import DALITZ_DIM, three_body_dalitz
from .decay import (
    breit_wigner,
    breit_wigner_density,
    breit_wigner_inverse,
    two_body_decay,
    two_body_volume,
)
from .diet import diet_dim, rambo_diet, rambo_diet_inverse
from .kinematics import (
    boost_from_rest,
    boost_to_rest,
    cos_theta,
    delta_r,
    dot,
    kallen,
    mass,
    mass2,
    pair_invariants,
    phi,
    pseudorapidity,
    pt,
    rapidity,
    sij,
)
from .massive import reshuffle_masses, unreshuffle_masses
from .rambo import massless_volume, rambo, rambo_dim

__all__ = [
    "DALITZ_DIM",
    "boost_from_rest",
    "boost_to_rest",
    "breit_wigner",
    "breit_wigner_density",
    "breit_wigner_inverse",
    "cos_theta",
    "delta_r",
    "diet_dim",
    "dot",
    "kallen",
    "mass",
    "mass2",
    "massless_volume",
    "pair_invariants",
    "phi",
    "pseudorapidity",
    "pt",
    "rambo",
    "rambo_diet",
    "rambo_diet_inverse",
    "rambo_dim",
    "rapidity",
    "reshuffle_masses",
    "sij",
    "three_body_dalitz",
    "two_body_decay",
    "two_body_volume",
    "unreshuffle_masses",
]
