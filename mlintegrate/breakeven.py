r"""The |M|² cost at which a proposal pays off: time per unweighted event against the cost per call.

For a proposal b measured on a cheap integrand, with

- t_b: proposal time per evaluation call (sampling and density, no integrand),
- e_b: unweighted events per call (hit-or-miss against the reduced w_max, ``metrics``),
- O_b: training overhead in seconds (training wall time minus the integrand's share,
  estimated from the evaluation phase's integrand time per call),
- n_b: training calls,

the wall time per unweighted event, training amortised over N events, for an |M|² that costs c
seconds per call is linear in c:

    T_b(c) = (t_b + c) / e_b + (O_b + n_b c) / N  =  A_b + B_b c.

Against the reference r (VEGAS) the break-even cost is where the lines cross,

    c* = (A_b − A_r) / (B_r − B_b):

if B_b < B_r (b makes more events per call, training included) b is faster for every c > c*
(c* ≤ 0: at any cost); if B_b ≥ B_r it pays off for no c > 0 unless A_b < A_r too. No peer
reports this figure; it answers "does a learned proposal pay off for my |M|²?".

>>> line = cost_line(t_proposal=1e-6, events_per_call=0.5, overhead=10.0, calls_train=1e5,
...                  n_events=1e6)
>>> round(line.time_per_event(1e-3), 6)     # (1e-6 + 1e-3)/0.5 + (10 + 100)/1e6
0.002112
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .result import Result

__all__ = ["DEFAULT_EVENTS", "CostLine", "break_even_cost", "cost_line", "cost_line_of"]

#: events the training is amortised over by default
DEFAULT_EVENTS = 1_000_000


@dataclass(frozen=True)
class CostLine:
    """T(c) = intercept + slope · c: seconds per unweighted event at |M|² cost c (s/call)."""

    intercept: float
    slope: float

    def time_per_event(self, cost: float) -> float:
        return self.intercept + self.slope * cost


def cost_line(
    t_proposal: float,
    events_per_call: float,
    overhead: float,
    calls_train: int,
    n_events: int = DEFAULT_EVENTS,
) -> CostLine:
    """The line T(c) of one proposal (module docstring); infinite if it makes no events."""
    if events_per_call <= 0:
        return CostLine(math.inf, math.inf)
    return CostLine(
        intercept=t_proposal / events_per_call + overhead / n_events,
        slope=1.0 / events_per_call + calls_train / n_events,
    )


def cost_line_of(result: Result, n_events: int = DEFAULT_EVENTS) -> CostLine | None:
    """The line of a measured result (None where it has no efficiency, e.g. vegas+)."""
    if result.metrics is None or result.calls <= 0:
        return None
    integrand_per_call = result.time_integrand / result.calls
    overhead = max(result.time_train - result.calls_train * integrand_per_call, 0.0)
    return cost_line(
        t_proposal=result.time_proposal / result.calls,
        events_per_call=result.metrics.unweighted_per_call,
        overhead=overhead,
        calls_train=result.calls_train,
        n_events=n_events,
    )


def break_even_cost(line: CostLine, reference: CostLine) -> float:
    """Cost per call (s) above which ``line`` beats ``reference`` (0: any cost; inf: none)."""
    if not (math.isfinite(line.slope) and math.isfinite(reference.slope)):
        return math.inf if not math.isfinite(line.slope) else 0.0
    d_slope = reference.slope - line.slope
    d_intercept = line.intercept - reference.intercept
    if abs(d_slope) <= 1e-9 * reference.slope:  # equal events per call, to rounding
        d_slope = 0.0
    if d_slope > 0:
        return max(d_intercept / d_slope, 0.0)
    return 0.0 if d_intercept < 0 and d_slope == 0 else math.inf
