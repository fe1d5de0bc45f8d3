"""Evaluate an integrand over a ``concurrent.futures`` executor; results never depend on it.

The guarantee, and how it is kept:

- every random number is drawn on the driver, from the integrator's one numpy generator, as
  in a serial run; workers only evaluate f(u);
- a batch u is cut into chunks of ``chunk_size`` points (a fixed number, never derived from
  the number of workers), submitted in order, and the values are put back together in
  submission order (never ``as_completed``);

so the weights, hence σ, δσ and every training step, are bit-identical for any number and
kind of workers: serial, threads, a local process pool, a Dask cluster, MPI ranks. Against
``executor=None`` (one call per batch) they are identical too when f(u) is computed point by
point, as every built-in integrand and any row-wise numpy |M|² is. Across *machines* the
workers must compute f identically (same CPU features and library versions).

A process pool, Dask and MPI send the integrand to their workers by pickle. Built-in processes
and test functions pickle by their recipe (factory and options) and are rebuilt there; a
:class:`~mlintegrate.processes.Process` built on closures cannot be pickled by the standard
library, and the error says so up front (Dask falls back to cloudpickle, which can). Pickles go
only from this driver to workers it talks to; nothing here loads a pickle from a file.

>>> from concurrent.futures import ThreadPoolExecutor
>>> import mlintegrate as mli
>>> f = mli.functions.get("camel", dim=2)
>>> with ThreadPoolExecutor(2) as pool:
...     a = mli.Integrator(mli.backends.Vegas(dim=2), rng=3, progress=False, executor=pool)
...     r_pool = a.integrate(f, calls=10_000)
>>> r_serial = mli.Integrator(mli.backends.Vegas(dim=2), rng=3, progress=False).integrate(
...     f, calls=10_000)
>>> r_pool.mean == r_serial.mean and r_pool.sdev == r_serial.sdev
True
"""

from __future__ import annotations

import hashlib
import pickle
import signal
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConfigError, IntegrandError
from .integrand import evaluate

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "ParallelError",
    "ParallelIntegrand",
    "check_chunk_size",
    "check_executor",
    "open_executor",
    "process_pool",
]

#: points per task: large enough that a task's overhead (~0.1 ms in a process pool, ~1 ms
#: in Dask) is small against f, small enough that a 10^5-point batch feeds ~25 workers
DEFAULT_CHUNK_SIZE = 4096
#: seconds to wait for a Dask scheduler before giving up (``--dask``)
CONNECT_TIMEOUT_S = 10.0
_CACHE_SIZE = 4  # integrands kept unpickled per worker process


class ParallelError(IntegrandError):
    """The integrand cannot be evaluated on the workers: it does not pickle, or they died."""


