"""The C interface's logic in plain Python: handles, ask/tell on numpy arrays, error codes.

Every function here is what one ``mli_*`` C function does once its pointers are numpy arrays
(:mod:`._externs` does that conversion). Nothing raises: each returns an integer code
(``OK`` = 0) and records a one-line message that :func:`last_error` gives back, per handle,
or per thread for the calls that have no valid handle (``open``, ``load``, a bad handle).

A handle is an :class:`~mlintegrate.Integrator` (backend + its own numpy Generator, seeded
from the config) behind an id > 0. A handle is meant for one thread; two threads calling
into the same handle at once get ``ERR_BUSY`` rather than a corrupted state.

Config JSON: ``{"backend": "flow", "dim": 2, "seed": 7, "settings": {"hidden": 32}}``
(``settings`` are the backend's keyword settings, as in ``mli.backends.get``; ``seed``
optional, absent meaning fresh entropy).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable

import numpy as np

from .. import backends
from ..errors import CheckpointError, ConfigError, MLIntegrateError
from ..integrator import Integrator

__all__ = [
    "CODES",
    "ERR_ARGUMENT",
    "ERR_BUSY",
    "ERR_CONFIG",
    "ERR_HANDLE",
    "ERR_INTERNAL",
    "ERR_IO",
    "OK",
    "adapt",
    "close",
    "count",
    "density",
    "dim",
    "fill_density",
    "fill_sample",
    "is_open",
    "last_error",
    "load",
    "open_handle",
    "record",
    "run",
    "sample",
    "save",
    "save_to",
]

OK, ERR_CONFIG, ERR_ARGUMENT, ERR_HANDLE, ERR_IO, ERR_BUSY, ERR_INTERNAL = range(
    7
)  # as in mlintegrate.h
#: the codes by the names mlintegrate.h gives them
CODES = {
    "MLI_OK": OK,
    "MLI_ERR_CONFIG": ERR_CONFIG,
    "MLI_ERR_ARGUMENT": ERR_ARGUMENT,
    "MLI_ERR_HANDLE": ERR_HANDLE,
    "MLI_ERR_IO": ERR_IO,
    "MLI_ERR_BUSY": ERR_BUSY,
    "MLI_ERR_INTERNAL": ERR_INTERNAL,
}
_CONFIG_KEYS = ("backend", "dim", "seed", "settings")


class _HandleError(Exception):
    """An id that names no open handle."""


class _BusyError(Exception):
    """Another thread is inside a call on the same handle."""


class _Session:
    def __init__(self, integrator: Integrator):
        self.integrator = integrator
        self.lock = threading.Lock()
        self.error = ""


_sessions: dict[int, _Session] = {}
_ids = itertools.count(1)
_registry_lock = threading.Lock()
_thread = threading.local()  # .error: the last error of calls without a valid handle


def _code_of(exc: BaseException) -> int:
    if isinstance(exc, _HandleError):
        return ERR_HANDLE
    if isinstance(exc, _BusyError):
        return ERR_BUSY
    if isinstance(exc, ConfigError):
        return ERR_CONFIG
    if isinstance(exc, CheckpointError | OSError):
        return ERR_IO
    if isinstance(exc, MLIntegrateError):
        return ERR_ARGUMENT
    return ERR_INTERNAL


def _message(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no message"
    if _code_of(exc) == ERR_INTERNAL:
        return f"internal error ({type(exc).__name__}: {text}); please report it"
    return text


def record(handle: int | None, exc: BaseException) -> int:
    """Keep the message of ``exc`` (on the handle, else this thread) and return its code."""
    session = _sessions.get(handle) if handle else None
    if session is not None and not isinstance(exc, _HandleError):
        session.error = _message(exc)
    else:
        _thread.error = _message(exc)
    return _code_of(exc)


def _session(handle: int) -> _Session:
    session = _sessions.get(handle)
    if session is None:
        raise _HandleError(
            f"handle {handle} is not open (closed, never opened, or from mli_open/mli_load "
            "that failed): pass a handle that mli_open or mli_load returned"
        )
    return session


def run(handle: int, work: Callable[[Integrator], None]) -> int:
    """Run ``work`` on the handle's integrator; the code, with the message recorded."""
    try:
        session = _session(handle)
        if not session.lock.acquire(blocking=False):
            raise _BusyError(
                f"handle {handle} is in use by another thread: use one handle per thread "
                "(mli_open one for each)"
            )
        try:
            work(session.integrator)
            session.error = ""
        finally:
            session.lock.release()
        return OK
    except BaseException as exc:  # noqa: BLE001 - the C caller must never see an exception
        return record(handle, exc)


def _register(integrator: Integrator) -> int:
    with _registry_lock:
        handle = next(_ids)
        _sessions[handle] = _Session(integrator)
    _thread.error = ""  # a successful open/load clears this thread's message
    return handle


