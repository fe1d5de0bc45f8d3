"""Budget-aware training and early stopping of the flow against fixed training and MadNIS
(issue 14 §4), side by side in one process per part.

    python benchmarks/bench_early_stop.py --cases camel:4,camel:8,ee_qqg@diet,ee_qqg@dalitz+axis \\
        --train-calls 1e5 --rows before,after,madnis --part small
    python benchmarks/bench_early_stop.py --merge small,large      # writes early_stop.{json,md}

Rows: ``before`` is the flow as it trained until now (20 Adam steps every batch, no stopping:
``reuse=None, patience=None``), ``after`` the flow with its defaults (steps ∝ new points,
``reuse=4``; early stopping on the held-out rsd, ``patience=10``), ``madnis`` MadNIS with its
defaults (:func:`bench_flow.run_madnis`). Every row gets the same integrand, calls and seed;
training time is process CPU seconds (the machine is shared: wall time is not comparable),
integrand calls included. Evaluation: 2·10⁵ fresh points from the frozen proposal. A part
writes ``results/early_stop.<part>.json``; ``--merge`` joins parts into the tables and targets.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import torch
from bench_core import RESULTS, machine_info
from bench_flow import load_case, run_madnis

import mlintegrate as mli
from mlintegrate.backends import mixture as mixture_module
from mlintegrate.backends.nn import spline_kernel
from mlintegrate.backends.nn import trainer as trainer_module

EVAL_CALLS = 200_000
ROWS = {
    "before": {"reuse": None, "patience": None},
    "after": {},
    "after-reuse1": {"reuse": 1.0},  # the step count MadNIS's time would need
    "after-reuse2": {"reuse": 2.0},
    # half the points through the network of ``after`` at 10⁵ calls, as many Adam steps
    "after-reuse2-mb512": {"reuse": 2.0, "minibatch": 512},
    # main's defaults as they trained before the kernel gradient: the torch spline's autograd
    # graph and unfused Adam (same settings as ``after``)
    "main": {"_torch_training_path": True},
    "after-reuse1.25": {"reuse": 1.25},  # 3 Adam steps a batch at 10⁵ calls, 20 at 10⁶
    # the mixture's weight step evaluating every component again after it adapted (the rule
    # until the weights came from the densities that drew the batch)
    "after-weights-after-adapt": {"_weights_after_adapt": True},
    "after-reuse1-weights-after-adapt": {"reuse": 1.0, "_weights_after_adapt": True},
    "after-reuse4": {"reuse": 4.0},
}
# Flow today at 10⁶ training calls, seed 1 (benchmarks/results/flow_after_refactor.md, the
# fixed-steps trainer): the 10⁶ target where no ``before`` row was run in the same process.
STORED_BEFORE_1E6 = {"camel:4": 0.304, "camel:8": 0.110, "ee_qqg@diet": 0.214}


def run_flow(case: str, calls: int, seed: int, settings: dict[str, Any]) -> dict[str, Any]:
    f = load_case(case)
    torch_path = settings.get("_torch_training_path", False)
    backend = mli.backends.Flow(
        f.dim, **{k: v for k, v in settings.items() if not k.startswith("_")}
    )
    integ = mli.Integrator(backend, rng=seed, progress=False)
    # the switches are read when the first batch builds the network and its Adam (seed None)
    spline_kernel.kernel_gradient, trainer_module.fused_adam = not torch_path, not torch_path
    mixture_module.weights_from_sampling = not settings.get("_weights_after_adapt", False)
    try:
        c0, t0 = time.process_time(), time.perf_counter()
        integ.train(f, calls=calls)
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    finally:
        spline_kernel.kernel_gradient, trainer_module.fused_adam = True, True
        mixture_module.weights_from_sampling = True
    r = integ.integrate(f, calls=EVAL_CALLS)
    trainer = backend.learned.trainer
    return {
        "settings": settings,
        "train_cpu_s": cpu,
        "train_wall_s": wall,
        "eps_median_max": r.efficiency.median_max,
        "rsd": r.rsd,
        "pull": r.pull,
        "batches": len(integ.history.iterations),
        "stopped_at_batch": trainer.stopped_at or None,
        "rejected": trainer.rejected,
    }


def warm_up() -> None:
    """Compile (or load from numba's cache) every spline kernel, with and without gradients,
    before anything is timed: a first process after the kernels' source changed compiles
    them for a few seconds, which is no part of any row's training."""
    flow = mli.backends.Flow(3, seed=0)
    mli.Integrator(flow, rng=0, progress=False).train(lambda u: 1.0 + u[:, 0], calls=6000)
    flow.density(flow.sample(100, rng=0)[0])


def run_part(args: argparse.Namespace) -> list[dict[str, Any]]:
    warm_up()
    rows = []
    for calls, seed, case, name in (
        (int(float(c)), int(s), case, name)
        for c in args.train_calls.split(",")
        for s in str(args.seed).split(",")
        for case in args.cases.split(",")
        for name in args.rows.split(",")
    ):
        if name == "madnis":
            f = load_case(case)
            res, info = run_madnis(f, f.dim, calls, EVAL_CALLS, seed, time.process_time)
            if res is None:
                row = {"status": info["reason"]}
            else:
                row = {
                    "train_cpu_s": res.time_train,
                    "eps_median_max": res.efficiency.median_max,
                    "rsd": res.rsd,
                    "pull": res.pull,
                    "batches": info["train_steps"],
                }
        else:
            row = run_flow(case, calls, seed, ROWS[name])
        row = {"case": case, "calls_train": calls, "seed": seed, "row": name} | row
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def _verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


def targets(rows: list[dict[str, Any]]) -> list[str]:
    """10⁵: after trains in ≤ MadNIS's CPU time with ε ≥ MadNIS's; 10⁶: ε after ≥ before."""
    by = {(r["case"], r["calls_train"], r.get("seed"), r["row"]): r for r in rows}
    out = []
    for case, calls, seed in sorted(
        {(r["case"], r["calls_train"], r.get("seed")) for r in rows}, key=str
    ):
        after = by.get((case, calls, seed, "after"))
        if after is None:
            continue
        mad = by.get((case, calls, seed, "madnis"))
        at = f"at {calls:,} calls" + (f", seed {seed}" if seed is not None else "")
        if calls < 1_000_000 and mad is not None and "eps_median_max" in mad:
            out.append(
                f"- {_verdict(after['train_cpu_s'] <= mad['train_cpu_s'])} {case} {at}: "
                f"training CPU after ≤ MadNIS — {after['train_cpu_s']:.1f} s vs "
                f"{mad['train_cpu_s']:.1f} s"
            )
            out.append(
                f"- {_verdict(after['eps_median_max'] >= mad['eps_median_max'])} {case} {at}: "
                f"ε after ≥ MadNIS — {after['eps_median_max']:.2%} vs {mad['eps_median_max']:.2%}"
            )
        main = by.get((case, calls, seed, "main"))
        if main is not None and "train_cpu_s" in main:
            out.append(
                f"- (measured) {case} {at}: training CPU after vs main's path — "
                f"{after['train_cpu_s']:.1f} s vs {main['train_cpu_s']:.1f} s "
                f"({main['train_cpu_s'] / after['train_cpu_s']:.2f}× faster)"
            )
        if calls >= 1_000_000:
            before = main or by.get((case, calls, seed, "before"))
            name = "main" if main else "before"
            eps_b = before["eps_median_max"] if before else STORED_BEFORE_1E6.get(case)
            src = f"{name}, same run" if before else "stored, flow_after_refactor.md"
            if eps_b is None:
                out.append(f"- **NOT MEASURED** {case} {at}: no before figure")
                continue
            out.append(
                f"- {_verdict(after['eps_median_max'] >= eps_b)} {case} {at}: ε "
                f"after ≥ before — {after['eps_median_max']:.2%} vs {eps_b:.2%} ({src})"
            )
    return out


ROW_NOTES = (
    "Rows: `before` = fixed 20 Adam steps a batch, no stopping (the trainer until now); "
    "`after` = the defaults when the part ran (reuse 1 since the weights-from-sampling commit, "
    "reuse 4 before; patience 10, min_improvement 1 %); `after-reuse4` = reuse 4, the former "
    "default; `after-reuse1.25` = reuse 1.25 (3 steps a batch at 10⁵ calls); "
    "`after-weights-after-adapt` (`after-reuse1-weights-after-adapt`: with reuse 1) = the "
    "mixture's weight step evaluating every component again after it adapted, the rule before "
    "it read the densities that drew the batch (at 10⁶ calls the training until then); "
    "`after-reuse1` = "
    "reuse 1, the step count MadNIS's time would need (the default when that part ran); "
    "`after-patience5` = patience 5 (the default when that part ran; at 10⁶ calls and reuse 4 "
    "or 1 alike, since reuse does not bind there); `madnis` = MadNIS 1.0 with its defaults; "
    "`main` = the same defaults trained the way main trains (the torch spline's autograd "
    "graph, unfused Adam); `after` then = the kernel's analytic gradient and fused Adam; "
    "`after-reuse2` = that with reuse 2; `after-reuse2-mb512` = reuse 2 and minibatch 512 "
    "(half the points through the network, as many Adam steps as `after` at 10⁵ calls). "
    "At 10⁵ calls no run stopped early, so patience 5 and 10 give the same rows. Where no "
    "`before` row ran in the same process the 10⁶ target uses the stored figure of "
    "flow_after_refactor.md (older code: not a side-by-side comparison)."
)


def markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# Budget-aware training and early stopping: before / after / MadNIS",
        "",
        "Parts: "
        + "; ".join(
            f"`{m['command']}` ({m['date']}, load {m['load_average_start'][0]:.1f}, "
            f"commit {m['git_commit']})"
            for m in doc["machines"]
        ),
        "",
        f"Seed as given (older parts: 1), {EVAL_CALLS:,} evaluation calls; train CPU s = "
        "process CPU seconds of the training, integrand calls included, on a shared 2-core "
        "machine (torch 1 thread, MadNIS's too).",
        "",
        "| case | training calls | seed | row | train CPU s | ε median-max | rsd | pull | batches "
        "(MadNIS: steps) | stopped at |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        head = f"| {r['case']} | {r['calls_train']:,} | {r.get('seed', '—')} | {r['row']} |"
        if "eps_median_max" not in r:
            lines.append(f"{head} {r['status']} |")
            continue
        lines.append(
            f"{head} {r['train_cpu_s']:.1f} | "
            f"{r['eps_median_max']:.2%} | {r['rsd']:.3g} | {r['pull']:+.2f} | {r['batches']} | "
            f"{r.get('stopped_at_batch') or '—'} |"
        )
    notes = [ROW_NOTES] + ([doc["note"]] if doc.get("note") else [])
    return "\n".join([*lines, "", *notes, "", "## Targets", "", *doc["targets"]]) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="camel:4,camel:8,ee_qqg@diet,ee_qqg@dalitz+axis")
    parser.add_argument("--train-calls", default="1e5")
    parser.add_argument("--rows", default="before,after,madnis")
    parser.add_argument("--seed", default="1", help="a seed, or several: 3,4,5")
    parser.add_argument("--part", default="all")
    parser.add_argument("--merge", default=None, help="comma-separated parts to join")
    parser.add_argument("--name", default="early_stop", help="stem of the merged files")
    parser.add_argument("--note", default="", help="a findings paragraph for the markdown")
    parser.add_argument(
        "--relabel", default="", help="part:old=new,... rename rows of a part when merging"
    )
    args = parser.parse_args(argv)
    if args.merge:
        parts = [
            json.loads((RESULTS / f"early_stop.{p}.json").read_text())
            for p in args.merge.split(",")
        ]
        relabel = dict(x.split("=") for x in args.relabel.split(",") if x)
        rows = []
        for name, part in zip(args.merge.split(","), parts, strict=True):
            for r in part["rows"]:
                rows.append(r | {"row": relabel.get(f"{name}:{r['row']}", r["row"])})
        doc = {"machines": [p["machine"] for p in parts], "rows": rows, "targets": targets(rows)}
        doc["note"] = args.note
        (RESULTS / f"{args.name}.json").write_text(json.dumps(doc, indent=2) + "\n")
        (RESULTS / f"{args.name}.md").write_text(markdown(doc))
        print(markdown(doc))
        return 0
    torch.set_num_threads(1)
    doc = {"machine": machine_info(argv, "bench_early_stop.py"), "rows": run_part(args)}
    (RESULTS / f"early_stop.{args.part}.json").write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
