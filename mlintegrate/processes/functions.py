"""Built-in test integrands on the unit hypercube [0,1]^d with exact integrals.

Every integrand is a :class:`KnownIntegrand`: a vectorised callable ``f(u)`` for ``u`` of shape
``(n, dim)`` that returns shape ``(n,)``, together with its exact integral over ``[0,1]^dim``
computed in closed form (``math.erf``, ``math.atan`` or exact rational arithmetic) and the exact
fraction of the cube's volume where ``f != 0``.

==============  =====  ==========================================================================
name            dim    formula
==============  =====  ==========================================================================
``camel``       >= 1   1/2 sum_{c in {1/3, 2/3}} prod_i N(u_i; c, sigma), sigma = 0.1
``cut``         >= 2   (1 + u_1 u_2) [u_1 + u_2 > t] prod_{i>=3} (1 + u_i), t = 1/2
``peaks``       >= 1   prod_i Lorentzian(u_i; x_i, gamma), x_i = 0.2 + 0.6 i/(dim-1), gamma = 0.01
``polynomial``  >= 1   prod_i (1 + a_i u_i + b_i u_i^2) + cross sum_i u_i u_{i+1}^2
``ring``        2      exp(-(r - r0)^2 / (2 w^2)), r = |u - (1/2, 1/2)|, r0 = 0.3, w = 0.025
==============  =====  ==========================================================================

Example:

>>> f = get("camel", dim=2)
>>> f(np.full((3, 2), 1 / 3)).shape
(3,)
>>> round(f.exact, 6)
0.999142

All functions are > 0 everywhere on the cube except ``cut`` (``nonzero_fraction`` = 1 for them).
For extreme parameters (large ``dim``, tiny widths) float64 may underflow to 0 far from the peaks;
``nonzero_fraction`` is the mathematical value.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

__all__ = ["KnownIntegrand", "describe", "get", "names"]

_Fn = Callable[[np.ndarray], np.ndarray]
_MAX_LOG_PEAK = 700.0  # exp(709.78) is the largest float64


def _check_peak_height(name: str, log_peak: float, dim: int, param: str, value: float) -> None:
    """Reject parameters whose peak value exp(log_peak) would overflow float64."""
    if log_peak > _MAX_LOG_PEAK:
        raise ValueError(
            f"{name} with dim={dim}, {param}={value:g} peaks at exp({log_peak:.0f}), which "
            f"overflows float64; use a larger {param} or a smaller dim"
        )


@dataclass(frozen=True)
class KnownIntegrand:
    """A vectorised integrand on [0,1]^dim with its exact integral.

    ``exact`` is the integral over the cube, ``nonzero_fraction`` the exact fraction of the
    cube's volume where ``f != 0`` (1.0 if ``f > 0`` everywhere). Call it with ``u`` of shape
    ``(n, dim)``; it returns a float64 array of shape ``(n,)``.
    """

    name: str
    dim: int
    exact: float
    description: str
    nonzero_fraction: float
    _fn: _Fn = field(repr=False, compare=False)

    def __call__(self, u: np.ndarray) -> np.ndarray:
        """Evaluate ``f`` at the rows of ``u`` (shape ``(n, dim)``), returning shape ``(n,)``."""
        u = np.asarray(u, dtype=np.float64)
        if u.ndim != 2 or u.shape[1] != self.dim:
            raise ValueError(
                f"u has shape {u.shape} but {self.name}(dim={self.dim}) expects (n, {self.dim}); "
                f"pass a 2-D array with one row per point and {self.dim} columns"
            )
        return np.asarray(self._fn(u), dtype=np.float64)

    def __reduce_ex__(self, protocol: object) -> object:
        """Made by :func:`get`: pickles as (name, dim, parameters), rebuilt where unpickled
        (``_fn`` is a closure, which the standard pickle cannot send to a worker process)."""
        recipe = self.__dict__.get("_recipe")
        if recipe is not None:
            return (_rebuild, recipe)
        return super().__reduce_ex__(protocol)


# --------------------------------------------------------------------------------------------
# camel
# --------------------------------------------------------------------------------------------


def _camel(dim: int, sigma: float) -> KnownIntegrand:
    r"""Two Gaussians of width sigma at (1/3,...,1/3) and (2/3,...,2/3), each of mass 1/2 on R^d.

    f(u) = 1/2 sum_{c in {1/3, 2/3}} prod_i N(u_i; c, sigma), with N the normal density.
    Over the cube each 1-D factor integrates to
    q_c = Phi((1-c)/sigma) - Phi(-c/sigma) = [erf((1-c)/(sigma sqrt2)) + erf(c/(sigma sqrt2))]/2,
    so exact = (q_{1/3}^d + q_{2/3}^d) / 2 (the two are equal by symmetry; slightly below 1).
    """
    centres = (1.0 / 3.0, 2.0 / 3.0)
    s2 = sigma * math.sqrt(2.0)
    q = [0.5 * (math.erf((1.0 - c) / s2) + math.erf(c / s2)) for c in centres]
    exact = 0.5 * sum(qc**dim for qc in q)
    log_norm = -dim * math.log(sigma * math.sqrt(2.0 * math.pi))
    _check_peak_height("camel", log_norm, dim, "sigma", sigma)

    def fn(u: np.ndarray) -> np.ndarray:
        total = np.zeros(u.shape[0])
        for c in centres:  # two terms, not a loop over points
            z = (u - c) / sigma
            total += np.exp(log_norm - 0.5 * np.einsum("ij,ij->i", z, z))
        return 0.5 * total

    desc = (
        f"1/2 sum_{{c in {{1/3,2/3}}}} prod_i N(u_i; c, sigma): two Gaussians on the diagonal, "
        f"sigma={sigma:g}, dim={dim}"
    )
    return KnownIntegrand("camel", dim, exact, desc, 1.0, fn)


# --------------------------------------------------------------------------------------------
# ring
# --------------------------------------------------------------------------------------------

_RING_MAX_LEAK = 1e-12


def _ring_integral_beyond(r0: float, width: float, radius: float) -> float:
    r"""Integral of exp(-(r-r0)^2/(2w^2)) over the plane region r > radius, in closed form.

    2 pi int_R^inf r exp(-(r-r0)^2/(2w^2)) dr
      = 2 pi [ w^2 exp(-(R-r0)^2/(2w^2)) + r0 w sqrt(pi/2) erfc((R-r0)/(sqrt2 w)) ].
    With R = 0 this is the integral over all of R^2 (erfc(-x) = 1 + erf(x)).
    """
    d = (radius - r0) / width
    return (
        2.0
        * math.pi
        * (
            width**2 * math.exp(-0.5 * d * d)
            + r0 * width * math.sqrt(0.5 * math.pi) * math.erfc(d / math.sqrt(2.0))
        )
    )


def _ring(dim: int, r0: float, width: float) -> KnownIntegrand:
    r"""Gaussian annulus f = exp(-(r-r0)^2/(2w^2)), r = |u - (1/2, 1/2)|, in 2-D.

    exact is the integral over R^2 in closed form,
    2 pi [ w^2 exp(-r0^2/(2w^2)) + r0 w sqrt(pi/2) (1 + erf(r0/(sqrt2 w))) ].
    Every point outside the unit square has r > 1/2, so the neglected part is at most
    2 pi [ w^2 exp(-(1/2-r0)^2/(2w^2)) + r0 w sqrt(pi/2) erfc((1/2-r0)/(sqrt2 w)) ]
    (``_ring_integral_beyond(r0, w, 0.5)``). For r0 = 0.3, w = 0.025 (edge 8 w away) the bound is
    1.2e-16 absolute, 1.0e-15 relative to exact = 0.118122074592918; parameters whose bound
    exceeds 1e-12 relative are rejected.
    """
    exact = _ring_integral_beyond(r0, width, 0.0)
    leak = _ring_integral_beyond(r0, width, 0.5) / exact
    if leak > _RING_MAX_LEAK:
        raise ValueError(
            f"ring with r0={r0:g}, width={width:g} leaks {leak:.1e} of its integral outside the "
            f"unit square (limit {_RING_MAX_LEAK:g}); keep r0 + 7.5*width <= 0.5, "
            "e.g. r0=0.3, width=0.025"
        )

    def fn(u: np.ndarray) -> np.ndarray:
        r = np.hypot(u[:, 0] - 0.5, u[:, 1] - 0.5)
        return np.exp(-0.5 * ((r - r0) / width) ** 2)

    desc = (
        f"exp(-(r-r0)^2/(2 w^2)), r = |u - (1/2,1/2)|: Gaussian ring, r0={r0:g}, "
        f"width={width:g}, dim=2"
    )
    return KnownIntegrand("ring", dim, exact, desc, 1.0, fn)


# --------------------------------------------------------------------------------------------
# peaks
# --------------------------------------------------------------------------------------------


def _peak_positions(dim: int) -> np.ndarray:
    """x_i = 0.2 + 0.6 i / max(dim-1, 1), i = 0..dim-1: one position per dimension."""
    return 0.2 + 0.6 * np.arange(dim) / max(dim - 1, 1)


def _peaks(dim: int, width: float) -> KnownIntegrand:
    r"""Product of normalised Lorentzians, one per dimension, at different positions.

    f(u) = prod_i g(u_i; x_i), g(x; x0) = (gamma/pi) / ((x - x0)^2 + gamma^2), with
    x_i = 0.2 + 0.6 i/max(dim-1, 1) (off the diagonal for dim >= 2) and gamma = ``width``.
    Over [0,1]: int g = [atan((1-x0)/gamma) + atan(x0/gamma)] / pi, exact = prod_i of these.
    Lorentzians (not Gaussians) so that f stays > 0 in float64 over the whole cube.
    """
    _check_peak_height("peaks", -dim * math.log(math.pi * width), dim, "width", width)
    pos = _peak_positions(dim)
    exact = math.prod(
        (math.atan((1.0 - x0) / width) + math.atan(x0 / width)) / math.pi for x0 in pos.tolist()
    )

    def fn(u: np.ndarray) -> np.ndarray:
        g = (width / math.pi) / ((u - pos) ** 2 + width**2)
        return np.prod(g, axis=1)

    desc = (
        f"prod_i (gamma/pi)/((u_i-x_i)^2+gamma^2), x_i = 0.2+0.6 i/(dim-1): sharp Lorentzian "
        f"peaks, gamma={width:g}, dim={dim}"
    )
    return KnownIntegrand("peaks", dim, exact, desc, 1.0, fn)


# --------------------------------------------------------------------------------------------
# polynomial
# --------------------------------------------------------------------------------------------

# (a, b) per dimension, cycled: each 1 + a x + b x^2 is >= 11/12 on [0, 1].
_POLY_COEFFS = (
    (Fraction(2), Fraction(-1)),
    (Fraction(-1), Fraction(3)),
    (Fraction(1, 2), Fraction(1, 2)),
)


def _polynomial(dim: int, cross: float) -> KnownIntegrand:
    r"""f(u) = prod_i (1 + a_i u_i + b_i u_i^2) + cross sum_{i<dim} u_i u_{i+1}^2.

    (a_i, b_i) cycle through (2, -1), (-1, 3), (1/2, 1/2). Exact rational integral:
    prod_i (1 + a_i/2 + b_i/3) + cross (dim-1)/6, with ``cross`` taken as the exact rational
    value of its float. f > 0 on the cube for cross >= 0 (and nonzero almost everywhere always).
    """
    ab = [_POLY_COEFFS[i % len(_POLY_COEFFS)] for i in range(dim)]
    exact_q = math.prod((1 + a / 2 + b / 3 for a, b in ab), start=Fraction(1))
    exact_q += Fraction(cross) * Fraction(dim - 1, 6)
    a_arr = np.array([float(a) for a, _ in ab])
    b_arr = np.array([float(b) for _, b in ab])

    def fn(u: np.ndarray) -> np.ndarray:
        prod = np.prod(1.0 + u * (a_arr + b_arr * u), axis=1)
        chain = np.einsum("ij,ij->i", u[:, :-1], u[:, 1:] ** 2)
        return prod + cross * chain

    desc = (
        "prod_i (1 + a_i u_i + b_i u_i^2) + cross sum_i u_i u_{i+1}^2, "
        f"(a,b) cycling (2,-1),(-1,3),(1/2,1/2): smooth polynomial, cross={cross:g}, dim={dim}"
    )
    return KnownIntegrand("polynomial", dim, float(exact_q), desc, 1.0, fn)


# --------------------------------------------------------------------------------------------
# cut
# --------------------------------------------------------------------------------------------


def _cut_exact(threshold: Fraction) -> tuple[Fraction, Fraction]:
    r"""(integral, area) of (1 + x y) over {x + y > t} in the unit square, exactly.

    t <= 1: the complement is the triangle x + y < t (area t^2/2, int x y = t^4/24), so
            area = 1 - t^2/2 and integral = 5/4 - t^2/2 - t^4/24.
    t >= 1: with s = 2 - t the region is the corner triangle p + q < s (x = 1-p, y = 1-q), so
            area = s^2/2 and integral = s^2 - s^3/3 + s^4/24.
    """
    t = threshold
    if t <= 1:
        return Fraction(5, 4) - t**2 / 2 - t**4 / 24, 1 - t**2 / 2
    s = 2 - t
    return s**2 - s**3 / 3 + s**4 / 24, s**2 / 2


def _cut(dim: int, threshold: float) -> KnownIntegrand:
    r"""f(u) = (1 + u_1 u_2) [u_1 + u_2 > t] prod_{i=3}^{dim} (1 + u_i): zero on a known region.

    exact = I_2(t) (3/2)^(dim-2) and nonzero_fraction = A(t), from :func:`_cut_exact`.
    Default t = 1/2: I_2 = 431/384, nonzero_fraction = 7/8.
    """
    base, area = _cut_exact(Fraction(threshold))
    exact_q = base * Fraction(3, 2) ** (dim - 2)

    def fn(u: np.ndarray) -> np.ndarray:
        val = (1.0 + u[:, 0] * u[:, 1]) * np.prod(1.0 + u[:, 2:], axis=1)
        return np.where(u[:, 0] + u[:, 1] > threshold, val, 0.0)

    desc = (
        "(1 + u_1 u_2) [u_1 + u_2 > t] prod_{i>=3} (1 + u_i): zero where u_1 + u_2 <= t, "
        f"t={threshold:g}, nonzero fraction {float(area):g}, dim={dim}"
    )
    return KnownIntegrand("cut", dim, float(exact_q), desc, float(area), fn)


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    build: Callable[..., KnownIntegrand]
    default_dim: int
    min_dim: int
    max_dim: int | None
    defaults: dict[str, float]
    # name -> (predicate, requirement text) for parameter values
    checks: dict[str, tuple[Callable[[float], bool], str]]


_POSITIVE = (lambda x: x > 0, "a finite number > 0")
_REGISTRY: dict[str, _Spec] = {
    "camel": _Spec(_camel, 2, 1, None, {"sigma": 0.1}, {"sigma": _POSITIVE}),
    "cut": _Spec(
        _cut,
        2,
        2,
        None,
        {"threshold": 0.5},
        {"threshold": (lambda t: 0 < t < 2, "a number with 0 < threshold < 2")},
    ),
    "peaks": _Spec(_peaks, 4, 1, None, {"width": 0.01}, {"width": _POSITIVE}),
    "polynomial": _Spec(
        _polynomial, 3, 1, None, {"cross": 1.0}, {"cross": (lambda c: True, "a finite number")}
    ),
    "ring": _Spec(
        _ring,
        2,
        2,
        2,
        {"r0": 0.3, "width": 0.025},
        {"r0": (lambda r: r >= 0, "a finite number >= 0"), "width": _POSITIVE},
    ),
}


def names() -> list[str]:
    """Names of the built-in integrands, sorted."""
    return sorted(_REGISTRY)


def describe() -> dict[str, str]:
    """Name -> one-line description (formula and default parameters), for ``mlintegrate list``."""
    return {name: get(name).description for name in names()}


def _check_dim(name: str, spec: _Spec, dim: object) -> int:
    if dim is None:
        return spec.default_dim
    if spec.max_dim == spec.min_dim:
        allowed = f"dim={spec.min_dim} only"
        fix = f"pass dim={spec.min_dim} or omit dim"
    else:
        allowed = f"dim >= {spec.min_dim}"
        fix = f"pass an integer dim >= {spec.min_dim}, e.g. dim={spec.default_dim}"
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise ValueError(f"dim must be an integer, got {dim!r} ({type(dim).__name__}); {fix}")
    dim = int(dim)
    if dim < spec.min_dim or (spec.max_dim is not None and dim > spec.max_dim):
        raise ValueError(f"{name} is defined for {allowed}, got dim={dim}; {fix}")
    return dim


def get(name: str, dim: int | None = None, **params: float) -> KnownIntegrand:
    """Return the built-in integrand ``name`` on [0,1]^dim (``dim=None``: its default dim).

    Keyword ``params`` override the function's defaults (e.g. ``get("camel", 4, sigma=0.05)``).
    Raises ValueError for an unknown name, an invalid dim or an unknown / invalid parameter.
    """
    spec = _REGISTRY.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ValueError(f"unknown function {name!r}; valid names: {', '.join(names())}")
    dim = _check_dim(name, spec, dim)
    unknown = sorted(set(params) - set(spec.defaults))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} for {name}; "
            f"valid parameters: {', '.join(sorted(spec.defaults))}"
        )
    values = dict(spec.defaults)
    for key, value in params.items():
        ok, requirement = spec.checks[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(value)
            or not ok(float(value))
        ):
            raise ValueError(
                f"{name} parameter {key}={value!r} is invalid; pass {requirement} "
                f"(default {spec.defaults[key]:g})"
            )
        values[key] = float(value)
    integrand = spec.build(dim, **values)
    object.__setattr__(integrand, "_recipe", (name, dim, values))  # frozen: set once, here
    return integrand


def _rebuild(name: str, dim: int, params: dict[str, float]) -> KnownIntegrand:
    """Unpickle a built-in test function: build it again from its recipe."""
    return get(name, dim, **params)
