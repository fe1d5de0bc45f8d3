"""The comparison table on a terminal: as many columns as fit, the rest left to results.md."""

from __future__ import annotations

import shutil
from collections.abc import Sequence

from .report import table_cells
from .result import Result

__all__ = ["PRIORITY", "fit_columns", "print_table", "terminal_width"]

#: columns in the order they are kept when the terminal is narrow (the last go first)
PRIORITY = [
    "backend",
    "integral ± error",
    "pull",
    "rsd",
    "ε median-max",
    "rsd/VEGAS",
    "ε/VEGAS",
    "µs/event",
    "ESS frac",
    "ε reduced",
    "ε max",
    "calls train/eval",
    "eval s",
    "train s",
]


def terminal_width() -> int:
    """Columns of the terminal ($COLUMNS first); 120 when output is not a terminal."""
    return shutil.get_terminal_size((120, 24)).columns


def _table_width(widths: Sequence[int]) -> int:
    """A boxed rich table: each column has one space of padding a side and one border."""
    return sum(w + 3 for w in widths) + 1


def fit_columns(header: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """Indices of the columns to show (in table order) so that the table fits ``width``."""
    widths = {i: max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)}
    rank = {title: k for k, title in enumerate(PRIORITY)}
    keep = sorted(widths, key=lambda i: rank.get(header[i], len(PRIORITY)))
    while len(keep) > 2 and _table_width([widths[i] for i in keep]) > width:
        keep.pop()
    return sorted(keep)


def print_table(results: Sequence[Result], width: int | None = None) -> None:
    """Print the comparison with the columns that fit, and name the ones left out."""
    from rich.console import Console
    from rich.table import Table

    width = terminal_width() if width is None else width
    header, rows = table_cells(results)
    keep = fit_columns(header, rows, width)
    table = Table(title=f"{results[0].name} (d={results[0].dim})")
    for i in keep:
        table.add_column(header[i], no_wrap=True)
    for cells in rows:
        table.add_row(*(cells[i] for i in keep))
    console = Console(width=width)
    console.print(table)
    dropped = [header[i] for i in range(len(header)) if i not in keep]
    if dropped:
        console.print(f"not shown at this width: {', '.join(dropped)} (all in results.md)")
