"""|M|² from a compiled shared library, called through ``ctypes`` once per batch of events.

Two C interfaces are understood (``layout=``):

``"events"``  the plain batch signature, momenta event-major (row-major n × N × 4)::

    void me(int64_t n, const double *p /* p[(i*N + k)*4 + mu] */, double *out /* n */);

``"components"``  the same signature, momenta batch-innermost (row-major 4 × N × n, i.e.
    ``p[(mu*N + k)*n + i]``), the layout SIMD and GPU kernels prefer.

``"umami"``  the UMAMI interface of MadGraph's matrix-element libraries (major version 1):
    ``umami_initialize(&handle, param_card)``, ``umami_matrix_element(handle, count, stride,
    offset, n_in, in_keys, inputs, n_out, out_keys, outputs)``, ``umami_free(handle)`` and,
    where exported, ``umami_get_meta``. Inputs and outputs are column-major with the batch
    index contiguous: momentum component mu of particle k of event i sits at
    ``p[stride*(N*mu + k) + i]`` (components E, px, py, pz). We pass ``UMAMI_IN_MOMENTA``
    (plus ``UMAMI_IN_ALPHA_S`` / ``UMAMI_IN_FLAVOR_INDEX`` when given) and read
    ``UMAMI_OUT_MATRIX_ELEMENT``; colour/helicity/diagram selection is not requested.
    UMAMI instances are not thread-safe, so each Python thread gets its own handle
    (``threading.local``), created on its first call and freed by :meth:`close` or when the
    object is garbage-collected.

``ctypes`` releases the GIL during each call, so Python threads may run the library at once:
plain batch functions must then be reentrant (no writable global state).

The momentum layout is converted once per batch with numpy (:func:`batch_innermost`, one
blocked transposing copy), never per event in Python. The library is reopened by path after
pickling, so the object can be sent to process-pool workers. Errors (missing library or
symbol, wrong particle count, NaN or a bad status from the library) are
:mod:`mlintegrate.errors` exceptions with a one-line fix. Measured overhead of the call path:
``benchmarks/bench_compiled.py``.
"""

from __future__ import annotations

import ctypes
import os
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, IntegrandError

__all__ = [
    "LAYOUTS",
    "UMAMI_STATUS",
    "CompiledMatrixElement",
    "batch_innermost",
    "from_library",
]

LAYOUTS = ("events", "components", "umami")

#: UmamiStatus values, in the order of the UMAMI 1.0 header
UMAMI_STATUS = (
    "UMAMI_SUCCESS",
    "UMAMI_ERROR",
    "UMAMI_ERROR_NOT_IMPLEMENTED",
    "UMAMI_ERROR_UNSUPPORTED_INPUT",
    "UMAMI_ERROR_UNSUPPORTED_OUTPUT",
    "UMAMI_ERROR_UNINITIALIZED_META",
    "UMAMI_ERROR_UNSUPPORTED_META",
    "UMAMI_ERROR_MISSING_INPUT",
)
# UmamiInputKey / UmamiOutputKey / UmamiMetaKey values used here
_IN_MOMENTA, _IN_ALPHA_S, _IN_FLAVOR_INDEX = 0, 1, 2
_OUT_MATRIX_ELEMENT = 0
_META_DEVICE, _META_PARTICLE_COUNT = 0, 1


def _status_name(status: int) -> str:
    return UMAMI_STATUS[status] if 0 <= status < len(UMAMI_STATUS) else f"status {status}"


def _load_library(path: str | os.PathLike) -> ctypes.CDLL:
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise ConfigError(
            f"library={str(path)!r} does not exist; pass the path of the compiled shared "
            "library (e.g. 'build/libme.so'), not just its name"
        )
    try:
        return ctypes.CDLL(str(resolved.resolve()))
    except OSError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"library={str(path)!r} cannot be loaded ({reason}); build it as a shared "
            "library for this platform (cc -shared -fPIC ...)"
        ) from exc


def _symbol(lib: ctypes.CDLL, path: str, name: str, hint: str) -> Any:
    try:
        return getattr(lib, name)
    except AttributeError:
        raise ConfigError(
            f"symbol={name!r} is not exported by {path!r}; {hint} (check with `nm -D {path}`)"
        ) from None


