r"""Spline coupling layers and their stack: a bijection of the unit cube onto itself.

A coupling layer with mask m splits z into the transformed part z_m and the conditioning part
z_¬m and sets u_m = s(z_m; θ(z_¬m)), u_¬m = z_¬m, with s an elementwise rational-quadratic
spline on [0, 1] (:mod:`.splines`; without gradients its numba twin
:mod:`.spline_kernel`) whose parameters θ come from an MLP (:mod:`.mlp`) of the
conditioning coordinates. Its Jacobian is triangular, so log|det ∂u/∂z| = Σ_{i∈m} log s'(z_i),
and the inverse is one pass: z_¬m = u_¬m, then z_m = s⁻¹(u_m; θ(u_¬m)).

:class:`CouplingFlow` stacks layers with the binary masks of :mod:`.masks`. With a uniform base
density on [0,1]^d, u = T(z) has the density

    q(u) = |det ∂u/∂z|⁻¹ = |det ∂z/∂u|,   log q(u) = −log|det ∂u/∂z|,

which ``log_prob`` evaluates exactly through the inverse pass. Every layer maps [0,1]^d onto
itself, the MLPs' last layers start at zero, so the initial flow is the identity (q = 1).

Shapes: z, u (n, d) → (n, d); log-determinants (n,). Points, splines and log-determinants
are float64; the conditioner MLPs compute in float32 (see :mod:`.mlp` for why that is exact).

>>> import torch
>>> flow = CouplingFlow(3, n_layers=4, bins=8, hidden=16)
>>> z = torch.rand(5, 3, dtype=torch.float64)
>>> u, logdet = flow(z)
>>> bool(torch.allclose(u, z)), float(logdet.detach().abs().max()) < 1e-12
(True, True)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from . import spline_kernel
from .masks import default_layers, mask_sequence
from .mlp import MLP
from .spline_kernel import kernel_applies, rq_spline_params
from .splines import n_spline_params

__all__ = ["CouplingFlow", "CouplingLayer"]


class CouplingLayer(nn.Module):
    """One spline coupling layer: transform the coordinates where ``mask`` is True.

    Args:
        mask: bool array (d,); True marks the transformed coordinates (at least one). With
            no False entry the spline is unconditional (a learnable constant θ).
        bins: spline bins K.
        hidden, depth, activation: the conditioner MLP.
        seed: seed of the MLP's initial weights.
        conditioner_dtype: dtype the MLP computes in (float32: fast; the density is exact).
    """

    def __init__(
        self,
        mask: np.ndarray,
        bins: int = 16,
        hidden: int = 64,
        depth: int = 2,
        activation: str = "relu",
        seed: int = 0,
        conditioner_dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim != 1 or not mask.any():
            raise ValueError(f"mask must be a 1-D bool array with a True entry, got {mask}")
        self.bins = int(bins)
        trans, cond = np.flatnonzero(mask), np.flatnonzero(~mask)
        # u = cat([u_trans, u_cond])[:, perm] puts every coordinate back at its index
        perm = np.argsort(np.concatenate([trans, cond]))
        self.register_buffer("trans", torch.from_numpy(trans), persistent=False)
        self.register_buffer("cond", torch.from_numpy(cond), persistent=False)
        self.register_buffer("perm", torch.from_numpy(perm), persistent=False)
        self._trans, self._cond = trans.astype(np.int64), cond.astype(np.int64)
        self.conditioner = MLP(
            len(cond),
            len(trans) * n_spline_params(bins),
            hidden,
            depth,
            activation,
            seed,
            conditioner_dtype,
        )

    def _apply_spline(self, x: torch.Tensor, inverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
        # Without gradients the whole layer is one numba pass (spline_kernel.spline_layer):
        # torch's column gathers, cat and sum on (n, d) cost as much as the spline itself.
        fast = kernel_applies(x) and rq_spline_params is spline_kernel.rq_spline_params
        if fast:
            # the conditioner gathers its inputs itself, and its last bias is added by the
            # kernel as it reads the parameters
            split = self.conditioner.unbiased_output(x, self._cond)
            if split is not None:
                raw, bias = split  # raw (n, P ≥ m·(3K+1)): zero-weight padding at the end
                done = spline_kernel.spline_layer(x, raw, self._trans, self.bins, inverse, bias)
                if done is not None:
                    return done
        x_cond = torch.from_numpy(x.numpy()[:, self._cond]) if fast else x[:, self.cond]
        # float32 parameters: the spline casts what it uses to x's float64
        params = self.conditioner(x_cond).view(x.shape[0], len(self.trans), -1)
        if fast:
            done = spline_kernel.spline_layer(x, params, self._trans, self.bins, inverse)
            if done is not None:
                return done
        elif torch.is_grad_enabled() and rq_spline_params is spline_kernel.rq_spline_params:
            # training: one autograd node for the layer's spline (no gather, cat, perm, sum)
            done = spline_kernel.spline_layer_grad(x, params, self._trans, self.bins, inverse)
            if done is not None:
                return done
        x_trans = x[:, self.trans]
        y_trans, logdet = rq_spline_params(x_trans, params, self.bins, inverse=inverse)
        y = torch.cat([y_trans, x_cond], dim=1)[:, self.perm]
        return y, logdet.sum(dim=1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (n, d) → (u, log|det ∂u/∂z|) of shapes (n, d), (n,)."""
        return self._apply_spline(z, inverse=False)

    def inverse(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """u (n, d) → (z, log|det ∂z/∂u|) of shapes (n, d), (n,)."""
        return self._apply_spline(u, inverse=True)


class CouplingFlow(nn.Module):
    """A stack of spline coupling layers with binary masks: a bijection of [0,1]^d.

    Args:
        dim: dimension d ≥ 1.
        n_layers: coupling layers (None: :func:`~.masks.default_layers`, 2⌈log₂ d⌉, 1 for
            d = 1).
        bins: spline bins per layer and coordinate.
        hidden, depth, activation: conditioner MLP width, hidden layers and nonlinearity.
        seed: seed of the initial weights (layer i uses seed + i).
        conditioner_dtype: dtype of the conditioner MLPs.
    """

    def __init__(
        self,
        dim: int,
        n_layers: int | None = None,
        bins: int = 16,
        hidden: int = 64,
        depth: int = 2,
        activation: str = "relu",
        seed: int = 0,
        conditioner_dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.dim = int(dim)
        n_layers = default_layers(self.dim) if n_layers is None else int(n_layers)
        self.layers = nn.ModuleList(
            CouplingLayer(m, bins, hidden, depth, activation, seed + i, conditioner_dtype)
            for i, m in enumerate(mask_sequence(self.dim, n_layers))
        )

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sampling direction: z (n, d) → (u, log|det ∂u/∂z|), shapes (n, d), (n,)."""
        logdet = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
        for layer in self.layers:
            z, ld = layer(z)
            logdet = logdet + ld
        return z, logdet

    def inverse(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Density direction: u (n, d) → (z, log|det ∂z/∂u|), shapes (n, d), (n,)."""
        logdet = torch.zeros(u.shape[0], dtype=u.dtype, device=u.device)
        for layer in reversed(self.layers):
            u, ld = layer.inverse(u)
            logdet = logdet + ld
        return u, logdet

    @property
    def latent_dim(self) -> int:
        """Uniform numbers per sampled point (the base is uniform on the cube)."""
        return self.dim

    def sample(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (n, d) uniform on the cube → (u, log q(u)), shapes (n, d), (n,)."""
        u, logdet = self(z)
        return u, -logdet

    def log_prob(self, u: torch.Tensor) -> torch.Tensor:
        """log q(u) (n,) for u (n, d) in the cube, uniform base: log q = log|det ∂z/∂u|."""
        return self.inverse(u)[1]
