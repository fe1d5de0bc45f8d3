"""Drive mlintegrate from C, C++ and Fortran: ``libmlintegrate.so`` and ``mlintegrate.h``.

A generator code written in a compiled language runs the ask/tell loop itself::

    h = mli_open("{\\"backend\\": \\"flow\\", \\"dim\\": 2, \\"seed\\": 1}")
    mli_sample(h, n, u, q)      /* ask */
    ... f[i] = its own |M|² at u[i] ...
    mli_adapt(h, n, u, q, f)    /* tell */

Build the library with ``python -m mlintegrate.embed.build OUTDIR`` (needs cffi: the
``embed`` extra). :mod:`.api` holds the logic (handles, codes, messages) in plain Python,
:mod:`._externs` the C callbacks, :mod:`.build` the cffi build; ``mlintegrate.h`` documents
every function. Importing this package does not import cffi.
"""

from .api import CODES

__all__ = ["CODES"]
