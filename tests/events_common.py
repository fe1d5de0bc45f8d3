"""Helpers shared by the event tests: one trained ee_qqg proposal, strict readers."""

import functools
import warnings

import numpy as np
import pylhe

import mlintegrate as mli


@functools.lru_cache(maxsize=1)
def qqg():
    """(process, integrator) with VEGAS trained on ee_qqg (seed 5), built once per session.

    On the diet map, so the sample has overweights (on ee_qqg's default exact map every
    weight is σ and every event has weight 1)."""
    process = mli.processes.get("ee_qqg", phase_space="diet")
    integ = mli.Integrator(mli.backends.Vegas(process.dim), rng=5, progress=False)
    integ.train(process, calls=100_000)
    return process, integ


def read_lhe(path):
    """(init, events) through pylhe with warnings as errors (it stops silently otherwise)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pylhe turns parse errors into RuntimeWarnings
        lhe = pylhe.LHEFile.fromfile(str(path))
        return lhe.init, list(lhe.events)


def header(path) -> dict[str, str]:
    """The key = value lines of the <mlintegrate> header block of a plain .lhe file."""
    text = open(path).read(20_000).split("<mlintegrate>")[1].split("</mlintegrate>")[0]
    pairs = (line.split(" = ", 1) for line in text.strip().splitlines())
    return {k.strip(): v.strip() for k, v in pairs}


class Signed:
    """``process`` times (``factor`` where cos θ of the first outgoing particle > ``cut``, else 1):
    a signed integrand (a negative region, like an NLO sample) with the process's particles."""

    def __init__(self, process, cut: float, factor: float):
        for name in ("dim", "name", "particles", "incoming", "outgoing_masses", "sqrt_s"):
            setattr(self, name, getattr(process, name))
        self.incoming_momenta, self.momenta = process.incoming_momenta, process.momenta
        self.process, self.cut, self.factor = process, cut, factor

    def __call__(self, u):
        p, _ = self.process.momenta(u)
        cos = p[:, 2, 3] / np.linalg.norm(p[:, 2, 1:], axis=1)
        return self.process(u) * np.where(cos > self.cut, self.factor, 1.0)
