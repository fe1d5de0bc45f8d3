"""Reusable torch parts of the learned proposals: splines, masks, conditioners, couplings, losses.

Everything here works in float64 on the unit cube; the backends (:mod:`..flow`, the B-VAE)
assemble them and convert to and from numpy at their boundary.
"""

from .buffer import SampleBuffer
from .coupling import CouplingFlow, CouplingLayer
from .losses import LOSSES, kl_loss, mixed_loss, reweighted_rsd, variance_loss
from .masks import binary_masks, default_layers, mask_sequence
from .mlp import MLP
from .splines import n_spline_params, rq_spline, split_spline_params

__all__ = [
    "LOSSES",
    "MLP",
    "SampleBuffer",
    "CouplingFlow",
    "CouplingLayer",
    "binary_masks",
    "default_layers",
    "kl_loss",
    "mask_sequence",
    "mixed_loss",
    "n_spline_params",
    "reweighted_rsd",
    "rq_spline",
    "split_spline_params",
    "variance_loss",
]
