"""Throughput of the phase-space kernels: numba vs the numpy reference twin, side by side.

For RAMBO on diet (3n-4 random numbers) and RAMBO (4n) at n = 3, 4, 6 massless particles, the
same u (10^6 events by default) goes through ``kernel="numba"`` and ``kernel="numpy"`` of the
public function (input checks included), after a warm-up call that compiles (or loads) the numba
kernels. Repetitions alternate the two kernels and the best time of each is kept. Times are
process CPU times (the kernels are single-threaded, so this is the wall time on an idle core and
is robust to other load on a shared machine); best wall times are recorded in the JSON too.
The two outputs are also compared (max |p_numba - p_numpy| / sqrt(s)). Writes
``benchmarks/results/phasespace.json`` and ``benchmarks/results/phasespace.md``.

    python benchmarks/bench_phasespace.py                  # 10^6 events, 3 repetitions
    python benchmarks/bench_phasespace.py --events 100000  # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numba
import numpy as np
from bench_core import machine_info as core_machine_info

from mlintegrate import phasespace as ps

RESULTS = Path(__file__).resolve().parent / "results"
SQRT_S = 1000.0
GENERATORS: dict[str, tuple[Callable[..., Any], Callable[[int], int]]] = {
    "rambo_diet": (ps.rambo_diet, ps.diet_dim),
    "rambo": (ps.rambo, ps.rambo_dim),
}


def machine_info(argv: Sequence[str]) -> dict[str, Any]:
    """Where and how the benchmark ran (see :func:`bench_core.machine_info`), with numba."""
    return core_machine_info(argv, "bench_phasespace.py") | {"numba": numba.__version__}


def run_case(name: str, n: int, n_events: int, repeats: int, seed: int) -> dict[str, Any]:
    """Best-of-``repeats`` CPU time (and wall time) of both kernels on the same u."""
    gen, dim_of = GENERATORS[name]
    dim = dim_of(n)
    u = np.random.default_rng(seed).random((n_events, dim))
    for kernel in ("numba", "numpy"):  # warm-up: compile / load the cached kernels
        gen(u[:100], n, SQRT_S, kernel=kernel)
    times: dict[str, list[float]] = {"numba": [], "numpy": []}
    walls: dict[str, list[float]] = {"numba": [], "numpy": []}
    outputs: dict[str, np.ndarray] = {}
    for _ in range(repeats):
        for kernel in ("numba", "numpy"):
            t0, c0 = time.perf_counter(), time.process_time()
            p, _ = gen(u, n, SQRT_S, kernel=kernel)
            times[kernel].append(time.process_time() - c0)
            walls[kernel].append(time.perf_counter() - t0)
            outputs[kernel] = p
    best = {b: min(t) for b, t in times.items()}
    diff = float(np.abs(outputs["numba"] - outputs["numpy"]).max() / SQRT_S)
    return {
        "generator": name,
        "n_particles": n,
        "dim": dim,
        "n_events": n_events,
        "numba_s": best["numba"],
        "numpy_s": best["numpy"],
        "numba_events_per_s": n_events / best["numba"],
        "numpy_events_per_s": n_events / best["numpy"],
        "speedup_numba_over_numpy": best["numpy"] / best["numba"],
        "numba_wall_s": min(walls["numba"]),
        "numpy_wall_s": min(walls["numpy"]),
        "all_cpu_times_s": times,
        "all_wall_times_s": walls,
        "max_abs_diff_over_sqrt_s": diff,
    }


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    lines = [
        "# Phase-space kernels: numba vs numpy reference",
        "",
        f"Made by `{m['command']}` on {m['date']}.",
        "",
        f"Machine: {m['platform']}, {m['processor']}, {m['cpu_count']} CPUs "
        f"({m['cpus_usable']} usable, load average at start "
        f"{', '.join(f'{x:.2f}' for x in m['load_average_start'] or [])}); Python {m['python']}, "
        f"numpy {m['numpy']}, numba {m['numba']} ({m['git_commit']}).",
        "",
        f"Massless final states, sqrt(s) = {SQRT_S:g} GeV, {doc['config']['n_events']:,} events "
        f"per call, best of {doc['config']['repeats']} alternating repetitions of the public "
        "function (input checks included), timed in process CPU time (single-threaded, so "
        "robust to other load on the machine; wall times are in the JSON); numba compile time "
        "excluded (warm-up call first).",
        "",
        "| generator | n | dim | numba events/s | numpy events/s | numba / numpy | "
        "max abs diff / sqrt(s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in doc["results"]:
        lines.append(
            f"| {r['generator']} | {r['n_particles']} | {r['dim']} | "
            f"{r['numba_events_per_s']:.3g} | {r['numpy_events_per_s']:.3g} | "
            f"{r['speedup_numba_over_numpy']:.2f}x | {r['max_abs_diff_over_sqrt_s']:.1e} |"
        )
    lines.append("")
    lines.append(
        "Reading the ratio: the numpy twins are themselves vectorised over events (one pass "
        "per operation over 10^6-element arrays, SIMD arithmetic). The numba kernels work on "
        "blocks of 256 events held in cache: every stage (mass-fraction root solve, emission "
        "and boost; RAMBO's directions, pair sums and boost) is one loop over the block without "
        "calls or branches, which LLVM vectorises with IEEE semantics (no fastmath), so the "
        "ratio is the gain of cache-resident SIMD loops over memory-bound array passes, not "
        "over a Python loop. sin is a polynomial in the numba kernels (within 1 ulp of libm, "
        "hence the last column); log (RAMBO) and pow (diet, n >= 5) remain libm calls, in "
        "loops of their own."
    )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--particles", default="3,4,6", help="comma-separated n")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder")
    args = parser.parse_args(argv)
    ns = [int(x) for x in args.particles.split(",")]
    doc: dict[str, Any] = {
        "machine": machine_info(argv),
        "config": {"n_events": args.events, "repeats": args.repeats, "sqrt_s": SQRT_S},
        "results": [],
    }
    for name in GENERATORS:
        for n in ns:
            res = run_case(name, n, args.events, args.repeats, args.seed)
            doc["results"].append(res)
            print(
                f"{name:10s} n={n}: numba {res['numba_events_per_s']:.3g} ev/s, "
                f"numpy {res['numpy_events_per_s']:.3g} ev/s, "
                f"ratio {res['speedup_numba_over_numpy']:.2f}",
                flush=True,
            )
    doc["machine"]["load_average_end"] = (
        list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "phasespace.json").write_text(json.dumps(doc, indent=2) + "\n")
    (args.out / "phasespace.md").write_text(markdown(doc))
    print(f"wrote {args.out / 'phasespace.json'} and {args.out / 'phasespace.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
