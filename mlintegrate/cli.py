"""The ``mlintegrate`` command: list, train, integrate, generate, compare.

A user's mistake (bad option, unreadable or foreign file, an output that exists, a request
that cannot fit in memory) ends in one line on stderr and exit status ≠ 0; anything else
is a bug and keeps its traceback. Outputs are never overwritten without ``--force``, and
every check runs before any work is done. The parser lives in ``cli_args``, the terminal
table in ``cli_output``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from . import backends as _backends
from . import memory
from .cli_args import DEFAULT_TRAIN_CALLS, build_parser
from .config import parse_assignment
from .errors import ConfigError, MLIntegrateError

if TYPE_CHECKING:
    from .integrator import Integrator

# processes (numba), the integrator and the report (scipy, matplotlib) load in the commands
# that use them, so --help and --version start in a fraction of a second

__all__ = ["build_parser", "main"]


def _output_file(
    parser: argparse.ArgumentParser, option: str, path: str | None, force: bool
) -> None:
    """Fail before the run, not after it, when an output file cannot or must not be written."""
    if path is None:
        return
    target = Path(path)
    parent = target.resolve().parent
    if not parent.is_dir():
        parser.error(f"{option} {path}: folder {parent} does not exist; create it first")
    if target.is_dir():
        parser.error(f"{option} {path} is a folder; give a file name")
    if not os.access(parent, os.W_OK | os.X_OK):
        parser.error(f"{option} {path}: folder {parent} is not writable; choose another")
    if target.exists() and not force:
        parser.error(f"{option} {path} exists; pass --force to overwrite it, or choose another")


def _output_dir(parser: argparse.ArgumentParser, option: str, path: str, force: bool) -> None:
    """A folder to write into: its parent must exist; one with files in it needs --force."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        parser.error(f"{option} {path} is a file; give a folder")
    parent = target.resolve().parent
    if not parent.is_dir():
        parser.error(
            f"{option} {path}: folder {parent} does not exist; only the last component "
            "is created: create the parent first"
        )
    if not os.access(target if target.is_dir() else parent, os.W_OK | os.X_OK):
        parser.error(f"{option} {path}: not writable; choose another folder")
    if target.is_dir() and any(target.iterdir()) and not force:
        parser.error(
            f"{option} {path} exists and is not empty; pass --force to overwrite the "
            "report files in it, or choose a new folder"
        )


def _distinct(parser: argparse.ArgumentParser, **paths: str | None) -> None:
    given = {opt: Path(p).resolve() for opt, p in paths.items() if p is not None}
    seen: dict[Path, str] = {}
    for opt, resolved in given.items():
        if resolved in seen:
            parser.error(f"{seen[resolved]} and {opt} name the same file {resolved}")
        seen[resolved] = opt


def _pilot_memory(f, pilot_calls: int) -> None:
    """The pilot is evaluated at once: u, q, f, w, momenta for a process (8 bytes each)."""
    n_particles = len(getattr(f, "incoming", ())) + getattr(f, "n_out", 0)
    memory.require(
        "--pilot-calls",
        pilot_calls,
        8 * (f.dim + 6 + 4 * n_particles),
        "the pilot's points, evaluated at once",
        "use fewer pilot calls (1e5 to 1e6 fix w_max well)",
    )


def _integrand(parser: argparse.ArgumentParser, args: argparse.Namespace):
    from . import processes

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
    except ValueError as exc:  # the factories' own checks of dim and options
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


def _backends_of(
    parser: argparse.ArgumentParser, names: list[str], dim: int, sets: list[str], integrand=None
):
    """The named backends, each with the settings --set gives it (and the integrand's channels
    for a backend that needs them)."""
    configs = _settings(parser, names, sets)
    return [
        _backends.get(
            n,
            dim=dim,
            **({"config": configs[n]} if n in configs else {}),
            **_backends.with_channels(n, integrand),
        )
        for n in names
    ]


