"""The B-VAE proposal: exact parts (squashing, kernels, mixture, decoder), exact density, pulls."""

import math

import numpy as np
import pytest
import torch

import mlintegrate as mli
from mlintegrate.backends import BVAE
from mlintegrate.backends.nn.bvae_model import closed_form_widths
from mlintegrate.backends.nn.latent import log_ratio, log_ratio_direct
from mlintegrate.backends.nn.truncnorm import (
    log_normaliser,
    sample_truncated,
    squash,
    squash_inverse,
    squash_log_density,
)
from mlintegrate.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

QUICK = {"bins": 8, "hidden": 16, "steps_per_batch": 5, "minibatch": 256, "components": 256}


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def _trained(dim: int, seed: int = 0, calls: int = 40_000, f=None, **settings) -> BVAE:
    b = BVAE(dim, **{**QUICK, **settings})
    f = f or mli.functions.get("camel", dim=dim)
    mli.Integrator(b, rng=seed, progress=False).train(f, calls=calls, batch_size=5_000)
    return b


# ---------------------------------------------------------------- truncated normals
def test_squash_is_the_truncated_normal_cdf_and_inverts():
    z = _t(np.linspace(-5, 5, 2001))
    y = squash(z)
    assert float(y[0]) == 0.0 and float(y[-1]) == 1.0
    assert bool(torch.all(torch.diff(y) > 0))
    np.testing.assert_allclose(squash_inverse(y).numpy(), z.numpy(), atol=1e-9)
    zz = z[1:-1].clone().requires_grad_(True)
    (dy,) = torch.autograd.grad(squash(zz).sum(), zz)
    np.testing.assert_allclose(dy.log().numpy(), squash_log_density(zz).detach().numpy(), 1e-10)


def test_truncated_kernel_normaliser_and_sampler():
    mu, s = _t([4.5, -1.0, 0.0]), _t([0.05, 2.0, 10.0])
    grid = np.linspace(-5, 5, 200_001)
    dens = np.exp(-0.5 * ((grid[:, None] - mu.numpy()) / s.numpy()) ** 2) / (
        s.numpy() * math.sqrt(2 * math.pi)
    )
    z_num = np.trapezoid(dens, grid, axis=0)
    np.testing.assert_allclose(np.exp(log_normaliser(mu, s).numpy()), z_num, rtol=1e-8)
    v = _t(np.random.default_rng(0).random((200_000, 1)))
    x = sample_truncated(v, mu[None], s[None]).numpy()
    assert np.all(np.abs(x) <= 5)
    # the sample's CDF at a few points against the exact truncated CDF
    for k in range(3):
        for t in (-0.5, 4.45, 4.6):
            from scipy.stats import truncnorm

            a, b = (-5 - mu[k].item()) / s[k].item(), (5 - mu[k].item()) / s[k].item()
            exact = truncnorm.cdf(t, a, b, loc=mu[k].item(), scale=s[k].item())
            assert abs(np.mean(x[:, k] <= t) - exact) < 5 * math.sqrt(0.25 / 200_000)


# ---------------------------------------------------------------- the latent mixture
@pytest.mark.parametrize("eta", [0.0, 0.3, 1.0])
def test_mixture_log_density_matches_direct_evaluation(eta):
    gen = np.random.default_rng(1)
    z, mu = _t(gen.uniform(-4, 4, (300, 3))), _t(gen.uniform(-4.9, 4.9, (50, 3)))
    s = _t(gen.uniform(0.05, 3.0, (50, 3)))
    log_w = torch.log_softmax(_t(gen.normal(size=50)), dim=0)
    fast = log_ratio(z, mu, s, log_w, eta)
    np.testing.assert_allclose(fast.numpy(), log_ratio_direct(z, mu, s, log_w, eta).numpy(), 1e-9)


def test_leave_one_out_drops_and_renormalises():
    gen = np.random.default_rng(2)
    z, mu = _t(gen.uniform(-3, 3, (40, 2))), _t(gen.uniform(-3, 3, (10, 2)))
    s, log_w = _t(np.full((10, 2), 0.5)), torch.full((10,), -math.log(10), dtype=torch.float64)
    ex = torch.zeros(40, 10, dtype=torch.bool)
    ex[:, 3] = True
    got = log_ratio(z, mu, s, log_w, 0.2, exclude=ex)
    keep = [i for i in range(10) if i != 3]
    want = log_ratio_direct(z, mu[keep], s[keep], log_w[keep] + math.log(10 / 9), 0.2)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10)


