"""RQ2's one-factor sweeps and RQ3's latency-versus-cost (Pareto) view, from the tables.

Sweeps: a sweep regime (named by :func:`vsbench.study.sweep_name`) differs from its base
regime in one factor (``min_replicas``, ``max_replicas`` or ``idle_timeout_s``, the same for
every function). The ``sweeps`` table has one row per platform × workload × factor × value:
the sweep regimes found in the runs, plus the base regime itself at its own value
(``is_base``), with latency percentiles, cold-start classes and GB-s per ok request, each with
its interval.

Pareto: every regime and sweep point of a platform and workload is a point (latency, GB-s per
ok request), once with p50 and once with p99. A point is **dominated** when another is no
worse on both and better on one (point estimates); the **frontier** is the points nothing
dominates. A domination is **decided** when the intervals separate on both axes (the other
point's upper bounds lie below this one's lower bounds); guidelines use only decided ones.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..study import SWEEP_FACTORS, is_sweep, sweep_factor

__all__ = ["SWEEP_COLUMNS", "PARETO_COLUMNS", "sweeps_table", "pareto_table", "timeout_value",
           "main_policy", "LATENCIES"]

LATENCIES = ("p50", "p99")
GROUP = ["platform", "regime", "workload"]
SWEEP_COLUMNS = [
    "platform", "workload", "factor", "value", "regime", "base_regime", "is_base", "reps", "n",
    "p50_ms", "p50_low_ms", "p50_high_ms", "p99_ms", "p99_low_ms", "p99_high_ms",
    "cold_request_fraction", "cold_request_fraction_low", "cold_request_fraction_high",
    "scale_from_zero_fraction", "scale_out_fraction", "idle_gb_s_per_ok",
    "total_gb_s_per_ok", "total_gb_s_per_ok_low", "total_gb_s_per_ok_high", "tail_share"]
PARETO_COLUMNS = [
    "platform", "workload", "regime", "reps", "n",
    "p50_ms", "p50_low_ms", "p50_high_ms", "p99_ms", "p99_low_ms", "p99_high_ms",
    "total_gb_s_per_ok", "total_gb_s_per_ok_low", "total_gb_s_per_ok_high",
    *[f"{c}_{m}" for m in LATENCIES for c in ("frontier", "dominated_by", "decided_by")]]


def timeout_value(v: Any) -> float:
    """idle_timeout_s as a float: None (never scale down) → inf."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return math.inf
    return float(v)


def main_policy(policies: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The orchestrator's policy (or the first function's): the regime's headline knobs."""
    if not policies:
        return {}
    return policies.get("orchestrator") or policies[sorted(policies)[0]]


def _factor_value(policies: dict, factor: str) -> float:
    v = main_policy(policies).get(factor)
    return timeout_value(v) if factor == "idle_timeout_s" else float(v or 0)


def _same_but(a: dict, b: dict, factor: str) -> bool:
    if set(a) != set(b):
        return False
    def strip(p):
        return {k: v for k, v in (p or {}).items() if k != factor}
    return all(strip(a[f]) == strip(b[f]) for f in a)


def _by_key(df: pd.DataFrame) -> dict[tuple, Any]:
    return {tuple(getattr(r, c) for c in GROUP): r for r in df.itertuples(index=False)}


