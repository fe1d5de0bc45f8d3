"""Progress reporting: a bar on a terminal, silence otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Progress", "progress_bar"]


class Progress:
    """Minimal interface the loops use: ``advance(n, **fields)``."""

    def advance(self, n: int, **fields: Any) -> None:  # pragma: no cover - interface
        pass


class _RichProgress(Progress):
    def __init__(self, bar, task):
        self._bar, self._task = bar, task

    def advance(self, n: int, **fields: Any) -> None:
        info = "  ".join(f"{k} {v}" for k, v in fields.items())
        self._bar.update(self._task, advance=n, info=info)


@contextmanager
def progress_bar(description: str, total: int, enabled: bool | None = None) -> Iterator[Progress]:
    """A rich progress bar counting integrand calls; ``enabled=None`` means: on a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield Progress()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as RichProgress

    bar = RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        transient=True,
        console=Console(stderr=True),
    )
    with bar:
        yield _RichProgress(bar, bar.add_task(description, total=total, info=""))