def test_closed_form_widths_minimise_the_beta_vae_loss():
    """For a linear decoder u = J z the β-VAE loss in σ_j² is convex with the closed-form min."""
    beta, jsq = 0.05, _t([[0.01, 0.3, 4.0]])
    sig = closed_form_widths(jsq, beta)

    def loss(s2):  # (1 − β) Σ s² ‖J_j‖² + β KL (μ = 0)
        return (1 - beta) * (s2 * jsq).sum() + beta * 0.5 * (s2 - 1 - torch.log(s2)).sum()

    s2 = (sig**2).clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss(s2), s2)
    assert float(g.abs().max()) < 1e-12


# ---------------------------------------------------------------- the decoder
def test_decoder_inverts_and_its_log_det_matches_autograd():
    model = _trained(3, fit="prior").model
    gen = np.random.default_rng(4)
    z = _t(gen.uniform(-4, 4, (20, 3)))
    with torch.no_grad():
        u, logdet = model.decoder(squash(z))
    logdet = logdet + squash_log_density(z).sum(dim=1)  # log|det ∂u/∂z|
    with torch.no_grad():
        z_back, logdet_inv = model.encode(u)
    np.testing.assert_allclose(z_back.detach().numpy(), z.numpy(), atol=1e-9)
    for i in range(5):

        def g(x):
            return model.decoder(squash(x[None]))[0][0]

        jac = torch.autograd.functional.jacobian(g, z[i])
        want = torch.linalg.slogdet(jac)[1]
        assert abs(float(logdet[i]) - float(want)) < 1e-6  # float32 conditioner off-diagonals
        y_ld = squash_log_density(z_back[i]).sum()
        assert abs(float(logdet_inv[i] - y_ld + logdet[i])) < 1e-9  # log|∂z/∂u| = −log|∂u/∂z|


def test_eta_one_is_exactly_the_coupling_flow():
    """With η = 1 the latent is the prior: q is the decoder's flow density, to the last bit."""
    b, c = _trained(2, eta=1.0, learn_eta=False), _trained(2, eta=0.5, learn_eta=False)
    x = torch.from_numpy(np.random.default_rng(6).random((2000, 2)))
    with torch.no_grad():
        np.testing.assert_array_equal(b.model.log_prob(x), b.model.decoder.log_prob(x))
        assert not torch.equal(c.model.log_prob(x), c.model.decoder.log_prob(x))


# ---------------------------------------------------------------- the learned prior weight η
def test_learned_eta_rises_on_a_flat_target_and_stays_exact():
    """Constant f: the decoder alone is optimal, so the rule moves all the weight from the
    buffer (a lumpy kernel estimate) to the prior; the density stays exact meanwhile."""

    def flat(u):
        return np.ones(u.shape[0])

    b = _trained(2, f=flat, learn_eta=True, eta=0.5)
    assert 0.99 < b.model.eta <= 1.0
    u, q = b.sample(20_000, rng=3)
    np.testing.assert_allclose(b.density(u), q, rtol=1e-10)
    c = BVAE(2, learn_eta=True, eta=0.5, **QUICK)
    c.load_state_dict(b.state_dict())
    assert c.model.eta == b.model.eta  # η is part of the state


def test_default_on_a_flat_target_is_exactly_flat():
    """The default starts at η = 1 and a flat target never earns the buffer any weight beyond
    the batch's noise, so η stays 1, the decoder stays the identity and q ≡ 1: every weight
    is the same (a fixed 10 % buffer made q a lumpy kernel estimate, ε ≈ 76 % on ee_qqg's
    exact map, where f is flat)."""

    def flat(u):
        return np.full(u.shape[0], 3.0)

    b = _trained(2, f=flat)
    assert b.model.is_ready and b.model.eta == 1.0
    x = np.random.default_rng(5).random((10_000, 2))
    np.testing.assert_allclose(b.density(x), 1.0, atol=1e-12)


def test_learned_eta_falls_where_the_buffer_is_the_better_component():
    """A narrow peak and an untrained (identity) decoder: kernels around the encoded peak
    points carry more of f than the prior, so the rule lowers η."""
    model = BVAE(2, learn_eta=True, eta=0.9, **QUICK).model
    rng = np.random.default_rng(4)
    peak = _t(0.5 + 0.02 * rng.standard_normal((4000, 2))).clamp(0, 1)
    model.refresh(peak, torch.ones(4000, dtype=torch.float64), rng)

    def f(u):
        return torch.exp(-0.5 * (((u - 0.5) / 0.02) ** 2).sum(dim=1))

    u = _t(rng.random((20_000, 2)))  # uniform points, q_s = 1: fresh for the anchors
    model.before_step(u, torch.ones(20_000, dtype=torch.float64), f(u))
    assert model.eta < 0.5
    eta = model.eta
    model.before_step(u, torch.ones(20_000, dtype=torch.float64), torch.zeros(20_000))
    assert model.eta == eta  # no information (f = 0): η unchanged


