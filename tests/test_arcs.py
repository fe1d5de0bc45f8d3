"""The arc law: an angle drawn mostly on the arcs where lo ≤ cos ψ ≤ hi."""

import numpy as np
from conftest import draw_arc_law_checked

from mlintegrate.phasespace.arcs import ArcLaw, arc_density, arc_law, arc_quantile

SHARE = 0.05


def _bounds(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Pass sets of every kind: two arcs, one arc around 0 or π, empty, whole circle, NaN."""
    lo, hi = rng.uniform(-1.5, 1.5, n), rng.uniform(-1.5, 1.5, n)
    lo[:50], hi[:50] = -2.0, 2.0  # whole circle
    lo[50:100], hi[50:100] = 0.5, 0.2  # empty
    lo[100:150] = np.nan
    return lo, hi


def test_arc_law_inverts_integrates_to_one_and_is_the_cdf_derivative():
    rng = np.random.default_rng(4)
    n = 20_000
    lo, hi = _bounds(n, rng)
    law = arc_law(lo, hi, SHARE)
    psi = draw_arc_law_checked(law, rng)
    # every angle keeps at least the share δ of the flat density
    assert np.all(arc_density(psi, law) >= SHARE / (2 * np.pi) * (1 - 1e-12))


def test_arc_law_spends_its_share_on_the_pass_set_and_is_flat_where_it_is_degenerate():
    rng = np.random.default_rng(5)
    n = 4000
    lo, hi = _bounds(n, rng)
    law = arc_law(lo, hi, SHARE)
    k = 400
    psi = arc_quantile(
        rng.random((n, k)).ravel(), arc_law(*(np.repeat(x, k) for x in (lo, hi)), SHARE)
    )
    cos = np.cos(psi).reshape(n, k)
    inside = ((cos >= lo[:, None]) & (cos <= hi[:, None])).mean(axis=1)
    banded = law.width > 0
    measure = 2 * law.width / (2 * np.pi)  # the pass set's share of the circle
    expected = (1 - SHARE) + SHARE * measure
    # binomial scatter of k draws: 5 sigma
    np.testing.assert_array_less(np.abs(inside - expected)[banded], 5 * np.sqrt(0.25 / k) + 1e-12)
    flat = ~banded
    flat_law = ArcLaw(*(x[flat] for x in law))
    np.testing.assert_allclose(arc_density(np.zeros(flat.sum()), flat_law), 1 / (2 * np.pi))
    assert flat[:150].all()  # whole circle, empty and NaN are flat
