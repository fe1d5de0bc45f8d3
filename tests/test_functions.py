"""Tests for mlintegrate.processes.functions: exact integrals, cut fractions, shapes, errors."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import integrate, stats

from mlintegrate.processes import functions as fx

N_MC = 2_000_000


def _mc(f: fx.KnownIntegrand, seed: int, n: int = N_MC) -> tuple[float, float]:
    """Plain Monte Carlo with uniform points: (mean, standard error)."""
    rng = np.random.default_rng(seed)
    values = f(rng.random((n, f.dim)))
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(n))


def _gl(breaks: list[float], panels: int = 40, order: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre nodes and weights on [0, 1], panels between sorted breakpoints."""
    xi, wi = np.polynomial.legendre.leggauss(order)
    edges = np.unique(
        np.concatenate(
            [np.linspace(a, b, panels + 1) for a, b in zip(breaks[:-1], breaks[1:], strict=True)]
        )
    )
    lo, hi = edges[:-1, None], edges[1:, None]
    nodes = lo + (hi - lo) * (xi + 1) / 2
    weights = (hi - lo) * wi / 2
    return nodes.ravel(), weights.ravel()


def _tensor_quad(f: fx.KnownIntegrand, breaks: list[float]) -> float:
    """Deterministic tensor-product composite Gauss-Legendre integral of a smooth f, dim <= 2."""
    x, w = _gl(breaks)
    if f.dim == 1:
        return float(w @ f(x[:, None]))
    xx, yy = np.meshgrid(x, x, indexing="ij")
    values = f(np.column_stack([xx.ravel(), yy.ravel()])).reshape(xx.shape)
    return float(w @ values @ w)


def _cut_quad(f: fx.KnownIntegrand, t: float) -> float:
    """Integral of the 2-D cut function, with the panels split along the discontinuity x+y=t."""
    x, wx = _gl(sorted({0.0, min(max(t - 1, 0.0), 1.0), min(t, 1.0), 1.0}), panels=8)
    yi, wi = _gl([0.0, 1.0], panels=1)
    y_t = np.clip(t - x, 0.0, 1.0)[:, None]
    total = 0.0
    for a, b in ((0.0, y_t), (y_t, 1.0)):  # y below, then above, the line x + y = t
        y = a + (b - a) * yi
        u = np.column_stack([np.repeat(x, yi.size), y.ravel()])
        inner = ((b - a) * wi * f(u).reshape(y.shape)).sum(axis=1)
        total += float(wx @ inner)
    return total


# name, dim, params, stated bound on the relative standard error of the 2e6-point estimate
MC_CASES = [
    ("camel", 1, {}, 2e-3),
    ("camel", 2, {}, 3e-3),
    ("camel", 4, {}, 8e-3),
    ("ring", 2, {}, 3e-3),
    ("peaks", 1, {}, 6e-3),
    ("peaks", 2, {}, 2e-2),
    ("peaks", 3, {"width": 0.02}, 3e-2),
    ("polynomial", 1, {}, 5e-4),
    ("polynomial", 3, {}, 5e-4),
    ("polynomial", 6, {"cross": 0.25}, 1e-3),
    ("cut", 2, {}, 5e-4),
    ("cut", 4, {}, 1e-3),
    ("cut", 3, {"threshold": 1.5}, 3e-3),
]


@pytest.mark.parametrize(("name", "dim", "params", "max_rse"), MC_CASES)
def test_exact_agrees_with_plain_monte_carlo(name, dim, params, max_rse):
    f = fx.get(name, dim, **params)
    mean, se = _mc(f, seed=12345 + dim)
    assert se < max_rse * f.exact, "estimate too imprecise for the comparison to mean anything"
    assert abs(mean - f.exact) < 5 * se, (mean, se, f.exact)


QUAD_CASES = [
    ("camel", 1, {}, [0.0, 1.0]),
    ("camel", 2, {}, [0.0, 1.0]),
    ("camel", 2, {"sigma": 0.3}, [0.0, 1.0]),
    ("ring", 2, {}, [0.0, 1.0]),
    ("peaks", 1, {}, [0.0, 0.2, 1.0]),
    ("peaks", 2, {}, [0.0, 0.2, 0.8, 1.0]),
    ("polynomial", 1, {}, [0.0, 1.0]),
    ("polynomial", 2, {"cross": 3.5}, [0.0, 1.0]),
]


@pytest.mark.parametrize(("name", "dim", "params", "breaks"), QUAD_CASES)
def test_exact_agrees_with_deterministic_quadrature(name, dim, params, breaks):
    f = fx.get(name, dim, **params)
    assert _tensor_quad(f, breaks) == pytest.approx(f.exact, rel=1e-10)


