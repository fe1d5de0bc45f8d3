"""The ``mli_*`` C functions as cffi ``def_extern`` callbacks: C pointers in, :mod:`.api` calls.

Imported by the embedded interpreter's init code (see :mod:`.build`) with the compiled
module's ``ffi``; :func:`install` registers one callback per function of ``mlintegrate.h``.
Each converts its pointers to numpy arrays over the caller's memory (inputs copied, outputs
written in place) and returns :mod:`.api`'s code; cffi's ``error=`` value (ERR_INTERNAL, or
0 for the functions returning a handle) covers anything that still escaped.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..errors import MLIntegrateError
from . import api

__all__ = ["install"]

_DOUBLE = np.dtype(np.float64).itemsize


def install(ffi: Any) -> None:
    """Define every ``mli_*`` function of mlintegrate.h on the embedding module's ``ffi``."""
    returned: dict[Any, Any] = {}  # keeps each mli_last_error string alive

    def text(ptr: Any, name: str) -> str:
        if ptr == ffi.NULL:
            raise MLIntegrateError(f"{name} is NULL; pass a NUL-terminated string")
        return ffi.string(ptr).decode("utf-8", errors="replace")

    def doubles(ptr: Any, size: int, name: str, output: bool = False) -> np.ndarray:
        if ptr == ffi.NULL:
            raise MLIntegrateError(f"{name} is NULL; pass an array of {size} doubles")
        view = np.frombuffer(ffi.buffer(ptr, size * _DOUBLE), dtype=np.float64)
        return view if output else view.copy()

    @ffi.def_extern(name="mli_open", error=0)
    def mli_open(config_json: Any) -> int:
        try:
            config = text(config_json, "config_json")
        except MLIntegrateError as exc:
            api.record(None, exc)
            return 0
        return api.open_handle(config)

    @ffi.def_extern(name="mli_load", error=0)
    def mli_load(path: Any) -> int:
        try:
            name = text(path, "path")
        except MLIntegrateError as exc:
            api.record(None, exc)
            return 0
        return api.load(name)

    @ffi.def_extern(name="mli_dim", error=api.ERR_INTERNAL)
    def mli_dim(h: int, dim_out: Any) -> int:
        def work(integ: Any) -> None:
            if dim_out == ffi.NULL:
                raise MLIntegrateError("dim_out is NULL; pass the address of an int")
            dim_out[0] = integ.backend.dim

        return api.run(h, work)

    @ffi.def_extern(name="mli_sample", error=api.ERR_INTERNAL)
    def mli_sample(h: int, n: int, u_out: Any, q_out: Any) -> int:
        def work(integ: Any) -> None:
            m, d = api.count(n), integ.backend.dim
            u = doubles(u_out, m * d, "u_out", output=True).reshape(m, d)
            api.fill_sample(integ, u, doubles(q_out, m, "q_out", output=True))

        return api.run(h, work)

    @ffi.def_extern(name="mli_adapt", error=api.ERR_INTERNAL)
    def mli_adapt(h: int, n: int, u: Any, q: Any, f: Any) -> int:
        def work(integ: Any) -> None:
            m, d = api.count(n), integ.backend.dim
            points = doubles(u, m * d, "u").reshape(m, d)
            integ.backend.adapt(points, doubles(q, m, "q"), doubles(f, m, "f"))

        return api.run(h, work)

    @ffi.def_extern(name="mli_density", error=api.ERR_INTERNAL)
    def mli_density(h: int, n: int, u: Any, q_out: Any) -> int:
        def work(integ: Any) -> None:
            m, d = api.count(n), integ.backend.dim
            points = doubles(u, m * d, "u").reshape(m, d)
            api.fill_density(integ, points, doubles(q_out, m, "q_out", output=True))

        return api.run(h, work)

    @ffi.def_extern(name="mli_save", error=api.ERR_INTERNAL)
    def mli_save(h: int, path: Any) -> int:
        return api.run(h, lambda integ: api.save_to(integ, text(path, "path")))

    @ffi.def_extern(name="mli_close", error=api.ERR_INTERNAL)
    def mli_close(h: int) -> int:
        code = api.close(h)
        if code == api.OK:
            returned.pop(h, None)
        return code

    @ffi.def_extern(name="mli_last_error")
    def mli_last_error(h: int) -> Any:
        message = api.last_error(h)
        key = h if api.is_open(h) else ("thread", threading.get_ident())
        returned[key] = ffi.new("char[]", message.encode("utf-8", errors="replace"))
        return returned[key]