# ---------------------------------------------------------------- the exact density
@pytest.mark.parametrize("settings", [{}, {"fit": "mixture", "memory": True}, {"widths": "unit"}])
def test_sample_density_agreement(settings):
    b = _trained(4, **settings)
    assert b.model.is_ready
    u, q = b.sample(20_000, rng=7)
    np.testing.assert_allclose(b.density(u), q, rtol=1e-10)


@pytest.mark.parametrize(
    "settings", [{"eta": 0.0, "alpha": 0.3, "learn_eta": False}, {"fit": "mixture"}]
)
def test_density_is_normalised(settings):
    b = _trained(2, **settings)
    x = np.random.default_rng(8).random((200_000, 2))
    q = b.density(x)
    err = q.std(ddof=1) / math.sqrt(q.size)
    assert abs(q.mean() - 1.0) < 5 * err and err < 0.02


def test_mixture_fit_learns_the_bandwidth_and_state_round_trips():
    b = _trained(2, fit="mixture", alpha=0.5)
    assert b.model.alpha != 0.5  # α is a trained parameter
    c = BVAE(2, fit="mixture", alpha=0.5, **QUICK)
    c.load_state_dict(b.state_dict())
    x = np.random.default_rng(9).random((500, 2))
    np.testing.assert_array_equal(c.density(x), b.density(x))
    buf = b.latent_buffer()
    assert buf["mu"].shape == (256, 2) and np.all(np.abs(buf["mu"]) <= 5)


def test_memory_keeps_anchors_from_earlier_batches():
    b = _trained(2, memory=True, calls=30_000)
    a = b.model.anchors.numpy()
    buf = b.learned.trainer.buffer.u.numpy()
    assert a.shape == (256, 2) and np.all((a >= 0) & (a <= 1))
    assert len(buf) > 0


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("eta", 1.5),
        ("alpha", 0.0),
        ("beta", 0.0),
        ("fit", "elbo"),
        ("components", 0),
        ("learn_eta", "yes"),
    ],
)
def test_bad_settings_name_the_parameter(key, value):
    with pytest.raises(ConfigError, match=key):
        BVAE(2, **{key: value})


# ---------------------------------------------------------------- pulls
@pytest.mark.parametrize(
    ("name", "dim", "max_rel_err"),
    [("camel", 2, 4e-3), ("camel", 4, 8e-3), ("ee_qqg", None, 1.5e-2)],
)
def test_pull_with_bounded_error(name, dim, max_rel_err):
    # ee_qqg on the diet map: on the exact default map f is flat, the default B-VAE stays at
    # q ≡ 1 and the estimate is exact to rounding (test_default_on_a_flat_target_is_exactly_flat)
    f = mli.processes.get(name, dim=dim) if dim else mli.processes.get(name, phase_space="diet")
    integ = mli.Integrator(BVAE(f.dim, **QUICK), rng=11, progress=False)
    integ.train(f, calls=40_000, batch_size=5_000)
    r = integ.integrate(f, calls=60_000)
    assert abs(r.mean - f.exact) < 5 * r.sdev
    assert r.sdev < max_rel_err * abs(f.exact)


@pytest.mark.slow
def test_many_seed_pulls_are_standard_normal():
    """Pulls of 200 independent estimates (one trained proposal, fresh points per seed)."""
    f = mli.functions.get("camel", dim=3)
    integ = mli.Integrator(BVAE(3, **QUICK), rng=0, progress=False)
    integ.train(f, calls=60_000, batch_size=6_000)
    pulls = []
    for seed in range(200):
        u, q = integ.backend.sample(4_000, rng=1000 + seed)
        w = f(u) / q
        pulls.append((w.mean() - f.exact) / (w.std(ddof=1) / math.sqrt(w.size)))
    pulls = np.array(pulls)
    assert abs(pulls.mean()) < 4 / math.sqrt(pulls.size)
    assert abs(pulls.std(ddof=1) - 1.0) < 4 / math.sqrt(2 * pulls.size)
