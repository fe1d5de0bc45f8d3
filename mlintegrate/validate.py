"""Checks of user-supplied values, written once: each raises a :class:`ConfigError` naming the
parameter, the value it got and what would work.

>>> positive_int("calls", 2.5)
Traceback (most recent call last):
...
mlintegrate.errors.ConfigError: calls must be a positive integer, got 2.5
>>> number_in("defensive", 0.05, 0.0, 1.0, open_high=True)
0.05
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import numpy as np

from .errors import ConfigError

__all__ = ["choice", "int_at_least", "number_in", "positive_int"]


def int_at_least(name: str, value: Any, low: int, fix: str = "") -> int:
    """``value`` as an int ≥ ``low`` (bools and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        hint = f"; {fix}" if fix else ""
        raise ConfigError(f"{name} must be an int ≥ {low}, got {value!r}{hint}")
    return int(value)


def positive_int(name: str, value: Any, fix: str = "") -> int:
    """``value`` as an int ≥ 1 (bools and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        hint = f"; {fix}" if fix else ""
        raise ConfigError(f"{name} must be a positive integer, got {value!r}{hint}")
    return int(value)


def number_in(
    name: str,
    value: Any,
    low: float,
    high: float,
    fix: str = "",
    open_high: bool = False,
    open_low: bool = False,
) -> float:
    """``value`` as a finite float in [low, high] (or with open ends)."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    ok = ok and math.isfinite(value)
    ok = ok and (low < value if open_low else low <= value)
    ok = ok and (value < high if open_high else value <= high)
    if not ok:
        left, right = "(" if open_low else "[", ")" if open_high else "]"
        hint = f"; {fix}" if fix else ""
        raise ConfigError(
            f"{name} must be a number in {left}{low}, {high}{right}, got {value!r}{hint}"
        )
    return float(value)


def choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value