def check_chunk_size(chunk_size: Any) -> int:
    """``chunk_size`` as a positive int, or a ConfigError naming the fix."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer):
        raise ConfigError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be ≥ 1 point per task, got {chunk_size}")
    return int(chunk_size)


def check_executor(executor: Any) -> Executor:
    """``executor`` if it is a ``concurrent.futures.Executor``, else a ConfigError."""
    if not isinstance(executor, Executor):
        raise ConfigError(
            f"executor must be a concurrent.futures.Executor (ProcessPoolExecutor, "
            f"dask's Client.get_executor(), mpi4py.futures.MPIPoolExecutor), got "
            f"{type(executor).__name__}"
        )
    return executor


# ------------------------------------------------------------------ the worker side
@dataclass(frozen=True)
class _Payload:
    """The pickled integrand and its digest: a worker unpickles it once and caches it."""

    key: str
    data: bytes


_cache: OrderedDict[str, Any] = OrderedDict()
_cache_lock = threading.Lock()


def _resolve(task: Any) -> Any:
    if not isinstance(task, _Payload):
        return task  # threads share the driver's object
    with _cache_lock:
        integrand = _cache.get(task.key)
        if integrand is not None:
            _cache.move_to_end(task.key)
            return integrand
    integrand = pickle.loads(task.data)  # sent by our own driver, never read from a file
    with _cache_lock:
        _cache[task.key] = integrand
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return integrand


def _evaluate_chunk(task: Any, u: np.ndarray) -> np.ndarray:
    """Runs on a worker: f(u) for one chunk, checked as in a serial run."""
    return evaluate(_resolve(task), u)


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the driver, which cancels their tasks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# ------------------------------------------------------------------ the driver side
def _is_dask(executor: Executor) -> bool:
    return type(executor).__module__.startswith("distributed")


def _describe(executor: Executor) -> str:
    return type(executor).__name__


def _payload(integrand: Any, executor: Executor) -> _Payload:
    """Pickle ``integrand`` once for the workers, or say in one line why it cannot be.

    Dask gets cloudpickle (its own choice for functions: closures and ``__main__`` objects
    travel by value, everything importable by reference); other executors the standard pickle.
    """
    if _is_dask(executor):
        import cloudpickle as dumper  # a dependency of distributed
    else:
        dumper = pickle
    try:
        data = dumper.dumps(integrand, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - pickling raises many kinds
        name = getattr(integrand, "name", None) or type(integrand).__name__
        raise ParallelError(
            f"integrand {name!r} cannot be sent to the workers of {_describe(executor)} "
            f"({type(exc).__name__}: {exc}); define |M|², cuts and any phase-space map as "
            "module-level functions (or use a built-in process), or use Dask (--dask), which "
            "sends closures with cloudpickle"
        ) from exc
    return _Payload(hashlib.sha256(data).hexdigest(), data)


class ParallelIntegrand:
    """``integrand`` evaluated over ``executor`` in chunks of ``chunk_size`` points.

    Calling it with u (n, d) returns f(u) (n,) exactly as the integrand would, the chunks put
    back in submission order. Every other attribute (``dim``, ``name``, ``exact``, ``unit``,
    ``momenta``, ``particles``, ...) is the integrand's own, so the wrapper can stand in for it
    anywhere; ``momenta`` (for events) runs on the driver.
    """

    def __init__(
        self,
        integrand: Callable[[np.ndarray], np.ndarray],
        executor: Executor,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ):
        if not callable(integrand):
            raise TypeError(f"integrand must be callable, got {type(integrand).__name__}")
        self.integrand = integrand
        self.executor = check_executor(executor)
        self.chunk_size = check_chunk_size(chunk_size)
        shared = isinstance(executor, ThreadPoolExecutor)
        self._task = integrand if shared else _payload(integrand, executor)

    def __getattr__(self, name: str) -> Any:
        try:
            inner = self.__dict__["integrand"]
        except KeyError:
            raise AttributeError(name) from None
        return getattr(inner, name)

    def __repr__(self) -> str:
        return (
            f"ParallelIntegrand({self.integrand!r}, {_describe(self.executor)}, "
            f"chunk_size={self.chunk_size})"
        )

    def __call__(self, u: np.ndarray) -> np.ndarray:
        u = np.ascontiguousarray(u, dtype=np.float64)
        if u.ndim != 2:
            raise ValueError(f"u must have shape (n, d), got {u.shape}")
        step = self.chunk_size
        futures: list[Future] = []
        try:
            for start in range(0, u.shape[0], step):
                futures.append(
                    self.executor.submit(_evaluate_chunk, self._task, u[start : start + step])
                )
            values = [future.result() for future in futures]  # submission order
        except BaseException as exc:
            for future in futures:
                future.cancel()
            if _is_broken(exc):
                raise ParallelError(
                    f"the workers of {_describe(self.executor)} died ({type(exc).__name__}: "
                    f"{exc}); out of memory, or an integrand that crashes? A Dask cluster "
                    "re-runs the tasks of lost workers"
                ) from exc
            raise
        return np.concatenate(values) if values else np.empty(0)


def _is_broken(exc: BaseException) -> bool:
    from concurrent.futures import BrokenExecutor

    return isinstance(exc, BrokenExecutor)


# ------------------------------------------------------------------ building executors
def process_pool(workers: int) -> ProcessPoolExecutor:
    """A local pool of ``workers`` processes, started clean (spawn: no fork of a driver that
    holds torch or OpenMP threads) and leaving Ctrl-C to the driver."""
    import multiprocessing

    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 1:
        raise ConfigError(f"workers must be an integer ≥ 1, got {workers!r}")
    return ProcessPoolExecutor(
        max_workers=int(workers),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_ignore_sigint,
    )


def _dask_executor(address: str) -> tuple[Executor, Callable[[], None]]:
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError(
            f"--dask {address}: Dask is not installed; pip install 'mlintegrate[parallel]'"
        ) from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"--dask {address}: cannot reach a Dask scheduler there within "
            f"{CONNECT_TIMEOUT_S:g} s ({type(exc).__name__}: {exc}); start one with "
            "`dask scheduler` (it prints its address, e.g. tcp://10.0.0.5:8786) and pass "
            "that address"
        ) from exc
    executor = client.get_executor()

    def close() -> None:
        executor.shutdown(wait=False)
        client.close()

    return executor, close


@contextmanager
def open_executor(workers: int | None = None, dask: str | None = None) -> Iterator[Executor | None]:
    """The executor of ``--workers N`` or ``--dask ADDRESS`` (None: serial), shut down on exit.

    ``workers=1`` is a pool of one process (useful to check that an integrand pickles).
    """
    if workers is not None and dask is not None:
        raise ConfigError(
            f"--workers {workers} and --dask {dask} both given; pick one (a Dask cluster "
            "has its own workers)"
        )
    if dask is not None:
        executor, close = _dask_executor(dask)
    elif workers is not None:
        pool = process_pool(workers)
        executor = pool

        def close() -> None:
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        yield None
        return
    try:
        yield executor
    finally:
        close()
