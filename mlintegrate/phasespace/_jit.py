"""The one numba decorator of the phase-space kernels, and the kernel switch.

Every compiled kernel in :mod:`mlintegrate.phasespace` is decorated with :data:`jit`, so the numba
options live in exactly one place (the iminuit / scikit-hep ``vector`` convention):

- ``cache=True``: compiled machine code is cached on disk, so only the first import pays;
- ``error_model="numpy"``: division by zero gives inf/nan like numpy instead of raising;
- ``fastmath=False``: IEEE semantics, so the numba kernels agree with their numpy twins to
  rounding (the twins are tested against each other to 1e-13).
"""

from __future__ import annotations

import functools
from typing import Literal

import numba

__all__ = ["KERNELS", "Kernel", "check_kernel", "jit"]

#: The decorator every kernel uses.
jit = functools.partial(numba.njit, cache=True, error_model="numpy", fastmath=False, nogil=True)

Kernel = Literal["numba", "numpy"]

#: Accepted values of the ``kernel`` argument of the public functions ("backend" means a
#: proposal elsewhere in the package).
KERNELS: tuple[str, ...] = ("numba", "numpy")


def check_kernel(kernel: str) -> str:
    """Return ``kernel`` if it is ``"numba"`` or ``"numpy"``, else raise a ValueError."""
    if kernel not in KERNELS:
        raise ValueError(
            f"kernel={kernel!r} is not supported; use kernel='numba' (compiled) "
            f"or kernel='numpy' (vectorised reference)"
        )
    return kernel
