"""Side-by-side comparison of backends on one integrand: run, table, JSON, plot.

Every backend gets the same integrand, the same training and evaluation call budgets and
the same seed, in one process, so the rows can be compared directly. Ratios are taken to
the ``vegas`` row (the VEGAS map sampled i.i.d.); the ``vegas+`` reference row is what the
vegas package itself returns with stratification, for the same total calls.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import backends as _backends
from .integrator import Integrator
from .reference import vegas_plus
from .result import Result

__all__ = [
    "compare",
    "markdown_table",
    "plot_weights",
    "table_cells",
    "table_rows",
    "write_report",
]

REFERENCE_BACKEND = "vegas"


def compare(
    integrand: Callable[[np.ndarray], np.ndarray],
    dim: int,
    backends: Sequence[str],
    calls_train: int,
    calls: int,
    seed: int = 0,
    reference: bool = True,
    progress: bool | None = None,
) -> list[Result]:
    """Train and integrate each named backend with the same budget and seed."""
    results = []
    for name in backends:
        integ = Integrator(_backends.get(name, dim=dim), rng=seed, progress=progress)
        if calls_train > 0:
            integ.train(integrand, calls=calls_train)
        results.append(integ.integrate(integrand, calls=calls, keep_weights=True))
    if reference:
        results.append(vegas_plus(integrand, dim, calls_train, calls, rng=seed))
    return results


def _ratio(value: float | None, ref: float | None) -> float | None:
    if value is None or ref is None or ref == 0 or not math.isfinite(ref):
        return None
    return value / ref


def table_rows(results: Sequence[Result]) -> list[dict[str, Any]]:
    """One flat dict per result with the table's columns (ratios to the vegas row)."""
    ref = next((r for r in results if r.backend == REFERENCE_BACKEND), None)
    rows = []
    for r in results:
        e = r.efficiency
        row = {
            "backend": r.backend,
            "integral": r.mean,
            "error": r.sdev,
            "pull": r.pull,
            "rsd": r.rsd,
            "rsd_vs_vegas": _ratio(r.rsd, ref.rsd if ref else None),
            "eff_max": e.max if e else None,
            "eff_median_max": e.median_max if e else None,
            "eff_reduced": e.reduced if e else None,
            "eff_vs_vegas": _ratio(
                e.median_max if e else None,
                ref.efficiency.median_max if ref and ref.efficiency else None,
            ),
            "ess_fraction": r.ess_fraction,
            "calls_train": r.calls_train,
            "calls_eval": r.calls,
            "time_train_s": r.time_train,
            "time_eval_s": r.time_s,
            "us_per_event": (
                r.time_per_unweighted_event * 1e6 if r.time_per_unweighted_event else None
            ),
        }
        rows.append(row)
    return rows


def _fmt(key: str, fmt: str) -> Callable[[dict[str, Any]], str]:
    def cell(row: dict[str, Any]) -> str:
        return "—" if row[key] is None else fmt.format(row[key])

    return cell


_COLUMNS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("backend", _fmt("backend", "{}")),
    ("integral ± error", lambda r: f"{r['integral']:.6g} ± {r['error']:.2g}"),
    ("pull", _fmt("pull", "{:+.2f}")),
    ("rsd", _fmt("rsd", "{:.3g}")),
    ("rsd/VEGAS", _fmt("rsd_vs_vegas", "{:.3g}")),
    ("ε max", _fmt("eff_max", "{:.2%}")),
    ("ε median-max", _fmt("eff_median_max", "{:.2%}")),
    ("ε reduced", _fmt("eff_reduced", "{:.2%}")),
    ("ε/VEGAS", _fmt("eff_vs_vegas", "{:.3g}")),
    ("ESS frac", _fmt("ess_fraction", "{:.3g}")),
    ("calls train/eval", lambda r: f"{r['calls_train']}/{r['calls_eval']}"),
    ("train s", _fmt("time_train_s", "{:.2f}")),
    ("eval s", _fmt("time_eval_s", "{:.2f}")),
    ("µs/event", _fmt("us_per_event", "{:.3g}")),
]


def table_cells(results: Sequence[Result]) -> tuple[list[str], list[list[str]]]:
    """Column titles and the formatted cells of each row (for markdown or a terminal)."""
    rows = [[cell(row) for _, cell in _COLUMNS] for row in table_rows(results)]
    return [title for title, _ in _COLUMNS], rows


def markdown_table(results: Sequence[Result]) -> str:
    """The comparison as a markdown table, with the efficiency definitions underneath."""
    header, rows = table_cells(results)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    first = results[0]
    exact = f"{first.exact:.10g}" if first.exact is not None else "unknown"
    lines += [
        "",
        f"Integrand `{first.name}` (d={first.dim}), reference value {exact}.",
        "ε = ⟨|w|⟩/w_max: *max* = largest weight; *median-max* = median of bootstrap maxima "
        "(replicas of n/10 points); *reduced* = w_max whose overweights carry 1e-3 of σ. "
        "ε/VEGAS uses median-max. rsd = std(w)/⟨w⟩; ESS frac = (Σw)²/(nΣw²). "
        "µs/event = evaluation time per unweighted event (reduced w_max). "
        "vegas+ is stratified (not i.i.d.): no efficiencies.",
    ]
    return "\n".join(lines) + "\n"


def plot_weights(results: Sequence[Result], path: str | Path) -> Path:
    """Histogram of log10(w/⟨w⟩) per backend (nonzero weights), log-scaled counts, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    with_weights = [r for r in results if r.weights is not None and r.weights.any()]
    logs = {
        r.backend: np.log10(np.abs(r.weights[r.weights != 0]) / abs(r.mean)) for r in with_weights
    }
    if logs:
        lo = min(v.min() for v in logs.values())
        hi = max(v.max() for v in logs.values())
        bins = np.linspace(lo, hi, 80) if hi > lo else 10
        for name, values in logs.items():
            ax.hist(values, bins=bins, histtype="step", linewidth=1.5, label=name)
    ax.set_yscale("log")
    ax.set_xlabel(r"$\log_{10}(w/\langle w\rangle)$")
    ax.set_ylabel("points")
    first = results[0]
    ax.set_title(f"weight distributions: {first.name} (d={first.dim})")
    ax.axvline(0.0, color="grey", linestyle=":", linewidth=1)
    if logs:
        ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(results: Sequence[Result], out: str | Path) -> dict[str, Path]:
    """Write results.json, results.md and weights.png under ``out``; return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "results.json",
        "markdown": out / "results.md",
        "plot": out / "weights.png",
    }
    paths["json"].write_text(json.dumps([r.to_dict() for r in results], indent=2) + "\n")
    paths["markdown"].write_text(markdown_table(results))
    plot_weights(results, paths["plot"])
    return paths
