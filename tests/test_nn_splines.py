"""Rational-quadratic splines on [0, 1]: onto, monotone, invertible, exact log-derivatives."""

import numpy as np
import pytest
import torch

from mlintegrate.backends.nn.splines import n_spline_params, rq_spline, split_spline_params

BINS = 12


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _params(n: int, scale: float, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, n_spline_params(BINS), generator=gen, dtype=torch.float64)


def _grid(n: int) -> torch.Tensor:
    """n points in [0, 1] including both endpoints, plus points a hair inside them."""
    x = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    x[1], x[-2] = 1e-300, 1.0 - 2**-53
    return x


@pytest.mark.parametrize("scale", [0.0, 1.0, 5.0])
def test_maps_unit_interval_onto_itself_with_fixed_endpoints(scale):
    x = _grid(2001)
    params = _params(1, scale).expand(x.shape[0], -1)
    y, _ = rq_spline(x, *split_spline_params(params, BINS))
    assert y[0].item() == 0.0 and y[-1].item() == 1.0
    assert torch.all((y >= 0) & (y <= 1))
    # monotone: non-decreasing everywhere, strictly increasing between distinct grid points
    assert torch.all(torch.diff(y) >= 0)
    assert torch.all(torch.diff(y[2:-2]) > 0)


def test_zero_parameters_give_the_identity():
    x = torch.rand(1000, dtype=torch.float64)
    y, logdet = rq_spline(x, *split_spline_params(_params(1000, 0.0), BINS))
    torch.testing.assert_close(y, x, rtol=0, atol=1e-15)
    assert logdet.abs().max().item() < 1e-14


def test_inverse_undoes_forward_to_1e10():
    x = torch.cat([_grid(101), torch.rand(5000, dtype=torch.float64)])
    w, h, d = split_spline_params(_params(x.shape[0], 1.0, seed=1), BINS)
    y, logdet = rq_spline(x, w, h, d)
    x_back, logdet_inv = rq_spline(y, w, h, d, inverse=True)
    assert (x_back - x).abs().max().item() < 1e-10
    # the inverse's log-derivative is minus the forward one at the same point
    assert (logdet + logdet_inv).abs().max().item() < 1e-8
    y_again, _ = rq_spline(x_back, w, h, d)
    assert (y_again - y).abs().max().item() < 1e-10


@pytest.mark.parametrize("inverse", [False, True])
def test_logdet_is_the_log_of_the_autograd_derivative(inverse):
    x = torch.rand(3000, dtype=torch.float64).requires_grad_(True)
    w, h, d = split_spline_params(_params(3000, 2.0, seed=2), BINS)
    y, logdet = rq_spline(x, w, h, d, inverse=inverse)
    (grad,) = torch.autograd.grad(y.sum(), x)  # elementwise map: d y_i / d x_i
    torch.testing.assert_close(logdet.detach(), torch.log(grad), rtol=0, atol=1e-8)


def test_inputs_outside_the_interval_are_clamped():
    x = torch.tensor([-1e-12, 1.0 + 1e-12], dtype=torch.float64)
    y, logdet = rq_spline(x, *split_spline_params(_params(2, 3.0), BINS))
    assert y.tolist() == [0.0, 1.0] and torch.all(torch.isfinite(logdet))


@pytest.mark.parametrize("scale", [5.0, 40.0])
def test_steep_splines_invert_as_well_as_their_conditioning_allows(scale):
    """Where y' is tiny (down to ~1e-10 here) x(y) is ill-conditioned: an error δy ~ 1e-16
    in y moves x by δy/y'. The round trip is accurate to that, |x_back − x| · y'(x) < 1e-12,
    and y(x_back) = y to 1e-12."""
    x = torch.rand(5000, dtype=torch.float64)
    w, h, d = split_spline_params(_params(5000, scale, seed=3), BINS)
    y, logdet = rq_spline(x, w, h, d)
    x_back, _ = rq_spline(y, w, h, d, inverse=True)
    assert torch.all(torch.isfinite(logdet)) and torch.all((y >= 0) & (y <= 1))
    assert ((x_back - x).abs() * torch.exp(logdet)).max().item() < 1e-12
    assert (rq_spline(x_back, w, h, d)[0] - y).abs().max().item() < 1e-12


def test_parameter_shapes_are_checked():
    with pytest.raises(ValueError, match="3\\*bins\\+1"):
        split_spline_params(torch.zeros(3, 10), BINS)
    x = torch.rand(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="needs 12 heights and 13 derivatives"):
        rq_spline(x, torch.zeros(3, 12), torch.zeros(3, 11), torch.zeros(3, 13))


def test_density_of_a_spline_integrates_to_one():
    """∫₀¹ dy/dx dx = y(1) − y(0) = 1: the log-derivative is a normalised density."""
    params = _params(1, 2.0, seed=4)
    x = (torch.arange(200_000, dtype=torch.float64) + 0.5) / 200_000
    _, logdet = rq_spline(x, *split_spline_params(params.expand(x.shape[0], -1), BINS))
    assert np.isclose(torch.exp(logdet).mean().item(), 1.0, rtol=1e-6)
