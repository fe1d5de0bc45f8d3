"""Reference values without a closed form: long runs, stored with their error and command.

``references.json`` (beside this file) maps a process name to records
``{"options": {...}, "value": σ, "error": δσ, "calls": N, "command": "..."}``. Recompute one
with ``python -m mlintegrate.recompute_reference NAME [--calls N]``
(:mod:`mlintegrate.recompute_reference`, outside this package so that ``processes`` never
imports the integrator).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

__all__ = ["REFERENCE_FILE", "store_reference", "stored_reference"]

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


def store_reference(name: str, record: dict[str, Any]) -> None:
    """Replace the record of ``name`` with the same options by ``record`` in the JSON file."""
    data = _load()
    kept = [r for r in data.get(name, []) if not _same(r["options"], record["options"])]
    data[name] = [*kept, record]
    REFERENCE_FILE.write_text(json.dumps(data, indent=2) + "\n")
