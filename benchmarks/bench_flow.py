"""Normalizing flow vs VEGAS vs uniform sampling, with MadNIS as a peer where it is installed.

Each case (an integrand) is run once per training budget. The ``uniform``, ``vegas`` (the
VEGAS map sampled i.i.d.) and ``flow`` rows come from ``mlintegrate.report.compare``: the
same integrand, the same training and evaluation calls and the same seed, in one process.
The ``madnis`` row trains MadNIS (``madnis.integrator.Integrator`` with its own defaults)
on the same integrand with the same training-call budget and evaluates it on the same
number of fresh points; every integrand call it makes is counted (its training draws more
points when a batch has too many zero weights, so the count is reported, not assumed), and
its figures come from ``mlintegrate.metrics`` applied to its weights, like every other row.
torch runs on one thread for both networks, so training times compare per core.

Per case and backend the report gives ε with three definitions of w_max (max,
median-max, reduced), rsd, the ESS fraction, each as a ratio to the VEGAS row, the training
wall time and the time per unweighted event, then the issue's targets as measured PASS/FAIL
lines. Writes ``benchmarks/results/flow.json`` (machine, command, records, ratios, targets)
and ``flow.md``, rewritten after every case so that a long run keeps what it finished.

    python benchmarks/bench_flow.py            # 6 cases x 10^5, 10^6 training calls
    python benchmarks/bench_flow.py --quick    # smoke run: 2 cases, 10^4 + 10^4 calls
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_core import (
    RESULTS,
    _jsonable,
    _pct,
    _version,
    case_table,
    machine_info,
    ratios_to_vegas,
    record,
)

import mlintegrate as mli
from mlintegrate.integrand import evaluate
from mlintegrate.metrics import weight_metrics
from mlintegrate.report import compare, table_rows
from mlintegrate.result import Result, estimate

try:
    from madnis.integrator import Integrator as MadnisIntegrator
except ImportError as _exc:  # the optional ``peers`` extra
    MadnisIntegrator = None
    MADNIS_MISSING = f"madnis is not importable ({_exc}); install the `peers` extra"
else:
    MADNIS_MISSING = None

BACKENDS = ("uniform", "vegas", "flow")
# ee_qqg on diet: its default map ("auto", exact) makes f constant, nothing left to learn
DEFAULT_CASES = ("camel:4", "camel:8", "camel:16", "ee_qqg@diet", "top_decay", "ee_4jet")
DEFAULT_TRAIN_CALLS = (100_000, 1_000_000)
DEFAULT_CALLS = 200_000
QUICK_CASES = ("camel:4", "ee_qqg@diet")
QUICK_CALLS = 10_000
TORCH_THREADS = 1
EPS_FLOW_TARGET = 0.65  # ee_qqg: ε_flow (median-max) at least this
RSD_GAIN_TARGET = 10.0  # camel d = 8 at RSD_GAIN_CALLS: rsd_flow ≤ rsd_VEGAS / this
RSD_GAIN_CALLS = 1_000_000
PULL_LIMIT = 5.0  # beyond this |pull| an estimate missed part of the integrand


def load_case(spec: str) -> Callable[[np.ndarray], np.ndarray]:
    """``name`` (a physics process), ``name@map`` (a process on the phase-space map ``map``,
    e.g. ``ee_qqg@dalitz``) or ``name:d`` (a test function in dimension d)."""
    name, _, dim = spec.partition(":")
    name, _, phase_space = name.partition("@")
    options = {"phase_space": phase_space} if phase_space else {}
    return mli.processes.get(name, dim=int(dim) if dim else None, **options)


class CountingIntegrand:
    """Our numpy integrand as MadNIS calls it: torch in and out, every call counted and timed.

    Points come in the network's dtype (float32 by default) and are evaluated in float64;
    the values go back in the dtype of the points.
    """

    def __init__(self, integrand: Callable[[np.ndarray], np.ndarray]):
        self.integrand = integrand
        self.calls = 0
        self.time_s = 0.0

    def reset(self) -> None:
        self.calls, self.time_s = 0, 0.0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        u = x.detach().cpu().numpy().astype(np.float64)
        t0 = time.perf_counter()
        f = evaluate(self.integrand, u)
        self.time_s += time.perf_counter() - t0
        self.calls += u.shape[0]
        return torch.from_numpy(f).to(dtype=x.dtype, device=x.device)


def run_madnis(
    integrand: Callable[[np.ndarray], np.ndarray],
    dim: int,
    calls_train: int,
    calls: int,
    seed: int,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[Result | None, dict[str, Any]]:
    """MadNIS with its defaults on our integrand: its Result (or None) and what happened.

    ``clock`` times the training (``time.process_time`` for CPU seconds).

    Training runs whole ``train_step``s while one more batch fits in the budget; a step
    whose batch has fewer than half nonzero values draws more points, and those calls are
    counted too. Evaluation is ``Integrator.sample(calls)``: exactly ``calls`` fresh points.
    """
    if MadnisIntegrator is None:
        return None, {"status": "skipped", "reason": MADNIS_MISSING}
    counter = CountingIntegrand(integrand)
    try:
        torch.manual_seed(seed)
        mad = MadnisIntegrator(counter, dims=dim)
        steps = 0
        t0 = clock()
        while counter.calls + mad.batch_size <= calls_train:
            mad.train_step()
            steps += 1
        time_train = clock() - t0
        calls_made_train = counter.calls
        counter.reset()
        t1 = time.perf_counter()
        batch = mad.sample(calls)
        time_eval = time.perf_counter() - t1
        w = (batch.func_vals.double() / batch.q_sample.double()).cpu().numpy()
        if not np.all(np.isfinite(w)):
            raise FloatingPointError(f"{np.count_nonzero(~np.isfinite(w))} non-finite weights")
    except Exception as exc:  # any failure of the peer becomes the row's reason
        return None, {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
    est = estimate(w)
    result = Result(
        mean=est.mean,
        sdev=est.sdev,
        calls=w.size,
        backend="madnis",
        dim=dim,
        name=getattr(integrand, "name", "") or "",
        unit=getattr(integrand, "unit", ""),
        exact=getattr(integrand, "exact", None),
        exact_error=getattr(integrand, "exact_error", None),
        metrics=weight_metrics(w),
        calls_train=calls_made_train,
        time_train=time_train,
        time_proposal=time_eval - counter.time_s,
        time_integrand=counter.time_s,
    )
    info = {
        "status": "ok",
        "train_steps": steps,
        "calls_train_budget": calls_train,
        "calls_train_counted": calls_made_train,
        "calls_eval_counted": counter.calls,
        "batch_size": mad.batch_size,
        "learning_rate": mad.optimizer.param_groups[0]["lr"],
        "loss": getattr(mad.loss, "__name__", type(mad.loss).__name__),
        "dtype": str(mad.dummy.dtype),
        "flow_parameters": sum(p.numel() for p in mad.flow.parameters()),
    }
    return result, info


def run_case(spec: str, calls_train: int, calls: int, seed: int) -> dict[str, Any]:
    """One integrand at one training budget: our backends, then MadNIS."""
    f = load_case(spec)
    dim = f.dim
    t0 = time.perf_counter()
    results = compare(
        f, dim, BACKENDS, calls_train, calls, seed=seed, reference=False, progress=False
    ).results
    madnis, madnis_info = run_madnis(f, dim, calls_train, calls, seed)
    if madnis is not None:
        results.append(madnis)
    wall = time.perf_counter() - t0
    rows = table_rows(results)
    records = [record(r) for r in results]
    return {
        "case": spec,
        "integrand": f.name,
        "dim": dim,
        "unit": getattr(f, "unit", ""),
        "exact": f.exact,
        "calls_train": calls_train,
        "calls_eval": calls,
        "wall_s": wall,
        "madnis": madnis_info,
        "records": records,
        "rows": rows,
        "ratios": ratios_to_vegas(rows),
    }


def _title(case: dict[str, Any]) -> str:
    unit = f", {case['unit']}" if case["unit"] else ""
    name = case["case"].partition(":")[0]  # keeps a phase-space map: ee_qqg@dalitz
    return f"{name} (d = {case['dim']}{unit}), {case['calls_train']:,} training calls"


def case_markdown(case: dict[str, Any]) -> str:
    """The table of one case and training budget, with the MadNIS status under it."""
    lines = [
        f"### {_title(case)}",
        "",
        *case_table(case),
    ]
    lines.append("")
    mad = case["madnis"]
    if mad["status"] == "ok":
        status = (
            f"MadNIS: {mad['train_steps']} training steps of {mad['batch_size']} points "
            f"({mad['loss']} loss, lr {mad['learning_rate']:g}, {mad['dtype']}, "
            f"{mad['flow_parameters']:,} parameters), {mad['calls_train_counted']:,} "
            f"integrand calls counted for a budget of {mad['calls_train_budget']:,}."
        )
    else:
        status = f"MadNIS row {mad['status']}: {mad['reason']}."
    exact = "unknown" if case["exact"] is None else f"{case['exact']:.10g}"
    lines.append(f"Reference value {exact}; case wall time {case['wall_s']:.1f} s. {status}")
    return "\n".join(lines)


def _target(
    label: str, what: str, value: float | None, limit: float | None, at_least: bool, shown: str
) -> dict[str, Any]:
    """One target: ``value ≥ limit`` (``at_least``) or ``value ≤ limit``; None if unmeasured."""
    if value is None or limit is None:
        passed = None
    else:
        passed = value >= limit if at_least else value <= limit
    return {
        "case": label,
        "target": what,
        "value": value,
        "limit": limit,
        "measured": shown,
        "passed": passed,
    }


def evaluate_targets(cases: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets, measured on every case and budget that has them."""
    out = []
    for case in cases:
        rows = {r["backend"]: r for r in case["rows"]}
        flow, vegas, mad = rows["flow"], rows["vegas"], rows.get("madnis")
        label = f"{case['case']} at {case['calls_train']:,} training calls"
        if case["case"].startswith("ee_qqg"):
            eps = flow["eff_median_max"]
            what = f"ε_flow (median-max) ≥ {EPS_FLOW_TARGET:.0%}"
            out.append(_target(label, what, eps, EPS_FLOW_TARGET, True, f"ε_flow = {_pct(eps)}"))
        if case["case"] == "camel:8" and case["calls_train"] == RSD_GAIN_CALLS:
            limit = vegas["rsd"] / RSD_GAIN_TARGET
            what = f"rsd_flow ≤ rsd_VEGAS / {RSD_GAIN_TARGET:g}"
            shown = f"rsd_flow = {flow['rsd']:.3g}, rsd_VEGAS / {RSD_GAIN_TARGET:g} = {limit:.3g}"
            out.append(_target(label, what, flow["rsd"], limit, False, shown))
        peer = [
            ("rsd_flow ≤ rsd_MadNIS", "rsd", "{:.3g}"),
            ("training time flow ≤ MadNIS", "time_train_s", "{:.2f} s"),
        ]
        for what, key, fmt in peer:
            if mad is None:
                shown = f"no MadNIS row ({case['madnis']['reason']})"
                out.append(_target(label, what, None, None, False, shown))
            elif key == "rsd" and _off_reference(flow, mad):
                # a row far from the reference has an rsd of the part of f it found: moot
                shown = (
                    f"pulls flow {flow['pull']:+.1f}, MadNIS {mad['pull']:+.1f} "
                    f"(rsd flow {flow['rsd']:.3g}, MadNIS {mad['rsd']:.3g})"
                )
                target = _target(label, what, None, None, False, shown)
                out.append(target | {"passed": None, "not_comparable": True})
            else:
                shown = f"flow {fmt.format(flow[key])}, MadNIS {fmt.format(mad[key])}"
                out.append(_target(label, what, flow[key], mad[key], False, shown))
    return out


