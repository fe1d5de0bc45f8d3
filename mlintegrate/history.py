"""The learning curve of a training run: one status per iteration, saved with checkpoints."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .result import Estimate

__all__ = ["TrainingHistory", "TrainingStatus"]


@dataclass(frozen=True)
class TrainingStatus:
    """What a callback sees after each training iteration."""

    iteration: int
    calls: int  # cumulative integrand calls of training so far
    estimate: Estimate  # this iteration's integral estimate (from the points trained on)
    rsd: float  # relative std of this iteration's weights
    elapsed_s: float


@dataclass
class TrainingHistory:
    """All training iterations so far (a learning curve: rsd against calls)."""

    iterations: list[TrainingStatus] = field(default_factory=list)
    time_s: float = 0.0

    @property
    def calls(self) -> int:
        return self.iterations[-1].calls if self.iterations else 0

    def to_dict(self) -> dict[str, Any]:
        return {"time_s": self.time_s, "iterations": [asdict(s) for s in self.iterations]}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> TrainingHistory:
        """The inverse of ``to_dict``; a ValueError naming the field when ``doc`` is malformed
        (it comes from a file): every field of TrainingStatus and Estimate, numbers only."""
        if not (isinstance(doc, dict) and isinstance(doc.get("iterations"), list)):
            raise ValueError(f"history must be an object with a list of iterations: {doc!r:.80}")
        its = [_status(s, f"history.iterations[{i}]") for i, s in enumerate(doc["iterations"])]
        return cls(iterations=its, time_s=_number(doc.get("time_s"), "history.time_s"))


_INTEGERS = {"iteration", "calls"}


def _number(value: Any, where: str, integer: bool = False) -> Any:
    kinds = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ValueError(
            f"{where} must be {'an integer' if integer else 'a number'}: {value!r:.40}"
        )
    return value


def _fields(doc: Any, cls: type, where: str) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    if not isinstance(doc, dict) or set(doc) != names:
        got = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"{where} must have the fields {sorted(names)}, got {got}")
    return doc


def _status(doc: Any, where: str) -> TrainingStatus:
    doc = _fields(doc, TrainingStatus, where)
    est = _fields(doc["estimate"], Estimate, f"{where}.estimate")
    est = {k: _number(v, f"{where}.estimate.{k}", k in _INTEGERS) for k, v in est.items()}
    if not math.isfinite(est["mean"]):
        raise ValueError(f"{where}.estimate.mean is {est['mean']}")
    values = {
        k: _number(v, f"{where}.{k}", k in _INTEGERS) for k, v in doc.items() if k != "estimate"
    }
    return TrainingStatus(**values, estimate=Estimate(**est))
