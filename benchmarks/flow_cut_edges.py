"""Where a trained flow's largest weights sit on ee_qqg: near the cut surfaces s_ij = y_cut s?

Trains the default flow on ee_qqg (RAMBO on diet, or ``--phase-space dalitz``), draws fresh
points and prints, in bands of y_min = min_ij s_ij/s (distance to the nearest cut surface),
the share of points, the mean and the largest weight in units of ⟨w⟩, and the 10 largest
weights with their invariants. On diet the bands next to y_cut hold the largest weights: a
smooth density cannot follow the jump of |M|² across a cut surface that crosses the cube.

    python benchmarks/flow_cut_edges.py [--train-calls 200000] [--phase-space dalitz]
"""

from __future__ import annotations

import argparse

import numpy as np

import mlintegrate as mli
from mlintegrate.phasespace import sij

BANDS = (0.01, 0.011, 0.015, 0.03, 0.1, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-calls", type=int, default=200_000)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--phase-space", default="diet")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    f = mli.processes.get("ee_qqg", phase_space=args.phase_space)
    integ = mli.Integrator(mli.backends.Flow(f.dim, seed=args.seed), rng=args.seed, progress=False)
    integ.train(f, calls=args.train_calls)
    u, q = integ.backend.sample(args.calls, np.random.default_rng(args.seed + 1))
    w = f(u) / q
    w = w / w.mean()
    p, _ = f.momenta(u)
    s = f.sqrt_s**2
    y = np.stack([sij(p, 2 + i, 2 + j) / s for i, j in ((0, 1), (0, 2), (1, 2))], axis=1)
    y_min = y.min(axis=1)
    inside = w > 0
    print(f"ee_qqg ({args.phase_space}), {args.train_calls} training calls, seed {args.seed}")
    print(f"rsd {w.std():.3f}, cut efficiency {inside.mean():.3f}")
    print("y_min band        share   mean w/<w>   max w/<w>")
    for lo, hi in zip(BANDS[:-1], BANDS[1:], strict=True):
        band = inside & (y_min >= lo) & (y_min < hi)
        if band.any():
            print(
                f"[{lo:.3f}, {hi:.3f})  {band.mean():7.3f}  {w[band].mean():10.2f}  "
                f"{w[band].max():10.2f}"
            )
    print("largest weights: w/<w>, y12, y13, y23")
    for i in np.argsort(w)[::-1][:10]:
        print(f"  {w[i]:6.2f}  {y[i, 0]:.4f}  {y[i, 1]:.4f}  {y[i, 2]:.4f}")


if __name__ == "__main__":
    main()