def _off_reference(*rows: dict[str, Any]) -> bool:
    """Whether any row's estimate is more than PULL_LIMIT errors from the reference value."""
    return any(r["pull"] is not None and abs(r["pull"]) > PULL_LIMIT for r in rows)


def _target_line(t: dict[str, Any]) -> str:
    verdict = {True: "PASS", False: "FAIL", None: "NOT MEASURED"}[t["passed"]]
    if t.get("not_comparable"):
        verdict = f"NOT COMPARABLE (|pull| > {PULL_LIMIT:g})"
    return f"- **{verdict}** {t['case']}: {t['target']} — {t['measured']}"


def markdown(doc: dict[str, Any]) -> str:
    """The whole report: command, machine, one table per case and budget, targets, notes."""
    m = doc["machine"]
    cfg = doc["config"]
    budgets = ", ".join(f"{c:,}" for c in cfg["calls_train"])
    head = [
        "# Flow benchmark: uniform vs VEGAS vs normalizing flow vs MadNIS"
        + (" (quick smoke run)" if cfg["quick"] else ""),
        "",
        f"Made by `{m['command']}` on {m['date']}.",
        "",
        f"Machine: {m['platform']}, {m['processor']}, {m['cpu_count']} CPUs "
        f"({m['cpus_usable']} usable); Python {m['python']}, numpy {m['numpy']}, "
        f"torch {m['torch']}, vegas {m['vegas']}, madnis {m['madnis']}, "
        f"mlintegrate {m['mlintegrate']} ({m['git_commit']}).",
        "",
        f"Budget per row: {budgets} training calls (one table each), {cfg['calls_eval']:,} "
        f"evaluation calls (fresh points from the frozen proposal), seed {cfg['seed']}, one "
        f"process; torch on {cfg['torch_threads']} thread for both the flow and MadNIS, so "
        "training times compare per core.",
        "",
    ]
    targets = ["", "## Targets", "", *map(_target_line, doc["targets"])]
    notes = [
        "",
        "## Definitions",
        "",
        "ε = ⟨|w|⟩/w_max, the expected unweighted events per integrand call, with w_max the "
        "largest weight (*max*), the median of bootstrap maxima of n/10-point replicas "
        "(*median-max*, arXiv:2001.10028) or the w_max whose overweights carry 1e-3 of σ "
        "(*reduced*). rsd = std(w)/⟨w⟩ (error of one call); ESS frac = (Σw)²/(nΣw²). "
        "×VEGAS = ratio to the `vegas` row (the VEGAS map sampled i.i.d.): above 1 is better "
        "for ε and ESS, below 1 is better for rsd and time. µs / unw. event = evaluation "
        "time (proposal + integrand) per expected unweighted event with the reduced w_max. "
        "train s = training wall time, integrand calls included.",
        "",
        "`flow` is `mlintegrate.backends.Flow` with its defaults. `madnis` is "
        "`madnis.integrator.Integrator(f, dims=d)` with its defaults (a `madnis.nn.Flow` of "
        "rational-quadratic spline couplings, Adam at a constant learning rate, no buffered "
        "training; the settings read back from it are under each table), trained with whole "
        "steps while one more batch fits in the budget and evaluated with "
        "`Integrator.sample`. Our "
        "integrand is wrapped to take and return torch tensors (evaluated in float64) and "
        "counts every call; the calls shown are the counted ones. Its ε, rsd and ESS come "
        "from `mlintegrate.metrics` on its weights f/q, like every other row. Timings come "
        "from a shared machine and are indicative only.",
    ]
    body = [case_markdown(case) for case in doc["cases"]]
    return (
        "\n".join(head)
        + "\n"
        + "\n\n".join(body)
        + "\n"
        + "\n".join(targets)
        + "\n"
        + "\n".join(notes)
        + "\n"
    )


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {', '.join(QUICK_CASES)} with {QUICK_CALLS:,} training and "
        "evaluation calls (explicit options still win)",
    )
    parser.add_argument(
        "--cases",
        help="comma-separated cases: a process name, process@map or function:dim "
        f"(default {','.join(DEFAULT_CASES)})",
    )
    parser.add_argument(
        "--train-calls",
        help="comma-separated training budgets, one table each "
        f"(default {','.join(map(str, DEFAULT_TRAIN_CALLS))})",
    )
    parser.add_argument(
        "--calls", type=int, help=f"evaluation calls per row (default {DEFAULT_CALLS})"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of every row (default 1)")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="folder for flow.json and flow.md"
    )
    args = parser.parse_args(argv)
    if args.cases is None:
        args.cases = ",".join(QUICK_CASES if args.quick else DEFAULT_CASES)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    for spec in args.cases:
        try:
            load_case(spec)
        except ValueError as exc:
            parser.error(f"--cases: {spec!r}: {exc}")
    if args.train_calls is None:
        args.train_calls = [QUICK_CALLS] if args.quick else list(DEFAULT_TRAIN_CALLS)
    else:
        try:
            args.train_calls = [int(float(c)) for c in args.train_calls.split(",") if c.strip()]
        except ValueError:
            parser.error(f"--train-calls must be comma-separated numbers, got {args.train_calls!r}")
    if args.calls is None:
        args.calls = QUICK_CALLS if args.quick else DEFAULT_CALLS
    if not args.cases or not args.train_calls or min(args.train_calls) < 1 or args.calls < 2:
        parser.error("need at least one case, training budgets ≥ 1 and --calls ≥ 2")
    return args


def write(doc: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """flow.json and flow.md from the cases finished so far."""
    doc["targets"] = evaluate_targets(doc["cases"])
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "flow.json", out / "flow.md"
    json_path.write_text(json.dumps(_jsonable(doc), indent=2, allow_nan=False) + "\n")
    md_path.write_text(markdown(doc))
    return json_path, md_path


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    torch.set_num_threads(TORCH_THREADS)
    machine = machine_info(argv, "bench_flow.py") | {
        "torch": torch.__version__,
        "madnis": _version("madnis"),
    }
    doc: dict[str, Any] = {
        "benchmark": "flow",
        "machine": machine,
        "config": {
            "cases": args.cases,
            "backends": [*BACKENDS, "madnis"],
            "calls_train": args.train_calls,
            "calls_eval": args.calls,
            "seed": args.seed,
            "quick": args.quick,
            "torch_threads": TORCH_THREADS,
        },
        "cases": [],
    }
    for spec in args.cases:
        for calls_train in args.train_calls:
            case = run_case(spec, calls_train, args.calls, args.seed)
            doc["cases"].append(case)
            print(case_markdown(case), end="\n\n", flush=True)
            json_path, md_path = write(doc, args.out)
    print("\n".join(map(_target_line, doc["targets"])))
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
