r"""A normalizing-flow proposal on the unit cube: spline couplings, buffered ask/tell training.

The proposal is the mixture

    q(u) = (1 − λ) q_flow(u) + λ · 1,      λ = ``defensive``,

of a flow q_flow (:class:`~.nn.CouplingFlow`, a bijection of [0,1]^d with a uniform base) and
the uniform density, which keeps q ≥ λ > 0 wherever f ≠ 0 whatever the training did. Both
terms are exact, so every estimate f/q is unbiased.

Sampling: z ~ U[0,1]^d and a component per point (uniform with probability λ) from the numpy
generator passed to ``sample``, so the same seed gives the same numbers on every device;
flow points are u = T(z), uniform points u = z. q(u) is evaluated exactly at every point:
from the forward log-determinant for flow points, by the inverse pass for uniform ones.

With ``premap="vegas"`` (MadNIS style) the flow lives in the y-space of a VEGAS map
u = V(y) adapted on the first ``premap_batches`` batches (the flow stays the identity
meanwhile) and frozen afterwards: q_flow(u) = q_T(y) / J_V(y).

Training (``adapt(u, q, f)``): the points go into a FIFO buffer of ``buffer_size`` points
that keeps each point's sampling density q_s; then ``steps_per_batch`` Adam steps on
minibatches of ``minibatch`` points drawn uniformly from the buffer minimise ``loss``
(:mod:`.nn.losses`; weights |f|/q_s, valid for points of earlier proposals too). A
validation slice (the last ``val_fraction`` of the batch, fresh points never used for a
gradient in this call; they enter the buffer afterwards) decides whether the update is kept:
with rsd_θ estimated on those points by reweighting, rsd² ≈ E_{q_s}[f²/(q_θ q_s)]/I² − 1, the
update is undone (parameters and optimiser state) when rsd_after > rsd_before. Both figures
come from the same points, so the comparison is paired (most of the noise cancels), and a
single global "best" is avoided on purpose: the minimum over noisy estimates from different
batches would keep a lucky early state. The learning rate follows ``schedule`` as a function
of the batches trained on (cosine from ``lr`` to ``lr_final`` over ``decay_batches``).
Minibatch draws come from a generator seeded by (``seed``, batch number), so ``adapt`` is
deterministic and a resumed run repeats an uninterrupted one exactly: ``state_dict`` holds
the parameters, the Adam state, the buffer, the batch counter and the VEGAS pre-map.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from ..rng import RngLike, as_generator
from .base import Backend, check_points
from .nn.buffer import SampleBuffer
from .nn.coupling import CouplingFlow
from .nn.losses import LOSSES, reweighted_rsd
from .nn.masks import binary_masks
from .vegas import Vegas

__all__ = ["Flow"]

SCHEDULES = ("cosine", "constant")
PREMAPS = (None, "vegas")
_CHUNK = 8192  # points per no-grad pass (bounds the memory of the (n, d, 2, bins) tensors)
_MIN_VALIDATION = 64  # fewer held-out points than this: no validation, every update kept


def _check_int(name: str, value: Any, low: int, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} must be an int ≥ {low}, got {value!r}; {fix}")
    return int(value)


def _check_float(
    name: str, value: Any, low: float, high: float, fix: str, open_high=False
) -> float:
    ok = isinstance(value, int | float | np.floating) and not isinstance(value, bool)
    ok = (
        ok
        and math.isfinite(value)
        and low <= value
        and (value < high if open_high else value <= high)
    )
    if not ok:
        bracket = ")" if open_high else "]"
        raise ValueError(
            f"{name} must be a number in [{low}, {high}{bracket}, got {value!r}; {fix}"
        )
    return float(value)


def _check_choice(name: str, value: Any, choices: tuple) -> Any:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch intra-op threads, restoring the caller's setting afterwards."""
    old = torch.get_num_threads()
    if n is None or n == old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _with_threads(method: Callable) -> Callable:
    @functools.wraps(method)
    def wrapper(self: Flow, *args: Any, **kwargs: Any) -> Any:
        with _torch_threads(self.threads if self.device.type == "cpu" else None):
            return method(self, *args, **kwargs)

    return wrapper


