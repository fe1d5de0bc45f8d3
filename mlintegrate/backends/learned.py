"""A torch density model as a backend: numpy at the boundary, one :class:`Trainer` inside.

The model is a ``torch.nn.Module`` with

- ``latent_dim``: how many uniform numbers one sampled point consumes;
- ``sample(z) -> (u, log q(u))`` for z (n, latent_dim) uniform on the cube;
- ``log_prob(u) -> (n,)``: the exact normalised log-density.
- optionally ``before_step(u, q_s, f)``: called with each told batch before the trainer's
  step (e.g. the B-VAE's update of its mixture weight on points its buffer has not seen).

Every random number comes from the numpy generator passed to ``sample`` (z is drawn there and
handed to the model), so the same seed gives the same points on every device. When no ``seed``
is given, the network's initial weights and minibatch seed are drawn from that generator at the
first ``sample`` call (before any training), so the integrator's seed fixes everything.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..rng import child_seed
from ..validate import int_at_least
from .base import Backend
from .nn.trainer import Trainer, TrainingConfig

__all__ = ["LearnedProposal", "torch_device"]

_CHUNK = 4096  # points per no-grad pass: bounds the memory; 4096 sampled ~10 % faster than 8192
# (the conditioner outputs stay nearer in cache; the numbers are bitwise the same)


def torch_device(name: str) -> torch.device:
    """``name`` as a torch device, or a ConfigError naming it and the fix.

    "auto" is the GPU where torch sees one and the CPU otherwise (the portable choice for a
    saved proposal); "cuda" asks for the GPU and says so when there is none.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(
            f"device must be a torch device name like 'cpu' or 'cuda', got {name!r}"
        ) from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device={name!r} but torch sees no CUDA GPU; use device='cpu', or device='auto' "
            "to take the GPU where there is one"
        )
    return device


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
    def wrapper(self: LearnedProposal, *args: Any, **kwargs: Any) -> Any:
        with _torch_threads(self.threads if self.device.type == "cpu" else None):
            return method(self, *args, **kwargs)

    return wrapper


class LearnedProposal(Backend):
    """A trainable torch density model behind the backend contract (module docstring).

    Args:
        dim: dimension d.
        build_model: ``seed -> model`` (the initial weights from that seed).
        training: :class:`TrainingConfig` of the shared trainer.
        device: torch device of the network ("cpu", "cuda").
        threads: torch intra-op threads on the CPU during each call (None: torch's setting).
        seed: seed of the weights and minibatches (None: drawn at the first ``sample``).
    """

    name = "learned"

    def __init__(
        self,
        dim: int,
        build_model: Callable[[int], torch.nn.Module],
        training: TrainingConfig,
        device: str = "cpu",
        threads: int | None = 1,
        seed: int | None = None,
    ):
        super().__init__(dim)
        self.device = torch_device(device)
        self.threads = threads
        self.training = training
        self._build_model = build_model
        self.seed = seed
        self._build(0 if seed is None else seed)

    def _build(self, seed: int) -> None:
        self.model = self._build_model(seed).to(self.device)
        self.trainer = Trainer(self.model, self.dim, self.training, seed, self.device)
        self._hint: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def adapted_lightly(self) -> bool:
        """Whether the last ``_adapt`` took fewer Adam steps than a full batch's (the budget
        capped them, or training had stopped): a mixture's weight step then reads this
        proposal's densities from drawing the batch instead of evaluating it again."""
        return self.trainer.light_step

    def density_hint(self, u: np.ndarray, q_now: np.ndarray) -> None:
        """Told by a mixture just before ``_adapt(u, …)`` with this very ``u``: the density
        q_now (n,) of this proposal as it is now at u (computed when u was drawn), which the
        trainer's held-out rsd before its update reads instead of evaluating the model again
        (the values differ from a new evaluation by rounding only: a point this proposal drew
        has its density from the forward pass)."""
        self._hint = (u, q_now)

    def _seed_from(self, gen: np.random.Generator) -> None:
        """Fix the seed from the caller's generator, before the first training step."""
        if self.seed is None:
            self.seed = child_seed(gen) % 2**32
            if self.trainer.batches == 0:
                self._build(self.seed)

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64)).to(self.device)

    @_with_threads
    def _sample(self, n: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        self._seed_from(gen)
        z = gen.random((n, self.model.latent_dim))
        u, log_q = np.empty((n, self.dim)), np.empty(n)
        with torch.no_grad():
            for lo in range(0, n, _CHUNK):
                x, lq = self.model.sample(self._tensor(z[lo : lo + _CHUNK]))
                u[lo : lo + _CHUNK], log_q[lo : lo + _CHUNK] = x.cpu().numpy(), lq.cpu().numpy()
        return u, np.exp(log_q)

    @_with_threads
    def _density(self, u: np.ndarray) -> np.ndarray:
        out = np.empty(u.shape[0])
        with torch.no_grad():
            for lo in range(0, u.shape[0], _CHUNK):
                log_q = self.model.log_prob(self._tensor(u[lo : lo + _CHUNK]))
                out[lo : lo + _CHUNK] = torch.exp(log_q).cpu().numpy()
        return out

    @_with_threads
    def _adapt(self, u: np.ndarray, q: np.ndarray, f: np.ndarray) -> None:
        if self.seed is None:  # told before ever asked: keep the provisional network's seed
            self.seed = self.trainer.seed
        u_t, q_t, f_t = self._tensor(u), self._tensor(q), self._tensor(f)
        hint, self._hint = self._hint, None
        log_q_now = None
        if hint is not None and hint[0] is u and hint[1].shape == (u.shape[0],):
            with np.errstate(divide="ignore"):
                log_q_now = self._tensor(np.log(hint[1]))
        before = getattr(self.model, "before_step", None)  # e.g. the B-VAE's η update
        if before is not None:
            before(u_t, q_t, f_t)
            log_q_now = None  # the model changed
        self.trainer.step(u_t, q_t, f_t, log_q_now)

    def default_batch_size(self, calls: int) -> int:
        return max(1, min(calls, max(calls // 50, 1000), 20_000))

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim, "training": self.training.to_dict()}

    def state_dict(self) -> dict[str, np.ndarray]:
        state = self.trainer.state_dict()
        if self.seed is not None:
            state["seed"] = np.array(self.seed, dtype=np.int64)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        if "seed" in state:
            seed = int_at_least("seed", int(state["seed"]), 0)
            if seed != self.seed or self.trainer.batches:
                self.seed = seed
                self._build(seed)
        self.trainer.load_state_dict(state)
