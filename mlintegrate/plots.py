"""Figures of a comparison: weight distributions, learning curves, kinematic distributions.

Each function writes one PNG and returns its path. Figures are built on a
``matplotlib.figure.Figure`` and saved through its own Agg canvas, so matplotlib's global
backend (and any pyplot state of the caller) is never touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .breakeven import CostLine
from .result import Result

__all__ = ["plot_cost_lines", "plot_kinematics", "plot_learning_curves", "plot_weights"]


def _figure(**kwargs):  # noqa: ANN202 - matplotlib.figure.Figure
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_weights(results: Sequence[Result], path: str | Path) -> Path:
    """Histogram of log10(w/⟨w⟩) per backend (nonzero weights), log-scaled counts."""
    fig = _figure(figsize=(7, 4.5))
    ax = fig.subplots()
    logs = {
        r.backend: np.log10(np.abs(r.weights[r.weights != 0]) / abs(r.mean))
        for r in results
        if r.weights is not None and r.weights.any()
    }
    if logs:
        lo = min(v.min() for v in logs.values())
        hi = max(v.max() for v in logs.values())
        bins = np.linspace(lo, hi, 80) if hi > lo else 10
        for name, values in logs.items():
            ax.hist(values, bins=bins, histtype="step", linewidth=1.5, label=name)
        ax.legend()
    ax.set_yscale("log")
    ax.set_xlabel(r"$\log_{10}(w/\langle w\rangle)$")
    ax.set_ylabel("points")
    ax.axvline(0.0, color="grey", linestyle=":", linewidth=1)
    ax.set_title(f"weight distributions: {results[0].name} (d={results[0].dim})")
    return _save(fig, path)


def plot_learning_curves(
    curves: Mapping[str, Sequence[tuple[int, float]]], title: str, path: str | Path
) -> Path:
    """rsd of each training batch against the cumulative training calls, per backend."""
    fig = _figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for name, curve in curves.items():
        if curve:
            calls, rsd = np.array(curve, dtype=float).T
            ax.plot(calls, rsd, marker=".", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training calls")
    ax.set_ylabel("rsd of the batch weights, std(w)/⟨w⟩")
    ax.set_title(f"learning curves: {title}")
    if any(curves.values()):
        ax.legend()
    return _save(fig, path)


def plot_cost_lines(
    lines: Mapping[str, CostLine], n_events: int, title: str, path: str | Path
) -> Path:
    """Seconds per unweighted event against the |M|² cost per call, 10⁻⁷–10⁻² s, per backend
    (training amortised over ``n_events``; see :mod:`mlintegrate.breakeven`)."""
    fig = _figure(figsize=(7, 4.5))
    ax = fig.subplots()
    cost = np.logspace(-7, -2, 60)
    for name, line in lines.items():
        if np.isfinite(line.slope):
            ax.plot(cost, line.intercept + line.slope * cost, label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("|M|² cost per call [s]")
    ax.set_ylabel("time per unweighted event [s]")
    ax.set_title(f"{title}: training amortised over {n_events:.0e} events")
    if lines:
        ax.legend()
    return _save(fig, path)


def plot_kinematics(
    truth: Mapping[str, tuple[np.ndarray, np.ndarray]],
    events: Mapping[str, Mapping[str, np.ndarray]],
    title: str,
    path: str | Path,
) -> Path:
    """Per observable: the weighted truth (filled) and each backend's unweighted events.

    ``truth[obs] = (values, weights)``; ``events[backend][obs] = values`` (unit weights; the
    rare overweights are drawn at weight 1 here, which the caption of the report notes).
    """
    names = list(truth)
    fig = _figure(figsize=(5.5 * len(names), 4.2))
    axes = fig.subplots(1, len(names), squeeze=False)
    for ax, obs in zip(axes[0], names, strict=True):
        values, weights = truth[obs]
        lo, hi = np.quantile(values, [0.001, 0.999])
        bins = np.linspace(lo, hi, 40)
        ax.hist(
            values, bins=bins, weights=weights, density=True, color="0.8", label="weighted truth"
        )
        for backend, obs_values in events.items():
            ax.hist(
                obs_values[obs],
                bins=bins,
                density=True,
                histtype="step",
                linewidth=1.4,
                label=f"{backend} ({len(obs_values[obs])} events)",
            )
        ax.set_xlabel(obs)
        ax.set_ylabel("normalised density")
        ax.legend(fontsize=8)
    fig.suptitle(f"unweighted events vs weighted truth: {title}")
    return _save(fig, path)
