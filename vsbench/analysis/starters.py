"""The ``starters`` table: what a starter other than ``spawn`` (fork server, prewarm;
:mod:`vsbench.platform.policy`) changes against the same regime with spawned replicas.

One row per platform × workload × regime whose replicas start otherwise than by spawning, set
against its **base**: the regime of the same platform and workload whose policies are equal
but for the starter (rows without one keep ``base_regime`` empty). Latency: ratios of p50 and
p99 to the base's, with run-level intervals and verdicts (:func:`.stats.cluster_compare`);
cold requests (any call waited for a start) as fractions of ok requests; cost: total GB-s per
ok request, whose verdict compares the two run-level intervals, and ``held_gb_s_per_ok``, the
part that is the starter's own memory: its templates, and spares never handed out, alive and
never busy (billed at the function's memory limit).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .comparisons import ok_latencies
from .stats import NO_DIFFERENCE, cluster_compare, overlap
from .sweeps import main_policy

__all__ = ["STARTER_COLUMNS", "starters_table", "starter_of"]

STARTER_COLUMNS = [
    "platform", "workload", "regime", "starter", "prewarm", "base_regime", "reps", "n",
    "cold_fraction", "base_cold_fraction", "p50_ms", "base_p50_ms", "p50_ratio",
    "p50_ratio_low", "p50_ratio_high", "p50_verdict", "p99_ms", "base_p99_ms", "p99_ratio",
    "p99_ratio_low", "p99_ratio_high", "p99_verdict", "p50_cold_ms", "base_p50_cold_ms",
    "total_gb_s_per_ok", "base_total_gb_s_per_ok", "cost_verdict", "held_gb_s_per_ok"]
_NOT_COMPARED = ("starter", "prewarm", "description")


def starter_of(policies: dict[str, dict[str, Any]]) -> str:
    return str(main_policy(policies).get("starter") or "spawn")


def _same_but_starter(a: dict, b: dict) -> bool:
    def strip(pols):
        return {f: {k: v for k, v in (p or {}).items() if k not in _NOT_COMPARED}
                for f, p in pols.items()}
    return strip(a) == strip(b)


def _held_gb_s(runs: list) -> float:
    """GB-s of templates, and of spares never handed out, over ``runs``."""
    total = 0.0
    for r in runs:
        reps = r.archive["replicas"]
        if "role" not in reps or not len(reps):
            continue
        role = reps["role"].fillna("replica")
        served = pd.to_numeric(reps["served"], errors="coerce").fillna(0)
        held = reps[(role == "template") | ((role == "prewarm") & (served == 0))]
        total += float((pd.to_numeric(held["alive_s"], errors="coerce").fillna(0)
                        * pd.to_numeric(held["memory_mb"], errors="coerce").fillna(0)).sum())
    return total / 1024


def starters_table(groups: dict, measured: dict, latency: pd.DataFrame, cost: pd.DataFrame,
                   seed: int = 0) -> pd.DataFrame:
    lat = {(r.platform, r.regime, r.workload): r for r in latency.itertuples()}
    cst = {(r.platform, r.regime, r.workload): r for r in cost.itertuples()}
    rows = []
    for (platform, regime, workload), runs in groups.items():
        pols = runs[0].policies
        starter = starter_of(pols)
        if starter == "spawn":
            continue
        base = next((k for k, rs in groups.items()
                     if k[0] == platform and k[2] == workload and k[1] != regime
                     and starter_of(rs[0].policies) == "spawn"
                     and _same_but_starter(rs[0].policies, pols)), None)
        key = (platform, regime, workload)
        mine, theirs = lat.get(key), lat.get(base) if base else None
        cm, cb = cst.get(key), cst.get(base) if base else None
        row: dict[str, Any] = {
            "platform": platform, "workload": workload, "regime": regime,
            "starter": starter, "prewarm": main_policy(pols).get("prewarm")
            if starter == "prewarm" else math.nan,
            "base_regime": base[1] if base else "", "reps": len(runs),
            "n": getattr(mine, "n", math.nan),
            "cold_fraction": getattr(mine, "cold_fraction", math.nan),
            "base_cold_fraction": getattr(theirs, "cold_fraction", math.nan),
            "p50_ms": getattr(mine, "p50_ms", math.nan),
            "base_p50_ms": getattr(theirs, "p50_ms", math.nan),
            "p99_ms": getattr(mine, "p99_ms", math.nan),
            "base_p99_ms": getattr(theirs, "p99_ms", math.nan),
            "p50_cold_ms": getattr(mine, "p50_cold_ms", math.nan),
            "base_p50_cold_ms": getattr(theirs, "p50_cold_ms", math.nan),
            "total_gb_s_per_ok": getattr(cm, "total_gb_s_per_ok", math.nan),
            "base_total_gb_s_per_ok": getattr(cb, "total_gb_s_per_ok", math.nan),
            "cost_verdict": NO_DIFFERENCE,
            "held_gb_s_per_ok": _held_gb_s(runs) / cm.ok_requests
            if cm is not None and cm.ok_requests else math.nan,
        }
        for q in (50, 99):
            row.update({f"p{q}_ratio": math.nan, f"p{q}_ratio_low": math.nan,
                        f"p{q}_ratio_high": math.nan, f"p{q}_verdict": NO_DIFFERENCE})
        if base:
            la, lb = ok_latencies(runs, measured), ok_latencies(groups[base], measured)
            for q in (50, 99):
                c = cluster_compare(la, lb, q=q, seed=seed)
                row.update({f"p{q}_ratio": c["ratio"], f"p{q}_ratio_low": c["ratio_low"],
                            f"p{q}_ratio_high": c["ratio_high"], f"p{q}_verdict": c["verdict"]})
            if cm is not None and cb is not None:
                a = (cm.total_gb_s_per_ok_low, cm.total_gb_s_per_ok_high)
                b = (cb.total_gb_s_per_ok_low, cb.total_gb_s_per_ok_high)
                if not overlap(a, b):
                    row["cost_verdict"] = "higher" if a[0] > b[1] else "lower"
        rows.append(row)
    return pd.DataFrame(rows, columns=STARTER_COLUMNS)