class CompiledMatrixElement:
    """|M|²(p) for p of shape (n, N, 4) → (n,), from a shared library (module docstring).

    Args:
        path: the shared library file.
        n_particles: N, incoming plus outgoing.
        symbol: the batch function (``"events"``/``"components"``), or the UMAMI prefix
            (``"umami"`` → ``umami_initialize`` ...).
        layout: ``"events"``, ``"components"`` or ``"umami"``.
        param_card: UMAMI only: path passed to ``umami_initialize`` (None passes NULL).
        alpha_s: UMAMI only: a fixed α_s sent as ``UMAMI_IN_ALPHA_S`` (None: not sent).
        flavor_index: UMAMI only: sent as ``UMAMI_IN_FLAVOR_INDEX`` for every event.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        n_particles: int,
        symbol: str | None = None,
        layout: str = "events",
        param_card: str | os.PathLike | None = None,
        alpha_s: float | None = None,
        flavor_index: int | None = None,
    ):
        if layout not in LAYOUTS:
            raise ConfigError(f"layout={layout!r} is unknown; use one of {', '.join(LAYOUTS)}")
        if isinstance(n_particles, bool) or not isinstance(n_particles, int) or n_particles < 2:
            raise ConfigError(f"n_particles={n_particles!r}: give N ≥ 2 (incoming + outgoing)")
        if layout != "umami" and (param_card, alpha_s, flavor_index) != (None, None, None):
            raise ConfigError(
                f"param_card, alpha_s and flavor_index are UMAMI inputs; layout={layout!r} "
                "takes none of them: drop them or use layout='umami'"
            )
        self.path = str(path)
        self.n_particles = n_particles
        self.layout = layout
        self.symbol = symbol or ("umami" if layout == "umami" else "me")
        self.param_card = None if param_card is None else str(param_card)
        self.alpha_s = None if alpha_s is None else float(alpha_s)
        self.flavor_index = None if flavor_index is None else int(flavor_index)
        self.name = f"{Path(self.path).name}:{self.symbol}"
        self._open()

    # ------------------------------------------------------------------ loading
    def _open(self) -> None:
        self._lib = _load_library(self.path)
        if self.layout == "umami":
            self._open_umami()
        else:
            fn = _symbol(
                self._lib,
                self.path,
                self.symbol,
                "export `void NAME(int64_t n, const double *p, double *out)` with C linkage "
                '(extern "C" in C++, bind(C) in Fortran) and pass symbol=NAME',
            )
            fn.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p]
            fn.restype = None
            self._fn = fn

    def _open_umami(self) -> None:
        prefix, lib, path = self.symbol, self._lib, self.path
        hint = "a UMAMI library exports PREFIX_initialize, PREFIX_matrix_element, PREFIX_free"
        init = _symbol(lib, path, f"{prefix}_initialize", hint)
        init.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p]
        init.restype = ctypes.c_int
        me = _symbol(lib, path, f"{prefix}_matrix_element", hint)
        me.argtypes = [ctypes.c_void_p] + [ctypes.c_size_t] * 4
        me.argtypes += [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        me.argtypes += [ctypes.c_void_p, ctypes.c_void_p]
        me.restype = ctypes.c_int
        free = _symbol(lib, path, f"{prefix}_free", hint)
        free.argtypes = [ctypes.c_void_p]
        free.restype = ctypes.c_int
        self._init, self._fn, self._free = init, me, free
        self._local = threading.local()
        self._handles: list[int] = []
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _free_all, free, self._handles, self._lock)
        meta = getattr(lib, f"{prefix}_get_meta", None)
        if meta is not None:
            meta.argtypes = [ctypes.c_int, ctypes.c_void_p]
            meta.restype = ctypes.c_int
            device = ctypes.c_int(0)
            if meta(_META_DEVICE, ctypes.byref(device)) == 0 and device.value != 0:
                kind = {1: "CUDA", 2: "HIP"}.get(device.value, f"device {device.value}")
                raise ConfigError(
                    f"{path!r} evaluates on {kind} (UMAMI_META_DEVICE) but mlintegrate passes "
                    "host memory; build the library for the CPU (UMAMI_DEVICE_CPU)"
                )
            count = ctypes.c_int(-1)
            if meta(_META_PARTICLE_COUNT, ctypes.byref(count)) == 0 and count.value > 0:
                if count.value != self.n_particles:
                    raise ConfigError(
                        f"{path!r} computes |M|² for {count.value} external particles but the "
                        f"process has n_particles={self.n_particles} (incoming + outgoing); "
                        "list the same particles in incoming/outgoing_masses as the library"
                    )

    def _handle(self) -> int:
        """This thread's UMAMI handle, created on first use."""
        handle = getattr(self._local, "handle", None)
        if handle is None:
            raw = ctypes.c_void_p()
            card = None if self.param_card is None else os.fsencode(self.param_card)
            status = self._init(ctypes.byref(raw), card)
            if status != 0 or not raw.value:
                raise IntegrandError(
                    f"{self.symbol}_initialize in {self.path!r} failed with "
                    f"{_status_name(status)} (param_card={self.param_card!r}); check the "
                    "param card path and the library's own messages"
                )
            handle = raw.value
            with self._lock:
                self._handles.append(handle)
            self._local.handle = handle
        return handle

    def close(self) -> None:
        """Free every UMAMI handle (all threads); the next call creates new ones."""
        if self.layout == "umami":
            _free_all(self._free, self._handles, self._lock)
            self._local = threading.local()

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        keep = ("path", "n_particles", "layout", "symbol", "param_card", "alpha_s")
        return {k: getattr(self, k) for k in (*keep, "flavor_index", "name")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._open()

    # ------------------------------------------------------------------ evaluation
    def __call__(self, p: np.ndarray) -> np.ndarray:
        """|M|² for momenta p (n, N, 4), (E, px, py, pz), incoming first → (n,)."""
        p = np.asarray(p, dtype=np.float64)
        if p.ndim != 3 or p.shape[1:] != (self.n_particles, 4):
            raise IntegrandError(
                f"{self.name}: momenta have shape {p.shape} but the library takes "
                f"(n, {self.n_particles}, 4); pass n_particles= matching the library"
            )
        n = p.shape[0]
        out = np.full(n, np.nan)
        if n == 0:
            return out
        if self.layout == "events":
            p = np.ascontiguousarray(p)
            self._fn(n, p.ctypes.data, out.ctypes.data)
        elif self.layout == "components":
            pt = batch_innermost(p)
            self._fn(n, pt.ctypes.data, out.ctypes.data)
        else:
            self._call_umami(p, out)
        self._check(out, p)
        return out

    def _call_umami(self, p: np.ndarray, out: np.ndarray) -> None:
        n = p.shape[0]
        pt = batch_innermost(p)  # p[stride*(N*mu + k) + i]
        keys, arrays = [_IN_MOMENTA], [pt]
        if self.alpha_s is not None:
            keys.append(_IN_ALPHA_S)
            arrays.append(np.full(n, self.alpha_s))
        if self.flavor_index is not None:
            keys.append(_IN_FLAVOR_INDEX)
            arrays.append(np.full(n, self.flavor_index, dtype=np.intc))
        in_keys = (ctypes.c_int * len(keys))(*keys)
        inputs = (ctypes.c_void_p * len(arrays))(*(a.ctypes.data for a in arrays))
        out_keys = (ctypes.c_int * 1)(_OUT_MATRIX_ELEMENT)
        outputs = (ctypes.c_void_p * 1)(out.ctypes.data)
        status = self._fn(self._handle(), n, n, 0, len(keys), in_keys, inputs, 1, out_keys, outputs)
        if status != 0:
            raise IntegrandError(
                f"{self.symbol}_matrix_element in {self.path!r} returned {_status_name(status)} "
                f"for a batch of {n} events (inputs {keys}); check the library's supported "
                "inputs (alpha_s=, flavor_index=) and its messages"
            )

    def _check(self, out: np.ndarray, p: np.ndarray) -> None:
        bad = ~np.isfinite(out)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            event = np.array2string(p[i].ravel(), precision=5, max_line_width=10**9)
            raise IntegrandError(
                f"{self.name} returned NaN or inf (or left unwritten) for {int(bad.sum())} of "
                f"{out.size} events, e.g. event {i} with momenta {event}; guard the singular "
                "region in the library or add a cut"
            )


def batch_innermost(p: np.ndarray, block: int = 2048) -> np.ndarray:
    """Momenta (n, N, 4) → a C-contiguous (4, N, n) copy (component, particle, event).

    Copied in blocks of ``block`` events: a 200k-event transpose runs at about 0.02 µs per
    event this way against 0.04 µs in one strided copy (the blocks stay in cache).
    """
    n = p.shape[0]
    out = np.empty((p.shape[2], p.shape[1], n))
    view = p.transpose(2, 1, 0)
    for start in range(0, n, block):
        out[:, :, start : start + block] = view[:, :, start : start + block]
    return out


def _free_all(free: Any, handles: list[int], lock: threading.Lock) -> None:
    with lock:
        while handles:
            free(handles.pop())


def from_library(
    path: str | os.PathLike,
    incoming: float | Sequence[float],
    outgoing_masses: Sequence[float],
    sqrt_s: float,
    symbol: str | None = None,
    layout: str = "events",
    n_particles: int | None = None,
    param_card: str | os.PathLike | None = None,
    alpha_s: float | None = None,
    flavor_index: int | None = None,
    **process_options: Any,
):
    """A :class:`~.process.Process` whose |M|² is the compiled function in ``path``.

    ``incoming``, ``outgoing_masses``, ``sqrt_s`` and ``process_options`` (cuts, phase_space,
    name, exact, ...) are those of :class:`~.process.Process`; ``symbol``, ``layout`` and the
    UMAMI options those of :class:`CompiledMatrixElement`. ``n_particles``, if given, must
    equal the number of incoming plus outgoing particles (a check that the library and the
    process agree).
    """
    from .process import Process

    n_in = 1 if np.ndim(incoming) == 0 else len(incoming)
    n_total = n_in + len(outgoing_masses)
    if n_particles is not None and n_particles != n_total:
        raise ConfigError(
            f"n_particles={n_particles} but incoming and outgoing_masses list {n_total} "
            "particles; make them agree with the library's particle list"
        )
    me = CompiledMatrixElement(path, n_total, symbol, layout, param_card, alpha_s, flavor_index)
    process_options.setdefault("name", Path(str(path)).stem)
    return Process(me, incoming, outgoing_masses, sqrt_s, **process_options)
