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


# --- run-level (cluster) bootstrap ---------------------------------------------------------

def test_cluster_ci_is_wider_than_pooled_when_runs_differ():
    """Three runs whose levels differ: resampling runs shows the between-run spread that a
    bootstrap of pooled requests (as if independent) hides."""
    from vsbench.analysis.stats import cluster_percentile_ci

    rng = np.random.default_rng(3)
    runs = [rng.normal(level, 1.0, 12) for level in (10, 14, 18)]
    est, lo, hi = cluster_percentile_ci(runs, 50)
    p_est, p_lo, p_hi = percentile_ci(np.concatenate(runs), 50)
    assert est == pytest.approx(p_est)
    assert (hi - lo) > 1.5 * (p_hi - p_lo)
    # identical runs: no between-run spread, about the pooled width
    same = [runs[0]] * 3
    s_est, s_lo, s_hi = cluster_percentile_ci(same, 50)
    assert s_lo <= s_est <= s_hi and (s_hi - s_lo) < (hi - lo)


def test_cluster_percentiles_match_numpy_and_handle_edges():
    from vsbench.analysis.stats import cluster_percentile_ci

    assert cluster_percentile_ci([np.array([5.0])], 50) == (5.0, 5.0, 5.0)
    assert all(math.isnan(x) for x in cluster_percentile_ci([np.array([])], 50))
    vals = [np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0]), np.array([])]
    out = cluster_percentile_ci(vals, [50, 99], n_boot=200)
    assert [o[0] for o in out] == [np.percentile([1, 2, 3, 4, 10], q) for q in (50, 99)]
    for _est, lo, hi in out:
        assert 1.0 <= lo <= hi <= 10.0
    with pytest.raises(ValueError):
        cluster_percentile_ci(vals, 101)


def test_cluster_ratio_is_gb_s_per_ok_request():
    from vsbench.analysis.stats import cluster_ratio_ci

    runs = [(np.array([2.0, 2.0]), np.array([1, 1])), (np.array([3.0, 3.0]), np.array([1, 0]))]
    est, lo, hi = cluster_ratio_ci(runs)
    assert est == pytest.approx(10 / 3)
    assert 2.0 <= lo <= est <= hi <= 12.0  # at most: 4 rows of 3 GB-s, one of them ok
    assert all(math.isnan(x) for x in cluster_ratio_ci([(np.array([1.0]), np.array([0]))]))


def test_cluster_compare_says_no_detectable_difference_when_the_interval_holds_1():
    from vsbench.analysis.stats import NO_DIFFERENCE, cluster_compare, overlap, verdict

    rng = np.random.default_rng(0)
    a = [rng.normal(100, 20, 10) for _ in range(3)]
    b = [rng.normal(100, 20, 10) for _ in range(3)]
    same = cluster_compare(a, b)
    assert same["ratio_low"] <= 1 <= same["ratio_high"] and same["verdict"] == NO_DIFFERENCE
    slow = cluster_compare([x * 3 for x in a], b)
    assert slow["ratio_low"] > 1 and slow["verdict"] == "slower"
    assert cluster_compare(b, [x * 3 for x in a])["verdict"] == "faster"
    assert verdict(math.nan, 2.0) == NO_DIFFERENCE and verdict(1.1, 2.0) == "higher"
    assert overlap((1, 2), (2, 3)) and not overlap((1, 2), (2.5, 3))
