"""B-VAE vs the flow vs VEGAS, and the ablation that answers "B-VAE as importance sampler?".

Two parts, each one process, one seed, the same training and evaluation calls for every row:

- ``main``: the flow benchmark's calls (``mlintegrate.report.compare`` with ``vegas``,
  ``flow`` and ``bvae`` at their defaults) on camel d = 4, d = 8, ee_qqg (diet map) and
  ee_qqg@dalitz, then issue 13's targets as measured PASS/FAIL lines: the shipped B-VAE reaches
  ε_median-max ≥ 0.9× the flow's and ≥ 2× VEGAS's on camel d = 4, d = 8 and ee_qqg.
- ``ablation``: per case, a ``vegas`` row and one B-VAE row per variant of :data:`VARIANTS`
  (buffer vs prior vs their mixture η, α, β, K, widths, decoder loss, and the two
  constructions the prototype did not try: the buffer as the latent *base during training*,
  VampPrior-like, and the buffer as a mode memory).
- ``screen``: chosen variants and the flow on several seeds (``--seeds``), one JSON line per
  row in ``bvae_screen.jsonl`` as soon as it finishes: how a default was chosen where the
  differences are of the order of the seed-to-seed spread of ε_median-max.

MadNIS rows are skipped here (``import madnis`` fails on this machine; see bench_flow.py for
the peer). Writes ``benchmarks/results/bvae_<part>.json`` and ``.md`` after every case, and the
latent diagnostics (PCA of the buffer and of the decoded samples vs the target, 1-D latent
marginals) of the default B-VAE of each main case as PNGs under ``results/bvae_plots/``.

    python benchmarks/bench_bvae.py --part main
    python benchmarks/bench_bvae.py --part ablation --cases ee_qqg,camel:4
    python benchmarks/bench_bvae.py --part screen --seeds 1,2 --variants 12,13 --train-calls 3e5
    python benchmarks/bench_bvae.py --quick      # smoke run
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_core import RESULTS, _jsonable, _pct, case_table, machine_info, ratios_to_vegas, record
from bench_flow import load_case

import mlintegrate as mli
from mlintegrate.backends import BVAE, Flow
from mlintegrate.report import compare, table_rows

MAIN_BACKENDS = ("vegas", "flow", "bvae")
# ee_qqg on the diet map the targets were set on (the process default is now the exact map,
# on which every backend is near ε = 100 %)
MAIN_CASES = ("camel:4", "camel:8", "ee_qqg@diet", "ee_qqg@dalitz")
ABLATION_CASES = ("ee_qqg@diet", "camel:4")
SCREEN_CASES = ("ee_qqg@diet",)
TARGET_CASES = ("camel:4", "camel:8", "ee_qqg", "ee_qqg@diet")
FLOW_FRACTION = 0.9  # ε_bvae ≥ this × ε_flow
VEGAS_FACTOR = 2.0  # ε_bvae ≥ this × ε_VEGAS
TRAIN_CALLS = 1_000_000
CALLS = 200_000
TORCH_THREADS = 1

#: ablation rows: label → settings changed from the B-VAE defaults
VARIANTS: dict[str, dict[str, Any]] = {
    "bvae (default)": {},
    "prior only η=1 (= a flow)": {"eta": 1.0, "learn_eta": False},
    "buffer only η=0": {"eta": 0.0, "learn_eta": False},
    "η=0.5": {"eta": 0.5, "learn_eta": False},
    "α=0.5": {"alpha": 0.5},
    "β=0.1": {"beta": 0.1},
    "K=4096": {"components": 4096},
    "decoder loss kl": {"loss": "kl"},
    "VampPrior fit (buffer as training base, LOO, learned α)": {"fit": "mixture"},
    "VampPrior fit, η=0.5": {"fit": "mixture", "eta": 0.5, "learn_eta": False},
    "mode memory": {"memory": True},
    "η=0.97": {"eta": 0.97, "learn_eta": False},
    "η learned (variance-optimal), from 0.9": {"eta": 0.9, "learn_eta": True},
    "η=0.9 fixed": {"eta": 0.9, "learn_eta": False},
}


def _case_info(spec: str, f: Any, calls_train: int, calls: int, results: list) -> dict[str, Any]:
    rows = table_rows(results)
    return {
        "case": spec,
        "integrand": f.name,
        "dim": f.dim,
        "unit": getattr(f, "unit", ""),
        "exact": f.exact,
        "calls_train": calls_train,
        "calls_eval": calls,
        "records": [record(r) for r in results],
        "rows": rows,
        "ratios": ratios_to_vegas(rows),
    }


def run_main_case(
    spec: str,
    calls_train: int,
    calls: int,
    seed: int,
    plots: Path | None,
    backends: Sequence[str] = MAIN_BACKENDS,
) -> dict[str, Any]:
    """vegas, flow and bvae at their defaults through ``compare``; plots of the bvae.

    ``compare`` seeds every backend alike, so a subset of ``backends`` reproduces its rows of
    a full run with the same seed and calls."""
    f = load_case(spec)
    t0 = time.perf_counter()
    comp = compare(f, f.dim, backends, calls_train, calls, seed=seed, reference=False)
    case = _case_info(spec, f, calls_train, calls, comp.results)
    case["wall_s"] = time.perf_counter() - t0
    if plots is not None:
        case["plots"] = _plots(spec, f, calls_train, seed, plots)
    return case


def _plots(spec: str, f: Any, calls_train: int, seed: int, folder: Path) -> list[str]:
    """Retrain the default B-VAE (same seed: the same model as the row) and plot its latent."""
    from mlintegrate.backends.bvae_plots import latent_plots

    integ = mli.Integrator(BVAE(f.dim), rng=seed, progress=False)
    integ.train(f, calls=calls_train)
    stem = folder / spec.replace(":", "_d").replace("@", "_")
    return [str(p) for p in latent_plots(integ.backend, f, stem, rng=seed)]


def run_ablation_case(
    spec: str, calls_train: int, calls: int, seed: int, variants: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """A vegas row, then one B-VAE per variant, each trained and evaluated alike."""
    f = load_case(spec)
    t0 = time.perf_counter()
    results = compare(f, f.dim, ("vegas",), calls_train, calls, seed=seed, reference=False).results
    for label, settings in variants.items():
        integ = mli.Integrator(BVAE(f.dim, **settings), rng=seed, progress=False)
        integ.train(f, calls=calls_train)
        result = integ.integrate(f, calls=calls, keep_weights=True)
        result.backend = label
        results.append(result)
        print(
            f"  {spec} {label}: ε_median-max {_pct(result.efficiency.median_max)}, "
            f"rsd {result.rsd:.3g}, train {result.time_train:.0f} s",
            flush=True,
        )
    case = _case_info(spec, f, calls_train, calls, results)
    case["wall_s"] = time.perf_counter() - t0
    case["variants"] = variants
    return case


def run_screen(
    spec: str,
    calls_train: int,
    calls: int,
    seeds: Sequence[int],
    variants: dict[str, dict[str, Any]],
    log: Path,
) -> list[dict[str, Any]]:
    """Every variant (and the flow at its defaults, label "flow") on every seed, one row each,
    appended to ``log`` (JSON lines) as soon as it finishes, so a stopped screen keeps its rows."""
    f = load_case(spec)
    rows = []
    for seed in seeds:
        for label, settings in {"flow": None, **variants}.items():
            backend = Flow(f.dim) if settings is None else BVAE(f.dim, **settings)
            integ = mli.Integrator(backend, rng=seed, progress=False)
            integ.train(f, calls=calls_train)
            r = integ.integrate(f, calls=calls, keep_weights=True)
            row = {
                "case": spec,
                "seed": seed,
                "variant": label,
                "settings": settings,
                "calls_train": calls_train,
                "calls_eval": calls,
                "eff_median_max": r.efficiency.median_max,
                "rsd": r.rsd,
                "pull": (r.mean - f.exact) / r.sdev if f.exact else None,
                "train_s": r.time_train,
            }
            rows.append(row)
            with log.open("a") as fh:
                fh.write(json.dumps(_jsonable(row)) + "\n")
            print(
                f"  {spec} seed {seed} {label}: ε_median-max {_pct(row['eff_median_max'])}, "
                f"rsd {r.rsd:.3g}, train {r.time_train:.0f} s",
                flush=True,
            )
    return rows


def screen_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Per case and variant: ε_median-max and rsd of each seed, and their means."""
    lines = []
    for spec in dict.fromkeys(r["case"] for r in rows):
        sub = [r for r in rows if r["case"] == spec]
        seeds = sorted({r["seed"] for r in sub})
        n = sub[0]["calls_train"]
        lines += [
            f"### {spec}, {n:,} training calls, seeds {', '.join(map(str, seeds))}",
            "",
            "| variant | ε median-max per seed | mean | rsd per seed | mean |",
            "|---|---|---|---|---|",
        ]
        for label in dict.fromkeys(r["variant"] for r in sub):
            vs = [r for r in sub if r["variant"] == label]
            eff = [r["eff_median_max"] for r in vs]
            rsd = [r["rsd"] for r in vs]
            lines.append(
                f"| {label} | {' / '.join(_pct(e) for e in eff)} | {_pct(float(np.mean(eff)))} "
                f"| {' / '.join(f'{x:.3g}' for x in rsd)} | {float(np.mean(rsd)):.3g} |"
            )
        lines.append("")
    return "\n".join(lines)


