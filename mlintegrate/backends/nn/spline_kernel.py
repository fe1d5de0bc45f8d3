r"""A numba twin of :func:`.splines.rq_spline` for evaluation without gradients.

Sampling and density evaluation need no gradient, and there the torch spline spends most of
its time in a dozen full passes over (n, d, K)-sized float64 temporaries (casts, exp, cumsum,
knots) of which only two knots per coordinate are used. This kernel makes one pass per
coordinate with the K bin sizes in registers: softmax, cumulative knots, the bin search, the
rational-quadratic map or its inverse and the log-derivative, with the same float64 formulas
in the same order as the torch code, so both give the same numbers up to the last bits of
``exp`` (tested to 1e-12 relative against the torch path and its autograd derivative).

:func:`rq_spline_params` is what a coupling layer calls: the torch path wherever gradients
are recorded, the points are not float64 on the CPU, or the spline is asked for a tensor
subclass; this kernel otherwise. Shapes: x (n, m), params (n, m, 3K+1) → (out, logdet), both
(n, m).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ...phasespace._jit import jit
from .splines import (
    MIN_BIN_HEIGHT,
    MIN_BIN_WIDTH,
    MIN_DERIVATIVE,
    rq_spline,
    split_spline_params,
)

__all__ = ["kernel_error", "rq_spline_params", "rq_spline_torch"]

# Why the kernel is off in this process (None: it is on). Compiling it can fail where numba
# cannot start (seen in an embedding interpreter whose cffi and _cffi_backend versions
# differ); the torch path gives the same q, so it takes over for the rest of the process.
kernel_error: str | None = None


def rq_spline_torch(
    x: torch.Tensor, params: torch.Tensor, bins: int, inverse: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference: :func:`.splines.rq_spline` on ``params`` split into its three parts."""
    return rq_spline(x, *split_spline_params(params, bins), inverse=inverse)


def rq_spline_params(
    x: torch.Tensor, params: torch.Tensor, bins: int, inverse: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The spline of :func:`rq_spline_torch`, by the numba kernel where no gradient is needed.

    Args:
        x: points (n, m), float64 for the kernel.
        params: unconstrained spline parameters (n, m, 3K+1), float32 or float64.
        bins: K.
        inverse: the inverse map.

    Returns:
        (out, logdet) of shape (n, m), as :func:`.splines.rq_spline`.
    """
    global kernel_error
    fast = (
        kernel_error is None
        and not torch.is_grad_enabled()
        and x.device.type == "cpu"
        and params.device.type == "cpu"
        and x.dtype == torch.float64
        and params.dtype in (torch.float32, torch.float64)
        and params.shape[-1] == 3 * bins + 1
        and x.ndim == 2
    )
    if not fast:
        return rq_spline_torch(x, params, bins, inverse)
    xs = np.ascontiguousarray(x.detach().numpy()).reshape(-1)
    ps = np.ascontiguousarray(params.detach().numpy()).reshape(xs.size, 3 * bins + 1)
    out, logdet = np.empty_like(xs), np.empty_like(xs)
    try:
        _kernel(xs, ps, bins, inverse, MIN_BIN_WIDTH, MIN_BIN_HEIGHT, MIN_DERIVATIVE, out, logdet)
    except Exception as exc:  # numba failed to compile or load: the exact torch path instead
        kernel_error = f"{type(exc).__name__}: {exc}"
        return rq_spline_torch(x, params, bins, inverse)
    return torch.from_numpy(out).view(x.shape), torch.from_numpy(logdet).view(x.shape)


@jit
def _cumulative(p, lo, bins, min_size, knots):  # pragma: no cover - compiled
    """knots[j] = m·j + scale·Σ_{i<j} e_i with e = exp(θ − max θ), θ = p[lo : lo + K]."""
    top = p[lo]
    for k in range(1, bins):
        top = max(top, p[lo + k])
    top64 = np.float64(top)
    total = 0.0
    knots[0] = 0.0
    for k in range(bins):
        total += math.exp(np.float64(p[lo + k]) - top64)
        knots[k + 1] = total
    scale = (1.0 - bins * min_size) / total
    for j in range(bins + 1):
        knots[j] = knots[j] * scale + min_size * j


@jit
def _softplus(v):  # pragma: no cover - compiled
    """torch's softplus (β = 1, threshold 20)."""
    return v if v > 20.0 else math.log1p(math.exp(v))


@jit
def _kernel(x, params, bins, inverse, m_w, m_h, m_d, out, logdet):  # pragma: no cover - compiled
    shift = math.log(math.expm1(1.0 - m_d))
    xk_all = np.empty(bins + 1)
    yk_all = np.empty(bins + 1)
    for i in range(x.size):
        p = params[i]
        _cumulative(p, 0, bins, m_w, xk_all)
        _cumulative(p, bins, bins, m_h, yk_all)
        inp = min(max(x[i], 0.0), 1.0)
        search = yk_all if inverse else xk_all
        k = 0  # searchsorted(knots[1:K], inp, right=True): interior knots ≤ inp
        while k < bins - 1 and search[k + 1] <= inp:
            k += 1
        xk, yk = xk_all[k], yk_all[k]
        dk = m_d + _softplus(np.float64(p[2 * bins + k]) + shift)
        dk1 = m_d + _softplus(np.float64(p[2 * bins + k + 1]) + shift)
        wk, hk = xk_all[k + 1] - xk, yk_all[k + 1] - yk
        sk = hk / wk
        curv = dk1 + dk - 2.0 * sk
        if inverse:
            dy = inp - yk
            a = hk * (sk - dk) + dy * curv
            b = hk * dk - dy * curv
            c = -sk * dy
            disc = max(b * b - 4.0 * a * c, 0.0)
            xi = min(max((2.0 * c) / (-b - math.sqrt(disc)), 0.0), 1.0)
        else:
            xi = min(max((inp - xk) / wk, 0.0), 1.0)
        xi1 = xi * (1.0 - xi)
        den = sk + curv * xi1
        log_deriv = (
            2.0 * math.log(sk)
            + math.log(dk1 * xi * xi + 2.0 * sk * xi1 + dk * (1.0 - xi) ** 2)
            - 2.0 * math.log(den)
        )
        if inverse:
            out[i] = 1.0 if inp >= 1.0 else min(max(xk + xi * wk, 0.0), 1.0)
            logdet[i] = -log_deriv
        else:
            y = yk + hk * (sk * xi * xi + dk * xi1) / den
            out[i] = 1.0 if inp >= 1.0 else min(max(y, 0.0), 1.0)
            logdet[i] = log_deriv
