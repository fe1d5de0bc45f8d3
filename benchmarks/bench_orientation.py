"""ee_4jet's antenna channels with a flat and with the cut-aware orientation, side by side
(issue 14 §3): how many points pass the cuts, where the largest weights sit, ε and rsd.

    python benchmarks/bench_orientation.py                    # seeds 3,5; 2·10⁵ training calls

Rows, per seed: ``raw`` = the 12 channels at equal weights, untrained (200,000 points);
``mc-vegas`` = multi-channel VEGAS on them after ``--train-calls`` (200,000 fresh points).
Variants: ``flat`` = ``pt_min=None`` (the orientation drawn flat, as saved before the
cut-aware one), ``banded`` = ``pt_min=p_T,min`` (the two softest partons inside their p_T
bands, :mod:`mlintegrate.phasespace.orientation`), ``banded+azimuth`` = that and
``energy_azimuth=True`` (the emission's azimuth drawn mostly where both partons of its dipole
keep E ≥ p_T,min), ``banded+azimuth+dR`` = that and ``dr_min=ΔR_min`` (ee_4jet's default: a
pair closer than ΔR_min turned towards the beam where its ΔR passes). Writes
``results/NAME.{json,md}`` (``--name``, default orientation).

    python benchmarks/bench_orientation.py --variants banded,banded+azimuth --name azimuth
    python benchmarks/bench_orientation.py --variants banded+azimuth,banded+azimuth+dR \
        --seeds 3,4,5 --name drpair
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from typing import Any

import numpy as np
import torch
from bench_core import RESULTS, machine_info

import mlintegrate as mli
from mlintegrate.backends import MultiChannel
from mlintegrate.backends.channels import antenna_channels
from mlintegrate.phasespace import rambo_diet, rambo_diet_inverse
from mlintegrate.phasespace.kinematics import delta_r, pt

SQRT_S, PT_MIN, DR_MIN = 91.2, 5.0, 0.4
SCALE = PT_MIN**2 * DR_MIN**2 / SQRT_S**2  # ee_4jet's log scale of the invariants
N_EVAL = 200_000
VARIANTS: dict[str, dict[str, Any]] = {
    "flat": {"pt_min": None},
    "banded": {"pt_min": PT_MIN},
    "banded+azimuth": {"pt_min": PT_MIN, "energy_azimuth": True},
    "banded+azimuth+dR": {"pt_min": PT_MIN, "energy_azimuth": True, "dr_min": DR_MIN},
}


def _eps_median_max(w: np.ndarray, rng: np.random.Generator) -> float:
    """⟨w⟩ over the median of 50 bootstrap maxima of n/10 points (compare's ε_median-max)."""
    maxima = [w[rng.integers(0, w.size, w.size // 10)].max() for _ in range(50)]
    return float(w.mean() / np.median(maxima))


def _row(p: np.ndarray, w: np.ndarray, seed: int) -> dict[str, Any]:
    """Cut pass rates, ε and rsd of weights w at momenta p (n, 4, 4)."""
    pt_ok = np.all(pt(p) > PT_MIN, axis=1)
    dr_ok = np.ones(len(p), bool)
    for i, j in itertools.combinations(range(4), 2):
        dr_ok &= delta_r(p[:, i], p[:, j]) > DR_MIN
    top = np.argsort(w)[-200:]
    soft = np.argmin(p[top, :, 0], axis=1)
    return {
        "pass": float(np.mean(w > 0)),
        "pt_pass": float(pt_ok.mean()),
        "dr_pass": float(dr_ok.mean()),
        "energy_pass": float(np.mean(np.all(p[..., 0] > PT_MIN, axis=1))),
        "eps_median_max": _eps_median_max(w, np.random.default_rng(seed)),
        "rsd": float(w.std() / w.mean()),
        "mean": float(w.mean()),
        "top200_softest_is_min_pt": float(np.mean(soft == np.argmin(pt(p[top]), axis=1))),
    }


def raw_row(variant: dict[str, Any], seed: int) -> dict[str, Any]:
    """The untrained 12-channel mixture: events from a uniformly chosen channel, weight f/q."""
    f = mli.processes.get("ee_4jet")
    chans = antenna_channels(SQRT_S, SCALE, PT_MIN, per_ring=4, **variant)
    rng = np.random.default_rng(seed)
    k_of = rng.integers(0, len(chans), N_EVAL)
    p = np.empty((N_EVAL, 4, 4))
    for k, ch in enumerate(chans):
        m = k_of == k
        p[m] = ch.momenta(rng.random((int(m.sum()), 8)))[0]
    u, _ = rambo_diet_inverse(p, SQRT_S)
    q = np.mean([np.exp(ch.inverse(u)[1]) for ch in chans], axis=0)
    return _row(p, f(u) / q, seed)


def trained_row(variant: dict[str, Any], seed: int, calls: int) -> dict[str, Any]:
    """Multi-channel VEGAS on the 12 channels after ``calls`` training calls."""
    f = mli.processes.get("ee_4jet")
    chans = antenna_channels(SQRT_S, SCALE, PT_MIN, per_ring=4, **variant)
    backend = MultiChannel(f.dim, chans, inner="vegas")
    integ = mli.Integrator(backend, rng=seed, progress=False)
    c0 = time.process_time()
    integ.train(f, calls)
    train_s = time.process_time() - c0
    u, q = backend.sample(N_EVAL, np.random.default_rng(seed + 100))
    p, _ = rambo_diet(u, 4, SQRT_S)
    return _row(p, f(u) / q, seed) | {"train_cpu_s": train_s}


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    lines = [
        "# ee_4jet antenna channels: "
        + " against ".join(dict.fromkeys(r["variant"] for r in doc["rows"])),
        "",
        f"Made by `{m['command']}` ({m['date']}). One process, same seeds and budgets for "
        "both variants. `raw`: the 12 channels at equal weights, untrained; `mc-vegas`: "
        f"multi-channel VEGAS after {doc['train_calls']:,} training calls; {N_EVAL:,} "
        "evaluation points each. pass = share of points with f ≠ 0; energy pass = every "
        "parton above p_T,min in energy (no orientation can pass the others).",
        "",
        "| seed | row | variant | pass | p_T pass | ΔR pass | energy pass | ε median-max | rsd |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        lines.append(
            f"| {r['seed']} | {r['row']} | {r['variant']} | {r['pass']:.3f} | "
            f"{r['pt_pass']:.3f} | {r['dr_pass']:.3f} | {r['energy_pass']:.3f} | "
            f"{100 * r['eps_median_max']:.2f} % | {r['rsd']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="3,5")
    parser.add_argument("--train-calls", type=float, default=2e5)
    parser.add_argument("--variants", default="flat,banded", help=f"of {', '.join(VARIANTS)}")
    parser.add_argument("--name", default="orientation", help="results/NAME.{json,md}")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for variant in args.variants.split(","):
            raw = raw_row(VARIANTS[variant], seed)
            rows.append({"seed": seed, "row": "raw", "variant": variant} | raw)
            trained = trained_row(VARIANTS[variant], seed, int(args.train_calls))
            rows.append({"seed": seed, "row": "mc-vegas", "variant": variant} | trained)
            print(json.dumps(rows[-2:]), flush=True)
    doc = {
        "machine": machine_info(argv, "bench_orientation.py"),
        "train_calls": int(args.train_calls),
        "rows": rows,
    }
    (RESULTS / f"{args.name}.json").write_text(json.dumps(doc, indent=2) + "\n")
    (RESULTS / f"{args.name}.md").write_text(markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
