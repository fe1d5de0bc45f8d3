"""Latent diagnostics of a trained B-VAE as PNG files (the seed's slides 19–21).

- ``*_latent_pca.png``: the latent buffer μ_i projected on its two leading principal axes, beside
  the encoded target (points of the proposal resampled ∝ f/q, pushed through g⁻¹) and the
  N(0, 1) prior, on the same axes;
- ``*_decoded_pca.png``: decoded samples u of the B-VAE against the target, both on the target's
  two leading principal axes in the unit cube;
- ``*_latent_marginals.png``: 1-D marginals of every latent coordinate (buffer, encoded target,
  encoded samples) against the N(0, 1) density on the box: sharp cut-offs show where the buffer
  stops covering the target.

Figures are ``matplotlib.figure.Figure`` objects saved directly: the global backend of matplotlib
is never switched, so this is safe inside a user's session.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..rng import RngLike, as_generator

__all__ = ["latent_plots", "pca_axes"]


def pca_axes(x: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mean (d,), the two leading principal axes (d, 2)) of x (n, d), optionally weighted."""
    w = np.ones(x.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    w = w / w.sum()
    mean = w @ x
    cov = (x - mean).T @ ((x - mean) * w[:, None])
    vals, vecs = np.linalg.eigh(np.atleast_2d(cov))
    axes = vecs[:, np.argsort(vals)[::-1][:2]]
    if axes.shape[1] < 2:  # d = 1: a zero second axis
        axes = np.column_stack([axes, np.zeros(x.shape[1])])
    return mean, axes


def _encode(backend, u: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return backend.model.encode(torch.from_numpy(np.ascontiguousarray(u)))[0].numpy()


def latent_plots(
    backend,
    integrand: Callable[[np.ndarray], np.ndarray],
    stem: str | Path,
    n: int = 20_000,
    rng: RngLike = 0,
) -> list[Path]:
    """Write the three PNGs ``{stem}_latent_pca.png`` etc. for a trained B-VAE backend."""
    from matplotlib.figure import Figure

    gen = as_generator(rng)
    stem = Path(stem)
    buf = backend.latent_buffer()
    u, q = backend.sample(n, gen)
    w = np.abs(integrand(u)) / q
    target = u[gen.choice(n, n, p=w / w.sum())] if w.sum() > 0 else u
    z_target, z_sample, mu = _encode(backend, target), _encode(backend, u), buf["mu"]
    bound = backend.model.bound
    paths = []

    def save(fig, name: str) -> None:
        path = stem.with_name(f"{stem.name}_{name}.png")
        fig.savefig(path, dpi=90)
        paths.append(path)

    # latent PCA
    mean, axes = pca_axes(mu)
    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.subplots()
    prior = gen.standard_normal((min(n, 5000), mu.shape[1]))
    for pts, label, colour in (
        (prior, "N(0,1) prior", "0.75"),
        (z_target[:5000], "encoded target", "tab:blue"),
        (mu, f"buffer μ (K = {mu.shape[0]})", "tab:red"),
    ):
        p = (pts - mean) @ axes
        ax.scatter(p[:, 0], p[:, 1], s=2, alpha=0.4, color=colour, label=label)
    ax.set(xlabel="PC 1 of the buffer", ylabel="PC 2", title="latent space")
    ax.legend(markerscale=5, loc="upper right")
    save(fig, "latent_pca")

    # decoded samples vs target, on the target's axes in the cube
    mean, axes = pca_axes(target)
    fig = Figure(figsize=(10, 4.5))
    axs = fig.subplots(1, 2, sharex=True, sharey=True)
    pt, ps = (target - mean) @ axes, (u - mean) @ axes
    rng_x = [np.quantile(pt[:, 0], [0.001, 0.999]), np.quantile(pt[:, 1], [0.001, 0.999])]
    for a, pts, title in ((axs[0], pt, "target (resampled ∝ f/q)"), (axs[1], ps, "decoded")):
        a.hist2d(pts[:, 0], pts[:, 1], bins=60, range=rng_x, cmap="viridis")
        a.set(title=title, xlabel="PC 1 of the target")
    axs[0].set_ylabel("PC 2")
    save(fig, "decoded_pca")

    # 1-D latent marginals
    d = mu.shape[1]
    cols = min(d, 4)
    fig = Figure(figsize=(3.2 * cols, 2.6 * math.ceil(d / cols)))
    axs = np.atleast_1d(fig.subplots(math.ceil(d / cols), cols)).ravel()
    edges = np.linspace(-bound, bound, 81)
    grid = 0.5 * (edges[1:] + edges[:-1])
    normal = np.exp(-0.5 * grid**2) / math.sqrt(2 * math.pi)
    for j in range(d):
        a = axs[j]
        a.hist(mu[:, j], edges, density=True, histtype="step", color="tab:red", label="buffer μ")
        a.hist(z_target[:, j], edges, density=True, histtype="step", label="encoded target")
        a.hist(z_sample[:, j], edges, density=True, histtype="step", label="encoded samples")
        a.plot(grid, normal, color="0.5", lw=1, label="N(0,1)")
        a.set(xlabel=f"z_{j}")
    for a in axs[d:]:
        a.set_visible(False)
    axs[0].legend(fontsize=7)
    fig.tight_layout()
    save(fig, "latent_marginals")
    return paths
