"""The learning curve of a training run: one status per iteration, saved with checkpoints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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
        its = [
            TrainingStatus(**{**s, "estimate": Estimate(**s["estimate"])})
            for s in doc.get("iterations", [])
        ]
        return cls(iterations=its, time_s=float(doc.get("time_s", 0.0)))
