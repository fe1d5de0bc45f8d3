"""Metrics against hand-computed values and their defining equations."""

import numpy as np
import pytest

from mlintegrate import metrics


def test_plain_quantities_on_a_small_sample():
    w = np.array([0.0, 1.0, 2.0, -1.0, 4.0])
    assert metrics.max_weight(w) == 4.0
    assert metrics.cut_efficiency(w) == pytest.approx(4 / 5)
    assert metrics.negative_weight_fraction(w) == pytest.approx(1 / 4)
    # (Σw)²/(nΣw²) = 36 / (5 · 22)
    assert metrics.ess_fraction(w) == pytest.approx(36 / 110)
    assert metrics.relative_std(w) == pytest.approx(np.std(w, ddof=1) / np.mean(w))
    # ⟨|w|⟩ / w_max = (8/5) / 4
    assert metrics.unweighting_efficiency(w, 4.0) == pytest.approx(0.4)


def test_constant_weights_are_perfect():
    w = np.full(1000, 3.0)
    m = metrics.weight_metrics(w)
    assert m.efficiency.max == pytest.approx(1.0)
    assert m.efficiency.median_max == pytest.approx(1.0)
    # equal weights have no tail to cut: the reduced w_max is their value (it used to put
    # every event 0.1 % above w_max, an efficiency above 1 and 100 % "overweights")
    assert m.w_max.reduced == 3.0
    assert m.efficiency.reduced == pytest.approx(1.0)
    assert m.overweight_fraction == 0.0
    assert m.ess_fraction == pytest.approx(1.0)
    assert m.rsd == pytest.approx(0.0, abs=1e-12)
    assert m.unweighted_per_call == pytest.approx(1.0)


@pytest.mark.parametrize("fraction", [1e-3, 1e-2, 0.1])
def test_reduced_max_solves_its_defining_equation(fraction):
    w = np.random.default_rng(1).lognormal(0.0, 2.0, 20_000)
    t = metrics.reduced_max_weight(w, fraction)
    excess = np.clip(w - t, 0.0, None).sum()
    assert excess == pytest.approx(fraction * w.sum(), rel=1e-9)
    assert t < w.max()


def test_reduced_max_on_hand_example():
    # weights 10, 2, 1, 1: Σ = 14; excess (10 - t) = 0.1·14 → t = 8.6
    assert metrics.reduced_max_weight(np.array([1.0, 10.0, 2.0, 1.0]), 0.1) == pytest.approx(8.6)
    # 0.8·14 = 11.2: (10-t)+(2-t) would give t = 0.4 < 1, so the two 1s are above t too:
    # (10-t)+(2-t)+2(1-t) = 11.2 → t = 0.7
    assert metrics.reduced_max_weight(np.array([1.0, 10.0, 2.0, 1.0]), 0.8) == pytest.approx(0.7)


def test_median_max_matches_brute_force_bootstrap():
    rng = np.random.default_rng(2)
    w = rng.lognormal(0.0, 1.5, 5000)
    k = 500
    maxima = w[rng.integers(0, w.size, size=(4000, k))].max(axis=1)
    exact = metrics.median_max_weight(w, replica_size=k)
    # the exact infinite-replica median lies between neighbouring order statistics of the
    # finite bootstrap's median
    s = np.sort(w)
    j = np.searchsorted(s, np.median(maxima))
    assert s[max(j - 3, 0)] <= exact <= s[min(j + 3, w.size - 1)]


def test_median_max_of_full_size_replicas_is_the_max():
    w = np.random.default_rng(3).random(1000)
    assert metrics.median_max_weight(w, replica_size=1000) == w.max()
    assert metrics.median_max_weight(w) < w.max()


def test_overweight_fraction_counts_events_above_wmax():
    w = np.array([1.0, 1.0, 1.0, 4.0])
    # w_max = 2: kept events expected 0.5+0.5+0.5+1 = 2.5, one overweight
    assert metrics.overweight_fraction(w, 2.0) == pytest.approx(1 / 2.5)
    assert metrics.expected_unweighted_events(w, 2.0) == pytest.approx(2.5)


@pytest.mark.parametrize("bad", [np.array([]), np.ones((2, 2))])
def test_bad_weight_arrays_are_rejected(bad):
    with pytest.raises(ValueError, match="1-D"):
        metrics.max_weight(bad)


def test_bad_overweight_fraction_is_named():
    with pytest.raises(ValueError, match="overweight_fraction"):
        metrics.reduced_max_weight(np.ones(3), 1.5)
