"""Memory a run will need, checked before the run starts.

``integrate`` keeps one float64 weight per call (the efficiency metrics need every weight),
and the event pilot evaluates all its points at once. Asking for more than fits would end in a
``MemoryError`` after the training is done; :func:`require` refuses it up front instead,
saying how much memory the request needs and how much fits. The limit is half of the memory
available when the check runs (``MemAvailable`` on Linux, the physical memory elsewhere).
"""

from __future__ import annotations

import os

from .errors import ConfigError

__all__ = ["available_bytes", "format_bytes", "limit_bytes", "require", "require_weights"]

_FALLBACK = 8 * 2**30  # when the system does not say


def available_bytes() -> int:
    """Memory available to a new allocation now, in bytes."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return _FALLBACK


def limit_bytes() -> int:
    """The most one request may take: half of the available memory."""
    return available_bytes() // 2


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB' (binary units)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def require(name: str, count: int, bytes_each: int, what: str, fix: str) -> None:
    """Refuse ``count`` items of ``bytes_each`` bytes when they do not fit (ConfigError).

    ``name`` is the parameter (``--calls``), ``what`` what the memory holds, ``fix`` the advice.
    """
    need = count * bytes_each
    limit = limit_bytes()
    if need > limit:
        raise ConfigError(
            f"{name}={count:.3g} needs {format_bytes(need)} for {what} ({bytes_each} bytes "
            f"each); at most {limit // bytes_each:,} fit in half of the memory available now "
            f"({format_bytes(available_bytes())}): {fix}"
        )


def require_weights(calls: int, name: str = "calls") -> None:
    """Refuse (ConfigError) an ``integrate`` whose weights would not fit in memory."""
    require(
        name,
        calls,
        8,
        "the weights, all kept for the unweighting metrics",
        "use fewer calls, or integrate several times with different seeds and average",
    )