def _integrator(parser: argparse.ArgumentParser, args: argparse.Namespace, f) -> Integrator:
    """--load FILE (used as it is: no training unless --train-calls), else a new backend.

    The loaded proposal is checked against the integrand (its fingerprint) when first used.
    """
    from .integrator import Integrator

    if args.load:
        if args.set:
            parser.error(
                f"--set {args.set[0]} with --load {args.load}: a saved proposal keeps its "
                "settings; drop --set, or train a new one without --load"
            )
        if args.train_calls is None:
            args.train_calls = 0
        # without --seed the saved random-number state continues where it stopped
        integ = Integrator.load(args.load, rng=args.seed)
        if args.backend is not None and args.backend != integ.backend.name:
            parser.error(
                f"--backend {args.backend} but --load {args.load} holds a "
                f"{integ.backend.name} proposal; drop --backend or load another file"
            )
        if integ.dim != f.dim:
            parser.error(f"--load: the saved proposal has dim {integ.dim}, the integrand {f.dim}")
        return integ
    if args.train_calls is None:
        args.train_calls = DEFAULT_TRAIN_CALLS
    backend = _backend_names(parser, args.backend or "vegas")
    return Integrator(_backends_of(parser, backend, f.dim, args.set, f)[0], rng=_seed(args))


def _executor(parser: argparse.ArgumentParser, args: argparse.Namespace) -> AbstractContextManager:
    """The executor of --workers N / --dask ADDRESS (None: serial), shut down at the end."""
    from .parallel import open_executor

    if args.workers is not None and args.dask is not None:
        parser.error("--workers and --dask exclude each other (a Dask cluster has its own workers)")
    if args.command == "compare" and (args.workers is not None or args.dask is not None):
        parser.error("--workers and --dask apply to integrate and generate; compare runs serially")
    return open_executor(args.workers, args.dask)


def _cmd_list(args: argparse.Namespace) -> int:
    from . import processes

    print("integrands and processes (mlintegrate integrate NAME / compare NAME):")
    for name, text in processes.describe().items():
        print(f"  {name:12s} {text}")
    print(f"backends: {', '.join(_backends.names())}")
    return 0


def _cmd_integrate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    f = _integrand(parser, args)
    _output_file(parser, "--json", args.json, args.force)
    _output_file(parser, "--save", args.save, args.force)
    _distinct(parser, **{"--json": args.json, "--save": args.save, "--load": args.load})
    memory.require_weights(args.calls, "--calls")
    integ = _integrator(parser, args, f)
    integ.executor = args.executor
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


def _cmd_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    f = _integrand(parser, args)
    _output_file(parser, "--save", args.save, args.force)
    _output_file(parser, "--checkpoint", args.checkpoint, force=True)  # an existing one resumes
    _distinct(parser, **{"--save": args.save, "--checkpoint": args.checkpoint})
    args.load = None
    integ = _integrator(parser, args, f)
    integ.executor = args.executor
    if args.train_calls == 0:
        parser.error("--train-calls 0: nothing to train; give the training calls, e.g. 200000")
    history = integ.train(f, calls=args.train_calls, checkpoint=args.checkpoint)
    integ.save(args.save)
    last = history.iterations[-1]
    print(
        f"trained {integ.backend.name} on {f.name} (d={f.dim}): {history.calls} calls in "
        f"{len(history.iterations)} batches, {history.time_s:.1f} s; last batch rsd "
        f"{last.rsd:.3g}, estimate {last.estimate.mean:.6g} ± {last.estimate.sdev:.2g}"
    )
    print(f"wrote {args.save} (use it with: mlintegrate integrate ... --load {args.save})")
    return 0


def _seed(args: argparse.Namespace) -> int:
    return 0 if args.seed is None else args.seed


