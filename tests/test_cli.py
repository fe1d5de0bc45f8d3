"""The ``mlintegrate`` command: integrate, compare, list, save/load and bad input.

Most cases call :func:`mlintegrate.cli.main` in-process (fast); a few run the installed
console script in a subprocess to check exit codes and that errors carry no traceback.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

import mlintegrate as mli
from mlintegrate.cli import main

BUDGET = ["--train-calls", "20000", "--calls", "20000"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

_NUMBER = {"type": "number"}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_EFFICIENCY = {
    "type": "object",
    "required": ["max", "median_max", "reduced"],
    "properties": {
        "max": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "median_max": {"type": "number", "exclusiveMinimum": 0},
        "reduced": {"type": "number", "exclusiveMinimum": 0},
    },
}

#: One record of ``--json`` / ``results.json``: the keys every consumer relies on.
RECORD_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": [
        "name",
        "backend",
        "dim",
        "integral",
        "error",
        "exact",
        "pull",
        "calls_train",
        "calls_eval",
        "chi2_dof",
        "Q",
        "efficiency",
        "w_max",
        "ess_fraction",
        "rsd",
        "time_s",
        "time_train_s",
        "time_per_unweighted_event_s",
    ],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "backend": {"type": "string", "minLength": 1},
        "dim": {"type": "integer", "minimum": 1},
        "integral": _NUMBER,
        "error": {"type": "number", "exclusiveMinimum": 0},
        "exact": _NUMBER_OR_NULL,
        "pull": _NUMBER_OR_NULL,
        "calls_train": {"type": "integer", "minimum": 0},
        "calls_eval": {"type": "integer", "minimum": 1},
        "chi2_dof": _NUMBER_OR_NULL,
        "Q": {"type": "number", "minimum": 0, "maximum": 1},
        "efficiency": {"oneOf": [_EFFICIENCY, {"type": "null"}]},
        "w_max": {"type": ["object", "null"]},
        "ess_fraction": {
            "oneOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": 1}, {"type": "null"}]
        },
        "rsd": {"type": "number", "minimum": 0},
        "time_s": {"type": "number", "minimum": 0},
        "time_train_s": {"type": "number", "minimum": 0},
        "time_per_unweighted_event_s": _NUMBER_OR_NULL,
    },
    # Only the stratified vegas+ reference has no efficiencies; every other row has them.
    "if": {"properties": {"backend": {"const": "vegas+"}}},
    "then": {"properties": {"efficiency": {"type": "null"}, "ess_fraction": {"type": "null"}}},
    "else": {
        "properties": {"efficiency": _EFFICIENCY, "ess_fraction": {"type": "number"}},
    },
}


# compare adds a learning curve and, for processes, a summary of the unweighted events
COMPARE_RECORD_SCHEMA: dict[str, Any] = {
    "allOf": [RECORD_SCHEMA],
    "required": ["learning_curve", "events", "unit"],
    "properties": {
        "unit": {"type": "string"},
        "learning_curve": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["calls", "rsd"],
                "properties": {
                    "calls": {"type": "integer", "minimum": 1},
                    "rsd": {"type": "number", "minimum": 0},
                },
            },
        },
        "events": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["n", "calls", "events_per_call", "overweight_fraction", "time_s"],
                    "properties": {
                        "n": {"type": "integer", "minimum": 1},
                        "calls": {"type": "integer", "minimum": 1},
                        "events_per_call": {"type": "number", "exclusiveMinimum": 0},
                        "overweight_fraction": {"type": "number", "minimum": 0, "maximum": 1},
                    },
                },
            ]
        },
    },
}


def _check_record(record: dict[str, Any]) -> None:
    """Schema-valid, every number finite, and the estimate within 5σ of the exact value."""
    jsonschema.validate(record, RECORD_SCHEMA)

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")
        elif isinstance(value, float):
            assert math.isfinite(value), f"{where} = {value} is not finite"

    walk(record, record["backend"])
    assert abs(record["integral"] - record["exact"]) < 5 * record["error"], record


def _run_json(tmp_path: Path, *args: str, name: str = "out.json") -> dict[str, Any]:
    out = tmp_path / name
    assert main(["integrate", *args, "--json", str(out)]) == 0
    return json.loads(out.read_text())


def _console_script() -> str:
    """The installed ``mlintegrate`` entry point next to this interpreter, else on PATH."""
    sibling = Path(sys.executable).parent / "mlintegrate"
    found = str(sibling) if sibling.exists() else shutil.which("mlintegrate")
    if found is None:
        pytest.skip("the mlintegrate console script is not installed")
    return found


# ------------------------------------------------------------------------------ integrate


def test_integrate_json_record(tmp_path, capsys):
    args = ["camel", "--dim", "4", "--backend", "vegas", *BUDGET, "--seed", "1"]
    rec = _run_json(tmp_path, *args)
    _check_record(rec)
    assert (rec["name"], rec["backend"], rec["dim"]) == ("camel", "vegas", 4)
    assert rec["calls_eval"] == 20000
    assert rec["calls_train"] == 20000
    assert rec["exact"] == pytest.approx(mli.functions.get("camel", dim=4).exact, rel=1e-15)
    assert rec["error"] < 0.05  # 20000 calls of a trained VEGAS map in d=4: rsd ~ 2.5
    assert rec["rsd"] == pytest.approx(rec["error"] * math.sqrt(20000) / abs(rec["integral"]))
    out = capsys.readouterr().out
    assert "camel (d=4) with vegas" in out and "wrote" in out


def test_integrate_seeded(tmp_path):
    args = ["camel", "--dim", "4", "--backend", "vegas", *BUDGET]
    a = _run_json(tmp_path, *args, "--seed", "1", name="a.json")
    b = _run_json(tmp_path, *args, "--seed", "1", name="b.json")
    c = _run_json(tmp_path, *args, "--seed", "2", name="c.json")
    assert a["integral"] == b["integral"] and a["error"] == b["error"]
    assert a["efficiency"] == b["efficiency"]
    assert c["integral"] != a["integral"]


def test_integrate_console_script(tmp_path):
    out = tmp_path / "cli.json"
    args = ["integrate", "camel", "--dim", "2", "--backend", "uniform", *BUDGET, "--seed", "3"]
    proc = subprocess.run(
        [_console_script(), *args, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(out.read_text())
    _check_record(rec)
    assert rec["backend"] == "uniform" and rec["calls_eval"] == 20000
    # the same run in-process gives the same numbers
    again = _run_json(tmp_path, *args[1:], name="inproc.json")
    assert again["integral"] == rec["integral"]


# ------------------------------------------------------------------------------ compare


# compare's default backends for an integrand without channels: all but multichannel
_APPLY_TO_CAMEL = [n for n in mli.backends.names() if not mli.backends.needs_channels(n)]


def _compare(tmp_path: Path, *extra: str) -> tuple[Path, list[dict[str, Any]]]:
    tmp_path.mkdir(parents=True, exist_ok=True)  # compare --out creates the last component only
    out = tmp_path / "cmp"
    argv = ["compare", "camel", "--dim", "2", *BUDGET, "--seed", "1", "--out", str(out)]
    assert main([*argv, *extra]) == 0
    return out, json.loads((out / "results.json").read_text())


def test_compare_writes_report(tmp_path, capsys):
    from matplotlib.image import imread

    out, records = _compare(tmp_path)
    assert isinstance(records, list)
    backends = [r["backend"] for r in records]
    assert backends == [*_APPLY_TO_CAMEL, "vegas+"]
    for rec in records:
        _check_record(rec)
        assert (rec["name"], rec["dim"]) == ("camel", 2)
        if rec["backend"] != "vegas+":
            assert rec["calls_eval"] == 20000 and rec["calls_train"] == 20000
        else:  # vegas' neval is a target: the calls actually made are reported
            assert 0.5 * 20000 < rec["calls_eval"] < 1.5 * 20000

    md = (out / "results.md").read_text()
    lines = md.splitlines()
    header = next(line for line in lines if line.startswith("| backend"))
    for column in ("rsd/VEGAS", "ε/VEGAS", "ε max", "ε median-max", "ε reduced"):
        assert column in header
    ncols = header.count("|")
    assert lines[lines.index(header) + 1].startswith("|---")
    for name in backends:
        row = next((line for line in lines if line.startswith(f"| {name} |")), None)
        assert row is not None, f"no row for {name} in results.md"
        assert row.count("|") == ncols
    vegas_row = next(line for line in lines if line.startswith("| vegas |"))
    cells = [c.strip() for c in vegas_row.strip("|").split("|")]
    titles = [c.strip() for c in header.strip("|").split("|")]
    assert float(cells[titles.index("rsd/VEGAS")]) == 1.0
    assert float(cells[titles.index("ε/VEGAS")]) == 1.0

    png = out / "weights.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    image = imread(png)
    assert image.ndim == 3 and image.shape[0] > 0 and image.shape[1] > 0

    printed = capsys.readouterr().out
    assert str(out / "results.json") in printed


def test_compare_backend_subset_and_no_reference(tmp_path):
    _, records = _compare(tmp_path / "a", "--backends", "vegas")
    assert [r["backend"] for r in records] == ["vegas", "vegas+"]
    _, records = _compare(tmp_path / "b", "--no-reference")
    assert [r["backend"] for r in records] == _APPLY_TO_CAMEL
    for rec in records:
        _check_record(rec)
        assert rec["efficiency"] is not None


# ------------------------------------------------------------------------------ bad input


def _usage_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("command", ["integrate", "compare"])
def test_unknown_integrand_lists_names(capsys, command):
    err = _usage_error(capsys, [command, "no_such_function", *BUDGET])
    assert "no_such_function" in err
    names = mli.functions.names()
    assert names
    for name in names:
        assert name in err


@pytest.mark.parametrize(
    "argv",
    [
        ["integrate", "camel", "--backend", "no_such_backend"],
        ["compare", "camel", "--backends", "vegas,no_such_backend"],
    ],
)
def test_unknown_backend_lists_backends(capsys, argv):
    err = _usage_error(capsys, [*argv, *BUDGET])
    assert "no_such_backend" in err
    for name in mli.backends.names():
        assert name in err


@pytest.mark.parametrize("value", ["0", "-5", "abc", "1.5"])
def test_bad_calls(capsys, value):
    err = _usage_error(capsys, ["integrate", "camel", "--train-calls", "0", "--calls", value])
    assert "--calls" in err and repr(value) in err


def test_bad_dim(capsys):
    err = _usage_error(capsys, ["integrate", "ring", "--dim", "3", *BUDGET])
    assert "dim=3" in err and "dim=2" in err


def test_phase_space_option(tmp_path, capsys):
    rec = _run_json(tmp_path, "ee_qqg", "--phase-space", "dalitz", "--backend", "uniform", *BUDGET)
    assert rec["cut_efficiency"] == 1.0  # the Dalitz map puts the cuts on the cube's faces
    assert abs(rec["pull"]) < 5
    err = _usage_error(capsys, ["integrate", "camel", "--phase-space", "dalitz", *BUDGET])
    assert "physics processes" in err and "'camel'" in err
    err = _usage_error(capsys, ["integrate", "ee_qqg", "--phase-space", "flat", *BUDGET])
    assert "'dalitz'" in err and "'flat'" in err


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in mli.functions.names():
        assert name in out
    for name in mli.backends.names():
        assert name in out


# ------------------------------------------------------------------------------ save / load


def test_save_then_load(tmp_path):
    ckpt = tmp_path / "vegas.npz"
    args = ["camel", "--dim", "4", "--backend", "vegas", *BUDGET, "--seed", "1"]
    trained = _run_json(tmp_path, *args, "--save", str(ckpt), name="trained.json")
    assert ckpt.is_file()

    load = ["camel", "--dim", "4", "--load", str(ckpt), "--train-calls", "0"]
    rec = _run_json(tmp_path, *load, "--calls", "20000", "--seed", "7", name="loaded.json")
    _check_record(rec)
    assert rec["backend"] == "vegas"
    assert rec["calls_train"] == trained["calls_train"] == 20000  # history came with the file
    # the CLI used exactly the saved proposal: the Python API on the same file agrees
    f = mli.functions.get("camel", dim=4)
    api = mli.Integrator.load(ckpt, rng=7, progress=False).integrate(f, calls=20000, iterations=5)
    assert rec["integral"] == api.mean and rec["error"] == api.sdev


def test_load_dim_mismatch(tmp_path, capsys):
    ckpt = tmp_path / "d2.npz"
    assert main(["integrate", "camel", "--dim", "2", *BUDGET, "--save", str(ckpt)]) == 0
    capsys.readouterr()
    err = _usage_error(
        capsys, ["integrate", "camel", "--dim", "4", "--load", str(ckpt), "--train-calls", "0"]
    )
    assert "--load" in err and "dim 2" in err


def _corrupt(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.npz"
    if kind == "garbage":
        path.write_bytes(b"this is not a checkpoint\n" * 10)
    elif kind == "truncated":
        good = tmp_path / "good.npz"
        assert main(["integrate", "camel", *BUDGET, "--save", str(good)]) == 0
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:  # a valid .npz that is not a checkpoint
        np.savez(path, grid=np.zeros(3))
    return path


@pytest.mark.parametrize("kind", ["garbage", "truncated", "foreign"])
def test_load_corrupt_file(tmp_path, capsys, kind):
    path = _corrupt(tmp_path, kind)
    capsys.readouterr()
    argv = ["integrate", "camel", "--load", str(path), "--train-calls", "0", "--calls", "1000"]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert str(path) in err
    assert "Traceback" not in err


def test_load_corrupt_file_console_script(tmp_path):
    path = _corrupt(tmp_path, "garbage")
    proc = subprocess.run(
        [_console_script(), "integrate", "camel", "--load", str(path), "--train-calls", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert str(path) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("mlintegrate: error:")


def test_load_missing_file(tmp_path, capsys):
    missing = tmp_path / "nope.npz"
    assert main(["integrate", "camel", "--load", str(missing), "--train-calls", "0"]) != 0
    err = capsys.readouterr().err
    assert str(missing) in err and "does not exist" in err


def test_compare_on_a_process_draws_learning_curves_and_kinematics(tmp_path):
    from matplotlib.image import imread

    out = tmp_path / "proc"
    argv = ["compare", "ee_qqg", "--train-calls", "20000", "--calls", "20000", "--events", "300"]
    assert main([*argv, "--seed", "2", "--out", str(out)]) == 0
    for name in ("weights.png", "learning_curves.png", "kinematics.png"):
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), name
        assert imread(out / name).size > 0
    records = json.loads((out / "results.json").read_text())
    for record in records:
        jsonschema.validate(record, COMPARE_RECORD_SCHEMA)
    vegas = next(r for r in records if r["backend"] == "vegas")
    assert vegas["unit"] == "pb"
    assert vegas["events"]["n"] == 300 and vegas["events"]["events_per_call"] > 0
    calls = [p["calls"] for p in vegas["learning_curve"]]
    assert calls == sorted(calls) and calls[-1] == 20000
