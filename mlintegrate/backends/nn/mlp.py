"""The conditioner of a coupling layer: a small MLP whose last layer starts at zero.

The network computes in float32 by default (``dtype``): on a CPU a float32 matmul is ~2.3×
faster than a float64 one, and the precision of a conditioner does not enter the density. A
coupling layer's Jacobian is triangular whatever function of the conditioning coordinates its
spline parameters are, so the density stays exact as long as the forward and the inverse pass
compute the same parameters from the same (unchanged) coordinates, which they do.

h_0 = 2x − 1 (inputs in [0, 1] centred), h_{l+1} = act(W_l h_l + b_l) for ``depth`` hidden
layers of ``hidden`` units, out = W_L h_L + b_L with W_L = b_L = 0 at initialisation, so a
flow built from these starts as the identity (uniform density). Shapes: (n, in) → (n, out).

With ``in_features = 0`` (nothing to condition on: a one-dimensional flow) the MLP is a
learnable constant vector of size ``out_features`` (zero at initialisation).

Weights are drawn from a numpy generator seeded by ``seed`` (torch's default scheme,
U(−1/√fan_in, 1/√fan_in)), so the initial network does not depend on torch's global seed or
on the device.

>>> import torch
>>> net = MLP(3, 5, hidden=8, depth=2, seed=0)
>>> net(torch.rand(4, 3, dtype=torch.float64)).abs().max().item()
0.0
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn.utils import skip_init

from ...phasespace._jit import jit

__all__ = ["ACTIVATIONS", "MLP"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
}


class MLP(nn.Module):
    """Fully connected network (n, in_features) → (n, out_features), zero last layer.

    Args:
        in_features: inputs per point (may be 0: then a learnable constant).
        out_features: outputs per point.
        hidden: units per hidden layer.
        depth: number of hidden layers (≥ 1 when in_features > 0).
        activation: one of ``ACTIVATIONS``.
        seed: seed of the numpy generator that draws the initial weights.
        dtype: dtype of the weights and the computation; inputs are cast to it and the
            output is returned in it.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: int = 64,
        depth: int = 2,
        activation: str = "relu",
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.dtype = dtype
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        if self.in_features == 0:
            self.net = None
            self.constant = nn.Parameter(torch.zeros(self.out_features, dtype=dtype))
            return
        gen = np.random.default_rng(seed)
        layers: list[nn.Module] = []
        width = self.in_features
        for _ in range(depth):
            layers += [_linear(width, hidden, gen, dtype), ACTIVATIONS[activation]()]
            width = hidden
        last = skip_init(nn.Linear, width, self.out_features, dtype=dtype)
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()
        self.net = nn.Sequential(*layers, last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.net is None:
            return self.constant.expand(x.shape[0], self.out_features)
        return self.net(2.0 * x.to(self.dtype) - 1.0)

    def unbiased_output(
        self, x: torch.Tensor, columns: np.ndarray | None = None
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Without gradients, (out − b_L, b_L): the output before its last bias is added,
        and that bias, for a caller that adds it while reading (the spline kernel). Bitwise
        the numbers of :meth:`forward` (MKL's addmm adds the bias after the product, as
        here), with one pass over each activation fewer: the hidden layers' bias and ReLU in
        one pass (:func:`_bias_relu`), no copy of the bias into the last layer's output
        (~0.5 µs a point at d = 5). With ``columns`` (int64 (in,)), x is a float64 (n, d)
        array whose columns ``columns`` are the inputs: gathered, cast and centred in one
        pass (:func:`_centre`) instead of a gather, a cast, a product and a difference.

        The first array is (n, P), P = out_features rounded up to a multiple of 8: the
        last product runs on W_Lᵀ padded with zero columns (:meth:`_plan`), which
        MKL's sgemm computes ~20 % faster at out = 147 (d = 5) and bitwise equal in the
        first out_features columns (the same kernel over the same k order; tested through
        the flow). None where it does not apply (no network, another activation than ReLU,
        gradients recorded): then call the module."""
        if self.net is None or torch.is_grad_enabled() or self.dtype != torch.float32:
            return None
        plan = self._plan()
        if plan is None:
            return None
        hidden, last_weight, last_bias = plan
        try:
            if columns is None:
                h = 2.0 * x.to(self.dtype) - 1.0
            else:
                h = torch.empty(x.shape[0], columns.size, dtype=self.dtype)
                _centre(x.numpy(), columns, h.numpy())
            for weight, bias in hidden:
                h = torch.mm(h, weight)
                _bias_relu(h.numpy(), bias)
        except Exception:  # numba failed to compile or load: the module's own forward
            return None
        return torch.mm(h, last_weight), last_bias

    def _plan(
        self,
    ) -> tuple[list[tuple[torch.Tensor, np.ndarray]], torch.Tensor, torch.Tensor] | None:
        """What :meth:`unbiased_output` multiplies with: [(W_lᵀ, b_l as numpy)] of the
        hidden layers, W_Lᵀ (hidden, P) contiguous with P − out_features zero columns (P a
        multiple of 8) and b_L; None if a hidden activation is not ReLU. The views are
        cached (rebuilt when a parameter's storage changes); the padded W_Lᵀ is a copy, so
        it is copied again on every call (~10 µs): an optimizer writing through ``.data``
        changes the values without a version the cache could check."""
        key = tuple((p.data_ptr(), p.shape, p.dtype) for p in self.parameters())
        cached = getattr(self, "_plan_cache", None)
        if cached is None or cached[0] != key:
            layers = list(self.net)
            plan = None
            if all(isinstance(a, nn.ReLU) for a in layers[1:-1:2]):
                hidden = [
                    (lin.weight.detach().t(), lin.bias.detach().numpy()) for lin in layers[:-1:2]
                ]
                last = layers[-1]
                out, width = last.weight.shape
                padded = torch.zeros(width, -(-out // 8) * 8, dtype=last.weight.dtype)
                plan = (hidden, last.weight.detach().t(), padded, last.bias.detach())
            self._plan_cache = cached = (key, plan)
        plan = cached[1]
        if plan is None:
            return None
        hidden, weight_t, padded, bias = plan
        padded[:, : weight_t.shape[1]] = weight_t
        return hidden, padded, bias


@jit
def _centre(x, columns, h):  # pragma: no cover - compiled
    """h[i, j] = 2·float32(x[i, columns[j]]) − 1 in float32 (x float64 (n, d), h float32
    (n, in)): bitwise torch's ``2.0 * x[:, columns].to(float32) − 1.0`` (2t is exact, the
    difference rounded once in float32 as torch's)."""
    two, one = np.float32(2.0), np.float32(1.0)
    for i in range(x.shape[0]):
        for j in range(columns.size):
            h[i, j] = two * np.float32(x[i, columns[j]]) - one


@jit
def _bias_relu(h, b):  # pragma: no cover - compiled
    """h ← max(h + b, 0) in place, row by row (h (n, m), b (m,), float32: torch's addmm
    epilogue and ReLU bitwise; NaN stays NaN)."""
    for i in range(h.shape[0]):
        for j in range(h.shape[1]):
            v = h[i, j] + b[j]
            h[i, j] = 0.0 if v < 0.0 else v


def _linear(fan_in: int, fan_out: int, gen: np.random.Generator, dtype: torch.dtype) -> nn.Linear:
    layer = skip_init(nn.Linear, fan_in, fan_out, dtype=dtype)  # no global torch rng
    bound = 1.0 / np.sqrt(fan_in)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gen.uniform(-bound, bound, (fan_out, fan_in))))
        layer.bias.copy_(torch.from_numpy(gen.uniform(-bound, bound, fan_out)))
    return layer
