"""Uniform vs VEGAS (i.i.d. map) vs the vegas+ reference on camel, d = 2, 4, 8.

Every row of a case gets the same integrand, the same training and evaluation budgets and
the same seed, in one process (``mlintegrate.report.compare``), so the ratios to the VEGAS
row are side-by-side comparisons at equal integrand calls. Writes
``benchmarks/results/core.json`` (machine info, command, records, ratios) and ``core.md``.

    python benchmarks/bench_core.py            # 10^6 training + 10^6 evaluation calls
    python benchmarks/bench_core.py --quick    # 10^5 + 10^5: a smoke run
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

import mlintegrate as mli
from mlintegrate.report import REFERENCE_BACKEND, compare, table_rows
from mlintegrate.result import Result

BACKENDS = ("uniform", "vegas")
INTEGRAND = "camel"
DEFAULT_DIMS = (2, 4, 8)
RESULTS = Path(__file__).resolve().parent / "results"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    """HEAD of the checkout (with ``-dirty`` if it has local changes), or None."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def machine_info(argv: Sequence[str], script: str = "bench_core.py") -> dict[str, Any]:
    """Where and how ``benchmarks/<script> <argv>`` ran (load average: the machine may be
    shared)."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": shlex.join(["python", f"benchmarks/{script}", *argv]),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "load_average_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "vegas": _version("vegas"),
        "mlintegrate": mli.__version__,
        "git_commit": _git_commit(),
    }


def _ratio(value: float | None, ref: float | None) -> float | None:
    if value is None or ref is None or ref == 0 or not math.isfinite(ref):
        return None
    return value / ref


#: figures that get a ratio to the VEGAS row (the keys of ``table_rows``)
RATIO_KEYS = (
    "eff_max",
    "eff_median_max",
    "eff_reduced",
    "rsd",
    "ess_fraction",
    "us_per_event",
    "time_train_s",
)


def ratios_to_vegas(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row's figures divided by the VEGAS row's (None where undefined)."""
    ref = next(r for r in rows if r["backend"] == REFERENCE_BACKEND)
    return [
        {"backend": row["backend"]}
        | {f"{key}_vs_vegas": _ratio(row[key], ref[key]) for key in RATIO_KEYS}
        for row in rows
    ]


def record(result: Result) -> dict[str, Any]:
    """A result's JSON record without its per-iteration list (the tables do not use it)."""
    rec = result.to_dict()
    rec.pop("iterations", None)
    return rec


def run_case(dim: int, calls_train: int, calls: int, seed: int) -> dict[str, Any]:
    """One integrand and dimension: every backend plus vegas+, records and ratios."""
    f = mli.functions.get(INTEGRAND, dim=dim)
    t0 = time.perf_counter()
    results = compare(f, dim, BACKENDS, calls_train, calls, seed=seed, progress=False).results
    wall = time.perf_counter() - t0
    rows = table_rows(results)
    ratios = ratios_to_vegas(rows)
    records = [record(r) for r in results]
    return {
        "integrand": INTEGRAND,
        "dim": dim,
        "exact": f.exact,
        "wall_s": wall,
        "records": records,
        "rows": rows,
        "ratios": ratios,
    }


def _cell(value: float | None, fmt: str) -> str:
    return "—" if value is None else fmt.format(value)


def _pct(value: float | None) -> str:
    """An efficiency as a percentage with 3 significant digits (tiny ones stay readable)."""
    return "—" if value is None else f"{100 * value:.3g}%"


_HEADER = (
    "backend",
    "integral ± error",
    "pull",
    "ε max",
    "×VEGAS",
    "ε median-max",
    "×VEGAS",
    "ε reduced",
    "×VEGAS",
    "rsd",
    "×VEGAS",
    "ESS frac",
    "×VEGAS",
    "train s",
    "µs / unw. event",
    "×VEGAS",
    "calls train / eval",
)


