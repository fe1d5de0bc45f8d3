"""Coupling flows, masks, conditioners, losses and the sample buffer of ``backends.nn``."""

import itertools
import math

import numpy as np
import pytest
import torch

from mlintegrate.backends import nn as mnn

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _randomised(
    dim: int, n_layers: int | None = None, scale: float = 0.5, dtype=torch.float32
) -> mnn.CouplingFlow:
    """A flow whose zero-initialised last layers are replaced by seeded random ones."""
    flow = mnn.CouplingFlow(
        dim, n_layers=n_layers, bins=8, hidden=16, seed=dim, conditioner_dtype=dtype
    )
    gen = torch.Generator().manual_seed(100 + dim)
    with torch.no_grad():
        for p in flow.parameters():
            if not p.abs().any():
                p.copy_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return flow


# ------------------------------------------------------------------------------ masks
@pytest.mark.parametrize("dim", [2, 3, 4, 5, 8, 13, 17])
def test_binary_masks_couple_every_pair_both_ways(dim):
    masks = mnn.binary_masks(dim)
    assert len(masks) == 2 * math.ceil(math.log2(dim))
    for m in masks:
        assert m.shape == (dim,) and m.any() and not m.all()
    for i, j in itertools.permutations(range(dim), 2):
        # some layer transforms i while j is among its conditioning inputs
        assert any(m[i] and not m[j] for m in masks), (i, j)


def test_masks_for_one_and_two_dimensions():
    assert mnn.binary_masks(1) == []
    assert [m.tolist() for m in mnn.mask_sequence(1, 2)] == [[True], [True]]
    assert [m.tolist() for m in mnn.binary_masks(2)] == [[False, True], [True, False]]
    assert [m.tolist() for m in mnn.mask_sequence(2, 3)] == [[False, True], [True, False]] * 1 + [
        [False, True]
    ]


# ------------------------------------------------------------------------------ MLP
def test_mlp_starts_at_zero_and_is_seeded():
    x = torch.rand(7, 3, dtype=torch.float64)
    a, b = mnn.MLP(3, 5, hidden=8, seed=1), mnn.MLP(3, 5, hidden=8, seed=1)
    assert torch.equal(a(x), torch.zeros(7, 5, dtype=torch.float32))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb) and pa.dtype == torch.float32
    assert mnn.MLP(3, 5, dtype=torch.float64)(x).dtype == torch.float64
    assert not torch.equal(next(a.parameters()), next(mnn.MLP(3, 5, hidden=8, seed=2).parameters()))
    const = mnn.MLP(0, 4)
    assert const(torch.empty(6, 0, dtype=torch.float64)).shape == (6, 4)


def test_building_a_flow_leaves_torch_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    mnn.CouplingFlow(4, bins=4, hidden=8)
    assert torch.equal(torch.rand(3), expected)


# ------------------------------------------------------------------------------ flows
@pytest.mark.parametrize("dim", [1, 2, 3, 5])
def test_identity_at_initialisation(dim):
    flow = mnn.CouplingFlow(dim, bins=8, hidden=16)
    z = torch.rand(500, dim, dtype=torch.float64)
    with torch.no_grad():
        u, logdet = flow(z)
        lp = flow.log_prob(z)
    torch.testing.assert_close(u, z, rtol=0, atol=1e-14)
    assert logdet.abs().max().item() < 1e-12 and lp.abs().max().item() < 1e-12


@pytest.mark.parametrize("dim", [1, 2, 3, 5])
def test_inverse_undoes_forward(dim):
    flow = _randomised(dim)
    z = torch.rand(3000, dim, dtype=torch.float64)
    with torch.no_grad():
        u, logdet = flow(z)
        z_back, logdet_inv = flow.inverse(u)
    assert (z_back - z).abs().max().item() < 1e-10
    assert (logdet + logdet_inv).abs().max().item() < 1e-8


@pytest.mark.parametrize(
    ("dim", "layers", "dtype"),
    [
        (1, None, torch.float64),
        (2, 4, torch.float64),
        (3, 8, torch.float64),
        (5, 12, torch.float64),
        (5, 1, torch.float32),
    ],
)
def test_logdet_equals_the_autograd_jacobian(dim, layers, dtype):
    """The full stack with float64 conditioners (with float32 ones the autograd reference
    itself, a product of 12 dense Jacobians with float32-precision off-diagonal entries, is
    only good to ~1e-4); one layer with the default float32 conditioner."""
    flow = _randomised(dim, n_layers=layers, dtype=dtype)
    z = torch.rand(50, dim, dtype=torch.float64)
    with torch.no_grad():
        _, logdet = flow(z)
        _, logdet_inv = flow.inverse(z)
    # points are independent: the Jacobian of the batch sum holds every point's (d, d) block
    jac = torch.autograd.functional.jacobian(lambda x: flow(x)[0].sum(0), z)
    jac_inv = torch.autograd.functional.jacobian(lambda x: flow.inverse(x)[0].sum(0), z)
    for direction, full in ((logdet, jac), (logdet_inv, jac_inv)):
        blocks = full.permute(1, 0, 2)  # (n, d_out, d_in)
        logabsdet = torch.linalg.slogdet(blocks)[1]
        assert (logabsdet - direction).abs().max().item() < 1e-5


