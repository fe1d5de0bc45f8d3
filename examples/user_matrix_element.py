"""Your own |M|²: e+e− → μ+μ− through a photon, written by hand, integrated to σ in pb.

Run: python examples/user_matrix_element.py
"""

import math

import numpy as np

import mlintegrate as mli

ALPHA = 1 / 137.035999084
SQRT_S = 91.2  # GeV


def matrix_element(p: np.ndarray) -> np.ndarray:
    """Spin-averaged |M|² = 2 e⁴ (t² + u²) / s² for momenta p (n, 4, 4): e−, e+, μ−, μ+."""

    def dot(a, b):
        return a[:, 0] * b[:, 0] - np.sum(a[:, 1:] * b[:, 1:], axis=1)

    s = 2 * dot(p[:, 0], p[:, 1])
    t = -2 * dot(p[:, 0], p[:, 2])
    u = -2 * dot(p[:, 0], p[:, 3])
    e2 = 4 * math.pi * ALPHA
    return 2 * e2**2 * (t**2 + u**2) / s**2


process = mli.processes.Process(
    matrix_element,
    incoming=(0.0, 0.0),  # massless beams, flux 1/(2s)
    outgoing_masses=(0.0, 0.0),
    sqrt_s=SQRT_S,
    name="my_ee_mumu",
)
integ = mli.Integrator(mli.backends.Vegas(dim=process.dim), rng=2024)
integ.train(process, calls=50_000)
result = integ.integrate(process, calls=100_000)

sigma_exact = 4 * math.pi * ALPHA**2 / (3 * SQRT_S**2) * mli.processes.GEV2_TO_PB
print(f"sigma = {result.mean:.5f} ± {result.sdev:.5f} pb   (4πα²/3s = {sigma_exact:.5f} pb)")
