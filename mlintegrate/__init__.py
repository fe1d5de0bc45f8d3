"""mlintegrate: integrate matrix elements over phase space by importance sampling.

>>> import mlintegrate as mli
>>> f = mli.functions.get("camel", dim=2)
>>> integ = mli.Integrator(mli.backends.Vegas(dim=2), rng=1, progress=False)
>>> _ = integ.train(f, calls=20_000)
>>> res = integ.integrate(f, calls=20_000)
>>> abs(res.mean - f.exact) < 5 * res.sdev
True
"""

import importlib
from typing import TYPE_CHECKING, Any

from .errors import CheckpointError, ConfigError, IntegrandError, MLIntegrateError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from . import backends, metrics, processes, unweighting
    from .integrand import vectorize
    from .integrator import Integrator, TrainingHistory, TrainingStatus
    from .processes import functions
    from .result import Result

#: loaded on first use, so ``mlintegrate --version``/``--help`` start without numba or scipy
_LAZY = {
    "backends": ("mlintegrate.backends", None),
    "metrics": ("mlintegrate.metrics", None),
    "processes": ("mlintegrate.processes", None),
    "unweighting": ("mlintegrate.unweighting", None),
    "functions": ("mlintegrate.processes.functions", None),
    "vectorize": ("mlintegrate.integrand", "vectorize"),
    "Integrator": ("mlintegrate.integrator", "Integrator"),
    "TrainingHistory": ("mlintegrate.history", "TrainingHistory"),
    "TrainingStatus": ("mlintegrate.history", "TrainingStatus"),
    "Result": ("mlintegrate.result", "Result"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'mlintegrate' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = importlib.import_module(module)
    value = value if attr is None else getattr(value, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "CheckpointError",
    "ConfigError",
    "IntegrandError",
    "Integrator",
    "MLIntegrateError",
    "Result",
    "TrainingHistory",
    "TrainingStatus",
    "backends",
    "functions",
    "metrics",
    "processes",
    "unweighting",
    "vectorize",
]
