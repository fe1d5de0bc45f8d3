"""Reference values without a closed form: long runs, stored with their error and command.

``references.json`` (beside this file) maps a process name to records
``{"options": {...}, "value": σ, "error": δσ, "calls": N, "command": "..."}``. Recompute one
with ``python -m mlintegrate.processes.references NAME [--calls N]``: it trains VEGAS, then
integrates with fresh points from the frozen map, and rewrites that record.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

__all__ = ["REFERENCE_FILE", "compute_reference", "stored_reference"]

REFERENCE_FILE = Path(__file__).with_name("references.json")


def _load() -> dict[str, list[dict[str, Any]]]:
    if not REFERENCE_FILE.exists():
        return {}
    return json.loads(REFERENCE_FILE.read_text())


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(math.isclose(a[k], b[k], rel_tol=1e-12) for k in a)


def stored_reference(name: str, options: dict[str, float]) -> dict[str, Any] | None:
    """The stored record for ``name`` with exactly these options, or None."""
    for record in _load().get(name, []):
        if _same(record["options"], options):
            return record
    return None


def compute_reference(name: str, calls: int, seed: int = 20261123) -> dict[str, Any]:
    """A long VEGAS run of the built-in ``name`` with its default options."""
    from .. import backends
    from ..integrator import Integrator
    from . import get

    process = get(name)
    integ = Integrator(backends.Vegas(process.dim, ninc=1000), rng=seed)
    integ.train(process, calls=calls // 2)
    result = integ.integrate(process, calls=calls - calls // 2, iterations=10)
    return {
        "value": result.mean,
        "error": result.sdev,
        "calls": calls,
        "seed": seed,
        "chi2_dof": result.chi2_dof,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--calls", type=int, default=20_000_000)
    args = parser.parse_args(argv)
    from . import _PROCESSES

    if args.name not in _PROCESSES:
        parser.error(f"unknown process {args.name!r}; valid: {', '.join(sorted(_PROCESSES))}")
    defaults = {k: v for k, v in _default_options(_PROCESSES[args.name]).items()}
    record = {"options": defaults, **compute_reference(args.name, args.calls)}
    record["command"] = (
        f"python -m mlintegrate.processes.references {args.name} --calls {args.calls}"
    )
    data = _load()
    data[args.name] = [r for r in data.get(args.name, []) if not _same(r["options"], defaults)]
    data[args.name].append(record)
    REFERENCE_FILE.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0


def _default_options(factory) -> dict[str, float]:
    import inspect

    return {
        k: p.default
        for k, p in inspect.signature(factory).parameters.items()
        if isinstance(p.default, int | float) and not isinstance(p.default, bool)
    }


if __name__ == "__main__":
    sys.exit(main())
