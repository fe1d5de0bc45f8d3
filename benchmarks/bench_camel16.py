"""camel in d = 16: are both peaks found? VEGAS, the default flow, the flow with mode discovery.

Issue 14 §4: on camel d = 16 (two Gaussians of width 0.1 at (1/3, …) and (2/3, …)) VEGAS puts
its factorised grid's peaks at 2^16 corners and finds one peak (pull −700), the default flow
collapses (rsd 70–113). Target: |pull| < 3 with rsd ≤ 2 at 10⁶ training calls, 2·10⁵ evaluation
calls. Each seed runs, in one process with the same seed and budgets
(``mlintegrate.report.compare``):

- ``vegas``: the VEGAS map sampled i.i.d.;
- ``flow``: the default flow (with the mode search since it became the default);
- ``flow+modes``: ``Flow(d, find_modes=True)`` (:mod:`mlintegrate.backends.modes`): the
  selected flow/VEGAS mixture with one truncated-normal channel per peak found;
- ``flow-nomodes``: ``Flow(d, find_modes=False)``, the default before it had the search;
- ``flow+modes-kp``: the former mode flow (uniform safe component, all weights learned by
  Kleiss–Pittau, ``select_weights=False``).

Writes ``benchmarks/results/camel16.{json,md}`` (rewritten after every seed), with PASS/FAIL per
row and the modes found and learned channel weights of ``flow+modes``.

    python benchmarks/bench_camel16.py                        # seed 3, 10^6 / 2·10^5
    python benchmarks/bench_camel16.py --seeds 3,1,2 --train-calls 100000 --calls 20000
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from bench_core import RESULTS, _jsonable, case_table, machine_info, ratios_to_vegas, record

import mlintegrate as mli
from mlintegrate.backends import Flow, Vegas
from mlintegrate.report import compare, table_rows

VARIANTS = {
    "vegas": lambda d: Vegas(d),
    "flow": lambda d: Flow(d),
    "flow+modes": lambda d: Flow(d, find_modes=True),
    "flow-nomodes": lambda d: Flow(d, find_modes=False),
    "flow+modes-kp": lambda d: Flow(d, find_modes=True, select_weights=False),
}
MAX_PULL, MAX_RSD = 3.0, 2.0


def modes_found(backend: Flow) -> dict[str, Any] | None:
    """Channel centres (mean over coordinates ± spread), widths and weights of a mode flow."""
    seeded = backend.proposal
    if not backend.settings.find_modes or seeded.mixture is None:
        return None
    k = len(seeded.channels)
    modes = [f"mode{i}" for i in range(k)]
    names = ["flow", *modes, "vegas"] if seeded.select else ["flow", "safe", *modes]
    return {
        "channels": [
            {
                "centre_mean": float(c.mean.mean()),
                "centre_spread": float(c.mean.std()),
                "width_mean": float(c.scale.mean()),
            }
            for c in seeded.channels
        ],
        "weights": dict(zip(names, seeded.mixture.weights.tolist(), strict=True)),
        "selection": seeded.mixture.selection.get("share") if seeded.select else None,
    }


def run_seed(dim: int, calls_train: int, calls: int, seed: int, variants: list[str]):
    f = mli.functions.get("camel", dim=dim)
    backends = {name: VARIANTS[name](dim) for name in variants}
    comparison = compare(
        f, dim, backends, calls_train, calls, seed=seed, reference=False, progress=False
    )
    rows = table_rows(comparison.results)
    verdicts = {
        r["backend"]: "PASS"
        if r["pull"] is not None and abs(r["pull"]) < MAX_PULL and r["rsd"] <= MAX_RSD
        else "FAIL"
        for r in rows
    }
    return {
        "case": f"camel:{dim}",
        "seed": seed,
        "dim": dim,
        "exact": f.exact,
        "calls_train": calls_train,
        "calls_eval": calls,
        "records": [record(r) for r in comparison.results],
        "rows": rows,
        "ratios": ratios_to_vegas(rows),
        "verdicts": verdicts,
        "modes": {n: modes_found(b) for n, b in backends.items() if isinstance(b, Flow)},
    }


def markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# camel d = 16: both peaks found?",
        "",
        f"Made by `{doc['machine']['command']}` on {doc['machine']['date']} "
        f"({doc['machine']['git_commit']}). Machine: {doc['machine']['platform']}, "
        f"{doc['machine']['cpus_usable']} usable CPUs, shared and noisy (train s is "
        "indicative only). Target: |pull| < 3 and rsd ≤ 2.",
        "",
    ]
    for case in doc["cases"]:
        lines.append(
            f"### seed {case['seed']}: {case['calls_train']:,} training calls, "
            f"{case['calls_eval']:,} evaluation calls"
        )
        lines += ["", *case_table(case), ""]
        verdicts = ", ".join(
            f"{r['backend']}: {case['verdicts'][r['backend']]} (pull {r['pull']:+.3g}, "
            f"rsd {r['rsd']:.3g})"
            for r in case["rows"]
        )
        lines.append(f"|pull| < 3 and rsd ≤ 2: {verdicts}.")
        for name, found in case["modes"].items():
            if found:
                chans = "; ".join(
                    f"centre {c['centre_mean']:.3f}±{c['centre_spread']:.3f}, "
                    f"width {c['width_mean']:.3f}"
                    for c in found["channels"]
                )
                w = ", ".join(f"{c} {x:.3g}" for c, x in found["weights"].items())
                lines.append(f"{name}: channels {chans}; weights {w}.")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--seeds", default="3")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--train-calls", type=float, default=1e6)
    parser.add_argument("--calls", type=float, default=2e5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="camel16", help="output file stem")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        parser.error(f"--variants: names from {', '.join(VARIANTS)}; got {bad}")
    torch.set_num_threads(1)
    doc: dict[str, Any] = {
        "benchmark": "camel16",
        "machine": machine_info(argv, "bench_camel16.py"),
        "cases": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in [int(s) for s in args.seeds.split(",") if s.strip()]:
        case = run_seed(args.dim, int(args.train_calls), int(args.calls), seed, variants)
        doc["cases"].append(case)
        (args.out / f"{args.name}.json").write_text(json.dumps(_jsonable(doc), indent=2) + "\n")
        (args.out / f"{args.name}.md").write_text(markdown(doc))
        print(markdown({**doc, "cases": [case]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
