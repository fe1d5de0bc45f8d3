"""Side-by-side comparison of backends on one integrand: run, table, JSON, plots.

Every backend gets the same integrand, the same training and evaluation call budgets and
the same seed, in one process, so the rows can be compared directly. Ratios are taken to
the ``vegas`` row (the VEGAS map sampled i.i.d.); the ``vegas+`` reference row is what the
vegas package itself returns with stratification, for the same total calls.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import backends as _backends
from .backends.base import Backend
from .breakeven import DEFAULT_EVENTS, CostLine, break_even_cost, cost_line_of
from .events import EventSample
from .integrand import PhysicsIntegrand
from .integrator import Integrator
from .phasespace.kinematics import mass2
from .plots import plot_cost_lines, plot_kinematics, plot_learning_curves, plot_weights
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
    n_incoming: int = 2  # incoming particles at the front of the truth and event momenta
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)  # label → backend.spec()
    #: trained backends with latent diagnostics (B-VAE), and the integrand, for their plots
    latent: dict[str, Any] = field(default_factory=dict)
    integrand: Callable[[np.ndarray], np.ndarray] | None = None


def kinematic_observables(p: np.ndarray, n_incoming: int) -> dict[str, np.ndarray]:
    """Two observables of momenta (n, N, 4) whose first ``n_incoming`` particles are incoming.

    x₁ = 2E/√ŝ of the first outgoing particle, and the invariant mass of the last two outgoing
    particles (for two outgoing particles: cos θ of the first, as the mass is fixed). For a
    decay (one incoming particle) √ŝ is its mass, so x₁ = 2E₁/M and m(last two) is, for
    t → b ℓ ν, the W virtuality m(ℓν).
    """
    if n_incoming not in (1, 2) or p.ndim != 3 or p.shape[1] <= n_incoming:
        raise ValueError(
            f"n_incoming must be 1 or 2 with outgoing particles after it, got {n_incoming}"
        )
    incoming = p[:, :n_incoming].sum(axis=1)
    root_s = np.sqrt(np.clip(mass2(incoming), 0.0, None))
    out = p[:, n_incoming:]
    obs = {"x1 = 2E1/sqrt(s)": 2.0 * out[:, 0, 0] / root_s}
    if out.shape[1] >= 3:
        obs["m(last two) [GeV]"] = np.sqrt(np.clip(mass2(out[:, -2] + out[:, -1]), 0.0, None))
    else:
        obs["cos theta1"] = out[:, 0, 3] / np.linalg.norm(out[:, 0, 1:], axis=1)
    return obs


def _labelled(
    backends: Sequence[str | Backend] | Mapping[str, Backend], dim: int, integrand: Any = None
) -> dict[str, Backend]:
    """label → backend: names are built with their defaults (and the integrand's channels
    where they need them), duplicate labels numbered."""
    if isinstance(backends, Mapping):
        return dict(backends)
    out: dict[str, Backend] = {}
    for item in backends:
        backend = (
            _backends.get(item, dim=dim, **_backends.with_channels(item, integrand))
            if isinstance(item, str)
            else item
        )
        label, k = backend.name, 2
        while label in out:
            label, k = f"{backend.name}#{k}", k + 1
        out[label] = backend
    return out


def compare(
    integrand: Callable[[np.ndarray], np.ndarray],
    dim: int,
    backends: Sequence[str | Backend] | Mapping[str, Backend],
    calls_train: int,
    calls: int,
    seed: int = 0,
    reference: bool = True,
    progress: bool | None = None,
    events: int = 0,
) -> Comparison:
    """Train and integrate each backend with the same budget and seed.

    ``backends`` are names (default settings), configured backends, or a mapping
    label → backend (e.g. two flow variants); each row is labelled and its record carries the
    backend's full ``spec()``. With ``events`` > 0 and a physics process, each i.i.d. backend
    also generates that many unweighted events (calls outside the budget), compared with a
    weighted truth sample.
    """
    # compile any numba kernels of the integrand first, so no row's timing carries them
    integrand(np.random.default_rng(0).random((8, dim)))
    out = Comparison(results=[])
    integrators = {}
    for label, backend in _labelled(backends, dim, integrand).items():
        integ = Integrator(backend, rng=seed, progress=progress)
        if calls_train > 0:
            integ.train(integrand, calls=calls_train)
        out.learning_curves[label] = [(s.calls, s.rsd) for s in integ.history.iterations]
        result = integ.integrate(integrand, calls=calls, keep_weights=True)
        out.results.append(dataclasses.replace(result, backend=label))
        out.specs[label] = backend.spec()
        integrators[label] = integ
        if hasattr(backend, "latent_buffer"):
            out.latent[label], out.integrand = backend, integrand
    if reference:
        out.results.append(vegas_plus(integrand, dim, calls_train, calls, rng=seed))
    if events > 0 and isinstance(integrand, PhysicsIntegrand):
        unweightable = {k: v for k, v in integrators.items() if v.backend.iid}
        for label, integ in unweightable.items():
            out.events[label] = integ.generate(integrand, events, pilot_calls=min(calls, 100_000))
        rows = [r for r in out.results if r.backend in unweightable]
        if rows:
            best = min(rows, key=lambda r: r.rsd)
            u, q = integrators[best.backend].backend.sample(calls, np.random.default_rng(seed))
            w = integrand(u) / q
            p, _ = integrand.momenta(u[w != 0])
            out.truth = (p, w[w != 0])
            out.n_incoming = len(integrand.incoming)
    return out


def _ratio(value: float | None, ref: float | None) -> float | None:
    if value is None or ref is None or ref == 0 or not math.isfinite(ref):
        return None
    return value / ref


def cost_lines(results: Sequence[Result], n_events: int = DEFAULT_EVENTS) -> dict[str, CostLine]:
    """backend → its time-per-event line T(c) (:mod:`mlintegrate.breakeven`); i.i.d. rows only."""
    lines = {r.backend: cost_line_of(r, n_events) for r in results}
    return {name: line for name, line in lines.items() if line is not None}


def table_rows(results: Sequence[Result], n_events: int = DEFAULT_EVENTS) -> list[dict[str, Any]]:
    """One flat dict per result with the table's columns (ratios to the vegas row)."""
    ref = next((r for r in results if r.backend == REFERENCE_BACKEND), None)
    lines = cost_lines(results, n_events)
    ref_line = lines.get(REFERENCE_BACKEND)
    rows = []
    for r in results:
        e = r.efficiency
        line = lines.get(r.backend)
        break_even = (
            break_even_cost(line, ref_line)
            if line is not None and ref_line is not None and r.backend != REFERENCE_BACKEND
            else None
        )
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
            "break_even_us": None if break_even is None else break_even * 1e6,
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
    ("break-even µs/call", lambda r: _break_even_cell(r["break_even_us"])),
]


