"""A compiled |M|²: e+e− → μ+μ− written in C (examples/c/ee_mumu_me.c), integrated to σ in pb.

The library is called once per batch of events through ctypes, in both C interfaces
mlintegrate understands: the plain batch signature ``void f(int64_t n, const double *p,
double *out)`` and MadGraph's UMAMI interface.

Run: python examples/compiled_matrix_element.py [path/to/libee_mumu.so]
(without a path it compiles the C file with ``cc`` into a temporary directory).
"""

import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import mlintegrate as mli

ALPHA = 1 / 137.035999084
SQRT_S = 91.2  # GeV
SOURCE = Path(__file__).with_name("c") / "ee_mumu_me.c"


def build_library(outdir: Path) -> Path:
    """cc -O2 -shared -fPIC ee_mumu_me.c → outdir/libee_mumu.so"""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        sys.exit("no C compiler (cc or gcc) found: install one or pass a built library's path")
    lib = outdir / "libee_mumu.so"
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(lib), str(SOURCE), "-lm"], check=True)
    return lib


def main(lib: Path) -> dict[str, mli.Result]:
    """Integrate with each interface; print and return {layout: result}."""
    results = {}
    sigma_exact = 4 * math.pi * ALPHA**2 / (3 * SQRT_S**2) * mli.processes.GEV2_TO_PB
    for layout, symbol in (("events", "ee_mumu_events"), ("umami", "umami")):
        process = mli.processes.Process.from_library(
            lib,
            incoming=(0.0, 0.0),  # e−, e+ (massless beams, flux 1/(2s))
            outgoing_masses=(0.0, 0.0),  # μ−, μ+
            sqrt_s=SQRT_S,
            symbol=symbol,
            layout=layout,
        )
        integ = mli.Integrator(mli.backends.Vegas(dim=process.dim), rng=2024, progress=False)
        integ.train(process, calls=20_000)
        result = integ.integrate(process, calls=50_000)
        results[layout] = result
        pull = (result.mean - sigma_exact) / result.sdev
        print(
            f"layout={layout:7s} sigma = {result.mean:.6f} +- {result.sdev:.6f} pb   "
            f"exact 4 pi alpha^2/(3s) = {sigma_exact:.6f} pb   pull = {pull:+.2f}"
        )
    return results


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(build_library(Path(tmp)))