@pytest.mark.parametrize("threshold", [0.5, 0.3, 1.0, 1.5])
def test_cut_exact_agrees_with_split_quadrature(threshold):
    f = fx.get("cut", 2, threshold=threshold)
    assert _cut_quad(f, threshold) == pytest.approx(f.exact, rel=1e-10)


def test_peaks_exact_is_product_of_one_dimensional_quadratures():
    f, gamma = fx.get("peaks", 4), 0.01
    positions = [0.2, 0.4, 0.6, 0.8]
    expected = 1.0
    for i, x0 in enumerate(positions):
        # vary u_i, keep the other coordinates on their peaks, where each factor is 1/(pi gamma)
        u = np.array([positions])

        def along_axis(x, i=i, u=u):
            u[0, i] = x
            return f(u)[0]

        value, _ = integrate.quad(along_axis, 0.0, 1.0, points=[x0], epsabs=0, epsrel=1e-12)
        expected *= value * (math.pi * gamma) ** 3
    assert f.exact == pytest.approx(expected, rel=1e-9)


def test_camel_dim1_exact_by_hand():
    sigma = 0.1
    by_hand = 0.5 * sum(
        stats.norm.cdf(1.0, loc=c, scale=sigma) - stats.norm.cdf(0.0, loc=c, scale=sigma)
        for c in (1 / 3, 2 / 3)
    )
    assert fx.get("camel", 1).exact == pytest.approx(by_hand, rel=1e-14)
    # dim d: each Gaussian factorises, so exact(d) = exact(1)^d for the symmetric centres
    assert fx.get("camel", 5).exact == pytest.approx(by_hand**5, rel=1e-13)
    # and f itself matches the normal density
    u = np.array([[0.1], [1 / 3], [0.9]])
    density = 0.5 * (stats.norm.pdf(u[:, 0], 1 / 3, sigma) + stats.norm.pdf(u[:, 0], 2 / 3, sigma))
    np.testing.assert_allclose(fx.get("camel", 1)(u), density, rtol=1e-13)


def test_ring_closed_form_and_neglected_tail():
    f = fx.get("ring")
    r0, w = 0.3, 0.025

    def radial(r):
        return 2 * math.pi * r * math.exp(-0.5 * ((r - r0) / w) ** 2)

    # radial quadrature out to r = 1, beyond which the ring is below exp(-390)
    whole_plane, _ = integrate.quad(radial, 0, 1, points=[r0], epsabs=0, epsrel=1e-12)
    assert f.exact == pytest.approx(whole_plane, rel=1e-10)
    # everything outside the square has r > 1/2: that part is negligible
    beyond, _ = integrate.quad(radial, 0.5, 2.0, epsabs=0, epsrel=1e-8)
    assert beyond / f.exact < 1e-12


def test_ring_rejects_parameters_that_leak_out_of_the_square():
    with pytest.raises(ValueError, match=r"r0=0\.3, width=0\.03 leaks .* outside the unit square"):
        fx.get("ring", r0=0.3, width=0.03)
    assert fx.get("ring", r0=0.2, width=0.03).exact > 0


def test_polynomial_and_cut_exact_values_by_hand():
    assert fx.get("polynomial", 1).exact == float(Fraction(5, 3))
    assert fx.get("polynomial", 2).exact == float(Fraction(5, 2) + Fraction(1, 6))
    assert fx.get("polynomial").exact == float(Fraction(93, 24))  # default dim 3
    cut = fx.get("cut")
    assert cut.dim == 2
    assert cut.exact == float(Fraction(431, 384))
    assert cut.nonzero_fraction == 0.875
    assert fx.get("cut", 4).exact == float(Fraction(431, 384) * Fraction(9, 4))
    assert fx.get("cut", 4).nonzero_fraction == 0.875
    high = fx.get("cut", 2, threshold=1.5)
    assert high.exact == float(Fraction(81, 384))
    assert high.nonzero_fraction == 0.125


@pytest.mark.parametrize(("dim", "params"), [(2, {}), (3, {}), (2, {"threshold": 1.5})])
def test_cut_nonzero_fraction_matches_sampling(dim, params):
    f = fx.get("cut", dim, **params)
    rng = np.random.default_rng(7 + dim)
    n = 1_000_000
    hit = np.count_nonzero(f(rng.random((n, dim))))
    p = f.nonzero_fraction
    assert abs(hit / n - p) < 5 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("name", fx.names())
def test_other_functions_are_positive_everywhere(name):
    f = fx.get(name)
    rng = np.random.default_rng(3)
    u = np.vstack([rng.random((20_000, f.dim)), np.zeros((1, f.dim)), np.ones((1, f.dim))])
    values = f(u)
    if name == "cut":
        assert 0 < f.nonzero_fraction < 1
        assert np.all(values[u[:, 0] + u[:, 1] <= 0.5] == 0)
        assert np.all(values[u[:, 0] + u[:, 1] > 0.5] > 0)
    else:
        assert f.nonzero_fraction == 1.0
        assert np.all(values > 0)


