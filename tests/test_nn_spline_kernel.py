"""The numba spline kernel (no-gradient path) against the torch spline it twins: same q."""

import pytest
import torch

from mlintegrate.backends import nn as mnn
from mlintegrate.backends.nn import spline_kernel
from mlintegrate.backends.nn.spline_kernel import rq_spline_params, rq_spline_torch
from mlintegrate.backends.nn.splines import n_spline_params

pytestmark = pytest.mark.usefixtures("one_torch_thread")
BINS = 16


def _params(n: int, m: int, scale: float, dtype: torch.dtype) -> torch.Tensor:
    gen = torch.Generator().manual_seed(7)
    p = scale * torch.randn(n, m, n_spline_params(BINS), generator=gen, dtype=torch.float64)
    return p.to(dtype)


@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kernel_equals_the_torch_spline(inverse, dtype):
    """Same formulas in the same order: outputs and log-derivatives agree to round-off,
    including the end points and points a hair inside them."""
    x = torch.rand(4000, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x[0], x[1], x[2], x[3] = 0.0, 1.0, 1e-300, 1.0 - 2**-53
    params = _params(4000, 3, 1.0, dtype)
    with torch.no_grad():
        out, logdet = rq_spline_params(x, params, BINS, inverse=inverse)
        ref_out, ref_logdet = rq_spline_torch(x, params, BINS, inverse=inverse)
    assert (out - ref_out).abs().max().item() < 1e-13
    assert (logdet - ref_logdet).abs().max().item() < 1e-12  # relative error of q


@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_kernel_gradient_equals_torch_autograd(inverse, dtype):
    """Training takes the kernel with its analytic gradient: the gradients of a random
    linear function of (out, logdet) with respect to x and the parameters equal those of
    autograd through the torch spline (to round-off; float32 parameters get float32 grads),
    on points inside the cube. (At an edge ξ = 1 ± 1 ulp, and whether a clamp passes the
    gradient there depends on the cumulative sum's round-off: a set of measure zero.)"""
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(3000, 3, dtype=torch.float64, generator=gen)
    params = _params(3000, 3, 1.0, dtype)
    g_out, g_ld = (torch.randn(3000, 3, dtype=torch.float64, generator=gen) for _ in range(2))
    grads = []
    for spline in (rq_spline_params, rq_spline_torch):
        xg, pg = x.clone().requires_grad_(True), params.clone().requires_grad_(True)
        out, logdet = spline(xg, pg, BINS, inverse=inverse)
        ((out * g_out).sum() + (logdet * g_ld).sum()).backward()
        grads.append((xg.grad, pg.grad))
    (gx, gp), (ref_gx, ref_gp) = grads
    assert gp.dtype == dtype
    tol = 1e-11 if dtype == torch.float64 else 1e-6
    assert ((gx - ref_gx).abs().max() / ref_gx.abs().max()).item() < 1e-11
    assert ((gp - ref_gp).abs().max() / ref_gp.abs().max()).item() < tol


def test_the_torch_gradient_stays_selectable(monkeypatch):
    """kernel_gradient = False: gradients come from the torch spline's graph again."""
    from mlintegrate.backends.nn import spline_kernel

    monkeypatch.setattr(spline_kernel, "kernel_gradient", False)
    x = torch.rand(10, 2, dtype=torch.float64)
    params = _params(10, 2, 1.0, torch.float32).requires_grad_(True)
    out, logdet = rq_spline_params(x, params, BINS)
    assert logdet.grad_fn is not None and "Spline" not in type(logdet.grad_fn).__name__
    logdet.sum().backward()
    assert params.grad is not None and bool(params.grad.abs().sum() > 0)


@pytest.mark.parametrize("dim", [5, 8])
def test_flow_densities_are_unchanged_by_the_kernel(dim):
    """A flow with perturbed weights (as in bench_throughput): log q of the sampling pass and
    of the density pass, by the kernel (no gradients), equal the torch path's (gradients on)
    to 1e-12 relative in q."""
    model = mnn.CouplingFlow(dim, seed=3)
    gen = torch.Generator().manual_seed(dim)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    z = torch.rand(3000, dim, dtype=torch.float64, generator=gen)
    with torch.no_grad():
        u, log_q = model.sample(z)
        log_q_density = model.log_prob(u)
    with torch.enable_grad(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(spline_kernel, "kernel_gradient", False)  # the torch spline's graph
        ref_u, ref_log_q = model.sample(z)
        ref_log_q_density = model.log_prob(u)
    assert (u - ref_u.detach()).abs().max().item() < 1e-13
    assert (log_q - ref_log_q.detach()).abs().max().item() < 1e-12
    assert (log_q_density - ref_log_q_density.detach()).abs().max().item() < 1e-12
    assert (log_q - log_q_density).abs().max().item() < 1e-9  # forward vs inverse pass


def test_a_kernel_that_cannot_compile_falls_back_to_the_torch_path(monkeypatch):
    """numba failing to start (e.g. an embedding interpreter with mismatched cffi) must not
    break sampling: the torch path, same numbers, takes over."""
    from mlintegrate.backends.nn import spline_kernel

    def broken(*args):
        raise RuntimeError("no numba here")

    monkeypatch.setattr(spline_kernel, "_kernel", broken)
    monkeypatch.setattr(spline_kernel, "kernel_error", None)
    x = torch.rand(50, 2, dtype=torch.float64)
    params = _params(50, 2, 1.0, torch.float32)
    with torch.no_grad():
        out, logdet = rq_spline_params(x, params, BINS)
        ref_out, ref_logdet = rq_spline_torch(x, params, BINS)
    assert spline_kernel.kernel_error == "RuntimeError: no numba here"
    assert torch.equal(out, ref_out) and torch.equal(logdet, ref_logdet)


def test_the_vectorised_exp_is_within_one_ulp_of_libm():
    """The kernel's branch-free exp (the softmax's 2K exponentials) against math.exp: at most
    1 ulp apart on the arguments a softmax meets (≤ 0) and the softplus's (≤ 20); below −708
    it returns exp(−708) (a bin share < 1e-300, invisible next to the largest, which is 1)."""
    import math

    import numpy as np

    from mlintegrate.backends.nn.spline_kernel import _exp

    args = np.concatenate(
        [
            np.random.default_rng(3).uniform(-708.0, 20.0, 20_000),
            np.random.default_rng(4).uniform(-1.0, 1.0, 20_000),
            [0.0, -0.0, -1e-300, math.log(2.0) / 2, -math.log(2.0) / 2, -708.0, 20.0],
        ]
    )
    for a in args:
        ref = math.exp(a)
        assert abs(_exp(a) - ref) <= math.ulp(ref), a
    assert _exp(-709.5) == _exp(-1e30) == _exp(-708.0)
    assert math.isnan(_exp(float("nan")))


@pytest.mark.parametrize("inverse", [False, True])
def test_a_layer_kernel_that_cannot_compile_falls_back_to_the_torch_path(monkeypatch, inverse):
    """The fused layer pass (spline_layer) failing must leave a flow's numbers unchanged."""
    from mlintegrate.backends.nn import spline_kernel

    model = mnn.CouplingFlow(4, seed=2)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(2)))
    z = torch.rand(200, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    run = model.inverse if inverse else model.forward
    with torch.no_grad():
        fused = run(z)

    def broken(*args):
        raise RuntimeError("no numba here")

    monkeypatch.setattr(spline_kernel, "_layer", broken)
    monkeypatch.setattr(spline_kernel, "kernel_error", None)
    with torch.no_grad():
        fallback = run(z)
    assert spline_kernel.kernel_error == "RuntimeError: no numba here"
    assert (fused[0] - fallback[0]).abs().max().item() < 1e-13
    assert (fused[1] - fallback[1]).abs().max().item() < 1e-12


@pytest.mark.parametrize("inverse", [False, True])
def test_the_layer_training_node_equals_the_per_column_path(monkeypatch, inverse):
    """spline_layer_grad (one autograd node per coupling layer) gives a flow the same loss
    and the same parameter gradients, bitwise, as the per-column kernel path (gather, spline,
    cat, permutation, sum), through a stack where later layers' inputs carry gradients."""
    flow = mnn.CouplingFlow(5, n_layers=4, bins=BINS, hidden=16, seed=2)
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    u = torch.rand(500, 5, dtype=torch.float64, generator=gen)
    weights = torch.randn(500, 5, dtype=torch.float64, generator=gen)

    def loss_and_grads():
        flow.zero_grad()
        out, logdet = flow.inverse(u) if inverse else flow(u)
        loss = (out * weights).sum() + logdet.square().sum()
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in flow.parameters()], out.grad_fn

    loss, grads, node = loss_and_grads()
    assert "SplineLayer" in type(node).__name__  # the layer node did run
    monkeypatch.setattr(spline_kernel, "spline_layer_grad", lambda *args: None)
    ref_loss, ref_grads, ref_node = loss_and_grads()
    assert "SplineLayer" not in type(ref_node).__name__
    assert torch.equal(loss, ref_loss)
    assert all(torch.equal(g, r) for g, r in zip(grads, ref_grads, strict=True))
    assert any(bool(g.abs().sum() > 0) for g in grads[:-2])  # not only the last layer's


