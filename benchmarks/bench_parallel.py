"""Speed-up of parallel |M|² evaluation against workers, and the overhead of one task.

1. A costly integrand: camel (d = 4) plus numpy busy work that costs about 1 ms per point on
   one core. The work is ``ROUNDS`` rounds of ``x = sin(x) + u₁`` on ``WIDTH`` numbers per
   point (no sleep: it really uses the CPU, as a |M|² does); ``ROUNDS`` is calibrated at the
   start of the run (median of 5 timings of 64 points) so one point costs ``--cost-ms``.
   The busy work enters f as ``0 * mean(x)``, so f is camel exactly and σ stays checkable.
2. ``integrate`` with ``--calls`` points in a spawn process pool of 1 and 2 workers, and on a
   local Dask cluster (127.0.0.1) of 1 and 2 single-threaded worker processes; each executor
   is started and warmed up (the integrand unpickled on every worker) before the clock
   starts; the start-up time is reported apart. Each row's serial baseline (executor=None) is
   timed right before it, so both see the same load. Every run must give the bit-identical σ;
   the script checks it.
3. Overhead per task: camel alone (~µs per point) in chunks of ``--overhead-chunk`` points,
   (t_executor − t_serial) / tasks, with 1 and 2 workers.

The machine is shared (2 cores, other jobs running): the load average is recorded at the
start and the end, and each timing is the best of ``--repeat`` runs. Linux's autogroup
scheduler (``/proc/sys/kernel/sched_autogroup_enabled``) shares the CPU between *sessions*, so
on a busy machine a job's extra worker processes get no extra CPU: the speed-up measured here
is then ≈ 1 however well the work is split. It is recorded with the machine info.

    python benchmarks/bench_parallel.py             # 4000 points at ~1 ms
    python benchmarks/bench_parallel.py --quick     # 600 points: a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import mlintegrate as mli
from mlintegrate.parallel import process_pool

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import machine_info  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
WIDTH = 256  # numbers per point the busy work runs on
BLOCK = 64  # points per numpy block (bounds memory: BLOCK × WIDTH floats)


class BusyCamel:
    """camel(d) with ``rounds`` rounds of numpy busy work per point (see the docstring)."""

    def __init__(self, dim: int, rounds: int):
        self.dim = dim
        self.rounds = rounds
        self.camel = mli.functions.get("camel", dim=dim)
        self.name = f"camel+busy({rounds} rounds)"
        self.exact = self.camel.exact

    def __call__(self, u: np.ndarray) -> np.ndarray:
        busy = np.empty(u.shape[0])
        phase = np.linspace(0.0, 1.0, WIDTH)
        for lo in range(0, u.shape[0], BLOCK):
            col = u[lo : lo + BLOCK, :1]
            x = col + phase
            for _ in range(self.rounds):
                x = np.sin(x) + col
            busy[lo : lo + BLOCK] = x.mean(axis=1)
        return self.camel(u) + 0.0 * busy


def calibrate(dim: int, cost_ms: float) -> tuple[int, float]:
    """Rounds so that one point costs ``cost_ms`` on one core, and the measured cost."""
    u = np.random.default_rng(0).random((BLOCK, dim))

    def per_point(rounds: int) -> float:
        f = BusyCamel(dim, rounds)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            f(u)
            times.append(time.perf_counter() - t0)
        return statistics.median(times) / BLOCK

    probe = 20
    rounds = max(1, round(probe * cost_ms * 1e-3 / per_point(probe)))
    return rounds, per_point(rounds) * 1e3


def _integrate(f: Any, executor: Any, calls: int, chunk: int, seed: int) -> tuple[float, Any]:
    integ = mli.Integrator(
        mli.backends.Vegas(dim=f.dim), rng=seed, progress=False, executor=executor, chunk_size=chunk
    )
    t0 = time.perf_counter()
    res = integ.integrate(f, calls=calls, iterations=1, batch_size=calls)
    return time.perf_counter() - t0, res


def _best(f: Any, executor: Any, calls: int, chunk: int, repeat: int) -> dict[str, Any]:
    runs = [_integrate(f, executor, calls, chunk, seed=5) for _ in range(repeat)]
    res = runs[0][1]
    return {
        "wall_s": min(t for t, _ in runs),
        "wall_s_all": [t for t, _ in runs],
        "integral": res.mean,
        "error": res.sdev,
        "tasks": -(-calls // chunk),
    }


def _warm(executor: Any, f: Any, workers: int) -> float:
    """Start every worker and unpickle f there; returns the seconds it took."""
    t0 = time.perf_counter()
    _integrate(f, executor, 4 * workers, 1, seed=0)
    return time.perf_counter() - t0


def _executors(workers: int):
    """(kind, context manager giving an executor) for a process pool and a Dask cluster."""
    yield "process pool", lambda: _PoolCtx(workers)
    yield "dask local", lambda: _DaskCtx(workers)


class _PoolCtx:
    def __init__(self, workers: int):
        self.pool = process_pool(workers)

    def __enter__(self):
        return self.pool

    def __exit__(self, *exc):
        self.pool.shutdown(wait=True)


class _DaskCtx:
    def __init__(self, workers: int):
        from distributed import Client, LocalCluster

        self.cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            silence_logs=50,
        )
        self.client = Client(self.cluster, set_as_default=False)

    def __enter__(self):
        return self.client.get_executor()

    def __exit__(self, *exc):
        self.client.close()
        self.cluster.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    rounds, cost_ms = calibrate(args.dim, args.cost_ms)
    costly = BusyCamel(args.dim, rounds)
    cheap = mli.functions.get("camel", dim=args.dim)
    reference = _best(costly, None, args.calls, args.chunk, 1)
    rows, overhead = [], []
    one_worker_overhead: dict[str, float] = {}
    for workers in (1, 2):
        for kind, make in _executors(workers):
            t0 = time.perf_counter()
            with make() as executor:
                start = time.perf_counter() - t0
                warm = _warm(executor, costly, workers)
                # serial baseline measured right before, under the same load of the machine
                serial = _best(costly, None, args.calls, args.chunk, args.repeat)
                row = _best(costly, executor, args.calls, args.chunk, args.repeat)
                serial_cheap = _best(
                    cheap, None, args.overhead_calls, args.overhead_chunk, args.repeat
                )
                cheap_row = _best(
                    cheap, executor, args.overhead_calls, args.overhead_chunk, args.repeat
                )
            row.update(executor=kind, workers=workers, startup_s=start + warm)
            row["serial_wall_s"] = serial["wall_s"]
            row["speedup"] = serial["wall_s"] / row["wall_s"]
            per_task = (cheap_row["wall_s"] - serial_cheap["wall_s"]) / cheap_row["tasks"]
            task_s = args.chunk * cost_ms * 1e-3
            one_worker_overhead.setdefault(kind, per_task)
            # what idle cores would give: N workers, each task slowed by the overhead that one
            # worker of this kind measured (the overhead a task costs its worker)
            cost = max(one_worker_overhead[kind], 0.0)
            row["model_speedup_idle"] = workers * task_s / (task_s + cost)
            row["identical_to_serial"] = (row["integral"], row["error"]) == (
                reference["integral"],
                reference["error"],
            )
            rows.append(row)
            overhead.append(
                {
                    "executor": kind,
                    "workers": workers,
                    "tasks": cheap_row["tasks"],
                    "wall_s": cheap_row["wall_s"],
                    "serial_wall_s": serial_cheap["wall_s"],
                    "overhead_ms_per_task": 1e3 * per_task,
                    "identical_to_serial": cheap_row["integral"] == serial_cheap["integral"],
                }
            )
            print(
                f"{kind:13s} {workers} worker(s): {row['wall_s']:.2f} s against serial "
                f"{serial['wall_s']:.2f} s (speed-up {row['speedup']:.2f}), overhead "
                f"{1e3 * per_task:.2f} ms/task, load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    return {
        "integrand": costly.name,
        "dim": args.dim,
        "rounds": rounds,
        "cost_ms_per_point": cost_ms,
        "calls": args.calls,
        "chunk_size": args.chunk,
        "overhead_calls": args.overhead_calls,
        "overhead_chunk": args.overhead_chunk,
        "repeat": args.repeat,
        "exact": costly.exact,
        "integral": reference["integral"],
        "error": reference["error"],
        "rows": rows,
        "overhead": overhead,
    }


def markdown(doc: dict[str, Any]) -> str:
    r = doc["results"]
    m = doc["machine"]
    lines = [
        "# Parallel |M|² evaluation: speed-up against workers",
        "",
        f"Run {m['date']} on {m['platform']} ({m['cpus_usable']} usable cores, **shared**: "
        f"load average {m['load_average_start'][0]:.2f} at the start, "
        f"{doc['load_average_end'][0]:.2f} at the end; sched_autogroup "
        f"{m.get('sched_autogroup')}). Command: `{m['command']}`.",
        "",
        f"Integrand: camel d={r['dim']} plus numpy busy work calibrated to "
        f"{r['cost_ms_per_point']:.2f} ms per point on one core ({r['rounds']} rounds of "
        f"sin on {WIDTH} numbers). {r['calls']} points in chunks of {r['chunk_size']}; "
        f"best of {r['repeat']} runs; executors started and warmed up before timing; the "
        "serial baseline of each row is timed right before it, under the same load. "
        f"σ = {r['integral']:.8g} ± {r['error']:.2g} (exact {r['exact']:.8g}) in every run.",
        "",
        "| executor | workers | wall s | serial wall s (just before) | speed-up measured | "
        "speed-up model, idle cores | start-up s | σ bit-identical to serial |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['executor']} | {row['workers']} | {row['wall_s']:.2f} | "
            f"{row['serial_wall_s']:.2f} | {row['speedup']:.2f} | "
            f"{row['model_speedup_idle']:.2f} | {row['startup_s']:.1f} | "
            f"{row['identical_to_serial']} |"
        )
    lines += [
        "",
        f"Overhead per task: camel alone, {r['overhead_calls']} points in chunks of "
        f"{r['overhead_chunk']}, (t − t_serial) / tasks.",
        "",
        "| executor | workers | tasks | wall s | serial s | ms per task |",
        "|---|---|---|---|---|---|",
    ]
    for o in r["overhead"]:
        lines.append(
            f"| {o['executor']} | {o['workers']} | {o['tasks']} | {o['wall_s']:.3f} | "
            f"{o['serial_wall_s']:.3f} | {o['overhead_ms_per_task']:.3f} |"
        )
    lines += [
        "",
        "*Measured* speed-up: wall time of the serial run just before over that of the",
        "executor. On a shared machine it is not a property of mlintegrate: with Linux's",
        "autogroup scheduler (on here) all processes of one job share one session's CPU share,",
        "so when other jobs keep the cores busy extra workers get no extra CPU and the",
        "measured speed-up stays ≤ 1 however well the work is split.",
        "*Model* speed-up (not measured): N · t_task / (t_task + overhead), with t_task = chunk",
        "size × cost per point and the overhead per task of one worker of that kind (above,",
        "under the same load;",
        "an upper bound on the overhead of an idle machine): what N idle cores would give.",
        "",
    ]
    return "\n".join(lines)


def _autogroup() -> str | None:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip()
    except OSError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="600 points, 1 repeat")
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--chunk", type=int, default=100, help="points per task (costly f)")
    parser.add_argument("--cost-ms", type=float, default=1.0, help="target ms per point")
    parser.add_argument("--dim", type=int, default=4)
    parser.add_argument("--overhead-calls", type=int, default=20_000)
    parser.add_argument("--overhead-chunk", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.repeat, args.overhead_calls = 600, 1, 5000
    info = machine_info(sys.argv[1:] if argv is None else list(argv), "bench_parallel.py")
    info["sched_autogroup"] = _autogroup()
    results = run(args)
    doc = {
        "machine": info,
        "load_average_end": list(os.getloadavg()),
        "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "parallel.json").write_text(json.dumps(doc, indent=2) + "\n")
    (args.out / "parallel.md").write_text(markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
