"""The ``mlintegrate`` command: list, integrate, compare."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from . import backends as _backends
from . import processes
from .config import parse_assignment
from .errors import ConfigError
from .integrand import IntegrandError
from .integrator import Integrator
from .io.checkpoint import CheckpointError
from .report import compare, table_cells, write_report

__all__ = ["main"]


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


def _writable_file(parser: argparse.ArgumentParser, option: str, path: str | None) -> None:
    """Fail before the run, not after it, when an output file cannot be written."""
    if path is None:
        return
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        parser.error(f"{option} {path}: folder {parent} does not exist; create it first")
    if Path(path).is_dir():
        parser.error(f"{option} {path} is a folder; give a file name")


def _integrand(parser: argparse.ArgumentParser, args: argparse.Namespace):
    name = args.name
    if name not in processes.names():
        parser.error(f"unknown integrand {name!r}; valid names: {', '.join(processes.names())}")
    options = {}
    if args.phase_space is not None:
        if name not in processes.process_names():
            parser.error(f"--phase-space applies to physics processes, not to {name!r}")
        options["phase_space"] = args.phase_space
    try:
        return processes.get(name, dim=args.dim, **options)
    except ValueError as exc:
        parser.error(str(exc))


def _backend_names(parser: argparse.ArgumentParser, text: str) -> list[str]:
    names = [b.strip() for b in text.split(",") if b.strip()]
    bad = [b for b in names if b not in _backends.names()]
    if bad or not names:
        parser.error(
            f"unknown backend(s) {', '.join(bad) or repr(text)}; valid backends: "
            f"{', '.join(_backends.names())}"
        )
    return names


def _settings(parser: argparse.ArgumentParser, names: list[str], sets: list[str]) -> dict:
    """--set BACKEND.PATH=VALUE entries → {backend name: its config dataclass}."""
    configs: dict = {}
    for text in sets or []:
        try:
            key, value = parse_assignment(text)
            name, _, path = key.partition(".")
            if name not in names:
                raise ConfigError(
                    f"--set {text!r}: {name!r} is not one of the backends of this run "
                    f"({', '.join(names)}); write BACKEND.SETTING=VALUE, e.g. "
                    "flow.training.loss=kl"
                )
            cls = _backends.config_class(name)
            if cls is None or not path:
                raise ConfigError(f"--set {text!r}: backend {name!r} has no setting {path!r}")
            configs[name] = configs.get(name, cls()).with_text(path, value)
        except ConfigError as exc:
            parser.error(str(exc))
    return configs


def _make_backend(parser: argparse.ArgumentParser, name: str, dim: int, sets: list[str]):
    config = _settings(parser, [name], sets).get(name)
    return _backends.get(name, dim=dim, **({} if config is None else {"config": config}))


def _cmd_list(args: argparse.Namespace) -> int:
    print("integrands and processes (mlintegrate integrate NAME / compare NAME):")
    for name, text in processes.describe().items():
        print(f"  {name:12s} {text}")
    print(f"backends: {', '.join(_backends.names())}")
    return 0


def _cmd_integrate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    f = _integrand(parser, args)
    _writable_file(parser, "--json", args.json)
    _writable_file(parser, "--save", args.save)
    if args.load:
        # without --seed the saved random-number state continues where it stopped
        integ = Integrator.load(args.load, rng=args.seed)
        if args.backend is not None and args.backend != integ.backend.name:
            parser.error(
                f"--backend {args.backend} but --load {args.load} holds a "
                f"{integ.backend.name} proposal; drop --backend or load another file"
            )
        if integ.dim != f.dim:
            parser.error(f"--load: the saved proposal has dim {integ.dim}, the integrand {f.dim}")
    else:
        backend = args.backend or "vegas"
        _backend_names(parser, backend)
        integ = Integrator(_make_backend(parser, backend, f.dim, args.set), rng=_seed(args))
    if args.train_calls > 0:
        integ.train(f, calls=args.train_calls)
    if args.save:
        integ.save(args.save)
    res = integ.integrate(f, calls=args.calls, iterations=args.iterations)
    print(res.summary())
    if args.json:
        record = {**res.to_dict(), "config": integ.backend.spec()}
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


def _seed(args: argparse.Namespace) -> int:
    return 0 if args.seed is None else args.seed


def _cmd_generate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    f = _integrand(parser, args)
    _writable_file(parser, "--out", args.out)
    if not str(args.out).endswith((".lhe", ".lhe.gz", ".npz")):
        parser.error(f"--out {args.out}: use a name ending in .lhe, .lhe.gz or .npz")
    if str(args.out).endswith((".lhe", ".lhe.gz")) and getattr(f, "particles", None) is None:
        parser.error(f"{args.name} is not a physics process: LHE needs particles; use .npz")
    if args.load:
        integ = Integrator.load(args.load, rng=args.seed)
    else:
        backend = args.backend or "vegas"
        _backend_names(parser, backend)
        integ = Integrator(_make_backend(parser, backend, f.dim, args.set), rng=_seed(args))
    if args.train_calls > 0:
        integ.train(f, calls=args.train_calls)
    try:
        ev = integ.generate(
            f,
            args.events,
            out=args.out,
            pilot_calls=args.pilot_calls,
            keep=False,
            metadata={"seed": _seed(args)},
        )
    except KeyboardInterrupt:
        print(f"interrupted: {args.out} holds the events written so far", file=sys.stderr)
        return 130
    unit = getattr(f, "unit", "")
    print(f"{args.events} events of {f.name} with {integ.backend.name} -> {args.out}")
    print(f"cross section  {ev.cross_section:.8g} ± {ev.error:.2g} {unit} ({ev.calls} calls)")
    print(f"w_max          {ev.w_max:.6g} (reduced: overweights carry 1e-3 of σ)")
    print(
        f"efficiency     {ev.efficiency:.3%} accepted per call (hit-or-miss over all "
        f"{ev.calls} points evaluated, pilot included)"
    )
    print(f"time           {ev.time_s:.2f} s, {ev.n_requested / ev.time_s:.0f} events/s")
    return 0


def _print_table(results) -> None:
    header, rows = table_cells(results)
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is a dependency
        print("\t".join(header))
        for cells in rows:
            print("\t".join(cells))
        return
    table = Table(*header, title=f"{results[0].name} (d={results[0].dim})")
    for cells in rows:
        table.add_row(*cells)
    Console(width=max(160, len(" ".join(header)) + 40)).print(table)


def _cmd_compare(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    f = _integrand(parser, args)
    names = _backend_names(parser, args.backends)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        parser.error(f"--out {args.out} is a file; give a folder")
    configs = _settings(parser, names, args.set)
    backends = [
        _backends.get(n, dim=f.dim, **({"config": configs[n]} if n in configs else {}))
        for n in names
    ]
    comparison = compare(
        f,
        f.dim,
        backends,
        calls_train=args.train_calls,
        calls=args.calls,
        seed=_seed(args),
        reference=not args.no_reference,
        events=args.events,
    )
    _print_table(comparison.results)
    paths = write_report(comparison, args.out)
    for kind, path in paths.items():
        print(f"wrote {kind}: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlintegrate",
        description="Integrate by importance sampling with VEGAS and learned proposals.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the built-in integrands and the backends")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("name", help="built-in integrand (see `mlintegrate list`)")
    common.add_argument("--dim", type=_positive, default=None, help="dimension (default: its own)")
    common.add_argument("--train-calls", type=_non_negative, default=200_000, metavar="N")
    common.add_argument(
        "--calls",
        type=_positive,
        default=200_000,
        metavar="N",
        help="integrand calls for the final estimate (fresh points)",
    )
    common.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
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

    p = sub.add_parser("integrate", parents=[common], help="integrate with one backend")
    p.add_argument(
        "--backend", default=None, help=f"one of {', '.join(_backends.names())} (default vegas)"
    )
    p.add_argument(
        "--iterations",
        type=_positive,
        default=5,
        help="batches the evaluation is split into for χ²/dof (default 5)",
    )
    p.add_argument("--json", metavar="FILE", help="write the result record as JSON")
    p.add_argument("--save", metavar="FILE", help="save the trained proposal (.npz)")
    p.add_argument("--load", metavar="FILE", help="start from a saved proposal")

    g = sub.add_parser("generate", parents=[common], help="unweighted events to LHE or npz")
    g.add_argument("--events", type=_positive, required=True, metavar="N")
    g.add_argument("--out", required=True, metavar="FILE", help=".lhe, .lhe.gz or .npz")
    g.add_argument(
        "--backend", default=None, help=f"one of {', '.join(_backends.names())} (default vegas)"
    )
    g.add_argument("--load", metavar="FILE", help="use a saved proposal")
    g.add_argument(
        "--pilot-calls",
        type=_positive,
        default=100_000,
        metavar="N",
        help="fresh points that fix w_max before unweighting (default 1e5)",
    )

    c = sub.add_parser("compare", parents=[common], help="compare backends side by side")
    c.add_argument(
        "--backends",
        default=",".join(_backends.names()),
        help="comma-separated list (default: all)",
    )
    c.add_argument(
        "--out",
        default="mlintegrate-compare",
        metavar="DIR",
        help="folder for results.json, results.md and weights.png",
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            return _cmd_list(args)
        if args.command == "integrate":
            return _cmd_integrate(args, parser)
        if args.command == "generate":
            return _cmd_generate(args, parser)
        return _cmd_compare(args, parser)
    except (IntegrandError, CheckpointError, ValueError, OSError) as exc:
        print(f"mlintegrate: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mlintegrate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
