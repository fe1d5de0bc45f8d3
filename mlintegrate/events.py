"""Unweighted events from a frozen proposal, streamed in chunks.

1. A pilot sample of fresh points fixes w_max as the *reduced* maximum (overweights carry
   10⁻³ of σ, see ``metrics``).
2. Chunks of points are drawn, weighted and unweighted by hit-or-miss against that w_max;
   overweight events keep their weight |w|/w_max > 1, so σ stays unbiased. Only the kept
   events are held (or passed to a writer), never all weighted points.
3. σ ± δσ is the pooled estimate over every point evaluated (pilot included): they are
   i.i.d. from the same frozen proposal.

Signed weights are allowed: events carry the sign. Each event records ``trials``, the integrand
calls since the previous kept event (Σ trials = calls up to the last event), so
w_max · Σ weights / Σ trials is the trial-normalised σ that readers of LHEH5 compute.

With a writer (:func:`mlintegrate.io.writers.open_event_writer`) every chunk is written as it
completes, with σ of the calls so far; SIGINT and SIGTERM are held back while a chunk (or the
end of the run) is being written, so the file and the counts quoted never disagree. The pilot's
advice (``pilot_warnings``) and a report of excess overweights go to ``on_warning``.
"""

from __future__ import annotations

import math
import signal
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .integrand import IntegrandError, evaluate
from .io.writers import EventChunk, EventWriter, RunState
from .metrics import reduced_max_weight
from .progress import progress_bar
from .unweighting import unweight

__all__ = [
    "EventSample",
    "EventWarning",
    "generate_events",
    "pilot_warnings",
    "sigterm_as_interrupt",
]


class EventWarning(UserWarning):
    """A sample that is valid but likely not what the user wants (tiny pilot, overweights)."""


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
    trials: np.ndarray | None = None  # (k,) calls since the previous kept event
    status: str = ""
    warnings: list[str] = field(default_factory=list)
    events_made: int = 0  # events generated (written), kept in memory or not
    overweights_made: int = 0  # of those, with |weight| > 1
    overweight_sigma_share: float = 0.0  # Σ|weight| of the overweights / Σ|weight|

    @property
    def n_events(self) -> int:
        return int(self.weights.size)

    @property
    def overweight_fraction(self) -> float:
        """Fraction of the events generated with |weight| > 1 (kept in memory or not)."""
        return self.overweights_made / self.events_made if self.events_made else 0.0

    @property
    def efficiency(self) -> float:
        """Realised unweighting efficiency: hit-or-miss acceptances per integrand call, over
        every point evaluated (pilot included), not cut at the events requested."""
        return self.accepted / self.calls if self.calls else 0.0

    @property
    def negative_fraction(self) -> float:
        return float(np.mean(self.weights < 0)) if self.n_events else 0.0


class _Overweights:
    """Counts of the events made and of the overweight ones, with their Σ|weight|."""

    def __init__(self) -> None:
        self.n = self.n_over = 0
        self.total = self.total_over = self.excess = 0.0

    def add(self, a: np.ndarray) -> None:
        big = a > 1.0
        self.n += a.size
        self.n_over += int(big.sum())
        self.total += float(a.sum())
        self.total_over += float(a[big].sum())
        self.excess += float((a[big] - 1.0).sum())

    @property
    def fraction(self) -> float:
        return self.n_over / self.n if self.n else 0.0

    @property
    def share(self) -> float:
        return self.total_over / self.total if self.total else 0.0

    @property
    def excess_share(self) -> float:
        """Σ(|weight| − 1)₊ / Σ|weight|: the part of σ above w_max (by design 10⁻³)."""
        return self.excess / self.total if self.total else 0.0


class _Moments:
    """Running Σw, Σw² of the weights, for the pooled σ ± δσ."""

    def __init__(self) -> None:
        self.n, self.s1, self.s2 = 0, 0.0, 0.0

    def add(self, w: np.ndarray) -> None:
        self.n += w.size
        self.s1 += float(w.sum())
        self.s2 += float(np.dot(w, w))

    def estimate(self) -> tuple[float, float]:
        if self.n == 0:
            return 0.0, 0.0
        mean = self.s1 / self.n
        var = max(self.s2 / self.n - mean * mean, 0.0) * self.n / max(self.n - 1, 1)
        return mean, math.sqrt(var / self.n)


class _Signals:
    """SIGINT and SIGTERM as KeyboardInterrupt, held back while a file is being written.

    Inside :meth:`critical` a signal only sets a flag and the interrupt is raised when the
    block ends, so a writer never stops between appending events and updating its header
    (the file and the counts the messages quote stay in step). Outside it, and in threads
    other than the main one (where handlers cannot be set), signals act at once.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.pending = False

    def handler(self, signum, frame) -> None:  # noqa: ANN001, ARG002
        if self.depth:
            self.pending = True
            return
        raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[_Signals]:
        try:
            old = {s: signal.signal(s, self.handler) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not in the main thread: leave signals alone
            yield self
            return
        try:
            yield self
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    @contextmanager
    def critical(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if not self.depth and self.pending:
                self.pending = False
                raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM (``kill``, batch limits) into KeyboardInterrupt so files are finalised."""
    with _Signals().installed():
        yield