@pytest.mark.parametrize("dim", [2, 5])
def test_the_split_conditioner_gives_the_same_flow_bitwise(monkeypatch, dim):
    """Without gradients the conditioner's last bias is added by the layer kernel
    (MLP.unbiased_output, numba bias + ReLU): samples, sampling densities and densities
    equal, bitwise, those of the module's own forward (torch addmm + ReLU)."""
    flow = mnn.CouplingFlow(dim, bins=BINS, hidden=32, seed=3)
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    z = torch.rand(3000, dim, dtype=torch.float64, generator=gen)
    with torch.no_grad():
        first = flow.layers[0]
        raw, _ = first.conditioner.unbiased_output(z, first._cond)  # it runs, padded to 8k
        assert raw.shape[1] % 8 == 0 and raw.shape[1] >= first.conditioner.out_features
        u, log_q = flow.sample(z)
        density = flow.log_prob(u)
        monkeypatch.setattr(mnn.mlp.MLP, "unbiased_output", lambda self, *args: None)
        ref_u, ref_log_q = flow.sample(z)
        ref_density = flow.log_prob(u)
    assert torch.equal(u, ref_u) and torch.equal(log_q, ref_log_q)
    assert torch.equal(density, ref_density)


def test_the_libm_free_log_and_softplus_are_within_ulps_of_libm():
    """The block layer kernel's _log and _softplus_fast (branch-free, vectorised) against
    math.log and torch's softplus as the scalar kernel computes it (libm log1p(exp)): _log
    ≤ 1 ulp over the whole positive range (subnormals included), the softplus ≤ 3 ulp on
    [−708, 20] and exact above torch's threshold 20; special values as libm's."""
    import math

    import numpy as np

    from mlintegrate.backends.nn.spline_kernel import _log, _softplus, _softplus_fast

    rng = np.random.default_rng(11)
    args = np.concatenate(
        [
            np.exp(rng.uniform(-744.0, 709.0, 20_000)),
            rng.uniform(0.5, 2.0, 20_000),
            [5e-324, 1e-310, 2.2250738585072014e-308, 1.0, 2.0, 0.5, math.sqrt(2.0), 1.7e308],
        ]
    )
    for a in args:
        ref = math.log(a)
        assert abs(_log(a) - ref) <= math.ulp(ref), a
    assert _log(0.0) == -math.inf and _log(math.inf) == math.inf
    assert math.isnan(_log(-1.0)) and math.isnan(_log(math.nan))
    vs = np.concatenate([rng.uniform(-708.0, 20.0, 20_000), rng.normal(0.5, 1.0, 20_000)])
    for v in vs:
        ref = _softplus(v)
        assert abs(_softplus_fast(v) - ref) <= 3 * math.ulp(ref), v
    for v in (20.0 + 1e-12, 25.0, 1e30):
        assert _softplus_fast(v) == v
    assert _softplus_fast(-800.0) == 0.0 and math.isnan(_softplus_fast(math.nan))