def case_table(case: dict[str, Any]) -> list[str]:
    """The markdown table (lines) of one case: each row with its ratios to the VEGAS row."""
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    for row, ratio in zip(case["rows"], case["ratios"], strict=True):
        cells = [
            row["backend"],
            f"{row['integral']:.6g} ± {row['error']:.2g}",
            _cell(row["pull"], "{:+.2f}"),
            _pct(row["eff_max"]),
            _cell(ratio["eff_max_vs_vegas"], "{:.3g}"),
            _pct(row["eff_median_max"]),
            _cell(ratio["eff_median_max_vs_vegas"], "{:.3g}"),
            _pct(row["eff_reduced"]),
            _cell(ratio["eff_reduced_vs_vegas"], "{:.3g}"),
            _cell(row["rsd"], "{:.3g}"),
            _cell(ratio["rsd_vs_vegas"], "{:.3g}"),
            _cell(row["ess_fraction"], "{:.3g}"),
            _cell(ratio["ess_fraction_vs_vegas"], "{:.3g}"),
            _cell(row["time_train_s"], "{:.2f}"),
            _cell(row["us_per_event"], "{:.3g}"),
            _cell(ratio["us_per_event_vs_vegas"], "{:.3g}"),
            f"{row['calls_train']:,} / {row['calls_eval']:,}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def case_markdown(case: dict[str, Any]) -> str:
    """The table of one case."""
    lines = [f"### {case['integrand']}, d = {case['dim']}", "", *case_table(case)]
    lines.append("")
    lines.append(f"exact = {case['exact']:.10g}; case wall time {case['wall_s']:.1f} s.")
    return "\n".join(lines)


def markdown(doc: dict[str, Any]) -> str:
    """The whole report: command, machine, one table per case, definitions."""
    m = doc["machine"]
    cfg = doc["config"]
    head = [
        "# Core benchmark: uniform vs VEGAS vs vegas+",
        "",
        f"Made by `{m['command']}` on {m['date']}.",
        "",
        f"Machine: {m['platform']}, {m['processor']}, {m['cpu_count']} CPUs "
        f"({m['cpus_usable']} usable); Python {m['python']}, numpy {m['numpy']}, "
        f"vegas {m['vegas']}, mlintegrate {m['mlintegrate']} ({m['git_commit']}).",
        "",
        f"Budget per row: {cfg['calls_train']:,} training calls, {cfg['calls_eval']:,} "
        f"evaluation calls (fresh points from the frozen proposal), seed {cfg['seed']}, "
        "one process.",
        "",
    ]
    notes = [
        "",
        "ε = ⟨|w|⟩/w_max, the expected unweighted events per integrand call, with w_max the "
        "largest weight (*max*), the median of bootstrap maxima of n/10-point replicas "
        "(*median-max*, arXiv:2001.10028) or the w_max whose overweights carry 1e-3 of σ "
        "(*reduced*). rsd = std(w)/⟨w⟩ (error of one call; for vegas+ the equivalent "
        "δI·√n/I). ×VEGAS = ratio to the `vegas` row (the VEGAS map sampled i.i.d.): above 1 "
        "is better for ε, below 1 is better for rsd. µs / unw. event = evaluation time "
        "(proposal + integrand) per expected unweighted event with the reduced w_max. "
        "vegas+ is the vegas package's own stratified, adaptive integrator with the same "
        "budgets (its `neval` is a target, so its calls differ slightly; the calls made are "
        "shown): its points are not i.i.d. and cannot be unweighted, hence no ε. Timings come "
        "from a shared machine and are indicative only; the ratios of ε and rsd are not "
        "timings.",
    ]
    body = [case_markdown(case) for case in doc["cases"]]
    return "\n".join(head) + "\n" + "\n\n".join(body) + "\n" + "\n".join(notes) + "\n"


def _jsonable(value: Any) -> Any:
    """Replace non-finite floats by None (strict JSON has no inf/NaN)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="10^5 training and evaluation calls (smoke run)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of every row (default 1)")
    parser.add_argument(
        "--dims",
        default=",".join(map(str, DEFAULT_DIMS)),
        help="comma-separated dimensions (default 2,4,8)",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="folder for core.json and core.md"
    )
    args = parser.parse_args(argv)
    try:
        args.dims = [int(d) for d in args.dims.split(",") if d.strip()]
    except ValueError:
        parser.error(f"--dims must be comma-separated integers, got {args.dims!r}")
    if not args.dims or min(args.dims) < 1:
        parser.error(f"--dims must list dimensions >= 1, got {args.dims!r}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    calls = 10**5 if args.quick else 10**6
    doc: dict[str, Any] = {
        "benchmark": "core",
        "machine": machine_info(argv),
        "config": {
            "integrand": INTEGRAND,
            "dims": args.dims,
            "backends": [*BACKENDS, "vegas+"],
            "calls_train": calls,
            "calls_eval": calls,
            "seed": args.seed,
            "quick": args.quick,
        },
        "cases": [],
    }
    for dim in args.dims:
        case = run_case(dim, calls, calls, args.seed)
        doc["cases"].append(case)
        print(case_markdown(case), end="\n\n", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = args.out / "core.json", args.out / "core.md"
    json_path.write_text(json.dumps(_jsonable(doc), indent=2, allow_nan=False) + "\n")
    md_path.write_text(markdown(doc))
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