@pytest.mark.parametrize("name", fx.names())
def test_output_shape_dtype_and_determinism(name):
    f = fx.get(name)
    u = np.random.default_rng(0).random((7, f.dim))
    out = f(u)
    assert out.shape == (7,)
    assert out.dtype == np.float64
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out, f(u.copy()))
    np.testing.assert_array_equal(f(u.tolist()), out)  # array-likes are accepted
    assert f(np.empty((0, f.dim))).shape == (0,)
    # rows are independent: evaluating one row alone gives the same number
    assert f(u[3:4])[0] == out[3]


@pytest.mark.parametrize("name", fx.names())
@pytest.mark.parametrize("bad", ["flat", "extra_column", "three_d"])
def test_bad_shapes_raise(name, bad):
    f = fx.get(name)
    u = {
        "flat": np.zeros(10),
        "extra_column": np.zeros((10, f.dim + 1)),
        "three_d": np.zeros((10, f.dim, 1)),
    }[bad]
    with pytest.raises(ValueError, match=rf"u has shape \({', '.join(map(str, u.shape))},?\)"):
        f(u)


def test_shape_error_message_is_specific():
    f = fx.get("camel", 4)
    pattern = r"^u has shape \(10, 3\) but camel\(dim=4\) expects \(n, 4\)"
    with pytest.raises(ValueError, match=pattern):
        f(np.zeros((10, 3)))


def test_unknown_name_lists_all_valid_names():
    with pytest.raises(ValueError) as err:
        fx.get("camle")
    assert str(err.value) == (
        "unknown function 'camle'; valid names: camel, cut, peaks, polynomial, ring"
    )


@pytest.mark.parametrize(
    ("name", "dim", "pattern"),
    [
        ("ring", 3, r"ring is defined for dim=2 only, got dim=3; pass dim=2"),
        ("camel", 0, r"camel is defined for dim >= 1, got dim=0; pass an integer dim >= 1"),
        ("cut", 1, r"cut is defined for dim >= 2, got dim=1"),
        ("peaks", 2.5, r"dim must be an integer, got 2\.5 \(float\)"),
        ("peaks", True, r"dim must be an integer, got True"),
        ("polynomial", "3", r"dim must be an integer, got '3'"),
    ],
)
def test_invalid_dim_raises(name, dim, pattern):
    with pytest.raises(ValueError, match=pattern):
        fx.get(name, dim)


def test_default_dims_and_numpy_integer_dim():
    assert {n: fx.get(n).dim for n in fx.names()} == {
        "camel": 2,
        "cut": 2,
        "peaks": 4,
        "polynomial": 3,
        "ring": 2,
    }
    assert fx.get("camel", np.int64(3)).dim == 3


def test_params_override_defaults_and_are_validated():
    assert fx.get("camel", 2, sigma=0.05).exact != fx.get("camel", 2).exact
    assert "sigma=0.05" in fx.get("camel", 2, sigma=0.05).description
    with pytest.raises(
        ValueError,
        match=r"unknown parameter\(s\) 'sgima' for camel; "
        r"valid parameters: sigma",
    ):
        fx.get("camel", sgima=0.2)
    with pytest.raises(ValueError, match=r"valid parameters: r0, width"):
        fx.get("ring", radius=0.2)
    for bad in (-0.1, 0.0, math.nan, math.inf, "0.1", None):
        with pytest.raises(ValueError, match=r"camel parameter sigma=.* is invalid; pass a finite"):
            fx.get("camel", sigma=bad)
    with pytest.raises(ValueError, match=r"threshold=2\.0 is invalid; pass a number with 0 <"):
        fx.get("cut", threshold=2.0)


@pytest.mark.parametrize(
    ("name", "params"), [("camel", {"sigma": 0.01}), ("peaks", {"width": 0.01})]
)
def test_peak_height_overflow_is_rejected(name, params):
    with pytest.raises(ValueError, match=r"overflows float64; use a larger"):
        fx.get(name, 400, **params)
    f = fx.get(name, 100, **params)  # still representable: finite everywhere
    u = np.vstack([np.full((1, 100), 1 / 3), np.random.default_rng(1).random((5, 100))])
    assert np.all(np.isfinite(f(u)))


def test_names_and_describe():
    assert fx.names() == ["camel", "cut", "peaks", "polynomial", "ring"]
    desc = fx.describe()
    assert list(desc) == fx.names()
    for name, line in desc.items():
        assert line == fx.get(name).description
        assert "\n" not in line and len(line) < 160
    assert set(fx.__all__) == {"KnownIntegrand", "get", "names", "describe"}


def test_known_integrand_is_frozen_and_comparable():
    f = fx.get("camel")
    with pytest.raises(AttributeError):
        f.exact = 1.0
    assert f == fx.get("camel")
    assert "_fn" not in repr(f)
