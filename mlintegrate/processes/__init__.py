"""Built-in integrands: test functions with exact integrals and physics processes.

``get(name)`` returns either a :class:`~mlintegrate.processes.functions.KnownIntegrand`
(on [0,1]^d, any dimension it supports) or a :class:`Process` (|M|² over phase space, in pb,
fixed dimension); both are integrands with ``dim``, ``exact`` and ``name``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ConfigError
from . import compiled, ee, functions, jets, top
from .compiled import CompiledMatrixElement, from_library
from .particles import Particles
from .process import GEV2_TO_PB, Process

__all__ = [
    "GEV2_TO_PB",
    "CompiledMatrixElement",
    "Particles",
    "Process",
    "compiled",
    "describe",
    "factories",
    "ee",
    "from_library",
    "functions",
    "get",
    "jets",
    "names",
    "process_names",
    "top",
]

_PROCESSES: dict[str, Callable[..., Process]] = {
    "ee_mumu": ee.ee_mumu,
    "ee_qq": ee.ee_qq,
    "ee_qqg": ee.ee_qqg,
    "ee_4jet": jets.ee_4jet,
    "top_decay": top.top_decay,
}


def factories() -> dict[str, Callable[..., Process]]:
    """name → the function that builds that physics process (with its default options)."""
    return dict(_PROCESSES)


def process_names() -> list[str]:
    """The physics processes only (they take ``phase_space=``)."""
    return sorted(_PROCESSES)


def names() -> list[str]:
    """Every built-in name: the test functions, then the physics processes."""
    return functions.names() + process_names()


def get(name: str, dim: int | None = None, **options: Any):
    """The built-in integrand ``name``; ``dim`` is checked for processes (their own is fixed)."""
    if name in _PROCESSES:
        process = _PROCESSES[name](**options)
        if dim is not None and dim != process.dim:
            raise ConfigError(
                f"{name} has dimension {process.dim} (its phase space), not --dim {dim}; "
                "leave --dim out for processes"
            )
        return process
    if name not in functions.names():
        raise ConfigError(
            f"unknown integrand or process {name!r}; valid names: {', '.join(names())}"
        )
    return functions.get(name, dim=dim, **options)


def describe() -> dict[str, str]:
    """name → one-line description, for ``mlintegrate list``."""
    out = dict(functions.describe())
    for name, factory in sorted(_PROCESSES.items()):
        out[name] = factory().description
    return out
