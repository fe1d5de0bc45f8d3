"""Multi-channel for multi-jet (issue 14 §3): ee_4jet with one proposal per pairing channel.

Rows, in one process with the same seed, training budget and evaluation calls
(``mlintegrate.report.compare``, one row at a time so a partial run is kept):

- ``uniform``: the diet cube sampled flat (no training);
- ``vegas``: the VEGAS map sampled i.i.d.;
- ``flow``: the default flow on diet's cube;
- ``multichannel-vegas-3``: Σ_k α_k Mapped(VEGAS_k, T_k) over the three pairing channels with
  flat decays (multi-channel VEGAS), α learned (Kleiss–Pittau);
- ``multichannel-vegas-pairing``: the same over the six pairing channels (each pairing with
  its (ab) decay about c or about d, double-logarithmic decay angles: the earlier default);
- ``multichannel-vegas``: the same over ee_4jet's default channels (12 antenna channels: each
  colour ring with each parton emitted in turn);
- ``multichannel-flow``: a flow per channel, channel k trained on f · α_k q_k / q (the
  registered ``multichannel`` backend with its defaults);
- ``multichannel-flow-pairing`` (not run by default): the same on the six pairing channels;
- ``multichannel-flow-full`` (not run by default): every channel's flow trained on all of f;
- ``multichannel-flow-mix`` (not run by default): the inner flows on the "mix" loss (their
  default until the variance loss);
- ``multichannel-flow-flat-azimuth`` (not run by default): the antenna channels with the
  emission's azimuth drawn flat (``energy_azimuth=False``, ee_4jet's default until then).

Target: the best learned proposal reaches ε_median-max ≥ 10× VEGAS's and rsd ≤ VEGAS's / 3,
with |pull| < 3 against the stored reference. Writes
``benchmarks/results/multichannel_ee_4jet.{json,md}`` (rewritten after every row).

    python benchmarks/bench_multichannel.py                                  # 1e6 / 2e5, seed 3
    python benchmarks/bench_multichannel.py --train-calls 1e5 --rows vegas,multichannel-vegas
    python benchmarks/bench_multichannel.py --train-calls 2e5 \
        --out benchmarks/results/multichannel_inner \
        --rows vegas,multichannel-flow,multichannel-flow-mix,multichannel-flow-flat-azimuth
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from bench_core import RESULTS, _jsonable, case_table, machine_info, ratios_to_vegas, record

import mlintegrate as mli
from mlintegrate.backends import Backend, Flow, MultiChannel, Uniform, Vegas
from mlintegrate.backends.channels import antenna_channels, pairing_channels
from mlintegrate.backends.multichannel import MultiChannelConfig
from mlintegrate.report import compare, table_rows


def _pairings_only(f: Any) -> list:
    """The three pairing channels with flat decays (no partner axis): the ablation."""
    return pairing_channels(f.sqrt_s, 5.0**2 * 0.4**2 / f.sqrt_s**2)


def _flat_azimuth(f: Any) -> list:
    """ee_4jet's antenna channels with the emission's azimuth drawn flat."""
    return antenna_channels(
        f.sqrt_s, 5.0**2 * 0.4**2 / f.sqrt_s**2, e_min=5.0, per_ring=4, pt_min=5.0
    )


def _mix_inner() -> MultiChannelConfig:
    """The multichannel's defaults with its inner flows on the "mix" loss."""
    base = MultiChannelConfig()
    return base.with_values(flow=base.flow.with_values(loss="mix"))


def _pairings(f: Any) -> list:
    """The six pairing channels, decays about a partner: ee_4jet's default before the antenna."""
    return pairing_channels(f.sqrt_s, 5.0**2 * 0.4**2 / f.sqrt_s**2, angular=1e-2)


ROWS: dict[str, Callable[[Any], Backend]] = {
    "uniform": lambda f: Uniform(f.dim),
    "vegas": lambda f: Vegas(f.dim),
    "multichannel-vegas-3": lambda f: MultiChannel(f.dim, _pairings_only(f), inner="vegas"),
    "multichannel-vegas-pairing": lambda f: MultiChannel(f.dim, _pairings(f), inner="vegas"),
    "multichannel-vegas": lambda f: MultiChannel(f.dim, f.channels(), inner="vegas"),
    "multichannel-flow-pairing": lambda f: MultiChannel(f.dim, _pairings(f)),
    "multichannel-flow": lambda f: MultiChannel(f.dim, f.channels()),
    "multichannel-flow-full": lambda f: MultiChannel(f.dim, f.channels(), partition="full"),
    "multichannel-flow-mix": lambda f: MultiChannel(f.dim, f.channels(), _mix_inner()),
    "multichannel-flow-flat-azimuth": lambda f: MultiChannel(f.dim, _flat_azimuth(f)),
    "flow": lambda f: Flow(f.dim),
}
DEFAULT_ROWS = (
    "vegas,uniform,multichannel-vegas-3,multichannel-vegas-pairing,multichannel-vegas,"
    "multichannel-flow,flow"
)


