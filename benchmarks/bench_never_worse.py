"""Never worse than VEGAS? The flow with a VEGAS pre-map, a VEGAS safe component, or both.

Issue 14 §1: a learned proposal that starts from, or mixes with, a trained VEGAS map should
reach at least VEGAS's ε and rsd on every case at the same calls; top_decay (where the plain
flow loses) is the test. Each case runs, in one process with the same seed, training budget and
evaluation calls (``mlintegrate.report.compare``):

- ``vegas``: the VEGAS map sampled i.i.d.;
- ``flow``: the default flow: ``flow+select`` below since this table chose it, with the mode
  search (``flow+modes``) since ``never_worse_modes.md`` chose that;
- ``flow-uniform``: the former default (uniform safe component at fixed λ = 0.05);
- ``flow+premap``: the flow on the y-space of a VEGAS map (5 VEGAS batches first);
- ``flow+vegas-safe``: Mixture([flow, VEGAS]) with multi-channel weights learned each batch;
- ``flow+both``: both;
- ``flow+select``: Mixture([flow, VEGAS]) whose weights are *chosen* after each batch by the
  held-out ε_median-max and rsd of each candidate flow share t (pure VEGAS, t = 0, always
  among them; ``FlowConfig(safe="vegas", select_weights=True)``, :mod:`mlintegrate.backends.
  selection`): the default without the mode search;
- ``flow+modes`` / ``flow-nomodes``: the default with the mode search on / off
  (``find_modes``, :mod:`mlintegrate.backends.modes`: the mode channels join the selected
  mixture, and the choice may drop them).

Writes ``benchmarks/results/never_worse.{json,md}`` (rewritten after every case), with PASS/FAIL
per case: ε_median-max and rsd at least as good as VEGAS's.

    python benchmarks/bench_never_worse.py                       # top_decay, ee_qqg@diet, camel:4
    python benchmarks/bench_never_worse.py --cases top_decay --train-calls 200000
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
from bench_flow import load_case

from mlintegrate.backends import Flow, Vegas
from mlintegrate.backends.modes import ModeSeeded
from mlintegrate.report import compare, table_rows

VARIANTS = {
    "vegas": lambda d: Vegas(d),
    "flow": lambda d: Flow(d),
    "flow-uniform": lambda d: Flow(d, safe="uniform", select_weights=False, find_modes=False),
    "flow+premap": lambda d: Flow(d, premap="vegas", find_modes=False),
    "flow+vegas-safe": lambda d: Flow(d, safe="vegas", learn_weights=True, find_modes=False),
    "flow+both": lambda d: Flow(
        d, premap="vegas", safe="vegas", learn_weights=True, find_modes=False
    ),
    "flow+select": lambda d: Flow(d, safe="vegas", select_weights=True, find_modes=False),
    "flow+modes": lambda d: Flow(d, find_modes=True),
    "flow-nomodes": lambda d: Flow(d, find_modes=False),
}


def mixture_of(backend: Flow) -> tuple[Any, list[str]]:
    """The flow's mixture (the mode mixture once built) and its components' names."""
    proposal = backend.proposal
    if isinstance(proposal, ModeSeeded):
        if proposal.mixture is None:
            return None, []
        k = len(proposal.channels)
        names = ["flow", *(f"mode{i}" for i in range(k)), "vegas"] if proposal.select else []
        return proposal.mixture, names or ["flow", "safe", *(f"mode{i}" for i in range(k))]
    return proposal, ["flow", "vegas"]


def run_case(spec: str, calls_train: int, calls: int, seed: int, variants: list[str]):
    f = load_case(spec)
    backends = {name: VARIANTS[name](f.dim) for name in variants}
    comparison = compare(
        f, f.dim, backends, calls_train, calls, seed=seed, reference=False, progress=False
    )
    rows = table_rows(comparison.results)
    vegas = next(r for r in rows if r["backend"] == "vegas")
    verdicts = {}
    for r in rows:
        if r["backend"] == "vegas":
            continue
        eff_ok = r["eff_median_max"] >= vegas["eff_median_max"]
        rsd_ok = r["rsd"] <= vegas["rsd"]
        verdicts[r["backend"]] = "PASS" if eff_ok and rsd_ok else "FAIL"
    mixtures = {
        name: mixture_of(b)
        for name, b in backends.items()
        if isinstance(b, Flow) and (b.settings.learn_weights or b.settings.selects)
    }
    weights = {
        name: dict(zip(names, m.weights.tolist(), strict=True))
        for name, (m, names) in mixtures.items()
        if m is not None
    }
    selections = {
        name: m.selection
        for name, (m, _) in mixtures.items()
        if m is not None and m.select and m.selection
    }
    return {
        "case": spec,
        "name": f.name,
        "dim": f.dim,
        "unit": getattr(f, "unit", ""),
        "exact": getattr(f, "exact", None),
        "calls_train": calls_train,
        "calls_eval": calls,
        "records": [record(r) for r in comparison.results],
        "rows": rows,
        "ratios": ratios_to_vegas(rows),
        "never_worse": verdicts,
        "learned_weights": weights,
        "selections": selections,
    }


def markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# Never worse than VEGAS: flow + VEGAS pre-map / safe component",
        "",
        f"Made by `{doc['machine']['command']}`. Machine: {doc['machine']['platform']}, "
        f"{doc['machine']['cpus_usable']} usable CPUs, shared and noisy: compare within a "
        "table. Seed, budgets and evaluation calls are the same for every row of a table.",
        "",
    ]
    for case in doc["cases"]:
        lines.append(f"### {case['case']}, {case['calls_train']:,} training calls")
        lines.append("")
        lines += case_table(case)
        lines.append("")
        if case.get("note"):
            lines += [f"Note: {case['note']}.", ""]
        verdicts = ", ".join(f"{k}: {v}" for k, v in case["never_worse"].items())
        lines.append(f"ε_median-max and rsd ≥ VEGAS's: {verdicts}.")
        if case["learned_weights"]:
            w = "; ".join(
                f"{k} " + ", ".join(f"{c} {x:.3g}" for c, x in v.items())
                for k, v in case["learned_weights"].items()
            )
            lines.append(f"Weights at the end: {w}.")
        for name, sel in case.get("selections", {}).items():
            plain = sel.get("without_optional") or [False] * len(sel["candidates"])
            figures = ", ".join(
                f"t={t:g}{' (no modes)' if p and t > 0 else ''}: {e:.1%}/{r:.3f}"
                for t, e, r, p in zip(
                    sel["candidates"], sel["eps_median_max"], sel["rsd"], plain, strict=True
                )
            )
            lines.append(
                f"{name}: last choice t = {sel['share']:g} (non-VEGAS share); held-out estimates "
                f"ε_median-max/rsd on the pool of {sel['points']:,} training points: {figures}."
            )
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="top_decay,ee_qqg@diet,camel:4")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--train-calls", type=float, default=1e6)
    parser.add_argument("--calls", type=float, default=2e5)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="never_worse", help="output file stem")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [v for v in variants if v not in VARIANTS]
    if bad or "vegas" not in variants:
        parser.error(f"--variants: need vegas and names from {', '.join(VARIANTS)}; got {bad}")
    torch.set_num_threads(1)
    doc: dict[str, Any] = {
        "benchmark": "never_worse",
        "machine": machine_info(argv, "bench_never_worse.py"),
        "cases": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for spec in [c.strip() for c in args.cases.split(",") if c.strip()]:
        case = run_case(spec, int(args.train_calls), int(args.calls), args.seed, variants)
        doc["cases"].append(case)
        (args.out / f"{args.name}.json").write_text(json.dumps(_jsonable(doc), indent=2) + "\n")
        (args.out / f"{args.name}.md").write_text(markdown(doc))
        print(markdown({**doc, "cases": [case]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
