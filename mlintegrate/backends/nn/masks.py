"""Binary-pattern coupling masks (i-flow, MadNIS): every coordinate sees every other.

A coupling layer transforms the coordinates where its mask is True, conditioned on the
others. With b = ⌈log₂ d⌉ bits per dimension index i = 0 … d−1, bit j gives the mask
m_j[i] = (i >> j) & 1 and its complement ¬m_j. Two different indices differ in at least
one bit j, so in the pair (m_j, ¬m_j) each of the two is transformed once conditioned on the
other: 2b layers couple every coordinate to every other. Every mask is non-trivial (index 0
has all bits 0, index 2^j < d has bit j set).

>>> [m.tolist() for m in binary_masks(3)]
[[False, True, False], [True, False, True], [False, False, True], [True, True, False]]

d = 1 has no coupling (nothing to condition on): :func:`mask_sequence` then gives masks
[True], i.e. unconditional splines. d = 2 gives the pair [F, T], [T, F].
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["binary_masks", "default_layers", "mask_sequence"]


def binary_masks(dim: int) -> list[np.ndarray]:
    """The 2⌈log₂ d⌉ masks (m_0, ¬m_0, m_1, ¬m_1, …) as bool arrays of shape (d,); [] for d=1."""
    if dim < 1:
        raise ValueError(f"dim must be ≥ 1, got {dim}")
    idx = np.arange(dim)
    masks = []
    for bit in range(math.ceil(math.log2(dim)) if dim > 1 else 0):
        m = ((idx >> bit) & 1).astype(bool)
        masks += [m, ~m]
    return masks


def default_layers(dim: int) -> int:
    """Coupling layers by default: every binary mask once, 2⌈log₂ d⌉ (d ≥ 2); 1 for d = 1.

    Once is enough for every coordinate to see every other (module docstring); the flow's
    benchmark figures were measured with this depth.
    """
    return max(1, len(binary_masks(dim)))


def mask_sequence(dim: int, n_layers: int) -> list[np.ndarray]:
    """``n_layers`` masks cycling through :func:`binary_masks` (all-True masks for d = 1)."""
    if n_layers < 1:
        raise ValueError(f"n_layers must be ≥ 1, got {n_layers}")
    masks = binary_masks(dim) or [np.ones(dim, dtype=bool)]
    return [masks[i % len(masks)] for i in range(n_layers)]
