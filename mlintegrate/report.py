"""Side-by-side comparison of backends on one integrand: run, table, JSON, plots.

Every backend gets the same integrand, the same training and evaluation call budgets and
the same seed, in one process, so the rows can be compared directly. Ratios are taken to
the ``vegas`` row (the VEGAS map sampled i.i.d.); the ``vegas+`` reference row is what the
vegas package itself returns with stratification, for the same total calls.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import backends as _backends
from .events import EventSample
from .integrator import Integrator
from .plots import plot_kinematics, plot_learning_curves, plot_weights
from .reference import vegas_plus
from .result import Result

__all__ = [
    "Comparison",
    "compare",
    "kinematic_observables",
    "markdown_table",
    "table_cells",
    "table_rows",
    "write_report",
]

REFERENCE_BACKEND = "vegas"


@dataclass
class Comparison:
    """Everything one comparison run produced."""

    results: list[Result]
    learning_curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    events: dict[str, EventSample] = field(default_factory=dict)
    truth: tuple[np.ndarray, np.ndarray] | None = None  # momenta, weights of a weighted sample
    #: trained backends with latent diagnostics (B-VAE), and the integrand, for their plots
    latent: dict[str, Any] = field(default_factory=dict)
    integrand: Callable[[np.ndarray], np.ndarray] | None = None


def kinematic_observables(p: np.ndarray) -> dict[str, np.ndarray]:
    """Two observables of momenta (n, N, 4) with the incoming particles first.

    x₁ = 2E/√ŝ of the first outgoing particle, and the invariant mass of the last two outgoing
    particles (for two outgoing particles: cos θ of the first, as the mass is fixed).
    """
    n_in = 2 if p.shape[1] > 3 and np.allclose(p[:, 0, 1:3], 0) and p[0, 1, 0] > 0 else 1
    total = p[:, :n_in, 0].sum(axis=1)
    out = p[:, n_in:]
    obs = {"x1 = 2E1/sqrt(s)": 2.0 * out[:, 0, 0] / total}
    if out.shape[1] >= 3:
        pair = out[:, -2] + out[:, -1]
        m2 = pair[:, 0] ** 2 - np.sum(pair[:, 1:] ** 2, axis=1)
        obs["m(last two) [GeV]"] = np.sqrt(np.clip(m2, 0.0, None))
    else:
        obs["cos theta1"] = out[:, 0, 3] / np.linalg.norm(out[:, 0, 1:], axis=1)
    return obs


def compare(
    integrand: Callable[[np.ndarray], np.ndarray],
    dim: int,
    backends: Sequence[str],
    calls_train: int,
    calls: int,
    seed: int = 0,
    reference: bool = True,
    progress: bool | None = None,
    events: int = 0,
) -> Comparison:
    """Train and integrate each named backend with the same budget and seed.

    With ``events`` > 0 and a physics process, each backend also generates that many
    unweighted events (calls outside the budget), compared with a weighted truth sample.
    """
    # compile any numba kernels of the integrand first, so no row's timing carries them
    integrand(np.random.default_rng(0).random((8, dim)))
    out = Comparison(results=[])
    integrators = {}
    for name in backends:
        integ = Integrator(_backends.get(name, dim=dim), rng=seed, progress=progress)
        if calls_train > 0:
            integ.train(integrand, calls=calls_train)
        out.learning_curves[name] = [(s.calls, s.rsd) for s in integ.history.iterations]
        out.results.append(integ.integrate(integrand, calls=calls, keep_weights=True))
        integrators[name] = integ
        if hasattr(integ.backend, "latent_buffer"):
            out.latent[name], out.integrand = integ.backend, integrand
    if reference:
        out.results.append(vegas_plus(integrand, dim, calls_train, calls, rng=seed))
    if events > 0 and hasattr(integrand, "momenta"):
        for name, integ in integrators.items():
            out.events[name] = integ.generate(integrand, events, pilot_calls=min(calls, 100_000))
        best = min(out.results[: len(integrators)], key=lambda r: r.rsd)
        u, q = integrators[best.backend].backend.sample(calls, np.random.default_rng(seed))
        w = integrand(u) / q
        p, _ = integrand.momenta(u[w != 0])
        out.truth = (p, w[w != 0])
    return out


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


def _record(result: Result, comparison: Comparison) -> dict[str, Any]:
    record = result.to_dict()
    record["learning_curve"] = [
        {"calls": c, "rsd": r} for c, r in comparison.learning_curves.get(result.backend, [])
    ]
    ev = comparison.events.get(result.backend)
    record["events"] = (
        None
        if ev is None
        else {
            "n": ev.n_events,
            "calls": ev.calls,
            "events_per_call": ev.efficiency,
            "overweight_fraction": ev.overweight_fraction,
            "time_s": ev.time_s,
        }
    )
    return record


def write_report(comparison: Comparison, out: str | Path) -> dict[str, Path]:
    """Write results.json, results.md and the PNG figures under ``out``; return the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = comparison.results
    records = [_record(r, comparison) for r in results]
    paths = {"json": out / "results.json", "markdown": out / "results.md"}
    paths["json"].write_text(json.dumps(records, indent=2) + "\n")
    paths["markdown"].write_text(markdown_table(results))
    first = results[0]
    title = f"{first.name} (d={first.dim})"
    paths["weights plot"] = plot_weights(results, out / "weights.png")
    paths["learning curves"] = plot_learning_curves(
        comparison.learning_curves, title, out / "learning_curves.png"
    )
    if comparison.latent:  # PCA of the latent buffer and decoded samples, latent marginals
        from .backends.bvae_plots import latent_plots

        for name, backend in comparison.latent.items():
            for path in latent_plots(backend, comparison.integrand, out / name):
                paths[f"{name} {path.stem.split('_', 1)[1]} plot"] = path
    if comparison.truth is not None and comparison.events:
        p, w = comparison.truth
        truth_obs = kinematic_observables(p)
        events = {
            name: kinematic_observables(ev.momenta)
            for name, ev in comparison.events.items()
            if ev.momenta is not None and ev.n_events
        }
        paths["kinematics plot"] = plot_kinematics(
            {k: (v, w) for k, v in truth_obs.items()}, events, title, out / "kinematics.png"
        )
    return paths
