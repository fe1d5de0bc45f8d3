"""Configuration dataclasses and the command line's --set: typed, validated, JSON round trip."""

import json

import pytest

import mlintegrate as mli
from mlintegrate.backends import FlowConfig, VegasConfig
from mlintegrate.cli import main


def test_flow_config_round_trips_through_json():
    cfg = FlowConfig().with_values(loss="kl", bins=8, defensive=0.1)
    again = FlowConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.training.loss == "kl" and again.model.bins == 8


@pytest.mark.parametrize(
    ("key", "text", "path", "value"),
    [
        ("training.loss", "variance", ("training", "loss"), "variance"),
        ("model.n_layers", "None", ("model", "n_layers"), None),
        ("model.n_layers", "6", ("model", "n_layers"), 6),
        ("lr", "1e-2", ("training", "lr"), 1e-2),
        ("premap", "vegas", ("premap",), "vegas"),
    ],
)
def test_with_text_types_values_from_the_field(key, text, path, value):
    cfg = FlowConfig().with_text(key, text)
    got = cfg
    for part in path:
        got = getattr(got, part)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"training.los": "kl"}, "unknown setting 'training.los'"),
        ({"bins": 1}, "bins must be an int ≥ 2, got 1"),
        ({"loss": "l2"}, "loss must be one of"),
        ({"defensive": 1.0}, "defensive must be a number in"),
    ],
)
def test_bad_settings_name_the_parameter(changes, match):
    with pytest.raises(mli.ConfigError, match=match):
        FlowConfig().with_values(**changes)


def test_foreign_keys_are_refused_on_load():
    with pytest.raises(mli.ConfigError, match="unknown setting 'model.width'"):
        FlowConfig.from_dict({"model": {"width": 3}})


def test_a_config_fixes_the_backend():
    assert mli.backends.Vegas(2, VegasConfig(ninc=16)).config() == {
        "dim": 2,
        "ninc": 16,
        "alpha": 0.5,
    }
    flow = mli.backends.Flow(3, FlowConfig(), seed=4)
    assert flow.config()["seed"] == 4 and flow.config()["model"]["bins"] == 16


def test_cli_set_reaches_the_backend_and_the_record(tmp_path):
    out = tmp_path / "a.json"
    code = main(
        ["integrate", "camel", "--dim", "2", "--backend", "vegas", "--set", "vegas.ninc=32"]
        + ["--train-calls", "4000", "--calls", "4000", "--json", str(out)]
    )
    assert code == 0
    record = json.loads(out.read_text())
    assert record["config"] == {
        "backend": "vegas",
        "config": {"dim": 2, "ninc": 32, "alpha": 0.5},
    }


@pytest.mark.parametrize(
    ("sets", "match"),
    [
        (["flow.training.loss=kl"], "not one of the backends of this run"),
        (["vegas.ninc=abc"], "ninc='abc': expected int"),
        (["vegas.nin=3"], "unknown setting 'nin'"),
        (["vegas"], "expected KEY=VALUE"),
    ],
)
def test_cli_bad_set_is_one_line(sets, match, capsys):
    argv = ["integrate", "camel", "--backend", "vegas", "--calls", "10"]
    for s in sets:
        argv += ["--set", s]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert match in err
