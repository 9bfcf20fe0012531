"""Pairwise comparisons of the grid's regimes (per platform and workload): latency with a
run-level interval and verdict, cost per ok request by its run-level intervals."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from ..study import is_sweep
from .stats import NO_DIFFERENCE, cluster_compare, compare, overlap, percentile_ci

__all__ = ["COMPARISON_COLUMNS", "comparisons_table", "ok_latencies"]

COMPARISON_COLUMNS = [
    "platform", "workload", "regime_a", "regime_b", "reps_a", "reps_b", "n_a", "n_b",
    "median_a_ms", "median_b_ms", "median_ratio", "median_ratio_low", "median_ratio_high",
    "latency_verdict", "cliffs_delta", "magnitude", "p_value", "p99_a_ms", "p99_b_ms",
    "total_gb_s_per_ok_a", "total_gb_s_per_ok_b", "cost_ratio", "cost_verdict"]


def ok_latencies(runs: list, measured: dict) -> list[np.ndarray]:
    """One array per run: its ok requests' latencies (the clusters of the bootstrap)."""
    out = []
    for r in runs:
        req = measured[id(r)][0]
        out.append(pd.to_numeric(req.loc[req["status"] == "ok", "latency_ms"], errors="coerce")
                   .dropna().to_numpy(float))
    return out


def comparisons_table(groups, measured, cost: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Every pair of grid regimes per platform and workload: the ratio of median latencies
    with its run-level interval and verdict; Cliff's delta and the Mann–Whitney p over pooled
    requests (descriptive: they treat requests as independent); the cost per ok request, whose
    verdict compares the two run-level intervals."""
    by_pw: dict[tuple[str, str], list[str]] = {}
    for (platform, regime, workload) in groups:
        if not is_sweep(regime):
            by_pw.setdefault((platform, workload), []).append(regime)
    costs = {(r.platform, r.regime, r.workload): r for r in cost.itertuples()}

    def cost_verdict(ca, cb) -> str:
        if ca is None or cb is None:
            return NO_DIFFERENCE
        a, b = (ca.total_gb_s_per_ok_low, ca.total_gb_s_per_ok_high), (
            cb.total_gb_s_per_ok_low, cb.total_gb_s_per_ok_high)
        if overlap(a, b):
            return NO_DIFFERENCE
        return "higher" if a[0] > b[1] else "lower"

    rows = []
    for (platform, workload), regimes in by_pw.items():
        for ra, rb in itertools.combinations(regimes, 2):
            ka, kb = (platform, ra, workload), (platform, rb, workload)
            la, lb = ok_latencies(groups[ka], measured), ok_latencies(groups[kb], measured)
            a, b = np.concatenate(la), np.concatenate(lb)
            c = compare(a, b, seed=seed, n_boot=0)
            cc = cluster_compare(la, lb, seed=seed)
            ca, cb = costs.get(ka), costs.get(kb)
            ta = ca.total_gb_s_per_ok if ca is not None else math.nan
            tb = cb.total_gb_s_per_ok if cb is not None else math.nan
            rows.append({
                "platform": platform, "workload": workload, "regime_a": ra, "regime_b": rb,
                "reps_a": len(groups[ka]), "reps_b": len(groups[kb]),
                "n_a": c["n_a"], "n_b": c["n_b"], "median_a_ms": c["median_a"],
                "median_b_ms": c["median_b"], "median_ratio": cc["ratio"],
                "median_ratio_low": cc["ratio_low"], "median_ratio_high": cc["ratio_high"],
                "latency_verdict": cc["verdict"],
                "cliffs_delta": c["cliffs_delta"], "magnitude": c["magnitude"],
                "p_value": c["p_value"],
                "p99_a_ms": percentile_ci(a, 99, n_boot=0)[0],
                "p99_b_ms": percentile_ci(b, 99, n_boot=0)[0],
                "total_gb_s_per_ok_a": ta, "total_gb_s_per_ok_b": tb,
                "cost_ratio": ta / tb if tb and not math.isnan(tb) else math.nan,
                "cost_verdict": cost_verdict(ca, cb),
            })
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
