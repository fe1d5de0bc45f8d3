r"""One trainer for every learned proposal: buffered ask/tell training of a torch density model.

The model is any ``torch.nn.Module`` with ``log_prob(u) -> (n,)`` (the exact normalised
log-density on the cube). :meth:`Trainer.step` is the "tell" of ask/tell:

1. the batch (u, q_s, f) is split: the last ``val_fraction`` is held out (fresh points never
   used for a gradient in this call); the rest enters a FIFO buffer of ``buffer_size`` points
   that keeps each point's sampling density q_s;
2. ``steps_per_batch`` Adam steps on minibatches drawn uniformly from the buffer minimise
   ``loss`` (:mod:`.losses`; weights |f|/q_s stay unbiased for points of earlier proposals);
3. the update is undone (parameters and optimiser state) when the held-out rsd got worse:
   rsd_θ is estimated on those points by reweighting, rsd² ≈ E_{q_s}[f²/(q_θ q_s)]/I² − 1,
   before and after, from the same points (paired: most noise cancels); an estimate of rsd²
   below zero after the update means noise hid its effect, and it is undone too. A single global
   "best" is avoided on purpose: the minimum over noisy estimates from different batches
   would keep a lucky early state;
4. early stopping (``patience``): the model after the batch is compared with the best state so
   far on the same held-out points (paired again, fresh points every batch, so no noisy
   minimum over batches is taken); it becomes the best when its rsd is lower by at least
   ``min_improvement`` (relative). After ``patience`` · ``steps_per_batch`` Adam steps without
   such an improvement (patience in full batches: a batch that ``reuse`` cut to fewer steps
   counts for less, so a small budget is not stopped for learning slowly) the best state is
   restored and training stops: later batches take no gradient
   step (their points still count towards the estimate, drawn from the frozen proposal whose
   exact density is what their weights divide by, so every estimate stays unbiased);
5. the held-out points join the buffer.

The learning rate follows ``schedule`` as a function of the batches trained on (cosine from
``lr`` to ``lr_final`` over ``decay_batches``). Minibatch draws come from a generator seeded by
(``seed``, batch number), so a step is deterministic and a resumed run repeats an
uninterrupted one exactly: ``state_dict`` holds the parameters, the Adam state, the buffer and
the counters.

Two optional model hooks (absent for the flow, whose training they leave untouched):
``model.training_log_prob(u)`` replaces ``log_prob`` in the loss and the validation (a model
whose proposal density differs from what its parameters are fitted to, e.g. the B-VAE's
decoder under a buffer latent), and ``model.after_step(trainer)`` runs after each batch (e.g.
to rebuild state from the buffer; it must draw randomness only from seeded generators).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch

from ...config import Config
from ...errors import CheckpointError
from ...validate import choice, int_at_least, number_in
from .buffer import SampleBuffer
from .losses import LOSSES, _log_second_moment, reweighted_rsd

__all__ = ["SCHEDULES", "Trainer", "TrainingConfig"]

SCHEDULES = ("cosine", "constant")
_MIN_VALIDATION = 64  # fewer held-out points than this: no validation, every update kept
_ROUNDING = 1e-12  # a held-out rsd² estimate below −this is noise, not a measurement


@dataclass(frozen=True)
class TrainingConfig(Config):
    """Settings of :class:`Trainer` (module docstring).

    The default loss "mix" is measured (200k training calls, seed 3): on ee_qqg
    ε_median-max 12 % (kl), 19 % (mix), 20 % (variance); on camel d = 8 at 10⁶ calls rsd
    0.41 (kl), 0.56 (mix), 0.68 (variance): the variance term targets the largest weights,
    KL the bulk.

    ``reuse`` (None: off) caps the steps per batch at ⌈reuse · n / minibatch⌉ for a batch of
    n new points, so the total number of Adam steps scales with the training calls (the
    integrator's batches are calls / 50 points between 10³ and 2·10⁴). The default 1 takes 2
    steps a batch at 10⁵ calls (2000-point batches) and the full 20 at 10⁶ (⌈20000/1024⌉ = 20),
    where training is the same as with the former 4 or with no cap.
    ``patience`` (None: never stop) and ``min_improvement``: early stopping on the held-out rsd
    (module docstring, step 4).

    Measured (``benchmarks/results/early_stop*.md``, process CPU s, MadNIS 1.0 with its defaults
    and 1 torch thread in the same process). Reuse 4 against the old fixed 20 steps trained
    2–3.5× faster at 10⁵ calls; with the numba kernel's gradient, fused Adam and the mode search
    it still took 2.1–2.7× MadNIS's time (camel d=4 9.6 s, d=8 16.6, ee_qqg@diet 14.5,
    dalitz+axis 14.1 against 3.5, 6.4, 6.3, 6.7), ε_median-max 49.4 / 23.9 / 10.7 / 78.9 %
    against MadNIS's 4.0 / 0.60 / 4.0 / 71.3 % (``early_stop_final.md`` at dd55481, seed 1).
    Once the mixture stopped evaluating the flow again for its held-out rsd and, at capped
    steps, its weight step, reuse 1 was measured against MadNIS in the same process at 10⁵
    calls (load 3–4; ``early_stop_final.md``, seed 1, and ``early_stop_seeds345.md``): CPU
    3.9 / 6.3 / 5.9 / 4.5 s against 4.7 / 8.4 / 6.5 / 7.3 (seed 1); seeds 3–5 camel d=4
    3.0/3.1/3.2 vs 3.4/4.0/3.2, d=8 5.8/5.8/5.3 vs 6.4/7.1/6.1, diet 4.2/5.4/5.2 vs
    5.8/6.5/6.4, dalitz+axis 5.1/4.9/5.0 vs 6.3/6.9/7.3 (at most MadNIS's in 15 of 16 runs,
    camel d=4 seed 5 0.02 s above); ε 46–48 %, 24–26 %, 4.0–4.6 %, 79 % against 4–6 %,
    0.03–2.9 %, 2.9–4.0 %, 68–72 %. The price against reuse 4 (2.0–2.8× the time, same run):
    camel d=4 ε 52.5 → 46.7 % (rsd 0.33 → 0.48), ee_qqg@diet 11.2 → 4.3 %; reuse 1.25 (3 steps)
    gave diet 4.8–6.7 % at 1.1–1.6× reuse 1's time (``early_stop_sweep1e5.md``). At 10⁶ calls
    training is the former one (the steps, and the weight rule at full steps, bit for bit).
    Patience 5 stopped camel d=4 and ee_qqg@diet at 10⁶ calls at batch 47 of 50, costing ε on
    diet (18.9 vs 20.3 %); with 10 no measured run stops.
    """

    loss: str = "mix"
    lr: float = 3e-3
    lr_final: float = 3e-4
    schedule: str = "cosine"
    decay_batches: int = 50
    buffer_size: int = 50_000
    steps_per_batch: int = 20
    minibatch: int = 1024
    val_fraction: float = 0.2
    val_tolerance: float = 0.1
    reuse: float | None = 1.0
    patience: int | None = 10
    min_improvement: float = 0.01

    def __post_init__(self) -> None:
        choice("loss", self.loss, tuple(LOSSES))
        number_in("lr", self.lr, 0.0, 1.0, "e.g. lr=3e-3", open_low=True)
        number_in("lr_final", self.lr_final, 0.0, self.lr, f"at most lr={self.lr}")
        choice("schedule", self.schedule, SCHEDULES)
        int_at_least("decay_batches", self.decay_batches, 1, "e.g. 50")
        int_at_least("buffer_size", self.buffer_size, 1, "e.g. buffer_size=50000")
        int_at_least("steps_per_batch", self.steps_per_batch, 0, "e.g. 20")
        int_at_least("minibatch", self.minibatch, 1, "e.g. minibatch=1024")
        number_in("val_fraction", self.val_fraction, 0.0, 1.0, "e.g. 0.2", open_high=True)
        number_in("val_tolerance", self.val_tolerance, 0.0, math.inf, "e.g. 0.1")
        if self.reuse is not None:
            number_in("reuse", self.reuse, 0.0, math.inf, "e.g. 2, or None", open_low=True)
        if self.patience is not None:
            int_at_least("patience", self.patience, 1, "e.g. patience=5, or None: never stop")
        number_in("min_improvement", self.min_improvement, 0.0, 1.0, "e.g. 0.01", open_high=True)

    def steps_for(self, n_new: int) -> int:
        """Adam steps for a batch of ``n_new`` new points: ``steps_per_batch``, or with
        ``reuse`` = r at most ceil(r · n_new / minibatch) (each new point drawn ≈ r times), so a
        small budget trains in proportion to its calls."""
        if self.reuse is None:
            return self.steps_per_batch
        return min(self.steps_per_batch, math.ceil(self.reuse * n_new / self.minibatch))


# Whether Adam runs fused (benchmarks switch it off to time the trainer as it was).
fused_adam = True


def _adam(params: list[torch.nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam, fused (one kernel for all parameters) where torch has it for these parameters:
    the same update rule, 0.25 against 1.7 ms a step measured for a d = 4 flow (24 tensors)."""
    if not fused_adam:
        return torch.optim.Adam(params, lr=lr)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, ValueError):  # e.g. a device or dtype without the fused kernel
        return torch.optim.Adam(params, lr=lr)