def _break_even_cell(value: float | None) -> str:
    if value is None:
        return "—"
    if math.isinf(value):
        return "never"
    return "any" if value == 0 else f"{value:.3g}"


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
        "break-even = |M|² cost per call above which the row makes unweighted events faster "
        f"than VEGAS, training included and amortised over {DEFAULT_EVENTS:.0e} events "
        "(any: at every cost; never: at none). "
        "vegas+ is stratified (not i.i.d.): no efficiencies.",
    ]
    return "\n".join(lines) + "\n"


def _record(result: Result, comparison: Comparison) -> dict[str, Any]:
    record = result.to_dict()
    record["config"] = comparison.specs.get(result.backend)
    line = cost_lines([result]).get(result.backend)
    record["cost_line"] = (
        {"intercept_s": line.intercept, "slope": line.slope, "n_events": DEFAULT_EVENTS}
        if line is not None and math.isfinite(line.slope)
        else None
    )
    row = next(r for r in table_rows(comparison.results) if r["backend"] == result.backend)
    value = row["break_even_us"]
    record["break_even_cost_s"] = None if value is None or math.isinf(value) else value * 1e-6
    record["pays_off"] = None if value is None else not math.isinf(value)
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
    lines = cost_lines(results)
    if lines:
        paths["cost plot"] = plot_cost_lines(
            lines, DEFAULT_EVENTS, title, out / "time_per_event.png"
        )
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
        truth_obs = kinematic_observables(p, comparison.n_incoming)
        events = {
            name: kinematic_observables(ev.momenta, comparison.n_incoming)
            for name, ev in comparison.events.items()
            if ev.momenta is not None and ev.n_events
        }
        paths["kinematics plot"] = plot_kinematics(
            {k: (v, w) for k, v in truth_obs.items()}, events, title, out / "kinematics.png"
        )
    return paths
