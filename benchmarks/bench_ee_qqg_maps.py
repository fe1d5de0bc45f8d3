"""ee_qqg on each of its phase-space maps: uniform vs VEGAS vs flow (vs MadNIS where installed).

Each (map, training budget) is one ``bench_flow.run_case``: the same integrand, calls and seed
for every backend, in one process, torch on one thread. The maps (``mlintegrate.processes.
qqg_maps``): ``auto`` (= exact: Dalitz inversion + principal-axis frame + beam density, f
constant), ``dalitz+axis`` (the orientation left to learn, polar axis on the event-plane
normal), ``dalitz+major`` (polar axis on the principal axis, the prototype's frame),
``dalitz+me``, ``dalitz``, ``diet``. Targets (issue 14, section 2), PASS/FAIL as measured:

- ``auto``: ε_median-max ≥ 95 % for every backend;
- ``dalitz+axis`` / ``dalitz+major``: the learned proposal (flow, MadNIS) ε_median-max ≥ 80 %
  at ≤ 10⁶ training calls.

Writes ``benchmarks/results/ee_qqg_maps.json`` and ``.md`` (rewritten after every case).

    python benchmarks/bench_ee_qqg_maps.py                         # auto, dalitz+axis @ 2e5
    python benchmarks/bench_ee_qqg_maps.py --maps dalitz+axis,dalitz+major --train-calls 1e6
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from bench_core import RESULTS, _jsonable, _pct, case_table, machine_info
from bench_flow import TORCH_THREADS, run_case

from mlintegrate.processes.qqg_maps import QQG_PHASE_SPACES

AUTO_TARGET = 0.95
LEARNED_TARGET = 0.80
LEARNED_CALLS = 1_000_000
LEARNED = ("flow", "madnis")
ORIENTATION_LEARNED = ("dalitz+axis", "dalitz+major")


def targets(cases: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The section's targets, one line per (map, budget, backend) they apply to."""
    out = []
    for case in cases:
        phase_space = case["case"].partition("@")[2]
        for row in case["rows"]:
            eps = row["eff_median_max"]
            if phase_space == "auto":
                goal = AUTO_TARGET
            elif (
                phase_space in ORIENTATION_LEARNED
                and row["backend"] in LEARNED
                and case["calls_train"] <= LEARNED_CALLS
            ):
                goal = LEARNED_TARGET
            else:
                continue
            out.append(
                {
                    "map": phase_space,
                    "backend": row["backend"],
                    "calls_train": case["calls_train"],
                    "eff_median_max": eps,
                    "target": goal,
                    "pass": eps is not None and eps >= goal,
                }
            )
    return out


def markdown(doc: dict[str, Any]) -> str:
    m, cfg = doc["machine"], doc["config"]
    lines = [
        "# ee_qqg phase-space maps: uniform vs VEGAS vs flow",
        "",
        f"Made by `{m['command']}` on {m['date']}; {m['cpu_count']} CPUs "
        f"({m['cpus_usable']} usable, shared), torch {m['torch']} on {cfg['torch_threads']} "
        f"thread, mlintegrate {m['mlintegrate']} ({m['git_commit']}). Seed {cfg['seed']}, "
        f"{cfg['calls_eval']:,} evaluation calls per row.",
        "",
    ]
    for case in doc["cases"]:
        lines += [
            f"## `{case['case']}`, {case['calls_train']:,} training calls",
            "",
            *case_table(case),
            "",
        ]
    lines += ["## Targets", ""]
    for t in doc["targets"]:
        verdict = "PASS" if t["pass"] else "FAIL"
        lines.append(
            f"- {verdict}: `{t['map']}` {t['backend']} at {t['calls_train']:,} training calls: "
            f"ε_median-max {_pct(t['eff_median_max'])} (target ≥ {_pct(t['target'])})"
        )
    return "\n".join(lines) + "\n"


def write(doc: dict[str, Any], out: Path) -> tuple[Path, Path]:
    doc["targets"] = targets(doc["cases"])
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "ee_qqg_maps.json", out / "ee_qqg_maps.md"
    json_path.write_text(json.dumps(_jsonable(doc), indent=2, allow_nan=False) + "\n")
    md_path.write_text(markdown(doc))
    return json_path, md_path


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", default="auto,dalitz+axis", help="comma-separated maps")
    parser.add_argument("--train-calls", default="200000", help="comma-separated budgets")
    parser.add_argument("--calls", type=int, default=200_000, help="evaluation calls per row")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.maps = [m.strip() for m in args.maps.split(",") if m.strip()]
    bad = [m for m in args.maps if m not in QQG_PHASE_SPACES]
    if bad or not args.maps:
        parser.error(f"--maps: unknown {bad or args.maps}; choose from {QQG_PHASE_SPACES}")
    try:
        args.train_calls = [int(float(c)) for c in args.train_calls.split(",") if c.strip()]
    except ValueError:
        parser.error(f"--train-calls must be numbers, got {args.train_calls!r}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    torch.set_num_threads(TORCH_THREADS)
    doc: dict[str, Any] = {
        "benchmark": "ee_qqg_maps",
        "machine": machine_info(argv, "bench_ee_qqg_maps.py") | {"torch": torch.__version__},
        "config": {
            "maps": args.maps,
            "calls_train": args.train_calls,
            "calls_eval": args.calls,
            "seed": args.seed,
            "torch_threads": TORCH_THREADS,
        },
        "cases": [],
    }
    for phase_space in args.maps:
        for calls_train in args.train_calls:
            case = run_case(f"ee_qqg@{phase_space}", calls_train, args.calls, args.seed)
            doc["cases"].append(case)
            print("\n".join(case_table(case)), flush=True)
            json_path, md_path = write(doc, args.out)
    print(markdown(doc))
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
