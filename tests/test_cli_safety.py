"""The command line never loses work and never shows a traceback for a user mistake.

Outputs are refused when they exist (unless --force), before any work is done; requests that
cannot fit in memory are refused with the memory they need; --load uses a proposal as it is;
the compare table fits the terminal. A few cases run ``python -m mlintegrate`` in a
subprocess to check the exit status and that stderr is one line without a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mlintegrate as mli
from mlintegrate.cli import main

FAST = ["--train-calls", "2000", "--calls", "2000"]
NEVER_ENDS = ["--train-calls", "1e9"]  # a check that ran after training would hang the test


def _usage_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mlintegrate"), err
    return err


def _error(capsys, argv: list[str]) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mlintegrate: error:"), err
    return err


@pytest.fixture
def ckpt(tmp_path) -> Path:
    """A VEGAS proposal for camel (d=2) trained on 2000 calls."""
    path = tmp_path / "vegas.npz"
    assert main(["integrate", "camel", "--dim", "2", *FAST, "--save", str(path)]) == 0
    return path


# ------------------------------------------------------------------ outputs are never overwritten


@pytest.mark.parametrize("option", ["--json", "--save"])
def test_existing_integrate_output_needs_force(tmp_path, capsys, option):
    target = tmp_path / "exists.out"
    target.write_text("precious\n")
    argv = ["integrate", "camel", *NEVER_ENDS, option, str(target)]
    err = _usage_error(capsys, argv)
    assert str(target) in err and "--force" in err
    assert target.read_text() == "precious\n"
    fast = ["integrate", "camel", "--dim", "2", *FAST, option, str(target), "--force"]
    assert main(fast) == 0
    assert target.read_bytes() != b"precious\n"


def test_existing_generate_output_needs_force(tmp_path, capsys):
    target = tmp_path / "ev.npz"
    target.write_bytes(b"old events")
    argv = ["generate", "ee_qqg", "--events", "10", *NEVER_ENDS, "--out", str(target)]
    err = _usage_error(capsys, argv)
    assert str(target) in err and "--force" in err
    assert target.read_bytes() == b"old events"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_folder_is_refused_before_the_run(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    err = _usage_error(capsys, ["integrate", "camel", *NEVER_ENDS, "--json", str(locked / "r")])
    assert str(locked) in err and "not writable" in err


def test_same_file_for_two_outputs(tmp_path, capsys):
    same = str(tmp_path / "x.npz")
    err = _usage_error(capsys, ["integrate", "camel", *NEVER_ENDS, "--json", same, "--save", same])
    assert "--json and --save name the same file" in err


def test_compare_out_folder(tmp_path, capsys):
    base = ["compare", "camel", "--dim", "2", "--backends", "uniform", *FAST, "--no-reference"]
    missing = tmp_path / "no" / "such"
    err = _usage_error(capsys, [*base, "--out", str(missing)])
    assert str(tmp_path / "no") in err and "does not exist" in err
    assert not (tmp_path / "no").exists()  # nothing created

    out = tmp_path / "report"
    assert main([*base, "--out", str(out)]) == 0  # the last component is created
    capsys.readouterr()
    first = (out / "results.json").read_text()
    err = _usage_error(capsys, ["compare", "camel", *NEVER_ENDS, "--out", str(out)])
    assert str(out) in err and "--force" in err
    assert (out / "results.json").read_text() == first
    assert main([*base, "--seed", "5", "--out", str(out), "--force"]) == 0
    assert (out / "results.json").read_text() != first

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*base, "--out", str(empty)]) == 0  # an empty folder holds nothing to lose


def test_outputs_get_the_umask_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        js, save = tmp_path / "r.json", tmp_path / "p.npz"
        assert main(["integrate", "camel", *FAST, "--json", str(js), "--save", str(save)]) == 0
    finally:
        os.umask(old)
    assert js.stat().st_mode & 0o777 == 0o640
    assert save.stat().st_mode & 0o777 == 0o640


# ------------------------------------------------------------------ huge budgets


def test_huge_calls_refused_with_the_memory_needed(capsys):
    err = _error(capsys, ["integrate", "camel", *NEVER_ENDS, "--calls", "1e12"])
    assert "--calls=1e+12 needs 7.28 TiB" in err and "at most" in err


def test_huge_pilot_refused_with_the_memory_needed(tmp_path, capsys):
    argv = ["generate", "ee_qqg", "--events", "10", *NEVER_ENDS, "--pilot-calls", "1e10"]
    err = _error(capsys, [*argv, "--out", str(tmp_path / "ev.npz")])
    assert "--pilot-calls=1e+10 needs" in err and "pilot" in err
    assert not (tmp_path / "ev.npz").exists()


# ------------------------------------------------------------------ --load, --backend, --calls


def test_load_uses_the_proposal_as_it_is(tmp_path, ckpt):
    out = tmp_path / "loaded.json"
    argv = ["integrate", "camel", "--dim", "2", "--load", str(ckpt), "--calls", "2000"]
    assert main([*argv, "--json", str(out)]) == 0
    assert json.loads(out.read_text())["calls_train"] == 2000  # the saved training, no more
    out2 = tmp_path / "more.json"
    assert main([*argv, "--train-calls", "3000", "--json", str(out2)]) == 0
    assert json.loads(out2.read_text())["calls_train"] == 5000  # trains more when asked


@pytest.mark.parametrize("command", ["integrate", "generate"])
def test_load_with_another_backend_is_refused(tmp_path, capsys, ckpt, command):
    argv = [command, "camel", "--dim", "2", "--load", str(ckpt), "--backend", "flow"]
    if command == "generate":
        argv += ["--events", "10", "--out", str(tmp_path / "ev.npz")]
    err = _usage_error(capsys, argv)
    assert "--backend flow" in err and "vegas" in err and str(ckpt) in err


def test_load_for_another_integrand_is_refused(capsys, ckpt):
    err = _error(capsys, ["integrate", "ring", "--dim", "2", "--load", str(ckpt)])
    assert "trained on camel" in err and str(ckpt) in err


def test_generate_refuses_calls(tmp_path, capsys):
    argv = ["generate", "ee_qqg", "--events", "10", "--calls", "5000"]
    err = _usage_error(capsys, [*argv, "--out", str(tmp_path / "ev.npz")])
    assert "--calls" in err and "--events" in err and "--pilot-calls" in err


# ------------------------------------------------------------------ entry points, table width


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"mlintegrate {mli.__version__}"


def test_compare_table_fits_a_100_column_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    out = tmp_path / "cmp"
    argv = ["compare", "camel", "--dim", "2", *FAST, "--events", "0", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out.splitlines()
    table = [line for line in printed if not line.startswith("wrote")]  # paths may be long
    assert len(table) > 6 and max(len(line) for line in table) <= 100
    header = next(line for line in printed if "backend" in line)
    for column in ("integral ± error", "pull", "rsd", "ε median-max"):
        assert column in header
    text = " ".join(table)
    assert "not shown at this width:" in text and "ε max" in text and "results.md" in text
    md = (out / "results.md").read_text()
    assert "calls train/eval" in md and "train s" in md  # every column stays in the file


def _run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlintegrate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_python_dash_m_version(tmp_path):
    proc = _run_module("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"mlintegrate {mli.__version__}"


@pytest.mark.parametrize(
    "argv",
    [
        ["integrate", "camel", "--calls", "1e12"],  # a ConfigError
        ["integrate", "camel", "--load", "garbage.npz"],  # a CheckpointError
        ["integrate", "camel", "--json", "exists.json"],  # a usage error
    ],
    ids=["calls", "garbage", "exists"],
)
def test_user_mistakes_are_one_line_without_traceback(tmp_path, argv):
    (tmp_path / "garbage.npz").write_bytes(b"not a checkpoint")
    (tmp_path / "exists.json").write_text("{}")
    proc = _run_module(*argv, *NEVER_ENDS, cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("mlintegrate"), proc.stderr
    assert (tmp_path / "exists.json").read_text() == "{}"
