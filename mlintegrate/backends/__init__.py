"""Proposals behind the one :class:`Backend` contract, by name."""

from __future__ import annotations

from typing import Any

from .base import Backend
from .flow import Flow
from .uniform import Uniform
from .vegas import Vegas

__all__ = ["Backend", "Flow", "Uniform", "Vegas", "get", "names"]

_REGISTRY: dict[str, type[Backend]] = {cls.name: cls for cls in (Uniform, Vegas, Flow)}


def names() -> list[str]:
    """Names of the available backends."""
    return sorted(_REGISTRY)


def get(name: str, dim: int, **options: Any) -> Backend:
    """Build the backend called ``name`` in dimension ``dim`` with its ``options``."""
    cls = _REGISTRY.get(name)
    if cls is None:
        raise ValueError(f"unknown backend {name!r}; valid backends: {', '.join(names())}")
    return cls(dim=dim, **options)
