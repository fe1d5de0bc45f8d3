"""Build ``libmlintegrate.so``: the C interface of ``mlintegrate.h``, embedding CPython with cffi.

    python -m mlintegrate.embed.build OUTDIR   # → OUTDIR/libmlintegrate.so, .h, .f90

The functions declared between the ``cffi-begin``/``cffi-end`` markers of ``mlintegrate.h``
become the library's exports (``ffi.embedding_api``); their bodies are the Python callbacks
of :mod:`._externs`, installed by the init code that runs on the first call. The library
links against this interpreter's ``libpython`` (its directory recorded as an rpath), and the
init code puts this interpreter's import paths — the virtual environment's site-packages and
the directory holding ``mlintegrate`` — on ``sys.path``, so a C program finds the same packages
without setting anything. ``PYTHONPATH`` still adds paths; set ``PYTHONHOME`` only if the
embedded interpreter cannot find its standard library (a relocated Python installation).
Rebuild after moving the virtual environment or the source tree.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import site
import sys
import sysconfig
import tempfile
from pathlib import Path

__all__ = ["FORTRAN_MODULE", "HEADER", "build", "cdef", "import_paths", "main"]

HEADER = Path(__file__).with_name("mlintegrate.h")
#: the Fortran (ISO_C_BINDING) interface module, copied next to the library
FORTRAN_MODULE = Path(__file__).with_name("mlintegrate.f90")
MODULE = "_mlintegrate_embed"


def cdef() -> str:
    """The declarations between the markers of ``mlintegrate.h`` (what cffi exports)."""
    text = HEADER.read_text()
    begin, end = text.index("cffi-begin"), text.index("/* cffi-end")
    body = text[text.index("\n", begin) + 1 : end]
    return re.sub(r"/\*.*?\*/", "", body, flags=re.DOTALL)  # cffi's parser wants no comments


def import_paths() -> list[str]:
    """Directories the embedded interpreter needs: mlintegrate's parent, then sys.path."""
    package_parent = str(Path(__file__).resolve().parents[2])
    paths = [package_parent]
    for entry in sys.path:
        if entry and os.path.isdir(entry) and entry not in paths:
            paths.append(os.path.abspath(entry))
    return paths


def _init_code(paths: list[str], site_dirs: list[str]) -> str:
    return f"""
import site, sys
for _path in reversed({paths!r}):
    if _path not in sys.path:
        sys.path.insert(0, _path)
for _path in {site_dirs!r}:
    site.addsitedir(_path)  # also runs the .pth files (editable installs)
from {MODULE} import ffi
from mlintegrate.embed._externs import install
install(ffi)
"""


def build(outdir: str | os.PathLike, name: str = "libmlintegrate.so", verbose: bool = False):
    """Compile the library into ``outdir`` (with mlintegrate.h and mlintegrate.f90); its path."""
    import cffi

    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    ffi = cffi.FFI()
    ffi.embedding_api(cdef())
    ffi.set_source(
        MODULE,
        '#include "mlintegrate.h"',
        include_dirs=[str(HEADER.parent)],
        extra_link_args=[f"-Wl,-rpath,{libdir}"] if libdir else [],
    )
    site_dirs = [p for p in site.getsitepackages() if os.path.isdir(p)]
    ffi.embedding_init_code(_init_code(import_paths(), site_dirs))
    with tempfile.TemporaryDirectory(prefix="mlintegrate-embed-") as tmp:
        built = Path(ffi.compile(tmpdir=tmp, target=name, verbose=verbose))
        target = outdir / name
        shutil.copy2(built, target)
    for interface in (HEADER, FORTRAN_MODULE):
        shutil.copy2(interface, outdir / interface.name)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlintegrate.embed.build",
        description="Build libmlintegrate.so (the C interface, embedding this Python) and "
        "copy mlintegrate.h and the Fortran module mlintegrate.f90 next to it. Link C "
        "programs with -L OUTDIR -lmlintegrate -Wl,-rpath,OUTDIR.",
    )
    parser.add_argument("outdir", help="directory for libmlintegrate.so and mlintegrate.h")
    parser.add_argument("--verbose", action="store_true", help="show the compiler commands")
    args = parser.parse_args(argv)
    try:
        path = build(args.outdir, verbose=args.verbose)
    except ImportError:
        print("error: cffi is not installed; pip install 'mlintegrate[embed]'", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
