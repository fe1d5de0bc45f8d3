"""mlintegrate: integrate matrix elements over phase space by importance sampling.

>>> import mlintegrate as mli
>>> f = mli.functions.get("camel", dim=2)
>>> integ = mli.Integrator(mli.backends.Vegas(dim=2), rng=1, progress=False)
>>> _ = integ.train(f, calls=20_000)
>>> res = integ.integrate(f, calls=20_000)
>>> abs(res.mean - f.exact) < 5 * res.sdev
True
"""

from . import backends, metrics, processes, unweighting
from .errors import CheckpointError, ConfigError, IntegrandError, MLIntegrateError
from .integrand import vectorize
from .integrator import Integrator, TrainingHistory, TrainingStatus
from .processes import functions
from .result import Result

__version__ = "0.1.0"

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