def _cmd_generate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .events import sigterm_as_interrupt
    from .io.writers import check_event_output, open_event_writer

    f = _integrand(parser, args)
    if args.calls is not None:
        parser.error(
            f"generate takes no --calls ({args.calls}): its calls follow from --events and the "
            "efficiency; --pilot-calls sets the pilot, --train-calls the training"
        )
    _output_file(parser, "--out", args.out, args.force)
    _pilot_memory(f, args.pilot_calls)
    try:
        check_event_output(args.out, f, args.lhe_weights)
    except ConfigError as exc:
        parser.error(f"--out {args.out}: {exc}")
    integ = _integrator(parser, args, f)
    integ.executor = args.executor
    meta = {
        "generator": "mlintegrate",
        "process": f.name,
        "backend": integ.backend.name,
        "seed": "continued from --load" if args.load and args.seed is None else _seed(args),
        "calls_train": integ.history.calls + args.train_calls,
        "requested": args.events,
    }
    # the target is replaced now (status = running), so a stale file never passes for this run
    writer = open_event_writer(args.out, f, meta, lhe_weights=args.lhe_weights)
    started = False

    def warn(message: str) -> None:
        print(f"warning: {message}", file=sys.stderr)

    try:
        with sigterm_as_interrupt():
            if args.train_calls > 0:
                integ.train(f, calls=args.train_calls)
            started = True
            ev = integ.generate(
                f,
                args.events,
                pilot_calls=args.pilot_calls,
                keep=False,
                writer=writer,
                on_warning=warn,
            )
    except KeyboardInterrupt:
        print(f"interrupted: {_what_exists(writer, started, 'interrupted')}", file=sys.stderr)
        return 130
    except BaseException as exc:
        reason = f"failed: {type(exc).__name__}: {exc}"
        print(f"mlintegrate: {_what_exists(writer, started, reason)}", file=sys.stderr)
        raise
    unit = getattr(f, "unit", "")
    print(f"{ev.events_made} events of {f.name} with {integ.backend.name} -> {args.out}")
    print(f"cross section  {ev.cross_section:.8g} ± {ev.error:.2g} {unit} ({ev.calls} calls)")
    print(f"w_max          {ev.w_max:.6g} (reduced: overweights carry 1e-3 of σ)")
    print(
        f"efficiency     {ev.efficiency:.3%} accepted per call (hit-or-miss over all "
        f"{ev.calls} points evaluated, pilot included)"
    )
    print(
        f"overweights    {ev.overweight_fraction:.2%} of the events (|w|/w_max > 1), carrying "
        f"{ev.overweight_sigma_share:.2%} of σ"
    )
    flattened = getattr(writer, "flattened", 0)
    if flattened:
        warn(
            f"--lhe-weights {args.lhe_weights}: {flattened} events with weights ≠ 1 were "
            "written with |XWGTUP| = 1 (their weights are lost); use --lhe-weights auto or pb"
        )
    print(f"time           {ev.time_s:.2f} s, {ev.events_made / ev.time_s:.0f} events/s")
    return 0


def _what_exists(writer, started: bool, status: str) -> str:
    """A true sentence about the event file after a run stopped early.

    Stopped before the events began (training): the writer is closed here with ``status``.
    Stopped while the end of the run was being written (a second Ctrl-C): nothing is retried.
    """
    from .io.writers import RunState

    if not started and not writer.finalized:
        try:
            writer.finalize(RunState(0.0, 0.0, 0.0, 0), status)
        except BaseException:  # noqa: BLE001 - another interrupt: report what is there
            pass
    if writer.finalized:
        if writer.n_events == 0:
            return f"{writer.path} holds no events (its header says status = {status})"
        return (
            f"{writer.path} holds the {writer.n_events} events of the completed chunks and σ "
            f"over the calls made up to them (status = {status})"
        )
    return (
        f"{writer.path} holds the {writer.n_events} events of the completed chunks, but the end "
        "of the run was not written: its header says status = running, with σ (and weights) "
        "as of the last completed chunk"
    )


def _cmd_compare(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .cli_output import print_table
    from .report import compare, write_report

    f = _integrand(parser, args)
    if args.backends is None:  # all that apply: a backend that needs channels only with them
        has_channels = bool(callable(getattr(f, "channels", None)) and f.channels())
        args.backends = ",".join(
            n for n in _backends.names() if has_channels or not _backends.needs_channels(n)
        )
    names = _backend_names(parser, args.backends)
    _output_dir(parser, "--out", args.out, args.force)
    # every backend's weights are kept for the plots, and a truth sample of --calls points
    memory.require(
        "--calls",
        args.calls,
        8 * (len(names) + f.dim + 2),
        f"the weights of {len(names)} backends and a truth sample",
        "use fewer calls",
    )
    train_calls = DEFAULT_TRAIN_CALLS if args.train_calls is None else args.train_calls
    backends = _backends_of(parser, names, f.dim, args.set, f)
    comparison = compare(
        f,
        f.dim,
        backends,
        calls_train=train_calls,
        calls=args.calls,
        seed=_seed(args),
        reference=not args.no_reference,
        events=args.events,
    )
    print_table(comparison.results)
    Path(args.out).mkdir(exist_ok=True)  # the last component only: the parent was checked
    paths = write_report(comparison, args.out)
    for kind, path in paths.items():
        print(f"wrote {kind}: {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            return _cmd_list(args)
        with _executor(parser, args) as args.executor:
            if args.command == "train":
                return _cmd_train(args, parser)
            if args.command == "integrate":
                return _cmd_integrate(args, parser)
            if args.command == "generate":
                return _cmd_generate(args, parser)
            return _cmd_compare(args, parser)
    except MLIntegrateError as exc:
        print(f"mlintegrate: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file that cannot be read or written
        print(f"mlintegrate: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mlintegrate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
