"""``mlintegrate train``: a saved proposal, and a checkpoint that resumes a killed run exactly."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import mlintegrate as mli
from mlintegrate.cli import main
from mlintegrate.io.checkpoint import load_checkpoint

QUICK_FLOW = ["--set", "flow.model.bins=8", "--set", "flow.model.hidden=16"]
QUICK_FLOW += ["--set", "flow.training.steps_per_batch=5", "--set", "flow.training.minibatch=256"]
TRAIN = ["train", "camel", "--dim", "2", "--backend", "flow", "--seed", "6", *QUICK_FLOW]


def test_train_saves_a_proposal_that_integrate_uses_as_it_is(tmp_path, capsys):
    saved = tmp_path / "p.npz"
    assert main([*TRAIN, "--train-calls", "8000", "--save", str(saved)]) == 0
    meta, arrays = load_checkpoint(saved)
    assert meta["backend"] == "flow" and meta["config"]["model"]["bins"] == 8
    assert meta["fingerprint"]["name"] == "camel" and meta["fingerprint"]["dim"] == 2
    assert meta["mlintegrate_version"] == mli.__version__
    assert meta["history"]["iterations"][-1]["calls"] == 8000
    out = tmp_path / "a.json"
    args = ["integrate", "camel", "--dim", "2", "--load", str(saved), "--calls", "4000"]
    assert main([*args, "--seed", "7", "--json", str(out)]) == 0
    assert "trained flow on camel" in capsys.readouterr().out
    loaded = mli.Integrator.load(saved)
    assert loaded.history.calls == 8000  # integrate --load did not train any further


def test_train_refuses_nothing_to_train_and_an_existing_save(tmp_path, capsys):
    saved = tmp_path / "p.npz"
    saved.write_bytes(b"old")
    with pytest.raises(SystemExit):
        main([*TRAIN, "--train-calls", "1000", "--save", str(saved)])
    assert "--force" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*TRAIN, "--train-calls", "0", "--save", str(tmp_path / "q.npz")])
    assert "nothing to train" in capsys.readouterr().err


def test_a_killed_run_resumes_from_its_checkpoint_to_identical_numbers(tmp_path):
    exe = Path(sys.executable).parent / "mlintegrate"
    calls = ["--train-calls", "60000"]
    full = tmp_path / "full.npz"
    assert main([*TRAIN, *calls, "--save", str(full)]) == 0
    ckpt, resumed = tmp_path / "ckpt.npz", tmp_path / "resumed.npz"
    command = [str(exe), *TRAIN, *calls, "--save", str(resumed), "--checkpoint", str(ckpt)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if ckpt.exists():
            try:
                meta, _ = load_checkpoint(ckpt)
            except mli.CheckpointError:
                continue
            if len(meta["history"]["iterations"]) >= 2:
                break
    if proc.poll() is not None:
        pytest.skip("the training finished before it could be killed (machine too fast)")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not resumed.exists()
    done = len(load_checkpoint(ckpt)[0]["history"]["iterations"])
    assert 2 <= done < 30
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    (meta_a, a), (meta_b, b) = load_checkpoint(full), load_checkpoint(resumed)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert meta_a["rng_state"] == meta_b["rng_state"]
