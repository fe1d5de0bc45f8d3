"""Densities a training batch already has are not evaluated again (issue 14 §4, training cost).

A mixture computes every component's density at the points it draws. Two steps used to
evaluate the flow there again: the trainer's held-out rsd before its update (now handed the
mixture's densities: the same training bit for bit, checked by switching the hand-over off) and
the mixture's weight step after the components adapted (now reading the densities that drew the
batch: checked against the weight rule on those densities). Points changed after sampling are
evaluated afresh."""

import hashlib

import numpy as np
import pytest
import torch

import mlintegrate as mli
from mlintegrate.backends import Flow, Mixture, Uniform, learned
from mlintegrate.backends import mixture as mixture_module
from mlintegrate.backends.cubenormal import TruncatedNormal
from mlintegrate.backends.mixture import multichannel_weights
from mlintegrate.backends.nn.trainer import TrainingConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"hidden": 16, "bins": 8, "minibatch": 256}


def _camel(u: np.ndarray) -> np.ndarray:
    """Two narrow Gaussians on the diagonal of [0,1]^d: the mode search finds channels."""
    d = u.shape[1]
    a = np.exp(-np.sum((u - 1 / 3) ** 2, axis=1) / 0.02)
    b = np.exp(-np.sum((u - 2 / 3) ** 2, axis=1) / 0.02)
    return (a + b) / (0.02 * np.pi) ** (d / 2)


def _fingerprint(flow: Flow) -> str:
    h = hashlib.sha256()
    state = flow.state_dict()
    for k in sorted(state):
        h.update(k.encode())
        h.update(np.ascontiguousarray(state[k]).tobytes())
    h.update(flow.sample(500, rng=9)[1].tobytes())
    return h.hexdigest()


def _train(settings: dict, calls: int = 24_000) -> tuple[str, Flow]:
    flow = Flow(3, seed=4, **SMALL, **settings)
    mli.Integrator(flow, rng=5, progress=False).train(_camel, calls=calls, batch_size=1_500)
    return _fingerprint(flow), flow


def _switch_hints(monkeypatch, on: bool) -> list[int]:
    """Let learned proposals take (on) or drop (off) the mixture's densities; returns a list
    that grows by one for every hint taken."""
    taken: list[int] = []
    hint = learned.LearnedProposal.density_hint

    def switched(self, u, q_now):
        if on:
            taken.append(1)
            hint(self, u, q_now)

    monkeypatch.setattr(learned.LearnedProposal, "density_hint", switched)
    return taken


@pytest.mark.parametrize("weights_from_sampling", [True, False])
@pytest.mark.parametrize(
    "settings",
    [
        {},  # the default: mode channels with learned, then selected weights
        # learned weights of [flow, uniform] every batch; stops early, restoring the best state
        {"find_modes": False, "learn_weights": True, "patience": 1, "min_improvement": 0.5},
    ],
)
def test_held_out_densities_from_sampling_leave_training_unchanged(
    settings, weights_from_sampling, monkeypatch
):
    """The trainer's held-out rsd before its update reads the densities the mixture computed
    drawing the batch instead of evaluating the flow again: the run is the same bit for bit
    (they differ from a new evaluation by rounding, far below any decision's margin), with
    either weight rule (False: the weight step as it was before it read them too)."""
    monkeypatch.setattr(mixture_module, "weights_from_sampling", weights_from_sampling)
    assert not _switch_hints(monkeypatch, on=False)
    fresh, _ = _train(settings)
    taken = _switch_hints(monkeypatch, on=True)
    hinted, flow = _train(settings)
    assert len(taken) > 10  # the densities were handed over ...
    assert hinted == fresh  # ... and changed nothing
    if settings:
        assert flow.learned.trainer.stopped


def test_hinted_densities_are_the_flows_and_used_only_for_that_very_batch(monkeypatch):
    flow = Flow(2, seed=1, find_modes=False, **SMALL)
    integ = mli.Integrator(flow, rng=2, progress=False)
    integ.train(lambda u: 1.0 + 3.0 * u[:, 0] ** 2, calls=4_000, batch_size=1_000)
    core, seen = flow.learned, []
    step = core.trainer.step

    def spy(u, q, f, log_q_now=None):
        seen.append(log_q_now)
        step(u, q, f, log_q_now)

    monkeypatch.setattr(core.trainer, "step", spy)
    u, q = flow.sample(1_000, rng=3)
    flow.adapt(u, q, 1.0 + 3.0 * u[:, 0] ** 2)
    assert seen[-1] is not None  # the mixture's densities at the batch, as log q ...
    with torch.no_grad():
        exact = core.model.log_prob(torch.from_numpy(u)).numpy()
    # ... which were the flow's before it trained (forward pass where it drew the point)
    assert not np.allclose(seen[-1].numpy(), exact, rtol=0, atol=1e-9)  # it has trained
    u, q = flow.sample(1_000, rng=4)
    with torch.no_grad():
        exact = core.model.log_prob(torch.from_numpy(u)).numpy()
    flow.adapt(u, q, 1.0 + 3.0 * u[:, 0] ** 2)
    np.testing.assert_allclose(seen[-1].numpy(), exact, rtol=0, atol=1e-5)
    core.density_hint(u, q)  # a hint for one array ...
    core._adapt(u.copy(), q, 1.0 + 3.0 * u[:, 0] ** 2)  # ... is not taken for another
    assert seen[-1] is None


