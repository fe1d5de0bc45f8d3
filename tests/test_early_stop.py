"""Early stopping and budget-aware steps of the shared trainer (issue 14 §4)."""

import math

import numpy as np
import pytest
import torch

import mlintegrate as mli
from mlintegrate.backends import Flow
from mlintegrate.backends.nn.trainer import TrainingConfig
from mlintegrate.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


TILT_INTEGRAL = 1.4
# the trainer's mechanics on a fixed mixture: the flow with the uniform safe component at fixed
# weight (with the default VEGAS safe component the tilt keeps improving past 16 batches), and
# no mode channels (whose learned weights would make the mixture move too)
SMALL = {
    "hidden": 8,
    "minibatch": 256,
    "lr": 1e-2,
    "steps_per_batch": 10,
    "reuse": None,
    "safe": "uniform",
    "select_weights": False,
    "find_modes": False,
}


def _tilt(u: np.ndarray) -> np.ndarray:
    """1 + 0.8 u₀ on [0,1]² (integral 1.4): a small flow learns it in a few batches (rsd
    0.17 → 0.10), then held-out noise is all that is left: a plateau."""
    return 1.0 + 0.8 * u[:, 0]


def _params(flow: Flow) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in flow.learned.model.state_dict().items()}


def test_training_stops_on_a_plateau_and_restores_the_best_state():
    """Deterministic toy: a constant patience run on a bump. After each batch that improved
    the held-out rsd (stale count back to 0) the parameters are the best; when training
    stops they are restored to the last of those, and later batches change nothing."""
    flow = Flow(2, patience=3, min_improvement=0.02, seed=1, **SMALL)
    integ = mli.Integrator(flow, rng=2, progress=False)
    trainer = flow.learned.trainer
    best, stopped_params = None, None

    def watch(status):
        nonlocal best, stopped_params
        if trainer.stopped and stopped_params is None:
            stopped_params = _params(flow)
        elif not trainer.stopped and trainer.stale == 0:
            best = _params(flow)

    integ.train(_tilt, calls=16_000, batch_size=1_000, callbacks=[watch])
    assert 3 < trainer.stopped_at < 14  # it learned, then plateaued within the budget
    assert trainer.stale >= 3 * 10
    assert best is not None and stopped_params is not None
    for k, v in _params(flow).items():
        torch.testing.assert_close(stopped_params[k], best[k], rtol=0, atol=0)
        torch.testing.assert_close(v, best[k], rtol=0, atol=0)  # frozen ever since
    # the stopped proposal is a trained one: better than uniform sampling by far
    r = integ.integrate(_tilt, calls=20_000)
    assert r.rsd < 0.8 * (0.8 / math.sqrt(12)) / TILT_INTEGRAL  # uniform sampling's rsd


def test_without_patience_training_never_stops():
    flow = Flow(2, patience=None, seed=1, **SMALL)
    mli.Integrator(flow, rng=2, progress=False).train(_tilt, calls=16_000, batch_size=1_000)
    assert not flow.learned.trainer.stopped


def test_steps_scale_with_the_new_points():
    """reuse r: ceil(r · n_new / minibatch) steps, at most steps_per_batch."""
    c = TrainingConfig(reuse=1.0, steps_per_batch=20, minibatch=1024)
    assert [c.steps_for(n) for n in (100, 2_000, 20_000, 10**6)] == [1, 2, 20, 20]
    assert TrainingConfig(reuse=None).steps_for(100) == 20


def test_resuming_keeps_the_early_stopping_state(tmp_path):
    """A run checkpointed after every batch and resumed half-way gives the same proposal as
    an uninterrupted one, the kept best state (``best.*``) included."""
    kw = {"patience": 3, "min_improvement": 0.02, "seed": 1, **SMALL}
    whole = Flow(2, **kw)
    mli.Integrator(whole, rng=2, progress=False).train(_tilt, calls=12_000, batch_size=1_000)
    path = tmp_path / "ckpt.npz"
    first = mli.Integrator(Flow(2, **kw), rng=2, progress=False)
    first.train(_tilt, calls=6_000, batch_size=1_000, checkpoint=path)
    assert first.backend.learned.trainer.best is not None  # a best state is being kept
    resumed = mli.Integrator(Flow(2, **kw), rng=2, progress=False)
    resumed.train(_tilt, calls=12_000, batch_size=1_000, checkpoint=path)
    a, b = whole.learned.trainer, resumed.backend.learned.trainer
    assert a.stopped
    assert (a.stopped_at, a.stale) == (b.stopped_at, b.stale)
    for k, v in a.model.state_dict().items():
        torch.testing.assert_close(b.model.state_dict()[k], v, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("patience", 0, ["patience", "0", "None"]),
        ("patience", 2.5, ["patience", "2.5"]),
        ("min_improvement", 1.0, ["min_improvement", "1.0", "0.01"]),
        ("min_improvement", -0.1, ["min_improvement", "-0.1"]),
        ("reuse", 0.0, ["reuse", "0.0"]),
    ],
)
def test_bad_settings_get_one_line_errors(field, value, words):
    with pytest.raises(ConfigError) as err:
        TrainingConfig(**{field: value})
    text = str(err.value)
    assert "\n" not in text and all(w in text for w in words), text


def test_estimates_stay_unbiased_with_early_stopping():
    """Pulls over seeds, training batches included (their weights divide by the density
    each batch was drawn from, the stopped proposal's after stopping)."""
    pulls, stopped = [], 0
    for seed in range(6):
        flow = Flow(2, patience=2, min_improvement=0.02, seed=seed, **SMALL)
        integ = mli.Integrator(flow, rng=seed, progress=False)
        integ.train(_tilt, calls=12_000, batch_size=1_000)
        stopped += flow.learned.trainer.stopped
        r = integ.integrate(_tilt, calls=4_000, include_training=True)
        pulls.append((r.mean - TILT_INTEGRAL) / r.sdev)
        assert r.sdev < 0.002 * TILT_INTEGRAL
    assert stopped >= 4  # the stopped regime is what is tested
    pulls = np.array(pulls)
    assert np.all(np.abs(pulls) < 4), pulls
    assert abs(pulls.mean()) < 3 / math.sqrt(len(pulls)), pulls