@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_block_layer_kernel_reproduces_the_scalar_kernel(inverse, dtype):
    """spline_layer (blocks of points, libm-free log and softplus) against the per-column
    scalar kernel that it replaced for sampling (libm): the same bins and knots (outputs
    bitwise equal for most points, ≤ 2 ulp for the rest) and log-determinants to 1e-14,
    on a point count that is not a multiple of the block, with the end points, points
    outside the cube, and parameters large enough for the softplus's linear branch."""
    import numpy as np

    n, d, trans = 1000 + 7, 5, np.array([3, 0, 4], dtype=np.int64)
    gen = torch.Generator().manual_seed(9)
    x = torch.rand(n, d, dtype=torch.float64, generator=gen)
    x[0, 3], x[1, 0], x[2, 4], x[3, 3], x[4, 0] = 0.0, 1.0, 1.0 - 2**-53, -0.25, 1.5
    params = _params(n, trans.size, 1.0, dtype)
    params[:50] *= 30.0  # softplus above its threshold, extreme bins
    bias = torch.randn(params[0].numel(), generator=gen, dtype=torch.float64).to(dtype)
    with torch.no_grad():
        y, logdet = spline_kernel.spline_layer(x, params, trans, BINS, inverse, bias)
        full = params + bias.view(params[0].shape)
        ref_cols, ref_ld = rq_spline_params(x[:, trans], full, BINS, inverse=inverse)
    ref_y = x.clone()
    ref_y[:, trans] = ref_cols
    diff = (y - ref_y).abs()
    assert diff.max().item() <= 2 * 2**-53 * 2  # ≤ 2 ulp of values in [0, 1]
    assert (diff == 0).double().mean().item() > 0.9
    ref_sum = ref_ld[:, 0] + ref_ld[:, 1] + ref_ld[:, 2]
    assert (logdet - ref_sum).abs().max().item() < 1e-14 * max(1.0, ref_sum.abs().max().item())


