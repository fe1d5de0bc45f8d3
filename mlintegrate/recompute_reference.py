"""Recompute a stored reference value: ``python -m mlintegrate.recompute_reference NAME``.

A long VEGAS run of the built-in process ``NAME`` with its default options: train on half the
calls, then integrate with fresh points from the frozen map (10 iterations for χ²/dof), and
store the record — value, error, calls, seed, χ²/dof and this command — in
``processes/references.json`` (see :mod:`mlintegrate.processes.references`).
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from collections.abc import Callable
from typing import Any

from . import processes
from .backends import Vegas
from .integrator import Integrator
from .processes.references import store_reference

__all__ = ["compute_reference", "main"]


def compute_reference(name: str, calls: int, seed: int = 20261123) -> dict[str, Any]:
    """A long VEGAS run of the built-in ``name`` with its default options."""
    process = processes.get(name)
    integ = Integrator(Vegas(process.dim, ninc=1000), rng=seed)
    integ.train(process, calls=calls // 2)
    result = integ.integrate(process, calls=calls - calls // 2, iterations=10)
    return {
        "value": result.mean,
        "error": result.sdev,
        "calls": calls,
        "seed": seed,
        "chi2_dof": result.chi2_dof,
    }


def _default_options(factory: Callable[..., Any]) -> dict[str, float]:
    return {
        k: p.default
        for k, p in inspect.signature(factory).parameters.items()
        if isinstance(p.default, int | float) and not isinstance(p.default, bool)
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="a built-in process")
    parser.add_argument("--calls", type=int, default=20_000_000)
    args = parser.parse_args(argv)
    factories = processes.factories()
    if args.name not in factories:
        parser.error(f"unknown process {args.name!r}; valid: {', '.join(sorted(factories))}")
    defaults = _default_options(factories[args.name])
    record = {"options": defaults, **compute_reference(args.name, args.calls)}
    record["command"] = (
        f"python -m mlintegrate.recompute_reference {args.name} --calls {args.calls}"
    )
    store_reference(args.name, record)
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