class Flow(Backend):
    """Normalizing-flow proposal with a uniform defensive component (see the module docstring).

    Args:
        dim: dimension d.
        n_layers: coupling layers (None: every binary mask once, 2⌈log₂ d⌉; 1 for d = 1).
        bins: rational-quadratic spline bins.
        hidden, depth: width and number of hidden layers of each conditioner MLP.
        lr, lr_final: Adam learning rate at the start and the end of the schedule.
        schedule: "cosine" (lr → lr_final over ``decay_batches`` batches) or "constant".
        decay_batches: batches over which the cosine schedule decays.
        loss: "kl", "variance" or "mix" (:mod:`.nn.losses`). The default "mix" is measured
            (200k training calls, seed 3): on ee_qqg ε_median-max 12 % (kl), 19 % (mix),
            20 % (variance); on camel d = 8 at 10⁶ calls rsd 0.41 (kl), 0.56 (mix), 0.68
            (variance): the variance term targets the largest weights, KL the bulk.
        defensive: weight λ of the uniform component, in [0, 1).
        buffer_size: points kept for buffered training.
        steps_per_batch: Adam steps per ``adapt`` call.
        minibatch: points per Adam step.
        val_fraction: fraction of each batch held out to validate the update (0: keep all).
        val_tolerance: relative worsening of the held-out rsd still accepted (noise margin).
        premap: None or "vegas" (flow in the y-space of a VEGAS map).
        premap_batches: batches that adapt the VEGAS map before the flow trains.
        device: torch device of the network ("cpu", "cuda"); results are numpy either way.
        threads: torch intra-op threads on the CPU during ``sample``, ``density`` and
            ``adapt`` (set and restored around each call); None leaves torch's setting. The
            default 1 is measured: these tensors are small, and on a shared 2-core machine
            two threads made a training step 4× slower (a ReLU on 1024×64 numbers: 8 ms with
            2 threads against 30 µs with 1).
        seed: seed of the initial weights and of the minibatch draws.
    """

    name = "flow"

    def __init__(
        self,
        dim: int,
        *,
        n_layers: int | None = None,
        bins: int = 16,
        hidden: int = 64,
        depth: int = 2,
        lr: float = 3e-3,
        lr_final: float = 3e-4,
        schedule: str = "cosine",
        decay_batches: int = 50,
        loss: str = "mix",
        defensive: float = 0.05,
        buffer_size: int = 50_000,
        steps_per_batch: int = 20,
        minibatch: int = 1024,
        val_fraction: float = 0.2,
        val_tolerance: float = 0.1,
        premap: str | None = None,
        premap_batches: int = 5,
        device: str = "cpu",
        threads: int | None = 1,
        seed: int = 0,
    ):
        super().__init__(dim)
        if n_layers is not None:
            n_layers = _check_int("n_layers", n_layers, 1, "or None for the default")
        self.n_layers = n_layers
        self.bins = _check_int("bins", bins, 2, "e.g. bins=16")
        self.hidden = _check_int("hidden", hidden, 1, "e.g. hidden=64")
        self.depth = _check_int("depth", depth, 1, "e.g. depth=2")
        self.lr = _check_float("lr", lr, 0.0, 1.0, "e.g. lr=3e-3")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr!r}; e.g. lr=3e-3")
        self.lr_final = _check_float("lr_final", lr_final, 0.0, self.lr, f"at most lr={lr}")
        self.schedule = _check_choice("schedule", schedule, SCHEDULES)
        self.decay_batches = _check_int("decay_batches", decay_batches, 1, "e.g. 50")
        self.loss = _check_choice("loss", loss, tuple(LOSSES))
        self.defensive = _check_float(
            "defensive", defensive, 0.0, 1.0, "e.g. defensive=0.05", open_high=True
        )
        self.buffer_size = _check_int("buffer_size", buffer_size, 1, "e.g. buffer_size=50000")
        self.steps_per_batch = _check_int("steps_per_batch", steps_per_batch, 0, "e.g. 20")
        self.minibatch = _check_int("minibatch", minibatch, 1, "e.g. minibatch=1024")
        self.val_fraction = _check_float(
            "val_fraction", val_fraction, 0.0, 1.0, "e.g. val_fraction=0.2", open_high=True
        )
        self.val_tolerance = _check_float(
            "val_tolerance", val_tolerance, 0.0, math.inf, "e.g. val_tolerance=0.1"
        )
        self.premap = _check_choice("premap", premap, PREMAPS)
        self.premap_batches = _check_int("premap_batches", premap_batches, 0, "e.g. 5")
        self.seed = _check_int("seed", seed, 0, "a non-negative int")
        if threads is not None:
            threads = _check_int("threads", threads, 1, "or None to keep torch's setting")
        self.threads = threads
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(
                f"device must be a torch device name like 'cpu' or 'cuda', got {device!r}"
            ) from exc
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} but torch sees no CUDA GPU; use device='cpu'")
        self._device_name = str(device)

        self.flow = CouplingFlow(
            self.dim,
            n_layers if n_layers is not None else max(1, len(binary_masks(self.dim))),
            self.bins,
            self.hidden,
            self.depth,
            seed=self.seed,
        ).to(self.device)
        self._params = list(self.flow.parameters())
        self.optimizer = torch.optim.Adam(self._params, lr=self.lr)
        self.buffer = SampleBuffer(self.dim, self.buffer_size, self.device)
        self.vegas = Vegas(self.dim) if self.premap == "vegas" else None
        self.batches = 0  # adapt calls so far
        self.rejected = 0  # updates undone by the validation rule

    # ------------------------------------------------------------------ densities
    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64)).to(self.device)

    def _to_model_space(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """u → (y, log J_V(y)): the flow's coordinates and the pre-map's log-Jacobian."""
        if self.vegas is None:
            return u, torch.zeros(u.shape[0], dtype=u.dtype, device=u.device)
        y, jac = self.vegas._inverse(np.ascontiguousarray(u.detach().cpu().numpy()))
        return self._tensor(y), self._tensor(np.log(jac))

    def _log_mixture(self, log_flow: torch.Tensor) -> torch.Tensor:
        """log((1 − λ) e^{log_flow} + λ)."""
        lam = self.defensive
        if lam == 0.0:
            return log_flow
        return torch.logaddexp(
            log_flow + math.log1p(-lam), torch.full_like(log_flow, math.log(lam))
        )

    def _log_q(self, y: torch.Tensor, logj: torch.Tensor) -> torch.Tensor:
        """log q(u) of the mixture from the flow coordinates y and the pre-map log J (n,)."""
        return self._log_mixture(self.flow.log_prob(y) - logj)

    def _density_inside(self, u: np.ndarray) -> np.ndarray:
        out = np.empty(u.shape[0])
        with torch.no_grad():
            for lo in range(0, u.shape[0], _CHUNK):
                y, logj = self._to_model_space(self._tensor(u[lo : lo + _CHUNK]))
                out[lo : lo + _CHUNK] = torch.exp(self._log_q(y, logj)).cpu().numpy()
        return out

    @_with_threads
    def density(self, u: np.ndarray) -> np.ndarray:
        u = check_points(u, self.dim)
        inside = np.all((u >= 0.0) & (u <= 1.0), axis=1)
        q = np.zeros(u.shape[0])
        if inside.any():
            q[inside] = self._density_inside(np.ascontiguousarray(u[inside]))
        return q

    @_with_threads
    def sample(self, n: int, rng: RngLike = None) -> tuple[np.ndarray, np.ndarray]:
        n = self._check_n(n)
        gen = as_generator(rng)
        z = gen.random((n, self.dim))
        uniform = gen.random(n) < self.defensive
        u = z.copy()
        log_flow = np.empty(n)
        idx = np.flatnonzero(~uniform)
        with torch.no_grad():
            for lo in range(0, idx.size, _CHUNK):
                rows = idx[lo : lo + _CHUNK]
                y, logdet = self.flow(self._tensor(z[rows]))
                y, logdet = y.cpu().numpy(), logdet.cpu().numpy()
                if self.vegas is not None:
                    x, jac = np.empty_like(y), np.empty(y.shape[0])
                    self.vegas.map.map(y, x, jac)
                    y, logdet = np.clip(x, 0.0, 1.0), logdet + np.log(jac)
                u[rows], log_flow[rows] = y, -logdet
            for lo in range(0, n - idx.size, _CHUNK):
                rows = np.flatnonzero(uniform)[lo : lo + _CHUNK]
                y, logj = self._to_model_space(self._tensor(u[rows]))
                log_flow[rows] = (self.flow.log_prob(y) - logj).cpu().numpy()
        lam = self.defensive
        return u, (1.0 - lam) * np.exp(log_flow) + lam

    # ------------------------------------------------------------------ training
    def learning_rate(self, progress: float) -> float:
        """The learning rate after ``progress`` batches (fractional within a batch)."""
        if self.schedule == "constant":
            return self.lr
        frac = min(progress / self.decay_batches, 1.0)
        return self.lr_final + 0.5 * (self.lr - self.lr_final) * (1.0 + math.cos(math.pi * frac))

    def _validation_rsd(self, y, logj, q, f) -> float:
        with torch.no_grad():
            return reweighted_rsd(f, q, self._log_q(y, logj))

    @_with_threads
    def adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:
        u = check_points(u, self.dim)
        n = u.shape[0]
        q = np.asarray(q, dtype=np.float64)
        f = np.asarray(f, dtype=np.float64)
        if q.shape != (n,) or f.shape != (n,):
            raise ValueError(
                f"q and f must have shape ({n},) like u's {n} points, got {q.shape} and {f.shape}"
            )
        if not (np.all(np.isfinite(q)) and np.all(q > 0)):
            raise ValueError("q must be finite and > 0 at every point (the sampling density)")
        if not np.all(np.isfinite(f)):
            raise ValueError("f has NaN or inf values; check the integrand")
        ut, qt, ft = self._tensor(u), self._tensor(q), self._tensor(f)
        if self.vegas is not None and self.batches < self.premap_batches:
            self.vegas.adapt(u, q, f)  # VEGAS phase: the flow stays the identity
            self.buffer.add(ut, qt, ft)
            self.batches += 1
            return
        n_val = round(self.val_fraction * n)
        n_val = n_val if n_val >= _MIN_VALIDATION and n_val < n else 0
        n_train = n - n_val
        self.buffer.add(ut[:n_train], qt[:n_train], ft[:n_train])
        self._train(ut[n_train:], qt[n_train:], ft[n_train:])
        self.buffer.add(ut[n_train:], qt[n_train:], ft[n_train:])
        self.batches += 1

    def _train(self, u_val: torch.Tensor, q_val: torch.Tensor, f_val: torch.Tensor) -> None:
        """Adam steps on buffer minibatches; undo them if the validation rsd got worse."""
        if self.steps_per_batch == 0 or not bool((self.buffer.f != 0).any()):
            return
        validate = u_val.shape[0] > 0 and bool((f_val != 0).any())
        if validate:
            y_val, logj_val = self._to_model_space(u_val)
            rsd_before = self._validation_rsd(y_val, logj_val, q_val, f_val)
            saved = (
                copy.deepcopy(self.flow.state_dict()),
                copy.deepcopy(self.optimizer.state_dict()),
            )
        y_all, logj_all = self._to_model_space(self.buffer.u)
        q_all, f_all = self.buffer.q, self.buffer.f
        loss_fn = LOSSES[self.loss]
        gen = np.random.default_rng([self.seed, self.batches])
        size = len(self.buffer)
        for step in range(self.steps_per_batch):
            idx = torch.from_numpy(gen.integers(0, size, min(self.minibatch, size)))
            idx = idx.to(self.device)
            f_mb = f_all[idx]
            if not bool((f_mb != 0).any()):
                continue
            for group in self.optimizer.param_groups:
                group["lr"] = self.learning_rate(self.batches + step / self.steps_per_batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(f_mb, q_all[idx], self._log_q(y_all[idx], logj_all[idx]))
            loss.backward()
            self.optimizer.step()
        if validate:
            rsd_after = self._validation_rsd(y_val, logj_val, q_val, f_val)
            if not rsd_after <= rsd_before * (1.0 + self.val_tolerance):
                self.flow.load_state_dict(saved[0])
                self.optimizer.load_state_dict(saved[1])
                self.rejected += 1

    def default_batch_size(self, calls: int) -> int:
        return max(1, min(calls, max(calls // 50, 1000), 20_000))

    # ------------------------------------------------------------------ persistence
    def config(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "n_layers": self.n_layers,
            "bins": self.bins,
            "hidden": self.hidden,
            "depth": self.depth,
            "lr": self.lr,
            "lr_final": self.lr_final,
            "schedule": self.schedule,
            "decay_batches": self.decay_batches,
            "loss": self.loss,
            "defensive": self.defensive,
            "buffer_size": self.buffer_size,
            "steps_per_batch": self.steps_per_batch,
            "minibatch": self.minibatch,
            "val_fraction": self.val_fraction,
            "val_tolerance": self.val_tolerance,
            "premap": self.premap,
            "premap_batches": self.premap_batches,
            "device": self._device_name,
            "threads": self.threads,
            "seed": self.seed,
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters, Adam state, buffer, counters and pre-map: resuming repeats a run exactly."""
        state = {
            f"flow.{k}": v.detach().cpu().numpy().copy() for k, v in self.flow.state_dict().items()
        }
        for i, s in self.optimizer.state_dict()["state"].items():
            for key, value in s.items():
                state[f"adam.{i}.{key}"] = value.detach().cpu().numpy().astype(np.float64)
        state.update(self.buffer.state_dict())
        state["batches"] = np.array(self.batches, dtype=np.int64)
        state["rejected"] = np.array(self.rejected, dtype=np.int64)
        if self.vegas is not None:
            state.update({f"vegas.{k}": v for k, v in self.vegas.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        own = self.flow.state_dict()
        missing = [f"flow.{k}" for k in own if f"flow.{k}" not in state]
        missing += [k for k in ("batches", "rejected") if k not in state]
        if missing:
            raise ValueError(
                f"flow state lacks {', '.join(missing[:4])}{' …' if len(missing) > 4 else ''}: "
                "it was saved by another backend or another flow configuration"
            )
        params = {}
        for k, v in own.items():
            arr = np.asarray(state[f"flow.{k}"], dtype=np.float64)
            if arr.shape != tuple(v.shape):
                raise ValueError(
                    f"flow parameter {k} has shape {arr.shape}, expected {tuple(v.shape)} for "
                    f"this configuration (dim={self.dim}, bins={self.bins}, hidden={self.hidden})"
                )
            params[k] = torch.from_numpy(arr.copy())
        self.flow.load_state_dict(params)
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
        if self.vegas is not None:
            self.vegas.load_state_dict(
                {k[6:]: v for k, v in state.items() if k.startswith("vegas.")}
            )
