"""Statistics for the study: percentiles with bootstrap CIs, proportions with Wilson CIs, and
two-sample comparisons with an effect size.

* :func:`percentile_ci` — a percentile (``q`` in 0–100, e.g. 50 for the median) and its
  percentile-bootstrap confidence interval; seeded, so the same input gives the same interval.
* :func:`fraction_ci` — ``k / n`` and its Wilson score interval (well behaved at 0 and 1 and for
  small ``n``, unlike the normal approximation).
* :func:`compare` — two samples (e.g. latencies under regimes A and B): medians, the ratio of
  medians ``median(a) / median(b)`` with a bootstrap CI (a and b resampled independently),
  Cliff's delta ``P(a > b) − P(a < b)`` with its magnitude label (Romano et al. 2006 thresholds:
  |d| < 0.147 negligible, < 0.33 small, < 0.474 medium, else large) and the two-sided
  Mann–Whitney U p-value.

Empty inputs give NaN (never an exception); NaN values inside a sample are dropped.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = ["percentile_ci", "fraction_ci", "cliffs_delta", "magnitude", "compare",
           "CLIFF_THRESHOLDS"]

CLIFF_THRESHOLDS = ((0.147, "negligible"), (0.33, "small"), (0.474, "medium"))
_CHUNK = 2_000_000  # bootstrap draws per chunk (bounds memory for large samples)


def _clean(values: Any) -> np.ndarray:
    a = np.asarray(values if values is not None else [], dtype=float).ravel()
    return a[~np.isnan(a)]


def _boot_stat(a: np.ndarray, n_boot: int, rng: np.random.Generator, fn) -> np.ndarray:
    """``fn(resamples, axis=1)`` over ``n_boot`` resamples of ``a``, in bounded-memory chunks."""
    n = len(a)
    per = max(1, _CHUNK // max(n, 1))
    out = []
    for start in range(0, n_boot, per):
        m = min(per, n_boot - start)
        idx = rng.integers(0, n, size=(m, n))
        out.append(fn(a[idx], axis=1))
    return np.concatenate(out)


def percentile_ci(values: Any, q: float, n_boot: int = 2000, ci: float = 0.95,
                  seed: int = 0) -> tuple[float, float, float]:
    """``(estimate, low, high)``: the ``q``-th percentile (0–100) and its bootstrap CI.

    Percentile bootstrap with ``n_boot`` resamples from ``numpy.random.default_rng(seed)``.
    Empty input → three NaNs; a single value v → ``(v, v, v)``.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"q is a percentile in [0, 100], got {q!r}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci!r}")
    a = _clean(values)
    if len(a) == 0:
        return (math.nan, math.nan, math.nan)
    est = float(np.percentile(a, q))
    if len(a) == 1 or n_boot <= 0:
        return (est, est, est)
    rng = np.random.default_rng(seed)
    boots = _boot_stat(a, n_boot, rng, lambda x, axis: np.percentile(x, q, axis=axis))
    alpha = (1 - ci) / 2
    low, high = np.quantile(boots, [alpha, 1 - alpha])
    return (est, float(low), float(high))


def fraction_ci(k: int, n: int, ci: float = 0.95) -> tuple[float, float, float]:
    """``(k/n, low, high)`` with the Wilson score interval; ``n == 0`` → three NaNs."""
    k, n = int(k), int(n)
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return (math.nan, math.nan, math.nan)
    z = NormalDist().inv_cdf(1 - (1 - ci) / 2)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if k == 0 else max(0.0, centre - half)    # exact bounds at the extremes
    high = 1.0 if k == n else min(1.0, centre + half)
    return (p, low, high)


def cliffs_delta(a: Any, b: Any) -> float:
    """Cliff's delta ``P(a > b) − P(a < b)`` over all pairs (NaN if either sample is empty)."""
    a, b = _clean(a), _clean(b)
    if len(a) == 0 or len(b) == 0:
        return math.nan
    bs = np.sort(b)
    less = np.searchsorted(bs, a, side="left")           # b values below each a
    greater = len(bs) - np.searchsorted(bs, a, side="right")  # b values above each a
    return float((less.sum() - greater.sum()) / (len(a) * len(b)))


def magnitude(delta: float) -> str:
    """Romano et al. label of a Cliff's delta: negligible / small / medium / large (n/a: NaN)."""
    if delta is None or math.isnan(delta):
        return "n/a"
    d = abs(delta)
    for threshold, label in CLIFF_THRESHOLDS:
        if d < threshold:
            return label
    return "large"


def _mannwhitney_p(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) == 0 or len(b) == 0:
        return math.nan
    if np.all(a == a[0]) and np.all(b == a[0]):
        return 1.0
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def compare(a: Any, b: Any, seed: int = 0, n_boot: int = 2000,
            ci: float = 0.95) -> dict[str, Any]:
    """Compare sample ``a`` with sample ``b`` (b is the reference of the ratio).

    Returns ``n_a``, ``n_b``, ``median_a``, ``median_b``, ``ratio`` (= median_a / median_b),
    ``ratio_low``, ``ratio_high`` (bootstrap CI, a and b resampled independently),
    ``cliffs_delta`` (> 0: a tends to be larger), ``magnitude`` and ``p_value`` (Mann–Whitney).
    """
    a, b = _clean(a), _clean(b)
    med_a = float(np.median(a)) if len(a) else math.nan
    med_b = float(np.median(b)) if len(b) else math.nan
    ratio = med_a / med_b if len(a) and len(b) and med_b != 0 else math.nan
    low = high = math.nan
    if not math.isnan(ratio):
        rng = np.random.default_rng(seed)
        ma = _boot_stat(a, n_boot, rng, np.median) if len(a) > 1 else np.full(n_boot, med_a)
        mb = _boot_stat(b, n_boot, rng, np.median) if len(b) > 1 else np.full(n_boot, med_b)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = ma / mb
        r = r[np.isfinite(r)]
        if len(r):
            alpha = (1 - ci) / 2
            low, high = (float(x) for x in np.quantile(r, [alpha, 1 - alpha]))
    delta = cliffs_delta(a, b)
    return {
        "n_a": int(len(a)), "n_b": int(len(b)),
        "median_a": med_a, "median_b": med_b,
        "ratio": ratio, "ratio_low": low, "ratio_high": high,
        "cliffs_delta": delta, "magnitude": magnitude(delta),
        "p_value": _mannwhitney_p(a, b),
    }
