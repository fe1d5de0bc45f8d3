"""The ``mlintegrate`` command's arguments: the parser, its value types, one-line errors."""

from __future__ import annotations

import argparse
import math
from typing import NoReturn

from . import __version__
from . import backends as _backends

__all__ = ["DEFAULT_TRAIN_CALLS", "build_parser"]

DEFAULT_TRAIN_CALLS = 200_000


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (the usage block is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _count(text: str, minimum: int) -> int:
    """An integer count from '200000', '2e5' or '0'; at least ``minimum``."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value == int(value) and value >= minimum):
        raise argparse.ArgumentTypeError(f"expected an integer ≥ {minimum}, got {text!r}")
    return int(value)


def _positive(text: str) -> int:
    return _count(text, 1)


def _non_negative(text: str) -> int:
    return _count(text, 0)


def _backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend", default=None, help=f"one of {', '.join(_backends.names())} (default vegas)"
    )


def _force_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--force", action="store_true", help=f"overwrite {what} if it exists")


def _calls_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--calls",
        type=_positive,
        default=200_000,
        metavar="N",
        help="integrand calls for the final estimate (fresh points)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mlintegrate",
        description="Integrate by importance sampling with VEGAS and learned proposals.",
    )
    parser.add_argument("--version", action="version", version=f"mlintegrate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the built-in integrands and the backends")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("name", help="built-in integrand (see `mlintegrate list`)")
    common.add_argument("--dim", type=_positive, default=None, help="dimension (default: its own)")
    common.add_argument(
        "--train-calls",
        type=_non_negative,
        default=None,
        metavar="N",
        help=f"training calls (default {DEFAULT_TRAIN_CALLS}; 0 with --load: a loaded "
        "proposal is used as it is unless this is given)",
    )
    common.add_argument(
        "--seed",
        type=_non_negative,
        default=None,
        help="random seed of the whole run (default 0; with --load: continue the saved one)",
    )
    common.add_argument(
        "--workers",
        type=_positive,
        default=None,
        metavar="N",
        help="evaluate the integrand in N local processes (same numbers as serial)",
    )
    common.add_argument(
        "--dask",
        default=None,
        metavar="ADDRESS",
        help="evaluate the integrand on the Dask cluster of this scheduler (tcp://host:8786)",
    )
    common.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a backend setting, e.g. flow.training.loss=kl or vegas.ninc=512 (repeatable)",
    )
    common.add_argument(
        "--phase-space",
        default=None,
        metavar="MAP",
        help="processes: auto (default: the process's best map), diet or rambo; ee_qqg also "
        "exact (= auto), dalitz+axis, dalitz+me, dalitz",
    )

    t = sub.add_parser("train", parents=[common], help="train a proposal and save it")
    _backend_option(t)
    t.add_argument("--save", metavar="FILE", required=True, help="the trained proposal (.npz)")
    t.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="saved after every batch (atomic); the same command after a kill resumes from it "
        "to the numbers of an uninterrupted run",
    )
    _force_option(t, "the --save file")

    p = sub.add_parser("integrate", parents=[common], help="integrate with one backend")
    _calls_option(p)
    _backend_option(p)
    p.add_argument(
        "--iterations",
        type=_positive,
        default=5,
        help="batches the evaluation is split into for χ²/dof (default 5)",
    )
    p.add_argument("--json", metavar="FILE", help="write the result record as JSON")
    p.add_argument("--save", metavar="FILE", help="save the trained proposal (.npz)")
    p.add_argument("--load", metavar="FILE", help="start from a saved proposal")
    _force_option(p, "the --json and --save files")

    g = sub.add_parser(
        "generate", parents=[common], help="unweighted events to LHE, HepMC3, LHEH5 or npz"
    )
    g.add_argument("--events", type=_positive, required=True, metavar="N")
    g.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help=".lhe, .lhe.gz, .hepmc (HepMC3), .h5/.hdf5 (LHEH5) or .npz",
    )
    g.add_argument(
        "--lhe-weights",
        choices=("auto", "unit", "signed", "pb"),
        default="auto",
        help="LHE weights: auto (IDWTUP 3 if all events have unit weight, else -4 with "
        "XWGTUP in pb), pb (-4), unit (3, weights flattened), signed (-3, ±1)",
    )
    _backend_option(g)
    g.add_argument("--load", metavar="FILE", help="use a saved proposal")
    g.add_argument(
        "--pilot-calls",
        type=_positive,
        default=100_000,
        metavar="N",
        help="fresh points that fix w_max before unweighting (default 1e5)",
    )
    # generate's calls follow from --events and the efficiency: --calls is refused by name
    g.add_argument("--calls", default=None, help=argparse.SUPPRESS)
    _force_option(g, "the --out file")

    c = sub.add_parser("compare", parents=[common], help="compare backends side by side")
    _calls_option(c)
    c.add_argument(
        "--backends",
        default=None,
        help="comma-separated list (default: all that apply: multichannel only where the "
        "integrand declares channels)",
    )
    c.add_argument(
        "--out",
        default="mlintegrate-compare",
        metavar="DIR",
        help="folder for results.json, results.md and the plots (its parent must exist)",
    )
    c.add_argument(
        "--events",
        type=_non_negative,
        default=5000,
        metavar="N",
        help="unweighted events per backend for the kinematics plot (processes; 0: none)",
    )
    c.add_argument(
        "--no-reference", action="store_true", help="skip the vegas+ (stratified) reference row"
    )
    _force_option(c, "the files in a --out folder that is not empty")
    return parser
