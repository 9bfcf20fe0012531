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

Requests of one run are not independent (they share its cold starts, its replicas and the
machine's state at the time), so the study's intervals resample at the run level:

* A **two-stage (cluster) bootstrap** CI: each resample draws runs with replacement, then rows
  with replacement within each drawn run, and pools them (Davison & Hinkley 1997, §3.8). With
  one run it reduces to the ordinary bootstrap of that run's rows, which understates the
  spread: the tables report the number of runs beside every interval.
* :func:`cluster_percentile_ci`, :func:`cluster_ratio_ci` (e.g. GB-s per ok request: a sum
  over a sum of the same rows) and :func:`cluster_compare` (the ratio of two groups' medians,
  each group resampled this way, with a verdict: ``no detectable difference`` when its
  interval contains 1).

Empty inputs give NaN (never an exception); NaN values inside a sample are dropped.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = ["percentile_ci", "fraction_ci", "cliffs_delta", "magnitude", "compare",
           "cluster_percentile_ci", "cluster_ratio_ci", "cluster_compare",
           "verdict", "overlap", "CLIFF_THRESHOLDS", "NO_DIFFERENCE"]

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


def _ratio_interval(num: np.ndarray, den: np.ndarray, ci: float) -> tuple[float, float]:
    """The percentile interval of ``num / den`` over bootstrap draws (NaN when none is
    finite)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = num / den
    r = r[np.isfinite(r)]
    if not len(r):
        return (math.nan, math.nan)
    alpha = (1 - ci) / 2
    low, high = np.quantile(r, [alpha, 1 - alpha])
    return (float(low), float(high))


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
    if not math.isnan(ratio) and n_boot > 0:
        rng = np.random.default_rng(seed)
        ma = _boot_stat(a, n_boot, rng, np.median) if len(a) > 1 else np.full(n_boot, med_a)
        mb = _boot_stat(b, n_boot, rng, np.median) if len(b) > 1 else np.full(n_boot, med_b)
        low, high = _ratio_interval(ma, mb, ci)
    delta = cliffs_delta(a, b)
    return {
        "n_a": int(len(a)), "n_b": int(len(b)),
        "median_a": med_a, "median_b": med_b,
        "ratio": ratio, "ratio_low": low, "ratio_high": high,
        "cliffs_delta": delta, "magnitude": magnitude(delta),
        "p_value": _mannwhitney_p(a, b),
    }


# --- run-level (cluster) bootstrap --------------------------------------------------------------

NO_DIFFERENCE = "no detectable difference"


def _cluster_matrix(groups: list[np.ndarray], n_boot: int, rng: np.random.Generator,
                    fill: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-stage resamples as a matrix: ``(n_boot, k * n_max[, cols])`` values (``fill`` in
    the padding) and each resample's row count."""
    k = len(groups)
    sizes = np.array([len(g) for g in groups])
    n_max = max(1, int(sizes.max()))
    tail = groups[0].shape[1:]
    padded = np.full((k, n_max, *tail), fill, dtype=float)
    for i, g in enumerate(groups):
        padded[i, :len(g)] = g
    picked = rng.integers(0, k, size=(n_boot, k))
    n = sizes[picked]  # (n_boot, k)
    idx = np.floor(rng.random((n_boot, k, n_max)) * np.maximum(n, 1)[..., None]).astype(int)
    vals = padded[picked[..., None], idx]  # (n_boot, k, n_max, ...)
    vals[np.arange(n_max)[None, None, :] >= n[..., None]] = fill
    return vals.reshape(n_boot, k * n_max, *tail), n.sum(axis=1)


def _boot_percentiles(groups: list[np.ndarray], qs: list[float], n_boot: int,
                     rng: np.random.Generator) -> np.ndarray:
    """``(n_boot, len(qs))`` percentiles of two-stage resamples (NaN where a resample drew
    no rows); numpy's default (linear) percentile, row by row."""
    vals, n = _cluster_matrix(groups, n_boot, rng, math.inf)
    vals.sort(axis=1)  # the padding (inf) goes last
    rows, m = np.arange(len(n)), np.maximum(n, 1)
    out = np.empty((len(n), len(qs)))
    for j, x in enumerate(qs):
        pos = x / 100 * (m - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, m - 1)
        with np.errstate(invalid="ignore"):  # inf - inf in resamples that drew no rows
            out[:, j] = vals[rows, lo] + (pos - lo) * (vals[rows, hi] - vals[rows, lo])
    out[n == 0] = math.nan
    return out


def cluster_percentile_ci(groups: list[Any], q: float | list[float], n_boot: int = 1000,
                          ci: float = 0.95, seed: int = 0):
    """The ``q``-th percentile (0–100) of pooled values, with a two-stage bootstrap CI:
    ``(estimate, low, high)``, or a list of them when ``q`` is a list (one set of resamples
    for all)."""
    qs = list(q) if isinstance(q, list | tuple) else [q]
    if not all(0 <= x <= 100 for x in qs):
        raise ValueError(f"q is a percentile in [0, 100], got {q!r}")
    groups = [_clean(g) for g in groups]
    pooled = np.concatenate(groups) if groups else np.array([])
    if not len(pooled):
        out = [(math.nan, math.nan, math.nan)] * len(qs)
    elif len(pooled) == 1 or n_boot <= 0:
        out = [(float(np.percentile(pooled, x)),) * 3 for x in qs]
    else:
        boots = _boot_percentiles(groups, qs, n_boot, np.random.default_rng(seed))
        alpha = (1 - ci) / 2
        out = []
        for j, x in enumerate(qs):
            b = boots[:, j][np.isfinite(boots[:, j])]
            low, high = np.quantile(b, [alpha, 1 - alpha])
            out.append((float(np.percentile(pooled, x)), float(low), float(high)))
    return out if isinstance(q, list | tuple) else out[0]


def cluster_ratio_ci(groups: list[tuple[Any, Any]], n_boot: int = 1000, ci: float = 0.95,
                     seed: int = 0) -> tuple[float, float, float]:
    """``sum(num) / sum(den)`` over pooled rows, each run given as ``(num, den)`` arrays of
    equal length (e.g. a request's GB-s, and 1 if it was ok): GB-s per ok request. A resample
    whose denominator is 0 is left out."""
    arrays = [np.column_stack([np.asarray(n, float), np.asarray(d, float)]) if len(n)
              else np.empty((0, 2)) for n, d in groups]
    pooled = np.concatenate(arrays) if arrays else np.empty((0, 2))
    if not len(pooled) or not pooled[:, 1].sum():
        return (math.nan, math.nan, math.nan)
    est = float(pooled[:, 0].sum() / pooled[:, 1].sum())
    if len(pooled) == 1 or n_boot <= 0:
        return (est, est, est)
    vals, _ = _cluster_matrix(arrays, n_boot, np.random.default_rng(seed), 0.0)
    num, den = vals[..., 0].sum(axis=1), vals[..., 1].sum(axis=1)
    r = num[den > 0] / den[den > 0]
    if not len(r):
        return (est, math.nan, math.nan)
    alpha = (1 - ci) / 2
    low, high = np.quantile(r, [alpha, 1 - alpha])
    return (est, float(low), float(high))


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Do intervals ``(low, high)`` a and b overlap? NaN bounds count as overlapping."""
    if any(math.isnan(x) for x in (*a, *b)):
        return True
    return a[0] <= b[1] and b[0] <= a[1]


def verdict(low: float, high: float, larger: str = "higher",
            smaller: str = "lower") -> str:
    """Words for a ratio's interval: ``larger`` when it lies above 1, ``smaller`` below,
    :data:`NO_DIFFERENCE` when it contains 1 (or is unknown)."""
    if math.isnan(low) or math.isnan(high) or low <= 1 <= high:
        return NO_DIFFERENCE
    return larger if low > 1 else smaller


def cluster_compare(groups_a: list[Any], groups_b: list[Any], q: float = 50,
                    n_boot: int = 1000, ci: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """The ratio of the ``q``-th percentiles of a and b (b the reference), each resampled at
    the run level, with its interval and :func:`verdict` (``slower`` / ``faster`` for
    latencies)."""
    ga, gb = [_clean(g) for g in groups_a], [_clean(g) for g in groups_b]
    pa = np.concatenate(ga) if ga else np.array([])
    pb = np.concatenate(gb) if gb else np.array([])
    out = {"ratio": math.nan, "ratio_low": math.nan, "ratio_high": math.nan,
           "verdict": NO_DIFFERENCE}
    if not len(pa) or not len(pb) or not np.percentile(pb, q):
        return out
    out["ratio"] = float(np.percentile(pa, q) / np.percentile(pb, q))
    rng = np.random.default_rng(seed)
    low, high = _ratio_interval(_boot_percentiles(ga, [q], n_boot, rng)[:, 0],
                                _boot_percentiles(gb, [q], n_boot, rng)[:, 0], ci)
    out.update(ratio_low=low, ratio_high=high, verdict=verdict(low, high, "slower", "faster"))
    return out
