"""A first-in-first-out store of evaluated points (u, q_s, f) for buffered training.

Integrand calls are the expensive part of integration, so a learned proposal trains on every
point many times: each point keeps the density q_s it was drawn with, and the weight
f/q_s stays an unbiased importance weight for any later model (see :mod:`.losses`). When full,
the oldest points (from the least trained proposals) are dropped first.

>>> import torch
>>> buf = SampleBuffer(dim=2, capacity=3)
>>> buf.add(torch.rand(2, 2, dtype=torch.float64), torch.ones(2, dtype=torch.float64),
...         torch.ones(2, dtype=torch.float64))
>>> buf.add(torch.rand(2, 2, dtype=torch.float64), torch.ones(2, dtype=torch.float64),
...         torch.zeros(2, dtype=torch.float64))
>>> len(buf), buf.f.tolist()
(3, [1.0, 0.0, 0.0])
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["SampleBuffer"]

_FIELDS = ("u", "q", "f")


class SampleBuffer:
    """The last ``capacity`` points: u (n, dim), q (n,) and f (n,), float64 on ``device``."""

    def __init__(self, dim: int, capacity: int, device: torch.device | str = "cpu"):
        if capacity < 0:
            raise ValueError(f"buffer capacity must be ≥ 0 points, got {capacity}")
        self.dim, self.capacity = int(dim), int(capacity)
        self.device = torch.device(device)
        self.u = torch.empty(0, self.dim, dtype=torch.float64, device=self.device)
        self.q = torch.empty(0, dtype=torch.float64, device=self.device)
        self.f = torch.empty(0, dtype=torch.float64, device=self.device)

    def __len__(self) -> int:
        return self.q.shape[0]

    def add(self, u: torch.Tensor, q: torch.Tensor, f: torch.Tensor) -> None:
        """Append points, dropping the oldest beyond the capacity."""
        keep = self.capacity
        self.u = torch.cat([self.u, u])[-keep:] if keep else self.u
        self.q = torch.cat([self.q, q])[-keep:] if keep else self.q
        self.f = torch.cat([self.f, f])[-keep:] if keep else self.f

    def state_dict(self, prefix: str = "buffer.") -> dict[str, np.ndarray]:
        """The stored points as numpy arrays named ``prefix + field``."""
        return {prefix + k: getattr(self, k).detach().cpu().numpy().copy() for k in _FIELDS}

    def load_state_dict(self, state: dict[str, np.ndarray], prefix: str = "buffer.") -> None:
        """Restore what :meth:`state_dict` returned (shapes checked)."""
        arrays = {k: np.asarray(state[prefix + k], dtype=np.float64) for k in _FIELDS}
        n = arrays["q"].shape[0] if arrays["q"].ndim == 1 else -1
        if (
            n < 0
            or arrays["u"].shape != (n, self.dim)
            or arrays["f"].shape != (n,)
            or n > self.capacity
        ):
            raise ValueError(
                f"buffer arrays have shapes u {arrays['u'].shape}, q {arrays['q'].shape}, "
                f"f {arrays['f'].shape}; expected (n, {self.dim}), (n,), (n,) with "
                f"n ≤ {self.capacity}"
            )
        for k, v in arrays.items():
            setattr(self, k, torch.from_numpy(v.copy()).to(self.device))
