r"""A numba twin of :func:`.splines.rq_spline` for evaluation without gradients.

Sampling and density evaluation need no gradient, and there the torch spline spends most of
its time in a dozen full passes over (n, d, K)-sized float64 temporaries (casts, exp, cumsum,
knots) of which only two knots per coordinate are used. This kernel makes one pass per
coordinate with the K bin sizes in registers: softmax, cumulative knots, the bin search, the
rational-quadratic map or its inverse and the log-derivative, with the same float64 formulas
in the same order as the torch code, so both give the same numbers up to the last bits of
``exp`` (tested to 1e-12 relative against the torch path and its autograd derivative).

Its cost is mostly the 2K exponentials of the softmax. They are taken by :func:`_exp`, a
branch-free exp (≤ 1 ulp, as torch's) that LLVM vectorises four at a time, about 4× cheaper
than K calls of libm's; the bin is found by counting the knots below the point (no
mispredicted loop exit) and log s'(x) is one log of s²·numerator/denominator² instead of three.

Training needs gradients: there the kernel runs inside a ``torch.autograd.Function`` whose
backward (:func:`_backward`) is the spline's derivative written out (through the bin
formulas, the implicit inverse and the softmaxes), tested against torch's autograd through
the torch spline to 1e-11; it replaces that graph of ~100 small ops a layer (a d = 4 Adam step
at minibatch 1024: ~19 against ~33 ms measured). The forward pass keeps each point's softmax
exponentials and bin (:func:`_kernel_saving`), so the backward pass does not compute the spline
again (a d = 8 Adam step 34 → 27 ms, gradients bitwise the same). ``kernel_gradient = False``
brings the torch graph back.

:func:`rq_spline_params` is what a coupling layer calls: the torch path where the points are
not float64 on the CPU or the parameters have another shape; this kernel otherwise. Without
gradients :func:`spline_layer` runs a whole coupling layer (gathers, spline, log-det sum) in
one call; with gradients :func:`spline_layer_grad` does the same as one autograd node.

The no-gradient layer kernel (:func:`_layer`, sampling and density evaluation) takes blocks
of 32 points, each step a loop over the block that LLVM vectorises, and replaces libm's
log1p(exp) of the softplus and the log of the log-derivative by branch-free functions
(:func:`_softplus_fast`, :func:`_log`; ≤ 3 and ≤ 1 ulp of libm's, tested): ~215–265 → ~130–160
ns a coordinate, the knots and bins bitwise those of :func:`_kernel`, u within a few ulp and
log q within 1e-13 of it (tested). Training keeps the scalar libm path, bitwise as before.
Shapes: x (n, m), params (n, m, 3K+1) → (out, logdet), both (n, m).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from ...phasespace._jit import jit
from .splines import (
    MIN_BIN_HEIGHT,
    MIN_BIN_WIDTH,
    MIN_DERIVATIVE,
    rq_spline,
    split_spline_params,
)

__all__ = [
    "kernel_applies",
    "kernel_error",
    "rq_spline_params",
    "rq_spline_torch",
    "spline_layer",
    "spline_layer_grad",
]

# Why the kernel is off in this process (None: it is on). Compiling it can fail where numba
# cannot start (seen in an embedding interpreter whose cffi and _cffi_backend versions
# differ); the torch path gives the same q, so it takes over for the rest of the process.
kernel_error: str | None = None
# Whether training (gradients recorded) takes the kernel with its analytic gradient
# (:func:`_backward`) rather than the torch spline's autograd graph (the reference).
kernel_gradient = True


def rq_spline_torch(
    x: torch.Tensor, params: torch.Tensor, bins: int, inverse: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference: :func:`.splines.rq_spline` on ``params`` split into its three parts."""
    return rq_spline(x, *split_spline_params(params, bins), inverse=inverse)


def rq_spline_params(
    x: torch.Tensor, params: torch.Tensor, bins: int, inverse: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The spline of :func:`rq_spline_torch` by the numba kernel (with its analytic gradient
    where gradients are recorded).

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
        and x.device.type == "cpu"
        and params.device.type == "cpu"
        and x.dtype == torch.float64
        and params.dtype in (torch.float32, torch.float64)
        and params.shape[-1] == 3 * bins + 1
        and x.ndim == 2
    )
    if not fast:
        return rq_spline_torch(x, params, bins, inverse)
    if torch.is_grad_enabled() and (x.requires_grad or params.requires_grad):
        if not kernel_gradient:
            return rq_spline_torch(x, params, bins, inverse)
        try:
            return _Spline.apply(x, params, bins, inverse)
        except Exception as exc:  # numba failed to compile or load: the torch path instead
            kernel_error = f"{type(exc).__name__}: {exc}"
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