def _peak(u: np.ndarray) -> np.ndarray:
    return np.exp(-np.sum((u - 0.3) ** 2, axis=1) / 0.005)


class _Light(TruncatedNormal):
    """A fixed channel that says it adapted lightly (as a budget-capped learned one does)."""

    adapted_lightly = True


def test_weight_step_reads_the_densities_that_drew_the_batch():
    """The light channel moves towards the peak in adapt (refit); the weight step reads its
    densities from before, the uniform component's from after (the same, it is fixed)."""
    light = _Light(2, [0.35, 0.35], [0.1, 0.1], refit=0.5, min_ess=10)
    mix = Mixture([light, Uniform(2)], [0.5, 0.5], learn_weights=True, floor=0.01)
    u, q = mix.sample(4_000, rng=1)
    drawn = np.stack([c.density(u) for c in mix.components])
    f = _peak(u)
    mix.adapt(u, q, f)
    after = np.stack([c.density(u) for c in mix.components])
    assert not np.allclose(after[0], drawn[0])  # the channel moved
    expected = multichannel_weights(mix.initial_weights, drawn, q, f, floor=0.01)
    np.testing.assert_allclose(mix.weights, expected, rtol=1e-12)
    moved = multichannel_weights(mix.initial_weights, after, q, f, floor=0.01)
    assert not np.allclose(mix.weights, moved, rtol=1e-6)
    assert mix.weights[0] > 0.5  # the peak's channel gains weight


def test_weight_step_evaluates_points_changed_after_sampling():
    """Points changed between sample and adapt (here: moved off the peak) get their own
    densities, not the cached ones of the points drawn."""
    mix, other = (
        Mixture([_Light(2, [0.3, 0.3], [0.1, 0.1]), Uniform(2)], [0.5, 0.5], True, 0.01)
        for _ in range(2)
    )
    u, q = mix.sample(4_000, rng=1)
    u_changed = u.copy()
    u_changed[:, 1] = 1.0 - u_changed[:, 1]
    u[:] = u_changed  # in place: the cache must not be served
    f = _peak(u)
    mix.adapt(u, q, f)
    other.adapt(u_changed, q, f)  # never sampled: nothing cached
    np.testing.assert_array_equal(mix.weights, other.weights)


def _weight_rule_runs(monkeypatch, settings: dict) -> tuple[str, str]:
    runs = []
    for from_sampling in (False, True):
        monkeypatch.setattr(mixture_module, "weights_from_sampling", from_sampling)
        runs.append(_train({"steps_per_batch": 3, **settings}, calls=15_000)[0])
    return runs[0], runs[1]


def test_full_training_steps_keep_the_former_weight_rule_bit_for_bit(monkeypatch):
    """A flow that takes its full steps every batch is evaluated again after adapting, as
    before: the same run bit for bit (this is training at 10⁶ calls, where reuse 1 does not
    cap the 20 steps) ..."""
    former, now = _weight_rule_runs(monkeypatch, {"reuse": None})
    assert now == former


def test_capped_training_steps_read_the_sampling_densities(monkeypatch):
    """... while with the steps capped (1 a batch here) its densities that drew the batch
    stand in, which changes the weights (not the density of any proposal in use)."""
    counted = []
    density = learned.LearnedProposal._density

    def counting(self, u):
        counted.append(u.shape[0])
        return density(self, u)

    monkeypatch.setattr(learned.LearnedProposal, "_density", counting)
    monkeypatch.setattr(mixture_module, "weights_from_sampling", False)
    former = _train({"steps_per_batch": 3, "reuse": 0.1}, calls=15_000)[0]
    evaluated_before, counted[:] = sum(counted), []
    monkeypatch.setattr(mixture_module, "weights_from_sampling", True)
    now = _train({"steps_per_batch": 3, "reuse": 0.1}, calls=15_000)[0]
    assert now != former
    # the flow is evaluated at 1500 points fewer in each batch after the mode search
    assert evaluated_before - sum(counted) >= 1_500 * 4


def test_default_reuse_leaves_million_call_training_at_full_steps():
    """The flow's batch is calls/50 points, capped at 2·10⁴; the step count is
    min(steps_per_batch, ceil(reuse · n / minibatch)) for a batch of n. At 10⁶ calls the
    default reuse takes the full 20 steps, as reuse 4 did (so that training is unchanged),
    while at 10⁵ calls (2000-point batches) it takes ceil(reuse · 1.95) steps."""
    flow, default, old = Flow(4), TrainingConfig(), TrainingConfig(reuse=4.0)
    assert flow.default_batch_size(10**6) == 20_000
    assert default.steps_for(20_000) == old.steps_for(20_000) == default.steps_per_batch == 20
    assert flow.default_batch_size(10**5) == 2_000 and old.steps_for(2_000) == 8
    assert default.steps_for(2_000) < old.steps_for(2_000)
