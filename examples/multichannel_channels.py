"""Channels for your own process: a multi-channel proposal built from the library's parts.

A multi-channel proposal needs, per channel, a cube-to-cube ``Bijection`` T_k adapted to some
singular invariants of |M|², with an exact log-Jacobian. For massless 4-parton final states on
RAMBO on diet (``phase_space="diet"``) the library has two:

- ``AntennaChannel(sqrt_s, (a, b, c, d), scale, e_min)``: one colour ring a–b–c–d, built as a
  3-parton ring plus the dipole emission of b between a and c; it samples all four adjacent
  invariants s_ab, s_bc, s_cd, s_da logarithmically (from ``scale``·s, put it near the smallest
  s_ij your cuts allow) and the parton energies from ``e_min`` (the smallest your cuts allow);
- ``PairingChannel(sqrt_s, (a, b, c, d), scale)``: two pairs (ab)(cd), s_ab and s_cd
  logarithmic.

Both cover all of phase space. Any other generator works the same way: a Bijection whose
forward is y ↦ diet⁻¹(G(y)) with log|det| = log w_G(y) − log V_n (see
mlintegrate/backends/channels.py).

Here |M|² has the poles of one colour ordering, 1/(s12 s23 s34 s41): the antenna channels of
that ring, emitting parton 2 (soft 2 and 4) and parton 3 (soft 3 and 1), cover it. The process
declares them with ``channels=``, so ``backends.get("multichannel", ...)``, ``mlintegrate
compare`` and ``report.compare`` find them; ``MultiChannel(dim, channels)`` takes them too.
Measured (this script, seed 1): multi-channel VEGAS ε_median-max 2.3 %, rsd 1.8 on these two
antenna channels, against 0.75 %, 3.5 on the pairings (12)(34), (23)(41), and VEGAS 1.0 %, 3.8.

    python examples/multichannel_channels.py
"""

import itertools

import numpy as np

import mlintegrate as mli
from mlintegrate.backends import AntennaChannel, Vegas
from mlintegrate.phasespace import delta_r, pt

SQRT_S, PT_MIN, DR_MIN = 91.2, 5.0, 0.4
SCALE = PT_MIN**2 * DR_MIN**2 / SQRT_S**2  # ≈ the smallest s_ij / s the cuts allow


def matrix_element(p: np.ndarray) -> np.ndarray:
    """A toy |M|² (GeV⁻⁴) with the soft and collinear poles of the ordering 1234."""
    k = p[:, 2:]

    def s(i: int, j: int) -> np.ndarray:
        q = k[:, i] + k[:, j]
        return q[:, 0] ** 2 - np.sum(q[:, 1:] ** 2, axis=1)

    return 1e-3 * SQRT_S**4 / (s(0, 1) * s(1, 2) * s(2, 3) * s(3, 0))


def cuts(p: np.ndarray) -> np.ndarray:
    k = p[:, 2:]
    ok = np.all(pt(k) > PT_MIN, axis=1)
    for i, j in itertools.combinations(range(4), 2):
        ok &= delta_r(k[:, i], k[:, j]) > DR_MIN
    return ok


def channels() -> list[AntennaChannel]:
    rings = [(0, 1, 2, 3), (1, 2, 3, 0)]  # emit parton 2, then parton 3
    return [AntennaChannel(SQRT_S, ring, SCALE, e_min=PT_MIN) for ring in rings]


process = mli.processes.Process(
    matrix_element,
    incoming=(0.0, 0.0),
    outgoing_masses=(0.0,) * 4,
    sqrt_s=SQRT_S,
    cuts=cuts,
    phase_space="diet",
    channels=channels,
    name="toy_4parton",
)

# multi-channel VEGAS (one VEGAS map per channel, weights learned); inner="flow" (the default)
# puts a normalizing flow on each channel instead, at a larger training cost
proposal = mli.backends.get("multichannel", process.dim, inner="vegas", channels=channels())
results = {}
for name, backend in {"multichannel-vegas": proposal, "vegas": Vegas(process.dim)}.items():
    integ = mli.Integrator(backend, rng=1, progress=False)
    integ.train(process, calls=100_000)
    results[name] = integ.integrate(process, calls=50_000)
    r = results[name]
    print(f"{name:20s} σ = {r.mean:.5g} ± {r.sdev:.2g} pb   rsd {r.rsd:.3g}   "
          f"ε_median-max {r.efficiency.median_max:.3%}")  # fmt: skip
print("learned channel weights [emit 2, emit 3]:", np.round(proposal.weights, 3))
