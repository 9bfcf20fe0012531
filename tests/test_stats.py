"""Statistics: bootstrap percentiles, Wilson intervals, Cliff's delta and regime comparison."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vsbench.analysis.stats import cliffs_delta, compare, fraction_ci, magnitude, percentile_ci


def test_percentile_ci_estimate_interval_and_seed():
    values = np.random.default_rng(1).lognormal(7, 0.5, size=200)
    est, lo, hi = percentile_ci(values, 50)
    assert est == pytest.approx(np.percentile(values, 50))
    assert lo < est < hi
    assert percentile_ci(values, 50) == (est, lo, hi)          # seeded: reproducible
    assert percentile_ci(values, 50, seed=1) != (est, lo, hi)  # another seed, another interval
    e99, l99, h99 = percentile_ci(values, 99)
    assert e99 > est and l99 <= e99 <= h99
    narrow = percentile_ci(values, 50, ci=0.5)
    assert lo <= narrow[1] <= narrow[2] <= hi


def test_percentile_ci_edge_cases():
    assert all(math.isnan(v) for v in percentile_ci([], 50))
    assert all(math.isnan(v) for v in percentile_ci([float("nan")], 50))
    assert percentile_ci([42.0], 99) == (42.0, 42.0, 42.0)
    assert percentile_ci([1.0, float("nan"), 3.0], 50)[0] == 2.0  # NaN dropped
    with pytest.raises(ValueError):
        percentile_ci([1.0], 150)


def test_fraction_ci_wilson_known_values():
    p, lo, hi = fraction_ci(5, 10)
    assert (p, lo, hi) == pytest.approx((0.5, 0.2366, 0.7634), abs=1e-4)
    p, lo, hi = fraction_ci(0, 10)
    assert (p, lo) == (0.0, 0.0) and hi == pytest.approx(0.2775, abs=1e-4)
    p, lo, hi = fraction_ci(10, 10)
    assert (p, hi) == (1.0, 1.0) and lo == pytest.approx(0.7225, abs=1e-4)
    assert all(math.isnan(v) for v in fraction_ci(0, 0))
    with pytest.raises(ValueError):
        fraction_ci(3, 2)


def test_cliffs_delta_and_magnitude():
    assert cliffs_delta([5, 6, 7], [1, 2, 3]) == 1.0
    assert cliffs_delta([1, 2, 3], [5, 6]) == -1.0
    assert cliffs_delta([1, 2, 3], [1, 2, 3]) == 0.0
    assert cliffs_delta([1, 2, 3], [2, 3, 4]) == pytest.approx(-5 / 9)  # 1 win, 6 losses, 2 ties
    assert math.isnan(cliffs_delta([], [1]))
    assert [magnitude(d) for d in (0.1, -0.147, 0.2, 0.4, -0.5, float("nan"))] == \
        ["negligible", "small", "small", "medium", "large", "n/a"]


def test_compare_ratio_ci_and_effect():
    rng = np.random.default_rng(3)
    a = rng.normal(3000, 200, 40)
    b = rng.normal(1000, 100, 30)
    c = compare(a, b)
    assert c["n_a"] == 40 and c["n_b"] == 30
    assert c["median_a"] == pytest.approx(np.median(a))
    assert c["ratio"] == pytest.approx(np.median(a) / np.median(b))
    assert c["ratio_low"] < c["ratio"] < c["ratio_high"]
    assert c["cliffs_delta"] == 1.0 and c["magnitude"] == "large"
    assert c["p_value"] < 1e-6
    assert compare(a, b) == c                                   # seeded
    same = compare(a, a)
    assert same["ratio"] == 1.0 and same["magnitude"] == "negligible"


def test_compare_empty_and_degenerate():
    c = compare([], [1.0, 2.0])
    assert math.isnan(c["ratio"]) and math.isnan(c["cliffs_delta"])
    assert c["magnitude"] == "n/a" and math.isnan(c["median_a"]) and c["median_b"] == 1.5
    z = compare([1.0, 2.0], [0.0, 0.0])          # median of b is 0: no ratio
    assert math.isnan(z["ratio"]) and z["cliffs_delta"] == 1.0
