"""Sampling throughput of the flow against VEGAS (points/s, one core), issue 14 §4 / issue 12.

    python benchmarks/bench_throughput.py                 # d = 5 and 8, 2·10⁵ points

The flow's layers are perturbed from the identity (random weights) so that its splines do real
work; the figure is the best of 3 process-CPU timings of ``sample`` and ``density``. Writes
``benchmarks/results/throughput.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch
from bench_core import RESULTS, machine_info

import mlintegrate as mli


def _best(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", default="5,8")
    parser.add_argument("--points", type=float, default=2e5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    n, rows = int(args.points), []
    for d in (int(x) for x in args.dims.split(",")):
        flow = mli.backends.Flow(d, seed=1)
        with torch.no_grad():
            for p in flow.learned.model.parameters():
                p.add_(0.05 * torch.randn_like(p, generator=torch.Generator().manual_seed(1)))
        vegas = mli.backends.Vegas(d)
        u = np.random.default_rng(2).random((n, d))
        flow.sample(1000, rng=0)
        row = {
            "dim": d,
            "points": n,
            "flow_sample_per_s": n / _best(lambda f=flow: f.sample(n, rng=1)),
            "flow_density_per_s": n / _best(lambda f=flow, x=u: f.density(x)),
            "vegas_sample_per_s": n / _best(lambda v=vegas: v.sample(n, rng=1)),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    doc = {"machine": machine_info(argv, "bench_throughput.py"), "rows": rows}
    (RESULTS / "throughput.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        "# Sampling throughput (one core, process CPU time, best of 3)",
        "",
        f"Made by `{doc['machine']['command']}`; load average at the start "
        f"{doc['machine']['load_average_start']} on a shared 2-core machine.",
        "",
        "| d | flow sample pts/s | flow density pts/s | VEGAS sample pts/s |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['dim']} | {r['flow_sample_per_s']:.3g} | {r['flow_density_per_s']:.3g} | "
        f"{r['vegas_sample_per_s']:.3g} |"
        for r in rows
    ]
    (RESULTS / "throughput.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