def _parse_config(text: str) -> tuple[backends.Backend, int | None]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"config_json is not valid JSON ({exc}); pass e.g. "
            '{"backend": "flow", "dim": 2, "seed": 1}'
        ) from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"config_json must be a JSON object, got {type(doc).__name__}")
    unknown = sorted(set(doc) - set(_CONFIG_KEYS))
    if unknown:
        raise ConfigError(f"config_json has unknown keys {unknown}; valid: {list(_CONFIG_KEYS)}")
    name, d, seed = doc.get("backend"), doc.get("dim"), doc.get("seed")
    settings = doc.get("settings", {})
    if not isinstance(name, str):
        raise ConfigError(f'config "backend" must be one of {backends.names()}, got {name!r}')
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ConfigError(f'config "dim" must be a positive integer, got {d!r}')
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ConfigError(f'config "seed" must be an integer >= 0 (or absent), got {seed!r}')
    if not isinstance(settings, dict):
        raise ConfigError(f'config "settings" must be a JSON object, got {settings!r}')
    try:
        backend = backends.get(name, dim=d, **settings)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"backend {name!r}: bad settings {settings} ({exc})") from exc
    return backend, seed


# ---------------------------------------------------------------------- the C functions
def open_handle(config_json: str) -> int:
    """``mli_open``: a new handle (> 0), or 0 with the message in ``last_error(0)``."""
    try:
        backend, seed = _parse_config(config_json)
        return _register(Integrator(backend, rng=seed, progress=False))
    except BaseException as exc:  # noqa: BLE001
        record(None, exc)
        return 0


def load(path: str) -> int:
    """``mli_load``: a handle restored from ``save`` (the generator continues where it was)."""
    try:
        return _register(Integrator.load(path, progress=False))
    except BaseException as exc:  # noqa: BLE001
        record(None, exc)
        return 0


def dim(handle: int, out: list[int]) -> int:
    """``mli_dim``: the dimension d, appended to ``out``."""
    return run(handle, lambda integ: out.append(integ.backend.dim))


def count(n: int) -> int:
    """The number of points of a call, checked (n >= 1)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise MLIntegrateError(f"n={n}: the number of points must be an integer >= 1")
    return n


def fill_sample(integ: Integrator, u_out: np.ndarray, q_out: np.ndarray) -> None:
    """Draw q_out.shape[0] points from the integrator's generator into u_out (n, d), q_out."""
    u, q = integ.backend.sample(q_out.shape[0], integ.rng)
    u_out[...] = u
    q_out[...] = q


def fill_density(integ: Integrator, u: np.ndarray, q_out: np.ndarray) -> None:
    """q_out[...] = q(u) for u (n, d)."""
    q_out[...] = integ.backend.density(u)


def sample(handle: int, u_out: np.ndarray, q_out: np.ndarray) -> int:
    """``mli_sample`` (ask): fill u_out (n, d) and q_out (n,) from the handle's generator."""
    return run(handle, lambda integ: fill_sample(integ, u_out, q_out))


def adapt(handle: int, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> int:
    """``mli_adapt`` (tell): learn from points u (n, d) drawn with density q and values f."""
    return run(handle, lambda integ: integ.backend.adapt(u, q, f))


def density(handle: int, u: np.ndarray, q_out: np.ndarray) -> int:
    """``mli_density``: the proposal density q(u) (n,) at any points u (n, d)."""
    return run(handle, lambda integ: fill_density(integ, u, q_out))


def save_to(integ: Integrator, path: str) -> None:
    """Save, turning an OS error into one that names the path and the fix."""
    try:
        integ.save(path)
    except OSError as exc:
        raise CheckpointError(
            f"cannot write path={path!r} ({exc.strerror or exc}); pass a path in a writable "
            "directory"
        ) from exc


def save(handle: int, path: str) -> int:
    """``mli_save``: the trained proposal and generator state to ``path`` (npz, atomic)."""
    return run(handle, lambda integ: save_to(integ, path))


def close(handle: int) -> int:
    """``mli_close``: forget the handle (closing it twice is ``ERR_HANDLE``)."""
    try:
        with _registry_lock:
            session = _session(handle)
            if not session.lock.acquire(blocking=False):
                raise _BusyError(f"handle {handle} is in use by another thread; close it there")
            del _sessions[handle]
        return OK
    except BaseException as exc:  # noqa: BLE001
        return record(handle, exc)


def is_open(handle: int) -> bool:
    """Whether ``handle`` names an open handle."""
    return handle in _sessions


def last_error(handle: int) -> str:
    """``mli_last_error``: the last message of ``handle`` (0 or unknown: this thread's)."""
    session = _sessions.get(handle) if handle else None
    if session is not None:
        return session.error
    return getattr(_thread, "error", "")
