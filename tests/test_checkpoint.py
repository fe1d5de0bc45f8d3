"""Checkpoints: every field validated on load, finite arrays, the integrand's fingerprint,
file permissions. A damaged file is a one-line CheckpointError naming the file and the field,
never a KeyError, TypeError or AttributeError."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mlintegrate as mli
from mlintegrate.io.checkpoint import FORMAT, VERSION, load_checkpoint, save_checkpoint


@pytest.fixture
def saved(tmp_path) -> Path:
    """A VEGAS proposal trained a little on camel (d=2), saved."""
    path = tmp_path / "good.npz"
    integ = mli.Integrator(mli.backends.Vegas(2), rng=1, progress=False)
    integ.train(mli.functions.get("camel", dim=2), calls=4_000, batch_size=2_000)
    integ.save(path)
    return path


def _write_raw(path: Path, meta: dict, arrays: dict) -> None:
    """The checkpoint format written by hand: save_checkpoint itself refuses NaN arrays."""
    doc = json.dumps({**meta, "format": FORMAT, "version": VERSION}).encode()
    np.savez(path, **arrays, __meta__=np.frombuffer(doc, dtype=np.uint8))


def _rewrite(src: Path, dst: Path, meta_edit=None, array_edit=None) -> Path:
    """Copy a checkpoint, changing its metadata and arrays (a valid file, bad content)."""
    meta, arrays = load_checkpoint(src)
    if meta_edit is not None:
        meta_edit(meta)
    if array_edit is not None:
        array_edit(arrays)
    _write_raw(dst, meta, arrays)
    return dst


def _set(key: str, value: Any):
    def edit(meta: dict) -> None:
        meta[key] = value

    return edit


def _drop(key: str):
    def edit(meta: dict) -> None:
        del meta[key]

    return edit


def _status(change: dict):
    def edit(meta: dict) -> None:
        meta["history"]["iterations"][0].update(change)

    return edit


_GOOD_PCG = np.random.default_rng(0).bit_generator.state

META_CASES = {
    "no backend": _drop("backend"),
    "backend not a name": _set("backend", 5),
    "unknown backend": _set("backend", "nosuch"),
    "no config": _drop("config"),
    "config a list": _set("config", [2]),
    "config bad dim": _set("config", {"dim": "two", "ninc": 1000, "alpha": 0.5}),
    "config unknown key": _set("config", {"dim": 2, "bogus": 1}),
    "history a string": _set("history", "x"),
    "history without iterations": _set("history", {"time_s": 1.0}),
    "iterations not a list": _set("history", {"time_s": 1.0, "iterations": 3}),
    "iteration not an object": _set("history", {"time_s": 1.0, "iterations": [1]}),
    "iteration without estimate": lambda m: m["history"]["iterations"][0].pop("estimate"),
    "estimate mean a string": _status({"estimate": {"mean": "a", "sdev": 1.0, "calls": 5}}),
    "estimate mean NaN": _status({"estimate": {"mean": float("nan"), "sdev": 1, "calls": 5}}),
    "calls a float": _status({"calls": 2.5}),
    "unknown status field": _status({"bogus": 1}),
    "rng_state a string": _set("rng_state", "x"),
    "rng_state unknown generator": _set("rng_state", {"bit_generator": "Nope", "state": {}}),
    "rng_state empty state": _set("rng_state", {"bit_generator": "PCG64", "state": {}}),
    "rng_state wrong types": _set("rng_state", {**_GOOD_PCG, "state": {"state": "x", "inc": 1}}),
    "rng_state of another generator": _set("rng_state", {**_GOOD_PCG, "bit_generator": "MT19937"}),
    "fingerprint a string": _set("fingerprint", "x"),
    "fingerprint without values": _set("fingerprint", {"name": "camel", "dim": 2, "seed": 1}),
    "fingerprint text values": _set(
        "fingerprint", {"name": "camel", "dim": 2, "seed": 1, "values": ["a"]}
    ),
}


def _arrays_set(key: str, value):
    def edit(arrays: dict) -> None:
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value

    return edit


ARRAY_CASES = {
    "no grid": _arrays_set("grid", None),
    "grid wrong shape": _arrays_set("grid", np.linspace(0, 1, 7)),
    "grid of text": _arrays_set("grid", np.array(["a", "b"])),
    "grid not increasing": _arrays_set("grid", np.zeros((2, 257))),
    "grid with NaN": _arrays_set("grid", np.full((2, 257), np.nan)),
}


def _one_line_error(path: Path, excinfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text and str(path) in text, text
    return text


@pytest.mark.parametrize("case", sorted(META_CASES))
def test_bad_metadata_field(saved, tmp_path, case):
    path = _rewrite(saved, tmp_path / "bad.npz", meta_edit=META_CASES[case])
    with pytest.raises(mli.CheckpointError) as excinfo:
        mli.Integrator.load(path)
    _one_line_error(path, excinfo)


@pytest.mark.parametrize("case", sorted(ARRAY_CASES))
def test_bad_state_array(saved, tmp_path, case):
    path = _rewrite(saved, tmp_path / "bad.npz", array_edit=ARRAY_CASES[case])
    with pytest.raises(mli.CheckpointError) as excinfo:
        mli.Integrator.load(path)
    text = _one_line_error(path, excinfo)
    assert "'grid'" in text or "grid" in text
    if "NaN" in case:
        assert "'grid' holds 514 non-finite" in text


@pytest.mark.parametrize("case", ["history a string", "rng_state wrong types", "no config"])
def test_bad_fields_refused_on_resume_too(saved, tmp_path, case):
    path = _rewrite(saved, tmp_path / "bad.npz", meta_edit=META_CASES[case])
    integ = mli.Integrator(mli.backends.Vegas(2), progress=False)
    with pytest.raises(mli.CheckpointError) as excinfo:
        integ.train(mli.functions.get("camel", dim=2), calls=8_000, checkpoint=path)
    _one_line_error(path, excinfo)


def test_flow_with_nan_parameters_is_refused_at_load(tmp_path, one_torch_thread):
    path = tmp_path / "flow.npz"
    mli.Integrator(mli.backends.Flow(2), rng=0, progress=False).save(path)
    meta, arrays = load_checkpoint(path)
    name = next(k for k in sorted(arrays) if k.startswith("model.") and arrays[k].size > 1)
    arrays[name] = arrays[name].copy()
    arrays[name].flat[1] = np.nan
    _write_raw(path, meta, arrays)
    with pytest.raises(mli.CheckpointError, match=f"'{name}' holds 1 non-finite"):
        mli.Integrator.load(path)


def test_round_trip_keeps_history_rng_and_fingerprint(saved):
    f = mli.functions.get("camel", dim=2)
    a = mli.Integrator.load(saved, progress=False)
    b = mli.Integrator.load(saved, progress=False)
    assert a.history.calls == 4_000 and len(a.history.iterations) == 2
    # the saved rng state continues: two loads give the same numbers
    assert a.integrate(f, calls=5_000).mean == b.integrate(f, calls=5_000).mean
    meta, _ = load_checkpoint(saved)
    assert meta["fingerprint"]["name"] == "camel" and meta["fingerprint"]["dim"] == 2


def test_load_with_a_generator_leaves_it_alone(saved):
    gen = np.random.default_rng(77)
    before = gen.bit_generator.state
    integ = mli.Integrator.load(saved, rng=gen, progress=False)
    assert integ.rng is gen and gen.bit_generator.state == before


# ------------------------------------------------------------------ integrand fingerprint


def test_loaded_proposal_refuses_another_integrand(saved):
    integ = mli.Integrator.load(saved, progress=False)  # no integrand needed to load
    with pytest.raises(mli.CheckpointError, match="trained on camel") as excinfo:
        integ.integrate(mli.functions.get("ring", dim=2), calls=1_000)
    _one_line_error(saved, excinfo)
    with pytest.raises(mli.CheckpointError, match="trained on camel"):
        integ.generate(mli.functions.get("ring", dim=2), 10, pilot_calls=1_000)
    # the integrand it was trained on is accepted, and from then on the check is done
    r = integ.integrate(mli.functions.get("camel", dim=2), calls=5_000)
    assert abs(r.mean - r.exact) < 5 * r.sdev


def test_resume_refuses_another_integrand(saved):
    integ = mli.Integrator(mli.backends.Vegas(2), progress=False)
    ring = mli.functions.get("ring", dim=2)
    with pytest.raises(mli.CheckpointError, match="differ at the fixed check points"):
        integ.train(ring, calls=8_000, checkpoint=saved)
    # the same integrand resumes: only the missing calls are made
    hist = integ.train(mli.functions.get("camel", dim=2), calls=8_000, checkpoint=saved)
    assert hist.calls == 8_000


def test_same_name_other_function_is_refused(saved):
    camel = mli.functions.get("camel", dim=2)

    def shifted(u):
        return camel(u) * (1 + 1e-6)

    shifted.name = "camel"
    with pytest.raises(mli.CheckpointError, match="differ"):
        mli.Integrator.load(saved, progress=False).integrate(shifted, calls=1_000)


def test_check_integrand_false_and_old_files_accept_anything(saved, tmp_path):
    ring = mli.functions.get("ring", dim=2)
    loaded = mli.Integrator.load(saved, progress=False, check_integrand=False)
    assert loaded.integrate(ring, calls=2_000).calls == 2_000
    old = _rewrite(saved, tmp_path / "old.npz", meta_edit=_drop("fingerprint"))
    assert mli.Integrator.load(old, progress=False).integrate(ring, calls=2_000).calls == 2_000


def test_unnamed_integrand_fingerprint(tmp_path):
    def f(u):
        return 1 + u[:, 0] ** 2

    path = tmp_path / "f.npz"
    integ = mli.Integrator(mli.backends.Vegas(1), rng=0, progress=False)
    integ.train(f, calls=2_000)
    integ.save(path)
    with pytest.raises(mli.CheckpointError, match="an unnamed integrand"):
        mli.Integrator.load(path, progress=False).integrate(lambda u: 2 + u[:, 0], calls=100)
    assert mli.Integrator.load(path, progress=False).integrate(f, calls=1_000).mean > 1


# ------------------------------------------------------------------ file permissions


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_checkpoint_gets_the_umask_permissions(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = save_checkpoint(tmp_path / "c.npz", {"backend": "x"}, {"a": np.zeros(2)})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_non_finite_state_is_not_saved_over_a_good_file(saved):
    before = saved.read_bytes()
    with pytest.raises(mli.CheckpointError, match="'grid' holds NaN or inf"):
        save_checkpoint(saved, {"backend": "vegas"}, {"grid": np.array([0.0, np.nan])})
    assert saved.read_bytes() == before
