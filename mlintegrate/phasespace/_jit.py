"""The one numba decorator of the phase-space kernels, and the backend switch.

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

__all__ = ["BACKENDS", "Backend", "check_backend", "jit"]

#: The decorator every kernel uses.
jit = functools.partial(numba.njit, cache=True, error_model="numpy", fastmath=False, nogil=True)

Backend = Literal["numba", "numpy"]

#: Accepted values of the ``backend`` argument of the public functions.
BACKENDS: tuple[str, ...] = ("numba", "numpy")


def check_backend(backend: str) -> str:
    """Return ``backend`` if it is ``"numba"`` or ``"numpy"``, else raise a ValueError."""
    if backend not in BACKENDS:
        raise ValueError(
            f"backend={backend!r} is not supported; use backend='numba' (compiled kernel) "
            f"or backend='numpy' (vectorised reference)"
        )
    return backend
