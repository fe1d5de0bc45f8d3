"""Budget-aware training: ``TrainingConfig.reuse`` (Adam steps ∝ new points) against the fixed
20 steps per batch, at a small budget (issue 14 §4).

    python benchmarks/bench_budget.py --cases camel:4,ee_qqg@diet,camel:8 --train-calls 1e5

One seed, 2·10⁵ evaluation calls; training time is the process CPU time (the machine is shared,
wall time is not comparable). Writes ``benchmarks/results/budget.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch
from bench_core import RESULTS, machine_info
from bench_flow import load_case

import mlintegrate as mli


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="camel:4,ee_qqg@diet,camel:8")
    parser.add_argument("--train-calls", type=float, default=1e5)
    parser.add_argument("--reuse", default="none,2,4")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for case in args.cases.split(","):
        f = load_case(case)
        for text in args.reuse.split(","):
            reuse = None if text == "none" else float(text)
            integ = mli.Integrator(mli.backends.Flow(f.dim, reuse=reuse), rng=args.seed)
            integ.progress = False
            t0 = time.process_time()
            integ.train(f, calls=int(args.train_calls))
            cpu = time.process_time() - t0
            r = integ.integrate(f, calls=200_000)
            rows.append(
                {"case": case, "reuse": reuse, "train_cpu_s": cpu, "rsd": r.rsd, "pull": r.pull}
                | {"eps_median_max": r.efficiency.median_max}
            )
            print(json.dumps(rows[-1]), flush=True)
    doc = {"machine": machine_info(argv, "bench_budget.py"), "rows": rows}
    (RESULTS / "budget.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        "# Budget-aware training: reuse vs fixed steps",
        "",
        f"Made by `{doc['machine']['command']}` ({args.train_calls:.0e} training calls, seed "
        f"{args.seed}; CPU seconds on a shared 2-core machine).",
        "",
        "| case | reuse | train CPU s | ε median-max | rsd | pull |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['case']} | {r['reuse'] or 'off (20 steps/batch)'} | {r['train_cpu_s']:.1f} | "
        f"{r['eps_median_max']:.2%} | {r['rsd']:.3g} | {r['pull']:+.2f} |"
        for r in rows
    ]
    (RESULTS / "budget.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
