"""Unweighted events from a frozen proposal, streamed in chunks.

1. A pilot sample of fresh points fixes w_max as the *reduced* maximum (overweights carry
   10⁻³ of σ, see ``metrics``).
2. Chunks of points are drawn, weighted and unweighted by hit-or-miss against that w_max;
   overweight events keep their weight |w|/w_max > 1, so σ stays unbiased. Only the kept
   events are held (or passed to a writer), never all weighted points.
3. σ ± δσ is the pooled estimate over every point evaluated (pilot included): they are
   i.i.d. from the same frozen proposal.

Signed weights are allowed: events carry the sign.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .integrand import IntegrandError, evaluate
from .metrics import reduced_max_weight
from .progress import progress_bar
from .unweighting import unweight

__all__ = ["EventSample", "EventWriter", "generate_events"]


class EventWriter(Protocol):
    def write(self, momenta: np.ndarray, weights: np.ndarray, pdg_ids: np.ndarray) -> None: ...

    def finalize(self, cross_section: float, error: float, status: str) -> Any: ...


@dataclass
class EventSample:
    """Unweighted events and how they were made."""

    u: np.ndarray  # (k, d) points on the unit cube
    weights: np.ndarray  # (k,) ±1, or ±|w|/w_max for overweights
    momenta: np.ndarray | None  # (k, N, 4) for a process
    pdg_ids: np.ndarray | None  # (k, N) for a process with particle content
    cross_section: float
    error: float
    w_max: float
    calls: int  # integrand calls, pilot included
    accepted: int  # hit-or-miss acceptances over all those calls (≥ n_events: the last
    #                chunk is cut at n_requested)
    n_requested: int
    complete: bool
    time_s: float

    @property
    def n_events(self) -> int:
        return int(self.weights.size)

    @property
    def overweight_fraction(self) -> float:
        return float(np.mean(np.abs(self.weights) > 1.0)) if self.n_events else 0.0

    @property
    def efficiency(self) -> float:
        """Realised unweighting efficiency: hit-or-miss acceptances per integrand call, over
        every point evaluated (pilot included), not cut at the events requested."""
        return self.accepted / self.calls if self.calls else 0.0

    @property
    def negative_fraction(self) -> float:
        return float(np.mean(self.weights < 0)) if self.n_events else 0.0


class _Moments:
    """Running Σw, Σw² of the weights, for the pooled σ ± δσ."""

    def __init__(self) -> None:
        self.n, self.s1, self.s2 = 0, 0.0, 0.0

    def add(self, w: np.ndarray) -> None:
        self.n += w.size
        self.s1 += float(w.sum())
        self.s2 += float(np.dot(w, w))

    def estimate(self) -> tuple[float, float]:
        mean = self.s1 / self.n
        var = max(self.s2 / self.n - mean * mean, 0.0) * self.n / max(self.n - 1, 1)
        return mean, math.sqrt(var / self.n)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM (``kill``) into KeyboardInterrupt so files are finalised either way."""

    def handler(signum, frame):  # noqa: ANN001, ARG001
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not in the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def generate_events(
    sample: Callable[[int], tuple[np.ndarray, np.ndarray]],
    integrand: Callable[[np.ndarray], np.ndarray],
    n_events: int,
    rng: np.random.Generator,
    pilot_calls: int = 100_000,
    batch_size: int = 100_000,
    max_calls: int | None = None,
    writer: EventWriter | None = None,
    keep: bool = True,
    progress: bool | None = None,
) -> EventSample:
    """Draw ``n_events`` unweighted events (see the module docstring).

    ``sample(n) -> (u, q)`` draws from the frozen proposal. With ``writer`` each chunk of
    events is written as it comes, and ``writer.finalize`` runs at the end or on interruption
    (Ctrl-C, SIGTERM), which is then re-raised. ``max_calls`` bounds the integrand calls.
    """
    process = integrand if hasattr(integrand, "momenta") else None
    particles = getattr(process, "particles", None)
    moments = _Moments()
    t0 = time.perf_counter()
    u_pilot, q_pilot = sample(pilot_calls)
    w_pilot = evaluate(integrand, u_pilot) / q_pilot
    if not w_pilot.any():
        raise IntegrandError(
            f"all {pilot_calls} pilot points have weight 0: the integrand vanishes on the "
            "proposal's support; no events can be generated"
        )
    moments.add(w_pilot)
    w_max = reduced_max_weight(w_pilot)
    kept_u, kept_w, kept_p, kept_ids = [], [], [], []
    n_kept = n_accepted = 0
    limit = max_calls if max_calls is not None else math.inf
    status = "interrupted"
    try:
        with _sigterm_as_interrupt(), progress_bar("events", n_events, progress) as bar:
            # the pilot points are i.i.d. too: unweight them first
            pending = [(u_pilot, w_pilot)]
            while n_kept < n_events:
                if pending:
                    u, w = pending.pop()
                else:
                    if moments.n >= limit:
                        status = f"stopped at max_calls={max_calls}"
                        break
                    u, q = sample(int(min(batch_size, limit - moments.n)))
                    w = evaluate(integrand, u) / q
                    moments.add(w)
                ev = unweight(w, w_max, rng)
                n_accepted += ev.indices.size
                take = ev.indices[: n_events - n_kept]
                weights = ev.weights[: take.size]
                if take.size:
                    u_ev = u[take]
                    p_ev = process.momenta(u_ev)[0] if process is not None else None
                    ids = particles.ids(take.size, rng) if particles is not None else None
                    if writer is not None:
                        writer.write(p_ev, weights, ids)
                    if keep:
                        kept_u.append(u_ev)
                        kept_w.append(weights)
                        if p_ev is not None:
                            kept_p.append(p_ev)
                        if ids is not None:
                            kept_ids.append(ids)
                    n_kept += take.size
                    rate = n_kept / max(time.perf_counter() - t0, 1e-9)
                    bar.advance(
                        int(take.size), eff=f"{n_kept / moments.n:.2%}", rate=f"{rate:.0f} ev/s"
                    )
            else:
                status = "complete"
    finally:
        sigma, error = moments.estimate()
        if writer is not None:
            writer.finalize(sigma, error, status)
    d = u_pilot.shape[1]
    return EventSample(
        u=np.concatenate(kept_u) if kept_u else np.empty((0, d)),
        weights=np.concatenate(kept_w) if kept_w else np.empty(0),
        momenta=np.concatenate(kept_p) if kept_p else None,
        pdg_ids=np.concatenate(kept_ids) if kept_ids else None,
        cross_section=sigma,
        error=error,
        w_max=w_max,
        calls=moments.n,
        accepted=n_accepted,
        n_requested=n_events,
        complete=status == "complete",
        time_s=time.perf_counter() - t0,
    )