class Trainer:
    """Buffered, validated Adam training of ``model`` on (u, q_s, f) batches (module docstring).

    Args:
        model: a torch module with ``log_prob(u)``; its parameters are trained in place.
        dim: dimension of the points the model sees.
        config: :class:`TrainingConfig`.
        seed: seed of the minibatch draws.
        device: where the buffer lives (the model's device).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        dim: int,
        config: TrainingConfig,
        seed: int,
        device: torch.device,
    ):
        self.model, self.config, self.seed, self.device = model, config, int(seed), device
        self.optimizer = _adam(list(model.parameters()), config.lr)
        self.buffer = SampleBuffer(dim, config.buffer_size, device)
        self.batches = 0  # step calls so far
        self.rejected = 0  # updates undone by the validation rule
        # early stopping: the best parameters so far (None: the current ones are the best),
        # Adam steps since the last improvement, and the batch training stopped at (0: not)
        self.best: dict[str, torch.Tensor] | None = None
        self.stale = 0
        self.stopped_at = 0
        # whether the last batch took fewer Adam steps than steps_per_batch (reuse capped it,
        # or training had stopped): the model then moved little, if at all
        self.light_step = False
        self._log_prob = getattr(model, "training_log_prob", model.log_prob)
        self._plain = not hasattr(model, "training_log_prob")  # validated density = log_prob
        self._after_step = getattr(model, "after_step", None)

    def learning_rate(self, progress: float) -> float:
        """The learning rate after ``progress`` batches (fractional within a batch)."""
        c = self.config
        if c.schedule == "constant":
            return c.lr
        frac = min(progress / c.decay_batches, 1.0)
        return c.lr_final + 0.5 * (c.lr - c.lr_final) * (1.0 + math.cos(math.pi * frac))

    def step(
        self,
        u: torch.Tensor,
        q: torch.Tensor,
        f: torch.Tensor,
        log_q_now: torch.Tensor | None = None,
    ) -> None:
        """Train on one batch (u (n, d), q_s (n,), f (n,) on the model's device); nothing once
        early stopping has stopped training (the model stays as it is).

        ``log_q_now`` (n,): the model's log-density at u as it is now, where the caller has it
        (a mixture computed it drawing u): the held-out rsd before the update then reads it
        instead of evaluating the model again. Ignored for a model whose validated density is
        not its ``log_prob`` (``training_log_prob``)."""
        self.light_step = True  # until a full batch of steps is taken below
        if self.stopped:
            return
        n = u.shape[0]
        n_val = round(self.config.val_fraction * n)
        n_val = n_val if _MIN_VALIDATION <= n_val < n else 0
        n_train = n - n_val
        known = None if log_q_now is None or not self._plain else log_q_now[n_train:]
        steps = self.config.steps_for(n)
        self.light_step = steps < self.config.steps_per_batch
        self.buffer.add(u[:n_train], q[:n_train], f[:n_train])
        self._train(u[n_train:], q[n_train:], f[n_train:], steps, known)
        self.buffer.add(u[n_train:], q[n_train:], f[n_train:])
        self.batches += 1
        if self._after_step is not None and not self.stopped:
            self._after_step(self)

    @property
    def stopped(self) -> bool:
        """Whether early stopping has ended training (the best state is then the model)."""
        return self.stopped_at > 0

    def _adam_snapshot(self) -> dict:
        """A copy of the Adam state to undo a batch with: its tensors cloned (a deepcopy of
        the state dict cost 7 % of a 10⁵-call training, ~200 µs a tensor)."""
        state = self.optimizer.state_dict()
        return {
            "state": {i: {k: v.clone() for k, v in s.items()} for i, s in state["state"].items()},
            "param_groups": copy.deepcopy(state["param_groups"]),
        }

    def _snapshot(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def _track_best(
        self,
        rsd_now: float,
        rsd_previous: float,
        previous: dict[str, torch.Tensor],
        held_out: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        steps: int,
    ) -> None:
        """Early-stopping bookkeeping after a validated batch (module docstring, step 4).

        ``rsd_now``: the model's held-out rsd after this batch; ``rsd_previous``: that of the
        state before it (``previous``) on the same ``held_out`` points (u, q_s, f), which is
        the best state when ``self.best`` is None; ``steps``: Adam steps this batch took.
        """
        c = self.config
        if c.patience is None:
            return
        if self.best is None:
            rsd_best = rsd_previous
        else:
            current = self._snapshot()
            self.model.load_state_dict(self.best)
            rsd_best = self._held_out_rsd(*held_out)
            self.model.load_state_dict(current)
        if rsd_now < (1.0 - c.min_improvement) * rsd_best:
            self.best, self.stale = None, 0
            return
        if self.best is None:  # the state before this batch was the best: keep it
            self.best = previous
        self.stale += steps
        if self.stale >= c.patience * c.steps_per_batch:
            self.model.load_state_dict(self.best)
            self.best = None
            self.stopped_at = self.batches + 1

    def _held_out_rsd(
        self,
        u: torch.Tensor,
        q: torch.Tensor,
        f: torch.Tensor,
        log_q: torch.Tensor | None = None,
    ) -> float:
        """The held-out rsd of the model (of log-density ``log_q`` at u where given); inf
        where the estimate of rsd² came out negative (beyond rounding): held-out noise then
        hides the change, which is not evidence that it helped (on a constant f every update
        read rsd 0 ≤ 1.1 · 0 and was kept)."""
        with torch.no_grad():
            if log_q is None:
                log_q = self._log_prob(u)
            if math.expm1(float(_log_second_moment(f, q, log_q))) < -_ROUNDING:
                return math.inf
            return reweighted_rsd(f, q, log_q)

    def _train(
        self,
        u_val: torch.Tensor,
        q_val: torch.Tensor,
        f_val: torch.Tensor,
        steps: int,
        log_q_val: torch.Tensor | None = None,
    ) -> None:
        c = self.config
        if steps == 0 or not bool((self.buffer.f != 0).any()):
            return
        validate = u_val.shape[0] > 0 and bool((f_val != 0).any())
        if validate:
            rsd_before = self._held_out_rsd(u_val, q_val, f_val, log_q_val)
            previous = self._snapshot()
            saved_adam = self._adam_snapshot()
        loss_fn = LOSSES[c.loss]
        gen = np.random.default_rng([self.seed, self.batches])
        size = len(self.buffer)
        for step in range(steps):
            idx = torch.from_numpy(gen.integers(0, size, min(c.minibatch, size))).to(self.device)
            f_mb = self.buffer.f[idx]
            if not bool((f_mb != 0).any()):
                continue
            for group in self.optimizer.param_groups:
                group["lr"] = self.learning_rate(self.batches + step / steps)
            self.optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(f_mb, self.buffer.q[idx], self._log_prob(self.buffer.u[idx]))
            loss.backward()
            self.optimizer.step()
        if validate:
            rsd_after = self._held_out_rsd(u_val, q_val, f_val)
            if not rsd_after <= rsd_before * (1.0 + c.val_tolerance):
                self.model.load_state_dict(previous)
                self.optimizer.load_state_dict(saved_adam)
                self.rejected += 1
                rsd_after = rsd_before
            self._track_best(rsd_after, rsd_before, previous, (u_val, q_val, f_val), steps)

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters (``model.*``), Adam state (``adam.*``), buffer, counters and the early
        stopping state (``best.*``: the best parameters while they are not the model's)."""
        state = {
            f"model.{k}": v.detach().cpu().numpy().copy()
            for k, v in self.model.state_dict().items()
        }
        for i, s in self.optimizer.state_dict()["state"].items():
            for key, value in s.items():
                state[f"adam.{i}.{key}"] = value.detach().cpu().numpy().astype(np.float64)
        state.update(self.buffer.state_dict())
        state["batches"] = np.array(self.batches, dtype=np.int64)
        state["rejected"] = np.array(self.rejected, dtype=np.int64)
        state["stale"] = np.array(self.stale, dtype=np.int64)
        state["stopped_at"] = np.array(self.stopped_at, dtype=np.int64)
        if self.best is not None:
            state.update({f"best.{k}": v.cpu().numpy().copy() for k, v in self.best.items()})
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict`'s arrays; shapes and finiteness checked first."""
        own = self.model.state_dict()
        missing = [f"model.{k}" for k in own if f"model.{k}" not in state]
        missing += [k for k in ("batches", "rejected") if k not in state]
        if missing:
            raise CheckpointError(
                f"learned-proposal state lacks {', '.join(missing[:4])}"
                f"{' …' if len(missing) > 4 else ''}: it was saved by another backend or "
                "another configuration"
            )
        params = {}
        for k, v in own.items():
            arr = np.asarray(state[f"model.{k}"])
            if arr.shape != tuple(v.shape):
                raise CheckpointError(
                    f"parameter {k} has shape {arr.shape}, expected {tuple(v.shape)} for this "
                    "configuration: the file was saved with other model settings"
                )
            if not np.all(np.isfinite(arr)):
                raise CheckpointError(f"parameter {k} holds NaN or inf values: corrupt state")
            params[k] = torch.from_numpy(np.array(arr, dtype=np.float64)).to(v.dtype)
        self.model.load_state_dict(params)
        adam: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in state.items():
            if key.startswith("adam."):
                _, i, name = key.split(".", 2)
                # Adam casts its moments to their parameter's dtype on loading, not its step
                dtype = torch.float32 if name == "step" else None
                adam.setdefault(int(i), {})[name] = torch.tensor(np.asarray(value), dtype=dtype)
        groups = self.optimizer.state_dict()["param_groups"]
        self.optimizer.load_state_dict({"state": adam, "param_groups": groups})
        if "buffer.u" in state:
            self.buffer.load_state_dict(state)
        self.batches = int(state["batches"])
        self.rejected = int(state["rejected"])
        # states saved before early stopping existed lack these: nothing stopped, no best kept
        self.stale = int(state.get("stale", 0))
        self.stopped_at = int(state.get("stopped_at", 0))
        best = {k[len("best.") :]: v for k, v in state.items() if k.startswith("best.")}
        self.best = None
        if best:
            if set(best) != set(own):
                raise CheckpointError("learned-proposal state has an incomplete best.* state")
            self.best = {
                k: torch.from_numpy(np.array(best[k])).to(v.dtype).to(v.device)
                for k, v in own.items()
            }
