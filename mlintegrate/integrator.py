"""The loop around a backend, written once: train, integrate, checkpoint.

Everything here is built on the two calls of the backend contract, ``sample`` (ask) and
``adapt`` (tell), so an embedding program that calls them itself gets the same numbers:
``train`` is exactly ``u, q = backend.sample(n, rng); backend.adapt(u, q, f(u))`` repeated,
with ``rng`` the integrator's generator. ``integrate`` draws *fresh* points from the frozen
proposal, so its estimate is unbiased and independent of the training points.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import asdict
from typing import Any

import numpy as np

from . import backends as _backends
from . import memory
from .backends.base import Backend
from .errors import CheckpointError, ConfigError, IntegrandError
from .events import EventSample, generate_events
from .fingerprint import fingerprint, mismatch
from .history import TrainingHistory, TrainingStatus
from .integrand import evaluate, integrand_dim, integrand_info
from .io.checkpoint import (
    check_integrator_meta,
    load_checkpoint,
    save_checkpoint,
    saved_generator,
)
from .io.writers import EventWriter, open_event_writer
from .metrics import weight_metrics
from .parallel import DEFAULT_CHUNK_SIZE, ParallelIntegrand, check_chunk_size, check_executor
from .progress import progress_bar
from .result import Result, combine_pooled, combine_predictable, estimate
from .rng import RngLike, as_generator
from .validate import positive_int

__all__ = ["Integrator", "TrainingHistory", "TrainingStatus"]

Integrand = Callable[[np.ndarray], np.ndarray]


class Integrator:
    """Importance-sampling integrator over any :class:`~mlintegrate.backends.Backend`.

    Args:
        backend: the proposal (``mli.backends.Vegas(dim=4)``, ...).
        rng: int seed or numpy Generator; every random number of the run comes from it.
        progress: show a progress bar (None: only when stderr is a terminal).
        executor: evaluate the integrand over this ``concurrent.futures.Executor`` (a process
            pool, ``dask_client.get_executor()``, ``MPIPoolExecutor``) in chunks of
            ``chunk_size`` points; the numbers are the same for any executor (see
            ``mlintegrate.parallel``).
    """

    def __init__(
        self,
        backend: Backend,
        rng: RngLike = None,
        progress: bool | None = None,
        executor: Executor | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ):
        if not isinstance(backend, Backend):
            raise TypeError(
                f"backend must be an mlintegrate backend (one of {_backends.names()}), "
                f"got {type(backend).__name__}"
            )
        self.backend = backend
        self.rng = as_generator(rng)
        self.progress = progress
        self.history = TrainingHistory()
        # the fingerprint saved with the proposal: of the integrand trained on (computed at
        # save time from _trained_on), else the one loaded with it
        self._fingerprint: dict[str, Any] | None = None
        self._trained_on: Integrand | None = None
        # (path, fingerprint) of a loaded proposal, checked against the first integrand used
        self._unverified: tuple[str, dict[str, Any]] | None = None
        self.executor = None if executor is None else check_executor(executor)
        self.chunk_size = check_chunk_size(chunk_size)

    @property
    def dim(self) -> int:
        return self.backend.dim

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Ask: n points from the current proposal and their density, from this rng."""
        return self.backend.sample(n, self.rng)

    # ------------------------------------------------------------------ helpers
    def _check_integrand(self, integrand: Integrand) -> None:
        if not callable(integrand):
            raise TypeError(f"integrand must be callable, got {type(integrand).__name__}")
        dim = integrand_dim(integrand)
        if dim is not None and dim != self.dim:
            raise ConfigError(
                f"dimension mismatch: the integrand has dim={dim} but the backend has "
                f"dim={self.dim}; build the backend with dim={dim}"
            )
        self._verify(integrand)

    def _verify(self, integrand: Integrand) -> None:
        """A loaded proposal meets its first integrand: refuse one it was not trained on."""
        if self._unverified is None:
            return
        path, saved = self._unverified
        why = mismatch(saved, integrand, self.dim)
        if why is not None:
            name = saved["name"] or "an unnamed integrand"
            raise CheckpointError(
                f"checkpoint {path!r} was trained on {name} (dim {saved['dim']}), not on this "
                f"integrand: {why}. Use the integrand it was made for, train a new proposal "
                "(another checkpoint path, or resume=False), or load it with "
                "check_integrand=False to sample another integrand on purpose (unbiased, "
                "only less efficient)"
            )
        self._unverified = None

    def _distributed(self, integrand: Integrand) -> Integrand:
        """The integrand as evaluated by this integrator: over the executor, if any."""
        if self.executor is None:
            return integrand
        return ParallelIntegrand(integrand, self.executor, self.chunk_size)

    def _batch(
        self, integrand: Integrand, n: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        t0 = time.perf_counter()
        u, q = self.backend.sample(n, self.rng)
        t1 = time.perf_counter()
        f = evaluate(integrand, u)
        t2 = time.perf_counter()
        return u, q, f, t1 - t0, t2 - t1

    # ------------------------------------------------------------------ training
    def train(
        self,
        integrand: Integrand,
        calls: int,
        batch_size: int | None = None,
        callbacks: Sequence[Callable[[TrainingStatus], bool | None]] = (),
        checkpoint: str | os.PathLike | None = None,
        resume: bool = True,
    ) -> TrainingHistory:
        """Adapt the proposal with ``calls`` integrand calls in batches of ``batch_size``.

        After each batch every callback gets a :class:`TrainingStatus`; one returning True
        stops training. With ``checkpoint`` the proposal, the rng state and the history are
        saved after every batch; with ``resume`` (default) an existing checkpoint there is
        loaded first and only the calls it lacks are made, giving the same numbers as an
        uninterrupted run.
        """
        self._check_integrand(integrand)
        integrand = self._distributed(integrand)
        calls = positive_int("calls", calls)
        batch = self.backend.default_batch_size(calls) if batch_size is None else batch_size
        batch = positive_int("batch_size", batch)
        start_calls = self.history.calls
        if checkpoint is not None and resume and os.path.exists(checkpoint):
            self._restore(checkpoint)
            self._verify(integrand)
            start_calls = 0  # the checkpoint's calls count towards this call's budget
        self._trained_on = integrand
        done = self.history.calls - start_calls
        t_start, time_before = time.perf_counter(), self.history.time_s
        # Equal batches (never a tiny last one, which would adapt on a handful of points);
        # a resumed run continues on the same schedule as an uninterrupted one.
        schedule = np.linspace(0, calls, -(-calls // batch) + 1).astype(int)[1:]
        with progress_bar(f"training {self.backend.name}", calls, self.progress) as bar:
            bar.advance(done)
            for end in schedule[schedule > done]:
                n = int(end) - done
                u, q, f, _, _ = self._batch(integrand, n)
                if not f.any():
                    if not self.history.iterations:
                        raise IntegrandError(
                            f"the integrand is zero at all {n} points of the first training "
                            "batch: check its cuts and its domain (it must live on [0,1]^d), "
                            "or train with more calls per batch (batch_size)"
                        )
                else:
                    self.backend.adapt(u, q, f)
                done += n
                w = f / q
                est = estimate(w)
                status = TrainingStatus(
                    iteration=len(self.history.iterations) + 1,
                    calls=start_calls + done,
                    estimate=est,
                    rsd=est.sdev * math.sqrt(n) / abs(est.mean) if est.mean else math.inf,
                    elapsed_s=time_before + time.perf_counter() - t_start,
                )
                self.history.iterations.append(status)
                self.history.time_s = status.elapsed_s
                bar.advance(n, rsd=f"{status.rsd:.3g}")
                if checkpoint is not None:
                    self.save(checkpoint)
                if any(cb(status) for cb in callbacks):
                    break
        return self.history

    # ------------------------------------------------------------------ estimation
    def integrate(
        self,
        integrand: Integrand,
        calls: int,
        iterations: int = 1,
        batch_size: int = 100_000,
        include_training: bool = False,
        name: str | None = None,
        keep_weights: bool = False,
    ) -> Result:
        """Estimate the integral from ``calls`` fresh points of the frozen proposal.

        The points are split into ``iterations`` equal batches whose agreement is reported
        as χ²/dof; the estimate itself pools all points (they are i.i.d.). With
        ``include_training`` the training iterations are averaged in as well, each weighted
        by the variance of the iteration *before* it (``result.combine_predictable``: weights
        fixed before the points they weight are drawn, so the average is not pulled low the
        way 1/δI² weights from the same points pull it), and χ²/dof tests the whole set.

        Points are evaluated in chunks of ``batch_size``; the weights (8 bytes a call) are
        kept, since the unweighting metrics need all of them, and returned in
        ``Result.weights`` with ``keep_weights``. ``calls`` whose weights would not fit in
        half of the available memory are refused up front (a ``ConfigError`` saying how
        many fit): integrate several times with different seeds and combine instead.
        """
        calls = positive_int("calls", calls)
        iterations = positive_int("iterations", iterations)
        batch_size = positive_int("batch_size", batch_size)
        if iterations > calls:
            raise ConfigError(f"iterations ({iterations}) cannot exceed calls ({calls})")
        memory.require_weights(calls)
        self._check_integrand(integrand)
        integrand = self._distributed(integrand)
        weights = np.empty(calls)
        t_prop = t_f = 0.0
        bounds = np.linspace(0, calls, iterations + 1).astype(int)
        with progress_bar(f"integrating {self.backend.name}", calls, self.progress) as bar:
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
                for start in range(lo, hi, batch_size):
                    n = min(batch_size, hi - start)
                    _, q, f, tp, tf = self._batch(integrand, n)
                    weights[start : start + n] = f / q
                    t_prop += tp
                    t_f += tf
                    bar.advance(n)
        if not weights.any():
            raise IntegrandError(
                f"the integrand is zero at all {calls} evaluation points: it is zero everywhere, "
                "or its support is too small for this proposal (check cuts and that it lives "
                "on [0,1]^d)"
            )
        batches = [estimate(weights[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
        pooled = estimate(weights)
        chi2, dof, q_value = combine_pooled(batches, pooled)
        combination = "pooled"
        if include_training and self.history.iterations:
            training = [s.estimate for s in self.history.iterations]
            pooled, chi2, dof, q_value = combine_predictable(training, pooled)
            batches = training + batches
            combination = "weighted"
        return Result(
            mean=pooled.mean,
            sdev=pooled.sdev,
            calls=calls,
            backend=self.backend.name,
            dim=self.dim,
            **asdict(integrand_info(integrand, name)),
            chi2=chi2,
            dof=dof,
            Q=q_value,
            combination=combination,
            metrics=weight_metrics(weights),
            iterations=batches,
            calls_train=self.history.calls,
            time_train=self.history.time_s,
            time_proposal=t_prop,
            time_integrand=t_f,
            weights=weights if keep_weights else None,
        )

    # ------------------------------------------------------------------ events
    def generate(
        self,
        integrand: Integrand,
        n_events: int,
        out: str | os.PathLike | None = None,
        pilot_calls: int = 100_000,
        batch_size: int = 100_000,
        max_calls: int | None = None,
        keep: bool = True,
        metadata: dict[str, Any] | None = None,
        lhe_weights: str = "auto",
        writer: EventWriter | None = None,
        on_warning: Callable[[str], None] | None = None,
    ) -> EventSample:
        """``n_events`` unweighted events from the frozen proposal (see ``mlintegrate.events``).

        ``out`` names the event file; its suffix picks the format (``.lhe``, ``.lhe.gz``,
        ``.hepmc``, ``.h5``/``.hdf5``, ``.npz``; see ``open_event_writer`` in
        :mod:`mlintegrate.io.writers`), and the file is valid after every chunk, also when the
        run is killed. ``lhe_weights`` (``auto``, ``unit``, ``signed``, ``pb``) picks the LHE weight
        strategy (:mod:`mlintegrate.io.lhe`). Instead of ``out`` a caller may pass a
        ``writer`` it opened itself (it is finalized here). ``keep=False`` holds no events in
        memory (only the file gets them). Advice on the pilot and on overweights goes to
        ``on_warning`` (default: an :class:`~mlintegrate.events.EventWarning`).
        """
        self._check_integrand(integrand)
        evaluated = self._distributed(integrand)  # before any file is opened
        n_events = positive_int("n_events", n_events)
        pilot_calls = positive_int("pilot_calls", pilot_calls)
        batch_size = positive_int("batch_size", batch_size)
        if out is not None and writer is not None:
            raise ConfigError("generate: give out= or writer=, not both")
        if out is not None:
            meta = {
                "generator": "mlintegrate",
                "process": getattr(integrand, "name", ""),
                "backend": self.backend.name,
                "calls_train": self.history.calls,
                "requested": n_events,
                **(metadata or {}),
            }
            writer = open_event_writer(out, integrand, meta, lhe_weights=lhe_weights)
        return generate_events(
            self.sample,
            evaluated,
            n_events,
            rng=self.rng,
            pilot_calls=pilot_calls,
            batch_size=batch_size,
            max_calls=max_calls,
            writer=writer,
            keep=keep,
            progress=self.progress,
            on_warning=on_warning,
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Save the proposal, its training history, the rng state and the fingerprint of the
        integrand it was trained on (atomic write; see ``mlintegrate.fingerprint``)."""
        if self._trained_on is not None:
            source, self._trained_on = self._trained_on, None
            self._fingerprint = fingerprint(source, self.dim)
        from . import __version__

        meta = {
            "backend": self.backend.name,
            "config": self.backend.config(),
            "mlintegrate_version": __version__,
            "history": self.history.to_dict(),
            "rng_state": self.rng.bit_generator.state,
        }
        if self._fingerprint is not None:
            meta["fingerprint"] = self._fingerprint
        save_checkpoint(path, meta, self.backend.state_dict())

    def _restore(self, path: str | os.PathLike) -> None:
        meta, arrays = load_checkpoint(path)
        meta = check_integrator_meta(meta, path)
        if meta["backend"] != self.backend.name or meta["config"] != self.backend.config():
            raise CheckpointError(
                f"checkpoint {str(path)!r} holds backend {meta['backend']!r} with "
                f"{meta['config']}, but this integrator has {self.backend!r}; "
                "use a new checkpoint path or resume=False"
            )
        self._load_into(meta, arrays, path)

    def _load_into(
        self,
        meta: dict[str, Any],
        arrays: dict[str, np.ndarray],
        path: str | os.PathLike,
        restore_rng: bool = True,
        check_integrand: bool = True,
    ) -> None:
        """Load checked metadata (``check_integrator_meta``) and the backend's arrays."""
        rng = None
        if restore_rng and meta["rng_state"] is not None:
            try:
                rng = saved_generator(meta["rng_state"])
            except ValueError as exc:
                raise CheckpointError(f"checkpoint {str(path)!r} is damaged: {exc}") from exc
        try:
            history = TrainingHistory.from_dict(meta["history"])
        except ValueError as exc:
            raise CheckpointError(f"checkpoint {str(path)!r} is damaged: {exc}") from exc
        try:
            self.backend.load_state_dict(arrays)
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as exc:
            why = f"it lacks the array {exc}" if isinstance(exc, KeyError) else exc
            raise CheckpointError(
                f"checkpoint {str(path)!r} does not load into {self.backend!r}: {why}"
            ) from exc
        self.history = history
        if rng is not None:
            if type(rng.bit_generator) is type(self.rng.bit_generator):
                self.rng.bit_generator.state = rng.bit_generator.state  # the caller's object
            else:
                self.rng = rng
        self._fingerprint = meta["fingerprint"]
        self._trained_on = None
        fp = meta["fingerprint"]
        self._unverified = (str(path), fp) if fp is not None and check_integrand else None

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        rng: RngLike = None,
        progress: bool | None = None,
        check_integrand: bool = True,
    ) -> Integrator:
        """Rebuild a saved integrator. With ``rng=None`` the saved rng state continues.

        No integrand is needed here: the first one given to ``train``, ``integrate`` or
        ``generate`` is checked against the saved fingerprint and refused if it differs
        (``check_integrand=False`` skips that, to sample another integrand on purpose).
        Files saved before fingerprints existed are accepted unchecked.
        """
        meta, arrays = load_checkpoint(path)
        meta = check_integrator_meta(meta, path)
        try:
            backend = _backends.build({"backend": meta["backend"], "config": meta["config"]})
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(
                f"checkpoint {str(path)!r} names an unusable backend: {exc}"
            ) from exc
        integ = cls(backend, rng=0 if rng is None else rng, progress=progress)
        integ._load_into(meta, arrays, path, rng is None, check_integrand)
        return integ