@pytest.mark.parametrize("dim", [5, 8])
def test_sampled_points_and_densities_are_today_s(monkeypatch, dim):
    """A whole flow, no gradients: u and log q of the sampling pass and log q of the density
    pass by the block layer kernel equal those of the per-column scalar kernel (libm; the
    arithmetic the layer kernel had before) to ≤ 4 ulp in u and 1e-13 in log q (relative
    error of q, the issue's bound is 1e-12)."""
    model = mnn.CouplingFlow(dim, seed=4)
    gen = torch.Generator().manual_seed(dim + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    z = torch.rand(5000, dim, dtype=torch.float64, generator=gen)
    with torch.no_grad():
        u, log_q = model.sample(z)
        density = model.log_prob(u)
        monkeypatch.setattr(spline_kernel, "spline_layer", lambda *args: None)
        ref_u, ref_log_q = model.sample(z)
        ref_density = model.log_prob(u)
    assert not torch.equal(log_q, ref_log_q)  # the two paths did run
    assert (u - ref_u).abs().max().item() <= 4 * 2**-53
    assert (log_q - ref_log_q).abs().max().item() < 1e-13
    assert (density - ref_density).abs().max().item() < 1e-13


def test_the_padded_last_layer_follows_in_place_updates():
    """MLP.unbiased_output multiplies with W_Lᵀ padded to a multiple of 8 columns: after an
    in-place update of the weights, through the parameter or through ``.data`` (which no
    version counter sees), it gives, bitwise, the module's output again."""
    net = mnn.mlp.MLP(3, 3 * n_spline_params(BINS), hidden=16, seed=0)
    x = torch.rand(300, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for step in range(3):
            for p in net.parameters():
                noise = 0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(step))
                (p.data if step == 2 else p).add_(noise)
            raw, bias = net.unbiased_output(x)
            assert raw.shape == (300, 152)
            assert torch.equal(raw[:, :147] + bias, net(x))
            assert not raw[:, 147:].any()
