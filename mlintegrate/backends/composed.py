"""A named backend built from parts: the contract delegated to ``proposal``, figures to ``learned``.

:class:`~.flow.Flow` and :class:`~.bvae.BVAE` are compositions — a
:class:`~.learned.LearnedProposal` inside a :class:`~.mixture.Mixture` with a safe component —
with a settings dataclass. This base class holds what they share: the delegation of
``_sample``/``_density``/``_adapt`` to ``self.proposal``, the batch size of the learned part,
``config()`` from ``self.settings``, and the trainer's figures for callbacks and tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend
from .learned import LearnedProposal

__all__ = ["Composed"]


class Composed(Backend):
    """Subclasses set ``settings`` (a Config with ``defensive``), ``learned`` and ``proposal``."""

    settings: Any
    learned: LearnedProposal
    proposal: Backend

    @property
    def defensive(self) -> float:
        return self.settings.defensive

    @property
    def rejected(self) -> int:
        """Updates undone by the held-out validation so far."""
        return self.learned.trainer.rejected

    def learning_rate(self, progress: float) -> float:
        return self.learned.trainer.learning_rate(progress)

    def _sample(self, n: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return self.proposal._sample(n, gen)

    def _density(self, u: np.ndarray) -> np.ndarray:
        return self.proposal._density(u)

    def _adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:
        self.proposal._adapt(u, q, f)

    def default_batch_size(self, calls: int) -> int:
        return self.learned.default_batch_size(calls)

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim, **self.settings.to_dict()}
