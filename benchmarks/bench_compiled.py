"""Per-event overhead of calling a compiled |M|² from Python: one call per event vs one per batch.

Compiles ``examples/c/ee_mumu_me.c`` (e+e− → μ+μ−) with ``cc -O2`` and times, on the same
momenta (n events from RAMBO on diet), in CPU time of this process, best of ``--repeats``:

- ``C direct``: the C function called once on arrays already in its layout (the compute
  time of the |M|² itself, plus one ctypes call);
- ``per-event ctypes call``: one bare ctypes call per event from a Python loop, and the same
  through ``Process(vectorized=False)`` with a function of one event (what a user writes
  without batching: the issue's ~7 µs/event path);
- ``CompiledMatrixElement``: the library's call path for each interface (``events``,
  ``components``, ``umami``): shape check, layout conversion once per batch, the call,
  the NaN check;
- the numpy |M|² of ``mlintegrate.processes.ee.ee_mumu``, for scale.

Overhead per event = (time of the path − C direct time of the same interface) / n. Writes
``benchmarks/results/compiled.json`` and ``compiled.md``.

    python benchmarks/bench_compiled.py [--events 200000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from bench_core import machine_info

from mlintegrate.processes import CompiledMatrixElement, ee

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "examples" / "c" / "ee_mumu_me.c"
RESULTS = Path(__file__).resolve().parent / "results"


def best_cpu_time(fn: Callable[[], Any], repeats: int) -> float:
    """The smallest process CPU time of ``repeats`` calls of fn (seconds)."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def _per_event_wrapper(fn: Callable[[np.ndarray], float]) -> Callable[[np.ndarray], np.ndarray]:
    """The loop Process(vectorized=False) puts around a function of one event."""
    from mlintegrate.processes.process import _per_event

    return _per_event(fn)


def compile_library(outdir: Path) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise SystemExit("no C compiler (cc or gcc): this benchmark compiles a C |M|²")
    lib = outdir / "libee_mumu.so"
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(lib), str(SOURCE), "-lm"], check=True)
    return lib


def measure(lib: Path, n: int, n_loop: int, repeats: int) -> list[dict[str, Any]]:
    process = ee.ee_mumu()
    p = process.momenta(np.random.default_rng(1).random((n, process.dim)))[0]
    p = np.ascontiguousarray(p)
    pt = np.ascontiguousarray(p.transpose(2, 1, 0))
    out = np.empty(n)
    raw = ctypes.CDLL(str(lib))
    rows: list[dict[str, Any]] = []

    def row(name: str, seconds: float, events: int, direct: float | None = None) -> None:
        per_event = seconds / events
        overhead = None if direct is None else per_event - direct
        rows.append(
            {
                "path": name,
                "events": events,
                "us_per_event": per_event * 1e6,
                "overhead_us_per_event": None if overhead is None else overhead * 1e6,
            }
        )

    # the plain batch signature, event-major
    events = raw.ee_mumu_events
    events.argtypes, events.restype = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p], None
    t_direct = best_cpu_time(lambda: events(n, p.ctypes.data, out.ctypes.data), repeats) / n
    row("C direct, events layout", t_direct * n, n)
    stride = 4 * 4 * 8
    base, obase = p.ctypes.data, out.ctypes.data

    def per_event() -> None:
        for i in range(n_loop):
            events(1, base + i * stride, obase + 8 * i)

    row("per-event ctypes call", best_cpu_time(per_event, repeats), n_loop, t_direct)

    def one_event(event: np.ndarray) -> float:  # what a user writes without batching
        value = np.empty(1)
        events(1, np.ascontiguousarray(event).ctypes.data, value.ctypes.data)
        return float(value[0])

    wrapped = _per_event_wrapper(one_event)
    row(
        "per-event call, Process(vectorized=False)",
        best_cpu_time(lambda: wrapped(p[:n_loop]), repeats),
        n_loop,
        t_direct,
    )
    me = CompiledMatrixElement(lib, 4, symbol="ee_mumu_events", layout="events")
    row("CompiledMatrixElement, events", best_cpu_time(lambda: me(p), repeats), n, t_direct)

    # batch-innermost, plain signature
    comps = raw.ee_mumu_components
    comps.argtypes, comps.restype = events.argtypes, None
    t_direct = best_cpu_time(lambda: comps(n, pt.ctypes.data, out.ctypes.data), repeats) / n
    row("C direct, components layout", t_direct * n, n)
    me = CompiledMatrixElement(lib, 4, symbol="ee_mumu_components", layout="components")
    row("CompiledMatrixElement, components", best_cpu_time(lambda: me(p), repeats), n, t_direct)

    # UMAMI
    me = CompiledMatrixElement(lib, 4, layout="umami")
    fn, handle = me._fn, me._handle()
    in_keys, out_keys = (ctypes.c_int * 1)(0), (ctypes.c_int * 1)(0)
    inputs, outputs = (ctypes.c_void_p * 1)(pt.ctypes.data), (ctypes.c_void_p * 1)(out.ctypes.data)

    def umami_direct() -> None:
        fn(handle, n, n, 0, 1, in_keys, inputs, 1, out_keys, outputs)

    t_direct = best_cpu_time(umami_direct, repeats) / n
    row("C direct, UMAMI", t_direct * n, n)
    row("CompiledMatrixElement, umami", best_cpu_time(lambda: me(p), repeats), n, t_direct)
    row("numpy ee_mumu ME", best_cpu_time(lambda: process.matrix_element(p), repeats), n)
    return rows


def markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# Compiled |M|²: cost per event of the call path",
        "",
        f"e+e− → μ+μ− in C (`examples/c/ee_mumu_me.c`, cc -O2), {doc['events']} events "
        f"(per-event loop: {doc['loop_events']}), process CPU time, best of {doc['repeats']}. "
        "Overhead = time of the path − the C function's own time in the same layout.",
        "",
        "| path | µs/event | overhead µs/event |",
        "|---|---:|---:|",
    ]
    for r in doc["rows"]:
        over = r["overhead_us_per_event"]
        cell = "" if over is None else f"{over:.4f}"
        lines.append(f"| {r['path']} | {r['us_per_event']:.4f} | {cell} |")
    lines += ["", f"Machine: {doc['machine'].get('processor') or doc['machine'].get('platform')}"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--loop-events", type=int, default=20_000, help="per-event call loop")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        lib = compile_library(Path(tmp))
        rows = measure(lib, args.events, min(args.loop_events, args.events), args.repeats)
    argv_list = list(sys.argv if argv is None else ["bench_compiled.py", *argv])
    doc = {
        "machine": machine_info(argv_list, "bench_compiled.py"),
        "events": args.events,
        "loop_events": min(args.loop_events, args.events),
        "repeats": args.repeats,
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compiled.json").write_text(json.dumps(doc, indent=2) + "\n")
    (args.out / "compiled.md").write_text(markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