def evaluate_targets(cases: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """ε_bvae ≥ 0.9 ε_flow and ≥ 2 ε_VEGAS (median-max) on the target cases."""
    out = []
    for case in cases:
        if case["case"] not in TARGET_CASES:
            continue
        rows = {r["backend"]: r for r in case["rows"]}
        if not all(k in rows for k in ("bvae", "flow", "vegas")):
            continue
        b, fl, v = (rows[k]["eff_median_max"] for k in ("bvae", "flow", "vegas"))
        for what, ref, factor in (("flow", fl, FLOW_FRACTION), ("VEGAS", v, VEGAS_FACTOR)):
            out.append(
                {
                    "case": f"{case['case']} at {case['calls_train']:,} training calls",
                    "target": f"ε_bvae (median-max) ≥ {factor:g} × ε_{what}",
                    "measured": f"ε_bvae = {_pct(b)}, {factor:g} × ε_{what} = {_pct(factor * ref)}",
                    "passed": b >= factor * ref,
                }
            )
    return out


def case_markdown(case: dict[str, Any]) -> str:
    unit = f", {case['unit']}" if case["unit"] else ""
    title = f"{case['case']} (d = {case['dim']}{unit}), {case['calls_train']:,} training calls"
    exact = "unknown" if case["exact"] is None else f"{case['exact']:.10g}"
    lines = [f"### {title}", "", *case_table(case), ""]
    lines.append(f"Reference value {exact}; case wall time {case['wall_s']:.1f} s.")
    if case.get("plots"):
        lines.append("Latent diagnostics: " + ", ".join(Path(p).name for p in case["plots"]))
    return "\n".join(lines)


def markdown(doc: dict[str, Any]) -> str:
    m, cfg = doc["machine"], doc["config"]
    head = [
        f"# B-VAE benchmark ({cfg['part']})" + (" (quick smoke run)" if cfg["quick"] else ""),
        "",
        f"Made by `{m['command']}` on {m['date']}.",
        "",
        f"Machine: {m['platform']}, {m['cpu_count']} CPUs ({m['cpus_usable']} usable, shared "
        f"with other jobs: timings are indicative only); torch {m['torch']}, mlintegrate "
        f"{m['mlintegrate']} ({m['git_commit']}). {cfg['calls_train']:,} training calls, "
        f"{cfg['calls_eval']:,} evaluation calls, seed {cfg['seed']}, torch on "
        f"{TORCH_THREADS} thread. MadNIS: not installed here (skipped).",
        "",
    ]
    if cfg["part"] == "ablation":
        head += [
            "Every B-VAE row is `BVAE(d, **settings)` with the settings below changed from the "
            "defaults: " + "; ".join(f"{k}: `{v}`" for k, v in VARIANTS.items()) + ".",
            "",
        ]
    body = "\n\n".join(case_markdown(c) for c in doc["cases"])
    tail = []
    if doc.get("targets"):
        tail = ["", "## Targets", ""]
        for t in doc["targets"]:
            tail.append(
                f"- **{'PASS' if t['passed'] else 'FAIL'}** {t['case']}: "
                f"{t['target']} — {t['measured']}"
            )
    return "\n".join(head) + "\n" + body + "\n" + "\n".join(tail) + "\n"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("main", "ablation", "screen"), default="main")
    p.add_argument("--cases", help="comma-separated cases (process, process@map, function:dim)")
    p.add_argument("--train-calls", type=float, default=None)
    p.add_argument("--calls", type=float, default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--seeds", default="1,2", help="screen: comma-separated seeds")
    p.add_argument(
        "--backends", default=",".join(MAIN_BACKENDS), help="main: a subset of vegas,flow,bvae"
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 2·10⁴ + 10⁴ calls")
    p.add_argument(
        "--variants",
        help="ablation: comma-separated indices into VARIANTS, run in that order (default all)",
    )
    p.add_argument("--no-plots", action="store_true", help="skip the latent PNGs (main part)")
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args(argv)
    default_cases = {"main": MAIN_CASES, "ablation": ABLATION_CASES, "screen": SCREEN_CASES}[a.part]
    a.cases = a.cases.split(",") if a.cases else list(default_cases)
    a.train_calls = int(a.train_calls or (20_000 if a.quick else TRAIN_CALLS))
    a.calls = int(a.calls or (10_000 if a.quick else CALLS))
    labels = list(VARIANTS)
    order = [int(i) for i in a.variants.split(",")] if a.variants else range(len(labels))
    a.variants = {labels[i]: VARIANTS[labels[i]] for i in order}
    a.seeds = [int(x) for x in a.seeds.split(",")]
    return a


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    torch.set_num_threads(TORCH_THREADS)
    doc: dict[str, Any] = {
        "benchmark": f"bvae_{args.part}",
        "machine": machine_info(argv, "bench_bvae.py") | {"torch": torch.__version__},
        "config": {
            "part": args.part,
            "cases": args.cases,
            "calls_train": args.train_calls,
            "calls_eval": args.calls,
            "seed": args.seed,
            "quick": args.quick,
        },
        "cases": [],
    }
    name = f"bvae_{args.part}" + ("_quick" if args.quick else "")
    if args.part == "screen":
        log = args.out / f"{name}.jsonl"
        args.out.mkdir(parents=True, exist_ok=True)
        rows = []
        for spec in args.cases:
            rows += run_screen(spec, args.train_calls, args.calls, args.seeds, args.variants, log)
        print(screen_markdown(rows))
        return 0
    plots = None if args.no_plots or args.part != "main" else args.out / "bvae_plots"
    if plots is not None:
        plots.mkdir(parents=True, exist_ok=True)
    for spec in args.cases:
        if args.part == "main":
            backends = args.backends.split(",")
            case = run_main_case(spec, args.train_calls, args.calls, args.seed, plots, backends)
        else:
            case = run_ablation_case(spec, args.train_calls, args.calls, args.seed, args.variants)
        doc["cases"].append(case)
        doc["targets"] = evaluate_targets(doc["cases"]) if args.part == "main" else []
        print(case_markdown(case), end="\n\n", flush=True)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{name}.json").write_text(
            json.dumps(_jsonable(doc), indent=2, allow_nan=False) + "\n"
        )
        (args.out / f"{name}.md").write_text(markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