@pytest.mark.parametrize("dim", [2, 3])
def test_unit_cube_maps_onto_itself(dim):
    flow = _randomised(dim, scale=2.0)
    corners = torch.tensor(list(itertools.product([0.0, 1.0], repeat=dim)), dtype=torch.float64)
    with torch.no_grad():
        u, _ = flow(corners)
        # a face stays a face: coordinate 0 fixed at 0 or 1 keeps its value
        face = torch.rand(1000, dim, dtype=torch.float64)
        face[:, 0] = torch.tensor([0.0, 1.0]).repeat(500)
        u_face, _ = flow(face)
        inside, _ = flow(torch.rand(5000, dim, dtype=torch.float64))
    torch.testing.assert_close(u, corners, rtol=0, atol=0)
    assert torch.equal(u_face[:, 0], face[:, 0])
    assert torch.all((inside >= 0) & (inside <= 1))


def test_flow_density_integrates_to_one():
    flow = _randomised(2, scale=0.2)
    m = (torch.arange(400, dtype=torch.float64) + 0.5) / 400
    grid = torch.cartesian_prod(m, m)
    with torch.no_grad():
        q = torch.exp(flow.log_prob(grid))
    assert abs(q.mean().item() - 1.0) < 1e-3


# ------------------------------------------------------------------------------ losses
def _batch(seed: int = 0):
    gen = np.random.default_rng(seed)
    u = gen.random(4000)
    f = np.exp(-0.5 * ((u - 0.3) / 0.1) ** 2)
    q_s = np.ones_like(u)
    q_model = 1.0 + 0.5 * np.cos(2 * np.pi * u)  # a normalised density on [0, 1]
    as_t = [torch.from_numpy(a) for a in (f, q_s, np.log(q_model))]
    return (f, q_s, q_model), as_t


def test_losses_match_their_formulas():
    (f, q_s, q_m), (ft, qt, lqt) = _batch()
    w = f / q_s
    kl = -(w * np.log(q_m)).sum() / w.sum()
    assert mnn.kl_loss(ft, qt, lqt).item() == pytest.approx(kl, rel=1e-12)
    second = np.mean(w**2 * q_s / q_m) / np.mean(w) ** 2
    assert mnn.variance_loss(ft, qt, lqt).item() == pytest.approx(np.log(second), rel=1e-12)
    assert mnn.reweighted_rsd(ft, qt, lqt) == pytest.approx(math.sqrt(second - 1), rel=1e-10)
    mix = mnn.mixed_loss(ft, qt, lqt, alpha=0.25).item()
    assert mix == pytest.approx(0.75 * kl + 0.25 * np.log(second), rel=1e-12)
    # with q_model = q_sample the reweighted rsd is the plain rsd of the weights
    assert mnn.reweighted_rsd(ft, qt, torch.log(qt)) == pytest.approx(w.std() / w.mean())


def test_signed_integrands_train_on_their_modulus():
    _, (ft, qt, lqt) = _batch()
    signs = torch.where(torch.arange(ft.shape[0]) % 3 == 0, -1.0, 1.0).to(ft.dtype)
    for loss in mnn.LOSSES.values():
        assert loss(ft * signs, qt, lqt).item() == pytest.approx(loss(ft, qt, lqt).item())


def test_loss_gradients_point_towards_the_integrand():
    """q_a(u) = 1 + a cos(2πu) and f peaked at u = 0.3, where cos(2πu) < 0: more mass there
    needs a < 0, so every loss has a positive gradient at a = 0 (descent lowers a)."""
    (_, _, _), (ft, qt, _) = _batch(1)
    u = torch.from_numpy(np.random.default_rng(1).random(4000))
    for loss in mnn.LOSSES.values():
        a = torch.zeros((), dtype=torch.float64, requires_grad=True)
        loss(ft, qt, torch.log(1 + a * torch.cos(2 * math.pi * u))).backward()
        assert a.grad.item() > 0


# ------------------------------------------------------------------------------ buffer
def test_buffer_is_fifo_and_round_trips():
    buf = mnn.SampleBuffer(dim=2, capacity=5)
    for k in range(3):
        u = torch.full((2, 2), float(k), dtype=torch.float64)
        buf.add(u, torch.ones(2, dtype=torch.float64), torch.full((2,), float(k)))
    assert len(buf) == 5 and buf.f.tolist() == [0.0, 1.0, 1.0, 2.0, 2.0]
    other = mnn.SampleBuffer(dim=2, capacity=5)
    other.load_state_dict(buf.state_dict())
    assert torch.equal(other.u, buf.u) and torch.equal(other.f, buf.f)
    with pytest.raises(ValueError, match="expected"):
        mnn.SampleBuffer(dim=3, capacity=5).load_state_dict(buf.state_dict())