def pilot_warnings(
    w: np.ndarray, w_max: float, n_events: int, max_calls: int | None = None
) -> list[str]:
    """What the pilot weights ``w`` (n,) say about the w_max they fixed, as advice.

    * one weight sets w_max: the reduced maximum without the largest |w| is < w_max / 3;
    * the pilot is small: the expected calls n_events / ε (ε = ⟨|w|⟩ / w_max) exceed 100
      pilots, or the pilot has < 10⁴ points; w_max is then poorly determined and the sample
      gets more overweights than the 10⁻³ of σ it is designed for.
    """
    a = np.abs(w)
    out = []
    mean = float(a.mean())
    eff = mean / w_max
    need = n_events / eff if eff > 0 else math.inf
    if max_calls is not None:
        need = min(need, max_calls)
    if a.size > 1:
        w_loo = reduced_max_weight(np.delete(a, int(np.argmax(a))))
        if w_max > 3.0 * w_loo:
            out.append(
                f"one pilot weight ({a.max() / mean:.0f}× the mean) sets w_max, "
                f"{w_max / w_loo:.0f}× what the other {a.size - 1} points give: the run "
                f"needs ~{need:.3g} calls for {n_events} events; "
                "raise --pilot-calls or train longer (--train-calls)"
            )
    if a.size < 10_000 or need > 100 * a.size:
        out.append(
            f"the pilot ({a.size} calls) is small for the ~{need:.3g} calls this run needs: "
            "w_max is poorly determined and overweight events are likely; use --pilot-calls "
            f"≥ {max(10_000, int(need / 100)):.3g}"
        )
    return out


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
    on_warning: Callable[[str], None] | None = None,
) -> EventSample:
    """Draw ``n_events`` unweighted events (see the module docstring).

    ``sample(n) -> (u, q)`` draws from the frozen proposal. With ``writer`` each chunk of
    events is written as it comes, and ``writer.finalize`` runs at the end, on interruption
    (Ctrl-C, SIGTERM: status ``interrupted``) and on an error (``failed: reason``), which is
    then re-raised. ``max_calls`` bounds the integrand calls. Advice about the pilot and the
    overweights goes to ``on_warning`` (default: ``warnings.warn`` with :class:`EventWarning`).
    """
    if on_warning is None:

        def on_warning(message: str) -> None:
            warnings.warn(message, EventWarning, stacklevel=3)

    process = integrand if hasattr(integrand, "momenta") else None
    particles = getattr(process, "particles", None)
    moments = _Moments()
    t0 = time.perf_counter()
    kept_u, kept_w, kept_p, kept_ids, kept_t = [], [], [], [], []
    n_kept = n_accepted = 0
    last_kept = -1  # global call index of the last kept event
    limit = max_calls if max_calls is not None else math.inf
    status = "interrupted"
    w_max = math.nan
    advice: list[str] = []
    over = _Overweights()
    signals = _Signals()
    with signals.installed():
        try:
            u_pilot, q_pilot = sample(pilot_calls)
            w_pilot = evaluate(integrand, u_pilot) / q_pilot
            if not w_pilot.any():
                raise IntegrandError(
                    f"all {pilot_calls} pilot points have weight 0: the integrand vanishes on "
                    "the proposal's support; no events can be generated"
                )
            moments.add(w_pilot)
            w_max = reduced_max_weight(w_pilot)
            for message in pilot_warnings(w_pilot, w_max, n_events, max_calls):
                advice.append(message)
                on_warning(message)
            with progress_bar("events", n_events, progress) as bar:
                # the pilot points are i.i.d. too: unweight them first
                pending = [(u_pilot, w_pilot)]
                while n_kept < n_events:
                    if pending:
                        u, w = pending.pop()
                        first_call = 0
                    else:
                        if moments.n >= limit:
                            status = f"stopped at max_calls={max_calls}"
                            break
                        first_call = moments.n
                        u, q = sample(int(min(batch_size, limit - moments.n)))
                        w = evaluate(integrand, u) / q
                        moments.add(w)
                    ev = unweight(w, w_max, rng)
                    n_accepted += ev.indices.size
                    take = ev.indices[: n_events - n_kept]
                    weights = ev.weights[: take.size]
                    calls_at = first_call + take
                    trials = np.diff(np.concatenate(([last_kept], calls_at))).astype(np.int64)
                    if take.size:
                        last_kept = int(calls_at[-1])
                    u_ev = u[take]
                    p_ev = process.momenta(u_ev)[0] if process is not None else None
                    ids = particles.ids(take.size, rng) if particles is not None else None
                    if writer is not None:
                        sigma, error = moments.estimate()
                        with signals.critical():
                            writer.write(
                                EventChunk(weights, trials, p_ev, ids),
                                RunState(sigma, error, w_max, moments.n),
                            )
                    a = np.abs(weights)
                    over.add(a)
                    if keep and take.size:
                        kept_u.append(u_ev)
                        kept_w.append(weights)
                        kept_t.append(trials)
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
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        except BaseException as exc:
            status = f"failed: {type(exc).__name__}: {exc}"
            raise
        finally:
            if writer is not None and not writer.finalized:
                sigma, error = moments.estimate()
                w_ref = w_max if math.isfinite(w_max) else 0.0
                with signals.critical():
                    writer.finalize(RunState(sigma, error, w_ref, moments.n), status)
    sigma, error = moments.estimate()
    if over.n and (over.excess_share > 0.01 or over.fraction > 0.1):
        message = (
            f"{over.fraction:.1%} of the events are overweight (|w|/w_max > 1) and carry "
            f"{over.share:.1%} of σ, {over.excess_share:.1%} above w_max (meant to be 0.1%): "
            "the pilot set w_max too low; raise --pilot-calls (or train longer)"
        )
        advice.append(message)
        on_warning(message)
    d = u_pilot.shape[1]
    out = EventSample(
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
        trials=np.concatenate(kept_t) if kept_t else np.empty(0, dtype=np.int64),
        status=status,
        warnings=advice,
        events_made=over.n,
        overweights_made=over.n_over,
        overweight_sigma_share=over.share,
    )
    return out