def sweeps_table(runs: list, latency: pd.DataFrame, cost: pd.DataFrame,
                 starts: pd.DataFrame) -> pd.DataFrame:
    """``runs``: the loaded runs (their ``platform``, ``regime``, ``workload`` and
    ``policies``); the other three are the study's tables of those names."""
    policies: dict[tuple[str, str], dict] = {}
    for r in runs:
        policies.setdefault((r.platform, r.regime), r.policies)
    lat, cst = _by_key(latency), _by_key(cost)
    req = _by_key(starts[starts["level"] == "request"]) if len(starts) else {}
    points: dict[tuple, tuple[str, str, bool]] = {}  # (pl, wl, factor, regime) -> ...
    for (pl, regime, wl) in lat:
        factor = sweep_factor(regime)
        if factor is None:
            continue
        base = next((name for (p, name), pol in policies.items() if p == pl
                     and not is_sweep(name) and _same_but(pol, policies[(pl, regime)], factor)),
                    "")
        points[(pl, wl, factor, regime)] = (base, False)
        if base and (pl, base, wl) in lat:
            points[(pl, wl, factor, base)] = (base, True)
    rows = []
    for (pl, wl, factor, regime), (base, is_base) in points.items():
        key = (pl, regime, wl)
        la, co, st = lat[key], cst.get(key), req.get(key)
        rows.append({
            "platform": pl, "workload": wl, "factor": factor,
            "value": _factor_value(policies[(pl, regime)], factor), "regime": regime,
            "base_regime": base, "is_base": is_base, "reps": int(la.reps), "n": int(la.n),
            **{c: getattr(la, c) for c in ("p50_ms", "p50_low_ms", "p50_high_ms", "p99_ms",
                                            "p99_low_ms", "p99_high_ms")},
            "cold_request_fraction": la.cold_fraction,
            "cold_request_fraction_low": la.cold_fraction_low,
            "cold_request_fraction_high": la.cold_fraction_high,
            "scale_from_zero_fraction": st.scale_from_zero_fraction if st else math.nan,
            "scale_out_fraction": st.scale_out_fraction if st else math.nan,
            **{c: getattr(co, c) if co is not None else math.nan
               for c in ("idle_gb_s_per_ok", "total_gb_s_per_ok", "total_gb_s_per_ok_low",
                         "total_gb_s_per_ok_high", "tail_share")},
        })
    df = pd.DataFrame(rows, columns=SWEEP_COLUMNS)
    order = {f: i for i, f in enumerate(SWEEP_FACTORS)}
    df["_f"] = df["factor"].map(order)
    return df.sort_values(["platform", "workload", "_f", "value"], kind="stable",
                          ignore_index=True).drop(columns="_f")


def _dominates(a, b, m: str) -> bool:
    la, lb = getattr(a, f"{m}_ms"), getattr(b, f"{m}_ms")
    ca, cb = a.total_gb_s_per_ok, b.total_gb_s_per_ok
    if any(math.isnan(x) for x in (la, lb, ca, cb)):
        return False
    return la <= lb and ca <= cb and (la < lb or ca < cb)


def _decided(a, b, m: str) -> bool:
    """a dominates b with intervals separated on both axes."""
    return (getattr(a, f"{m}_high_ms") < getattr(b, f"{m}_low_ms")
            and a.total_gb_s_per_ok_high < b.total_gb_s_per_ok_low)


def pareto_table(latency: pd.DataFrame, cost: pd.DataFrame) -> pd.DataFrame:
    """One row per platform × workload × regime (grid and sweeps), with its frontier flags
    and the regimes that dominate it (``dominated_by_*``; ``decided_by_*``: by intervals)."""
    cols = ["total_gb_s_per_ok", "total_gb_s_per_ok_low", "total_gb_s_per_ok_high"]
    df = latency.merge(cost[GROUP + cols], on=GROUP, how="left")
    rows = []
    for (_, _), g in df.groupby(["platform", "workload"], sort=False):
        pts = list(g.itertuples(index=False))
        for p in pts:
            row = {c: getattr(p, c) for c in PARETO_COLUMNS if hasattr(p, c)}
            for m in LATENCIES:
                by = [q.regime for q in pts if q is not p and _dominates(q, p, m)]
                decided = [q.regime for q in pts if q is not p and _decided(q, p, m)]
                row.update({f"frontier_{m}": not by, f"dominated_by_{m}": ", ".join(by),
                            f"decided_by_{m}": ", ".join(decided)})
            rows.append(row)
    return pd.DataFrame(rows, columns=PARETO_COLUMNS)