def verdicts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PASS/FAIL of the target for each learned row against the VEGAS row."""
    vegas = next((r for r in rows if r["backend"] == "vegas"), None)
    out = []
    for r in rows:
        if vegas is None or r["backend"] in ("uniform", "vegas"):
            continue
        eff = r["eff_median_max"] / vegas["eff_median_max"]
        rsd = vegas["rsd"] / r["rsd"]
        ok = eff >= 10 and rsd >= 3 and r["pull"] is not None and abs(r["pull"]) < 3
        out.append({
            "backend": r["backend"],
            "eff_median_max_vs_vegas": eff,
            "vegas_rsd_over_rsd": rsd,
            "pull": r["pull"],
            "verdict": "PASS" if ok else "FAIL",
        })  # fmt: skip
    return out


def markdown(doc: dict[str, Any]) -> str:
    case = doc["case"]
    lines = [
        "# Multi-channel for multi-jet: ee_4jet",
        "",
        f"Made by `{doc['machine']['command']}`. Machine: {doc['machine']['platform']}, "
        f"{doc['machine']['cpus_usable']} usable CPUs, shared and loaded (load average at the "
        f"start {doc['machine']['load_average_start']}): times are noisy, compare within the "
        "table. Seed, budgets and evaluation calls are the same for every row.",
        "",
        f"### ee_4jet (d = 8, pb), {case['calls_train']:,} training calls, "
        f"{case['calls_eval']:,} evaluation calls, seed {case['seed']}",
        "",
        *case_table(case),
        "",
        "Target (issue 14 §3): ε_median-max ≥ 10× VEGAS's and rsd ≤ VEGAS's / 3, |pull| < 3.",
        "",
    ]
    for v in case["verdicts"]:
        lines.append(
            f"- **{v['verdict']}** {v['backend']}: ε_median-max "
            f"{v['eff_median_max_vs_vegas']:.2f}× VEGAS's, "
            f"rsd VEGAS/{v['vegas_rsd_over_rsd']:.2f}, pull {v['pull']:+.2f}"
        )
    if case["channel_weights"]:
        lines += ["", "Learned channel weights (in the order of the channels' pairings):"]
        lines += [f"- {k}: {[round(w, 3) for w in v]}" for k, v in case["channel_weights"].items()]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=DEFAULT_ROWS)
    parser.add_argument("--train-calls", type=float, default=1e6)
    parser.add_argument("--calls", type=float, default=2e5)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    bad = [r for r in rows if r not in ROWS]
    if bad or "vegas" not in rows:
        parser.error(f"--rows: need vegas and names from {', '.join(ROWS)}; got {args.rows!r}")
    rows.sort(key=lambda r: r != "vegas")  # VEGAS first: every row's ratios refer to it
    torch.set_num_threads(1)
    f = mli.processes.get("ee_4jet")
    calls_train, calls = int(args.train_calls), int(args.calls)
    doc: dict[str, Any] = {
        "benchmark": "multichannel_ee_4jet",
        "machine": machine_info(argv, "bench_multichannel.py"),
        "case": {
            "integrand": "ee_4jet",
            "dim": f.dim,
            "unit": f.unit,
            "exact": f.exact,
            "exact_error": f.exact_error,
            "calls_train": calls_train,
            "calls_eval": calls,
            "seed": args.seed,
            "records": [],
            "rows": [],
            "ratios": [],
            "verdicts": [],
            "channel_weights": {},
        },
    }
    case = doc["case"]
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for name in rows:
        backend = ROWS[name](f)
        train = 0 if name == "uniform" else calls_train
        comparison = compare(
            f, f.dim, {name: backend}, train, calls, seed=args.seed, reference=False,
            progress=False,
        )  # fmt: skip
        results += comparison.results
        case["records"] = [record(r) for r in results]
        case["rows"] = table_rows(results)
        case["ratios"] = ratios_to_vegas(case["rows"])
        case["verdicts"] = verdicts(case["rows"])
        if isinstance(backend, MultiChannel):
            case["channel_weights"][name] = backend.weights.tolist()
        (args.out / "multichannel_ee_4jet.json").write_text(
            json.dumps(_jsonable(doc), indent=2) + "\n"
        )
        (args.out / "multichannel_ee_4jet.md").write_text(markdown(doc))
        print(case["rows"][-1], flush=True)
    print(markdown(doc), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
