"""The vegas+ reference row: what ``vegas.Integrator`` itself returns for a budget.

vegas+ stratifies its points over hypercubes and reallocates them adaptively, so its
estimate is typically better than i.i.d. sampling from the same map, but its points are not
i.i.d. and cannot be unweighted: the row has an integral, an error and χ²/dof, no
efficiencies. Randomness comes from the caller's numpy generator (``ran_array_generator``),
never from gvar's global one, so the row is reproducible.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict

import numpy as np
import vegas

from .integrand import evaluate, integrand_info
from .result import Estimate, Result
from .rng import RngLike, as_generator

__all__ = ["vegas_plus"]


def vegas_plus(
    integrand: Callable[[np.ndarray], np.ndarray],
    dim: int,
    calls_train: int,
    calls_eval: int,
    rng: RngLike = None,
    nitn_train: int = 10,
    nitn_eval: int = 5,
) -> Result:
    """Run vegas+ with ``calls_train`` calls of warm-up (discarded) then ``calls_eval`` calls.

    vegas' ``neval`` is a target, not an exact count: the calls actually made are counted and
    reported.
    """
    gen = as_generator(rng)
    counter = {"calls": 0, "time": 0.0}

    @vegas.lbatchintegrand
    def batch(x: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        values = evaluate(integrand, np.ascontiguousarray(x))
        counter["time"] += time.perf_counter() - t0
        counter["calls"] += x.shape[0]
        return values

    integ = vegas.Integrator([[0.0, 1.0]] * dim, ran_array_generator=lambda size: gen.random(size))
    t0 = time.perf_counter()
    if calls_train > 0:
        integ(batch, nitn=nitn_train, neval=max(calls_train // nitn_train, 100))
    t_train, calls_made_train = time.perf_counter() - t0, counter["calls"]
    counter.update(calls=0, time=0.0)
    t1 = time.perf_counter()
    res = integ(batch, nitn=nitn_eval, neval=max(calls_eval // nitn_eval, 100))
    t_eval = time.perf_counter() - t1
    return Result(
        mean=float(res.mean),
        sdev=float(res.sdev),
        calls=counter["calls"],
        backend="vegas+",
        dim=dim,
        **asdict(integrand_info(integrand)),
        chi2=float(res.chi2),
        dof=int(res.dof),
        Q=float(res.Q),
        combination="weighted",
        metrics=None,
        iterations=[
            Estimate(float(r.mean), float(r.sdev), counter["calls"] // nitn_eval)
            for r in res.itn_results
        ],
        calls_train=calls_made_train,
        time_train=t_train,
        time_proposal=t_eval - counter["time"],
        time_integrand=counter["time"],
    )