def spline_layer_grad(
    x: torch.Tensor, params: torch.Tensor, trans: np.ndarray, bins: int, inverse: bool = False
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """:func:`spline_layer` where gradients are recorded (training): one autograd node for
    the layer (the kernel's spline, its analytic gradient, the untouched columns passed
    through) instead of a gather, the spline, a cat, a permutation and a sum.

    Returns (y (n, d), logdet (n,)), or None where it does not apply (another device or
    dtype, ``kernel_gradient`` off, a kernel that failed): then the caller takes the
    per-column path.
    """
    global kernel_error
    if (
        kernel_error is not None
        or not kernel_gradient
        or type(x) is not torch.Tensor
        or x.device.type != "cpu"
        or x.dtype != torch.float64
        or x.ndim != 2
        or params.device.type != "cpu"
        or params.dtype not in (torch.float32, torch.float64)
        or params.shape != (x.shape[0], trans.size, 3 * bins + 1)
    ):
        return None
    try:
        return _SplineLayer.apply(x, params, trans, bins, inverse)
    except Exception as exc:  # numba failed to compile or load: the torch path instead
        kernel_error = f"{type(exc).__name__}: {exc}"
        return None


def kernel_applies(x: torch.Tensor) -> bool:
    """Whether :func:`spline_layer` may run for points ``x``: no gradient recorded, a plain
    float64 CPU tensor (n, d), and a kernel that compiled."""
    return (
        kernel_error is None
        and not torch.is_grad_enabled()
        and type(x) is torch.Tensor
        and x.device.type == "cpu"
        and x.dtype == torch.float64
        and x.ndim == 2
    )


def spline_layer(
    x: torch.Tensor,
    params: torch.Tensor,
    trans: np.ndarray,
    bins: int,
    inverse: bool = False,
    bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """A whole coupling layer's spline pass in one kernel call (no torch glue in between).

    Args:
        x: points (n, d), float64 on the CPU (see :func:`kernel_applies`).
        params: spline parameters (n, m, 3K+1) of the m columns ``trans``, float32 or 64,
            or (n, P) with P ≥ m·(3K+1) whose first m·(3K+1) columns they are (row j's
            parameters of column trans[i] at i·(3K+1) + …; the rest is ignored).
        bias: None, or (m·(3K+1),) of params' dtype: the parameters are then params + bias,
            added here in that dtype (bitwise what torch's addmm gives: the conditioner's
            last layer need not write its output twice).
        trans: int64 (m,), the transformed columns.
        bins: K.
        inverse: the inverse map.

    Returns:
        (y, logdet): y (n, d) = x with the columns ``trans`` mapped, logdet (n,) the sum of
        their log-derivatives, as the torch path computes them; None where the kernel does
        not apply (then the caller takes the torch path).
    """
    global kernel_error
    if (
        not kernel_applies(x)
        or type(params) is not torch.Tensor
        or params.device.type != "cpu"
        or params.dtype not in (torch.float32, torch.float64)
        or not _layer_params_fit(params, x.shape[0], trans.size, 3 * bins + 1)
        or (
            bias is not None
            and (bias.dtype != params.dtype or bias.numel() != trans.size * (3 * bins + 1))
        )
    ):
        return None
    xs = np.ascontiguousarray(x.numpy())
    ps = np.ascontiguousarray(params.numpy()).reshape(x.shape[0], -1)
    b = (
        np.zeros(trans.size * (3 * bins + 1), ps.dtype)
        if bias is None
        else bias.detach().numpy().reshape(-1)
    )
    out, logdet = np.empty_like(xs), np.empty(x.shape[0])
    try:
        _layer(
            xs,
            ps,
            b,
            trans,
            bins,
            inverse,
            MIN_BIN_WIDTH,
            MIN_BIN_HEIGHT,
            MIN_DERIVATIVE,
            out,
            logdet,
        )
    except Exception as exc:  # numba failed to compile or load: the exact torch path instead
        kernel_error = f"{type(exc).__name__}: {exc}"
        return None
    return torch.from_numpy(out), torch.from_numpy(logdet)


def _layer_params_fit(params: torch.Tensor, n: int, m: int, per: int) -> bool:
    """Whether params is (n, m, per) or (n, P ≥ m·per)."""
    if params.ndim == 3:
        return params.shape == (n, m, per)
    return params.ndim == 2 and params.shape[0] == n and params.shape[1] >= m * per


# exp(x) for x ≤ 0 as 2ⁿ·exp(r): n = round(x / ln 2) by the 1.5·2⁵² shifter (n sits in the
# low bits of t), r = x − n ln 2 in two parts (Cody–Waite, |r| ≤ ln 2 / 2), exp(r) by its Taylor
# series to r¹³ (truncation < 1e-17 relative), 2ⁿ added to the exponent bits. Branch-free, so
# LLVM vectorises a loop of it (AVX2: four at a time); ≤ 1 ulp from libm's exp (tested). Only
# this function may contract a·b + c into one FMA (rounded once: as accurate or more); that
# halves its instructions (1.1 against 2.1 ns an exp, 9 ns libm's, measured here).
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 to 32 bits: n·_LN2_HI is exact for |n| < 2¹¹
_LN2_LO = 1.90821492927058770002e-10
_SHIFTER = 6755399441055744.0  # 1.5·2⁵²
_EXP_FLOOR = -708.0  # exp(−708) ≈ 3.3e-308 stays normal; below it the bins' share is < 1e-300


@intrinsic
def _bits(typingctx, x):  # pragma: no cover - compiled
    """The IEEE bits of a float64 as an int64 (a bitcast, no conversion)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, x):  # pragma: no cover - compiled
    """The float64 whose IEEE bits are the int64 ``x``."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@functools.partial(jit, fastmath={"contract"})
def _exp(x):  # pragma: no cover - compiled
    """exp(x) for x ≤ 709, vectorisable; values below −708 give exp(−708), NaN stays NaN."""
    x = _EXP_FLOOR if x < _EXP_FLOOR else x
    t = x * _LOG2E + _SHIFTER
    n = t - _SHIFTER
    r = (x - n * _LN2_HI) - n * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return _from_bits(_bits(p) + (_bits(t) << 52))


# The helpers below are inlined into their callers at numba's IR level and read the parameters
# as p[i, j] rather than a row view p = params[i]: a row view, and every array handed to a
# function numba does not inline, costs an atomic reference-count increment and decrement per
# coordinate. Both changes together: 420 → 210 ns per coordinate, bitwise the same outputs.
@functools.partial(jit, inline="always")
def _sums(e, lo, bins, sums):  # pragma: no cover - compiled
    """sums[j] = Σ_{i<j} e[lo + i], j = 0 … K, in the order of torch's cumsum."""
    total = 0.0
    sums[0] = 0.0
    for k in range(bins):
        total += e[lo + k]
        sums[k + 1] = total


@functools.partial(jit, inline="always")
def _softplus(v):  # pragma: no cover - compiled
    """torch's softplus (β = 1, threshold 20)."""
    return v if v > 20.0 else math.log1p(math.exp(v))


@functools.partial(jit, inline="always")
def _bin(inp, r, bins, inverse, m_w, m_h, e, cw, ch):  # pragma: no cover - compiled
    """The softmaxes of the widths and heights r[0 : 2K] (the parameters as float64, see
    :func:`_row`) and the bin of ``inp`` ∈ [0, 1] on the searched side → (k, x_k, y_k, w_k,
    h_k); e (2K): the exponentials, cw, ch (K + 1): their cumulative sums, scratch the caller
    may read. (The maxima of float32 parameters and of their exact float64 casts are equal.)"""
    top_w, top_h = r[0], r[bins]
    for k in range(1, bins):
        top_w = max(top_w, r[k])
        top_h = max(top_h, r[bins + k])
    for k in range(bins):  # independent: vectorised
        e[k] = _exp(r[k] - top_w)
    for k in range(bins):
        e[bins + k] = _exp(r[bins + k] - top_h)
    _sums(e, 0, bins, cw)
    _sums(e, bins, bins, ch)
    scale_w = (1.0 - bins * m_w) / cw[bins]
    scale_h = (1.0 - bins * m_h) / ch[bins]
    # k = searchsorted(knots[1:K], inp, right=True), the number of the (increasing) interior
    # knots of the searched side ≤ inp, counted without a branch
    k = 0
    if inverse:
        for j in range(1, bins):
            k += ch[j] * scale_h + m_h * j <= inp
    else:
        for j in range(1, bins):
            k += cw[j] * scale_w + m_w * j <= inp
    xk = cw[k] * scale_w + m_w * k
    yk = ch[k] * scale_h + m_h * k
    wk = (cw[k + 1] * scale_w + m_w * (k + 1)) - xk
    hk = (ch[k + 1] * scale_h + m_h * (k + 1)) - yk
    return k, xk, yk, wk, hk


@functools.partial(jit, inline="always")
def _row(p, i, lo, b, r):  # pragma: no cover - compiled
    """r[j] = p[i, lo + j] + b[lo + j] in p's dtype, cast to float64, j < len(r): one
    coordinate's 3K+1 spline parameters read once (one vectorised pass) instead of in every
    loop over them; b is the conditioner's last bias where the caller left it out."""
    for j in range(r.size):
        r[j] = np.float64(p[i, lo + j] + b[lo + j])


@functools.partial(jit, inline="always")
def _row_plain(p, i, lo, r):  # pragma: no cover - compiled
    """r[j] = p[i, lo + j] cast to float64, j < len(r): :func:`_row` without a bias."""
    for j in range(r.size):
        r[j] = np.float64(p[i, lo + j])


@functools.partial(jit, inline="always")
def _xi(inp, xk, yk, wk, hk, dk, sk, curv, inverse):  # pragma: no cover - compiled
    """The position ξ in bin k of ``inp`` (unclamped): (x − x_k)/w_k forward; inverse, the
    root in [0, 1] of y(ξ) = inp, written without cancellation (s_k = h_k/w_k, curv = δ_k +
    δ_{k+1} − 2 s_k)."""
    if inverse:
        dy = inp - yk
        a = hk * (sk - dk) + dy * curv
        b = hk * dk - dy * curv
        c = -sk * dy
        disc = max(b * b - 4.0 * a * c, 0.0)
        return (2.0 * c) / (-b - math.sqrt(disc))
    return (inp - xk) / wk


@functools.partial(jit, inline="always")
def _rq_state(inp, r, bins, inverse, m_w, m_h, m_d, shift, e, cw, ch):  # pragma: no cover
    """The spline of the parameters r (3K+1, float64) at ``inp`` → (out, log-derivative,
    k, x_k, y_k, w_k, h_k, δ_k, δ_{k+1}, ξ unclamped): the bin's state is what
    :func:`_backward` needs; e (2K), cw, ch (K + 1) are scratch the caller may read."""
    inp = min(max(inp, 0.0), 1.0)
    k, xk, yk, wk, hk = _bin(inp, r, bins, inverse, m_w, m_h, e, cw, ch)
    dk = m_d + _softplus(r[2 * bins + k] + shift)
    dk1 = m_d + _softplus(r[2 * bins + k + 1] + shift)
    sk = hk / wk
    curv = dk1 + dk - 2.0 * sk
    xi_raw = _xi(inp, xk, yk, wk, hk, dk, sk, curv, inverse)
    xi = min(max(xi_raw, 0.0), 1.0)
    xi1 = xi * (1.0 - xi)
    den = sk + curv * xi1
    # log s² + log(numerator) − 2 log(den) as one log: s ∈ [1e-4, 1e4] and δ < 4e38 keep
    # the ratio far inside float64's range, so this equals the three logs to round-off
    num = dk1 * xi * xi + 2.0 * sk * xi1 + dk * (1.0 - xi) ** 2
    log_deriv = math.log((sk * sk) * num / (den * den))
    if inverse:
        out = 1.0 if inp >= 1.0 else min(max(xk + xi * wk, 0.0), 1.0)
        return out, -log_deriv, k, xk, yk, wk, hk, dk, dk1, xi_raw
    y = yk + hk * (sk * xi * xi + dk * xi1) / den
    out = 1.0 if inp >= 1.0 else min(max(y, 0.0), 1.0)
    return out, log_deriv, k, xk, yk, wk, hk, dk, dk1, xi_raw


@functools.partial(jit, inline="always")
def _rq(inp, r, bins, inverse, m_w, m_h, m_d, shift, e, cw, ch):  # pragma: no cover
    """The spline of the parameters r (3K+1, float64) at ``inp`` → (out, log-derivative);
    e (2K), cw, ch (K + 1) are scratch."""
    state = _rq_state(inp, r, bins, inverse, m_w, m_h, m_d, shift, e, cw, ch)
    return state[0], state[1]


@jit
def _kernel(x, params, bins, inverse, m_w, m_h, m_d, out, logdet):  # pragma: no cover - compiled
    """x (N,), params (N, 3K+1) → out, logdet (N,)."""
    shift = math.log(math.expm1(1.0 - m_d))
    e, cw, ch = np.empty(2 * bins), np.empty(bins + 1), np.empty(bins + 1)
    r = np.empty(3 * bins + 1)
    for i in range(x.size):
        _row_plain(params, i, 0, r)
        out[i], logdet[i] = _rq(x[i], r, bins, inverse, m_w, m_h, m_d, shift, e, cw, ch)


# Columns of the state :func:`_kernel_saving` keeps per point after the 2K exponentials:
# k, x_k, y_k, w_k, h_k, δ_k, δ_{k+1}, ξ (unclamped), and the cumulative sums c_k and c_K of
# the widths' and the heights' exponentials.
_SAVED = 12


@jit
def _kernel_saving(x, params, bins, inverse, m_w, m_h, m_d, out, logdet, saved):  # pragma: no cover
    """:func:`_kernel` that also keeps what :func:`_backward` needs in ``saved`` (N, 2K +
    _SAVED): the softmaxes' exponentials and the bin's state, so the backward pass reads
    them instead of computing the spline a second time (same numbers, bitwise)."""
    shift = math.log(math.expm1(1.0 - m_d))
    e, cw, ch = np.empty(2 * bins), np.empty(bins + 1), np.empty(bins + 1)
    b2 = 2 * bins
    r = np.empty(3 * bins + 1)
    for i in range(x.size):
        _row_plain(params, i, 0, r)
        o, ld, k, xk, yk, wk, hk, dk, dk1, xi_raw = _rq_state(
            x[i], r, bins, inverse, m_w, m_h, m_d, shift, e, cw, ch
        )
        out[i], logdet[i] = o, ld
        for j in range(b2):
            saved[i, j] = e[j]
        saved[i, b2] = k
        saved[i, b2 + 1] = xk
        saved[i, b2 + 2] = yk
        saved[i, b2 + 3] = wk
        saved[i, b2 + 4] = hk
        saved[i, b2 + 5] = dk
        saved[i, b2 + 6] = dk1
        saved[i, b2 + 7] = xi_raw
        saved[i, b2 + 8] = cw[k]
        saved[i, b2 + 9] = ch[k]
        saved[i, b2 + 10] = cw[bins]
        saved[i, b2 + 11] = ch[bins]


# log(x) and log1p(t) without a libm call, branch-free (selects only) so that a loop of them
# vectorises like _exp's: x = 2ᵉ·m with m ∈ (√½, √2], log m = 2 atanh(v) = f − v(f − 2v²R(v²)),
# f = m − 1, v = f/(2 + f) (|v| ≤ 0.172; R to v¹⁸: truncation < 1e-18), e·ln 2 in two parts.
# log1p(t) = log(s) + err/s with s = 1 + t rounded and err its rounding error (TwoSum). Measured
# here against libm: log ≤ 1 ulp, log1p ≤ 2 ulp, softplus ≤ 3 ulp (tested); 3.3 against 8.6 ns
# a log in a loop, and they vectorise where libm's calls do not.
_SQRT2 = 1.4142135623730951
_TWO54 = 18014398509481984.0
_MIN_NORMAL = 2.2250738585072014e-308


@functools.partial(jit, fastmath={"contract"})
def _log(x):  # pragma: no cover - compiled
    """log(x) for x ≥ 0 (0 → −inf, inf → inf, x < 0 or NaN → NaN), ≤ 1 ulp from libm's."""
    tiny = x < _MIN_NORMAL
    y = x * _TWO54 if tiny else x
    bits = _bits(y)
    e = (bits >> 52) - 1023 - (54 if tiny else 0)
    m = _from_bits((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)  # [1, 2)
    big = m > _SQRT2
    m = 0.5 * m if big else m
    e = e + 1 if big else e
    f = m - 1.0
    v = f / (2.0 + f)
    v2 = v * v
    r = 1.0 / 19.0
    r = r * v2 + 1.0 / 17.0
    r = r * v2 + 1.0 / 15.0
    r = r * v2 + 1.0 / 13.0
    r = r * v2 + 1.0 / 11.0
    r = r * v2 + 1.0 / 9.0
    r = r * v2 + 1.0 / 7.0
    r = r * v2 + 1.0 / 5.0
    r = r * v2 + 1.0 / 3.0
    log_m = f - v * (f - 2.0 * v2 * r)
    fe = np.float64(e)
    res = fe * _LN2_HI + (log_m + fe * _LN2_LO)
    res = -math.inf if x == 0.0 else res
    res = math.inf if x == math.inf else res
    return res if x >= 0.0 else math.nan


@functools.partial(jit, inline="always")
def _softplus_fast(v):  # pragma: no cover - compiled
    """torch's softplus (β = 1, threshold 20) as log1p(exp(v)) without libm: ≤ 3 ulp from
    :func:`_softplus` on v ∈ [−708, 20] (below, 0 where libm gives < 1e-307)."""
    t = _exp(v)
    s = 1.0 + t
    bb = s - 1.0
    err = (1.0 - (s - bb)) + (t - bb)  # TwoSum: 1 + t = s + err exactly
    sp = _log(s) + err / s
    sp = 0.0 if v < _EXP_FLOOR else sp
    return v if v > 20.0 else sp


# Points per block of :func:`_layer`: its scratch (≈ (7K + 14)·8 bytes a point) stays in L1.
_BLOCK = 32


@jit
def _layer(x, params, bias, trans, bins, inverse, m_w, m_h, m_d, out, logdet):  # pragma: no cover
    """A coupling layer: out = x with columns ``trans`` splined, logdet = Σ_j log-derivative
    (j in the order of ``trans``); x, out (n, d), params (n, len(trans)·(3K+1)) to which
    ``bias`` (len(trans)·(3K+1)) is added in their dtype, logdet (n,).

    The arithmetic of :func:`_rq` (same operations in the same order per point, so the
    knots, bins and widths are bitwise those of :func:`_kernel`) laid out for SIMD: a block of
    _BLOCK points is one column of every scratch array, each step a loop over the block that
    LLVM vectorises (4 points an instruction on AVX2), the softplus and the log by the
    libm-free :func:`_softplus_fast` and :func:`_log` (≤ 3 ulp, tested: q agrees with the
    scalar kernel's to ~1e-15 relative). The exponentials and the softplus are loops of
    their own (functions numba does not inline): inside the one large loop nest LLVM
    vectorised them worse (~200 against ~160 ns a coordinate, measured)."""
    shift = math.log(math.expm1(1.0 - m_d))
    per = 3 * bins + 1
    n, d = x.shape
    nb_max = _BLOCK
    r = np.empty((per, nb_max))
    e = np.empty((2 * bins, nb_max))
    cw, ch = np.empty((bins + 1, nb_max)), np.empty((bins + 1, nb_max))
    top_w, top_h = np.empty(nb_max), np.empty(nb_max)
    scale_w, scale_h = np.empty(nb_max), np.empty(nb_max)
    inp, kk = np.empty(nb_max), np.empty(nb_max, np.int64)
    xk, yk, wk, hk = np.empty(nb_max), np.empty(nb_max), np.empty(nb_max), np.empty(nb_max)
    v0, v1 = np.empty(nb_max), np.empty(nb_max)
    s_w, s_h = 1.0 - bins * m_w, 1.0 - bins * m_h
    for i0 in range(0, n, nb_max):
        nb = min(nb_max, n - i0)
        for p in range(nb):
            for c in range(d):
                out[i0 + p, c] = x[i0 + p, c]
            logdet[i0 + p] = 0.0
        for j in range(trans.size):
            col, lo = trans[j], j * per
            for p in range(nb):
                for q in range(per):
                    r[q, p] = np.float64(params[i0 + p, lo + q] + bias[lo + q])
                inp[p] = min(max(x[i0 + p, col], 0.0), 1.0)
                top_w[p], top_h[p] = r[0, p], r[bins, p]
            for q in range(1, bins):  # the maxima in _bin's order
                for p in range(nb):
                    top_w[p] = max(top_w[p], r[q, p])
                    top_h[p] = max(top_h[p], r[bins + q, p])
            _block_exps(r, top_w, top_h, e, bins, nb)
            for p in range(nb):
                cw[0, p], ch[0, p] = 0.0, 0.0
            for q in range(bins):  # the cumulative sums in torch's order, per point
                for p in range(nb):
                    cw[q + 1, p] = cw[q, p] + e[q, p]
                    ch[q + 1, p] = ch[q, p] + e[bins + q, p]
            for p in range(nb):
                scale_w[p] = s_w / cw[bins, p]
                scale_h[p] = s_h / ch[bins, p]
                kk[p] = 0
            # k = the number of interior knots of the searched side ≤ the input
            if inverse:
                for q in range(1, bins):
                    for p in range(nb):
                        kk[p] += ch[q, p] * scale_h[p] + m_h * q <= inp[p]
            else:
                for q in range(1, bins):
                    for p in range(nb):
                        kk[p] += cw[q, p] * scale_w[p] + m_w * q <= inp[p]
            for p in range(nb):  # gathers: the bin's knots and derivative parameters
                k = kk[p]
                xk[p] = cw[k, p] * scale_w[p] + m_w * k
                yk[p] = ch[k, p] * scale_h[p] + m_h * k
                wk[p] = (cw[k + 1, p] * scale_w[p] + m_w * (k + 1)) - xk[p]
                hk[p] = (ch[k + 1, p] * scale_h[p] + m_h * (k + 1)) - yk[p]
                v0[p] = r[2 * bins + k, p] + shift
                v1[p] = r[2 * bins + k + 1, p] + shift
            _block_softplus(v0, v1, nb, m_d)
            if inverse:
                for p in range(nb):
                    top_w[p], top_h[p] = _finish(
                        inp[p], xk[p], yk[p], wk[p], hk[p], v0[p], v1[p], True
                    )
            else:
                for p in range(nb):
                    top_w[p], top_h[p] = _finish(
                        inp[p], xk[p], yk[p], wk[p], hk[p], v0[p], v1[p], False
                    )
            for p in range(nb):
                out[i0 + p, col] = top_w[p]
                logdet[i0 + p] += top_h[p]


@jit
def _block_exps(r, top_w, top_h, e, bins, nb):  # pragma: no cover - compiled
    """e[q, p] = exp(r[q, p] − top_w[p]) (q < K, the widths) and exp(r[q, p] − top_h[p])
    (K ≤ q < 2K, the heights) for the nb points p of a block."""
    for q in range(bins):
        for p in range(nb):
            e[q, p] = _exp(r[q, p] - top_w[p])
    for q in range(bins, 2 * bins):
        for p in range(nb):
            e[q, p] = _exp(r[q, p] - top_h[p])


@jit
def _block_softplus(v0, v1, nb, m_d):  # pragma: no cover - compiled
    """v ← m_d + softplus(v) for the nb points of a block: δ_k and δ_{k+1}."""
    for p in range(nb):
        v0[p] = m_d + _softplus_fast(v0[p])
    for p in range(nb):
        v1[p] = m_d + _softplus_fast(v1[p])


@functools.partial(jit, inline="always")
def _finish(a, xk, yk, wk, hk, dk, dk1, inverse):  # pragma: no cover - compiled
    """:func:`_rq_state`'s steps after the bin search and the softplus for one point (input
    a ∈ [0, 1]) → (out, log-derivative)."""
    sk = hk / wk
    curv = dk1 + dk - 2.0 * sk
    xi = min(max(_xi(a, xk, yk, wk, hk, dk, sk, curv, inverse), 0.0), 1.0)
    xi1 = xi * (1.0 - xi)
    den = sk + curv * xi1
    num = dk1 * xi * xi + 2.0 * sk * xi1 + dk * (1.0 - xi) ** 2
    log_deriv = _log((sk * sk) * num / (den * den))
    if inverse:
        return 1.0 if a >= 1.0 else min(max(xk + xi * wk, 0.0), 1.0), -log_deriv
    y = yk + hk * (sk * xi * xi + dk * xi1) / den
    return 1.0 if a >= 1.0 else min(max(y, 0.0), 1.0), log_deriv


@jit
def _backward(
    x, params, saved, bins, inverse, m_w, m_h, m_d, g_out, g_ld, gx, gp
):  # pragma: no cover
    r"""Gradients of Σ g_out·out + g_ld·logdet of :func:`_kernel` with respect to x (N,) and
    the parameters (N, 3K+1), written into gx (float64) and gp (the parameters' dtype), from
    the state ``saved`` by :func:`_kernel_saving` for the same x and parameters.

    Per point (bin k, ξ, s = h_k/w_k, δ_k, δ_{k+1} as in :mod:`.splines`): the partial
    derivatives of y(ξ) and L = log dy/dx in (ξ, s, δ_k, δ_{k+1}, h_k, y_k); the inverse by
    implicit differentiation of y(ξ) = input; then ξ = (x − x_k)/w_k, s = h_k/w_k, and the
    softmax: with p = softmax(θ), P_k = Σ_{i<k} p_i, x_k = m k + S P_k, w_k = m + S p_k,
    ∂L/∂θ_j = S [g_{x_k} (p_j [j<k] − P_k p_j) + g_{w_k} p_k (δ_kj − p_j)]; δ = m +
    softplus(θ + c) has derivative sigmoid(θ + c) (1 above torch's threshold 20). Where the
    torch spline clamps (input outside [0, 1], ξ outside [0, 1], output pinned at 1) the
    gradient through the clamped value is zero, as torch's clamp gives.
    """
    shift = math.log(math.expm1(1.0 - m_d))
    s_w, s_h = 1.0 - bins * m_w, 1.0 - bins * m_h
    b2 = 2 * bins
    for i in range(x.size):
        raw = x[i]
        inside = 0.0 <= raw <= 1.0
        inp = min(max(raw, 0.0), 1.0)
        k = int(saved[i, b2])
        xk, yk, wk, hk = saved[i, b2 + 1], saved[i, b2 + 2], saved[i, b2 + 3], saved[i, b2 + 4]
        dk, dk1, xi_raw = saved[i, b2 + 5], saved[i, b2 + 6], saved[i, b2 + 7]
        cwk, chk, cw_total, ch_total = (
            saved[i, b2 + 8],
            saved[i, b2 + 9],
            saved[i, b2 + 10],
            saved[i, b2 + 11],
        )
        v0 = np.float64(params[i, 2 * bins + k]) + shift
        v1 = np.float64(params[i, 2 * bins + k + 1]) + shift
        sk = hk / wk
        curv = dk1 + dk - 2.0 * sk
        free = 0.0 <= xi_raw <= 1.0  # torch's clamp passes the gradient here
        xi = min(max(xi_raw, 0.0), 1.0)
        xi1 = xi * (1.0 - xi)
        den = sk + curv * xi1
        num_y = sk * xi * xi + dk * xi1
        big_a = dk1 * xi * xi + 2.0 * sk * xi1 + dk * (1.0 - xi) ** 2
        # y = y_k + h_k num_y / den and L = 2 log s + log A − 2 log den
        d_den_xi = curv * (1.0 - 2.0 * xi)
        y_xi = hk * ((2.0 * sk * xi + dk * (1.0 - 2.0 * xi)) * den - num_y * d_den_xi) / den**2
        y_s = hk * (xi * xi * den - num_y * (1.0 - 2.0 * xi1)) / den**2
        y_dk = hk * xi1 * (den - num_y) / den**2
        y_dk1 = -hk * num_y * xi1 / den**2
        y_h = num_y / den
        l_xi = (
            2.0 * dk1 * xi + 2.0 * sk * (1.0 - 2.0 * xi) - 2.0 * dk * (1.0 - xi)
        ) / big_a - 2.0 * d_den_xi / den
        l_s = 2.0 / sk + 2.0 * xi1 / big_a - 2.0 * (1.0 - 2.0 * xi1) / den
        l_dk = (1.0 - xi) ** 2 / big_a - 2.0 * xi1 / den
        l_dk1 = xi * xi / big_a - 2.0 * xi1 / den
        go = 0.0 if inp >= 1.0 else g_out[i]  # the output pinned at 1 has no gradient
        gl = g_ld[i]
        if inverse:
            # out = x_k + ξ w_k, logdet = −L, ξ from y(ξ) = input: dξ = (d input − Σ y_p dp)/y_ξ
            out = xk + xi * wk
            if not 0.0 <= out <= 1.0:
                go = 0.0
            g_xi = (go * wk - gl * l_xi) if free else 0.0
            t = g_xi / y_xi
            gx[i] = t if inside else 0.0
            g_s = -t * y_s - gl * l_s
            g_dk = -t * y_dk - gl * l_dk
            g_dk1 = -t * y_dk1 - gl * l_dk1
            g_h = -t * y_h
            g_yk = -t
            g_xk = go
            g_wk = go * xi
        else:
            y = yk + hk * num_y / den
            if not 0.0 <= y <= 1.0:
                go = 0.0
            g_xi = (go * y_xi + gl * l_xi) if free else 0.0
            gx[i] = g_xi / wk if inside else 0.0
            g_s = go * y_s + gl * l_s
            g_dk = go * y_dk + gl * l_dk
            g_dk1 = go * y_dk1 + gl * l_dk1
            g_h = go * y_h
            g_yk = go
            g_xk = -g_xi / wk
            g_wk = -g_xi * xi / wk
        g_hk = g_h + g_s / wk
        g_wk -= g_s * sk / wk
        # through the softmaxes: p_j = e_j / total, P_k = Σ_{i<k} p_i
        inv_w, inv_h = 1.0 / cw_total, 1.0 / ch_total
        pk_w, pk_h = saved[i, k] * inv_w, saved[i, bins + k] * inv_h
        cx = g_xk * cwk * inv_w + g_wk * pk_w
        cy = g_yk * chk * inv_h + g_hk * pk_h
        aw, bw = s_w * inv_w * (g_xk - cx), -s_w * inv_w * cx  # j < k, j ≥ k
        ah, bh = s_h * inv_h * (g_yk - cy), -s_h * inv_h * cy
        for j in range(bins):
            gp[i, j] = saved[i, j] * (aw if j < k else bw)
            gp[i, bins + j] = saved[i, bins + j] * (ah if j < k else bh)
        gp[i, k] += s_w * g_wk * pk_w
        gp[i, bins + k] += s_h * g_hk * pk_h
        for j in range(bins + 1):
            gp[i, 2 * bins + j] = 0.0
        gp[i, 2 * bins + k] = g_dk * (1.0 if v0 > 20.0 else 1.0 / (1.0 + math.exp(-v0)))
        gp[i, 2 * bins + k + 1] = g_dk1 * (1.0 if v1 > 20.0 else 1.0 / (1.0 + math.exp(-v1)))


def _gradients(
    xs: np.ndarray,
    ps: np.ndarray,
    state: np.ndarray,
    bins: int,
    inverse: bool,
    g_out: np.ndarray,
    g_logdet: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """∂L/∂x (n,) and ∂L/∂params (n, 3K+1) of the spline at xs from the saved forward state
    and the upstream gradients of its output and log-det (:func:`_backward`)."""
    gx, gp = np.empty_like(xs), np.empty((xs.size, 3 * bins + 1), dtype=ps.dtype)
    _backward(
        xs, ps, state, bins, inverse, MIN_BIN_WIDTH, MIN_BIN_HEIGHT, MIN_DERIVATIVE,
        g_out, g_logdet, gx, gp,
    )  # fmt: skip
    return gx, gp


class _Spline(torch.autograd.Function):
    """The kernel's spline with the analytic gradient of :func:`_backward` (training path)."""

    @staticmethod
    def forward(ctx, x, params, bins, inverse):  # type: ignore[override]
        xs = np.ascontiguousarray(x.detach().numpy()).reshape(-1)
        ps = np.ascontiguousarray(params.detach().numpy()).reshape(xs.size, 3 * bins + 1)
        out, logdet = np.empty_like(xs), np.empty_like(xs)
        saved = np.empty((xs.size, 2 * bins + _SAVED))
        _kernel_saving(
            xs, ps, bins, inverse, MIN_BIN_WIDTH, MIN_BIN_HEIGHT, MIN_DERIVATIVE, out, logdet, saved
        )
        ctx.save_for_backward(x, params)
        ctx.bins, ctx.inverse, ctx.state = bins, inverse, saved
        return torch.from_numpy(out).view(x.shape), torch.from_numpy(logdet).view(x.shape)

    @staticmethod
    def backward(ctx, g_out, g_ld):  # type: ignore[override]
        x, params = ctx.saved_tensors
        bins = ctx.bins
        xs = np.ascontiguousarray(x.detach().numpy()).reshape(-1)
        ps = np.ascontiguousarray(params.detach().numpy()).reshape(xs.size, 3 * bins + 1)
        go = np.zeros_like(xs) if g_out is None else np.ascontiguousarray(g_out.numpy())
        gl = np.zeros_like(xs) if g_ld is None else np.ascontiguousarray(g_ld.numpy())
        gx, gp = _gradients(xs, ps, ctx.state, bins, ctx.inverse, go.reshape(-1), gl.reshape(-1))
        grad_x = torch.from_numpy(gx).view(x.shape) if ctx.needs_input_grad[0] else None
        grad_p = torch.from_numpy(gp).view(params.shape)
        return grad_x, grad_p, None, None


class _SplineLayer(torch.autograd.Function):
    """A whole coupling layer's spline with the analytic gradient (training path): x (n, d),
    params (n, m, 3K+1) → y (n, d) with the columns ``trans`` mapped, logdet (n,) their sum
    in column order, as :func:`spline_layer`; no torch gather, cat or sum in the graph."""

    @staticmethod
    def forward(ctx, x, params, trans, bins, inverse):  # type: ignore[override]
        xa = x.detach().numpy()
        n, m = xa.shape[0], trans.size
        xs = np.ascontiguousarray(xa[:, trans]).reshape(-1)
        ps = np.ascontiguousarray(params.detach().numpy()).reshape(xs.size, 3 * bins + 1)
        out, ld = np.empty_like(xs), np.empty_like(xs)
        saved = np.empty((xs.size, 2 * bins + _SAVED))
        _kernel_saving(
            xs, ps, bins, inverse, MIN_BIN_WIDTH, MIN_BIN_HEIGHT, MIN_DERIVATIVE, out, ld, saved
        )
        y = xa.copy()
        y[:, trans] = out.reshape(n, m)
        ld = ld.reshape(n, m)
        logdet = ld[:, 0].copy()
        for j in range(1, m):  # Σ_j in column order, as the no-gradient layer kernel sums
            logdet += ld[:, j]
        ctx.save_for_backward(params)
        ctx.xs, ctx.trans, ctx.bins, ctx.inverse, ctx.state = xs, trans, bins, inverse, saved
        ctx.d = xa.shape[1]
        return torch.from_numpy(y), torch.from_numpy(logdet)

    @staticmethod
    def backward(ctx, g_y, g_ld):  # type: ignore[override]
        (params,) = ctx.saved_tensors
        xs, trans, bins = ctx.xs, ctx.trans, ctx.bins
        n, m = xs.size // trans.size, trans.size
        ps = np.ascontiguousarray(params.detach().numpy()).reshape(xs.size, 3 * bins + 1)
        go = np.zeros(xs.size) if g_y is None else np.ascontiguousarray(g_y.numpy()[:, trans])
        gl = np.zeros(xs.size) if g_ld is None else np.repeat(g_ld.numpy(), m)
        gx, gp = _gradients(xs, ps, ctx.state, bins, ctx.inverse, go.reshape(-1), gl)
        grad_x = None
        if ctx.needs_input_grad[0]:
            # the untouched columns pass their gradient through; the mapped ones get ∂/∂x
            full = np.zeros((n, ctx.d)) if g_y is None else g_y.numpy().copy()
            full[:, trans] = gx.reshape(n, m)
            grad_x = torch.from_numpy(full)
        return grad_x, torch.from_numpy(gp).view(params.shape), None, None, None
