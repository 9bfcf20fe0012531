"""The report's guidelines: conclusions the intervals decide, each naming its evidence.

A guideline speaks only where the 95 % run-level intervals separate (a ratio's interval that
excludes 1, cost intervals that do not overlap, Wilson intervals of cold fractions that do
not overlap, a Pareto domination decided on both axes). Where they do not, it says that the
data does not decide, and with how many runs, rather than reading the sign of a point
estimate. When the study lacks what a guideline needs, the sentence says what is missing.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .report_data import ReportData
from .report_format import NA, fmt, fmt_ci, fmt_int, fmt_pct, fmt_range, fmt_ratio, is_missing
from .report_rq import FACTOR_NAMES, fmt_value
from .stats import NO_DIFFERENCE, overlap

__all__ = ["guidelines", "main_min", "oriented"]


def main_min(policies: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(platform, regime) → the orchestrator's (else first function's) min_replicas."""
    out = {}
    for (pl, reg), d in policies.groupby(["platform", "regime"], sort=False):
        row = d[d["function"] == "orchestrator"]
        row = row if len(row) else d.head(1)
        out[(pl, reg)] = float(row["min_replicas"].iloc[0])
    return out


FLIP = {"slower": "faster", "faster": "slower", "higher": "lower", "lower": "higher"}


def oriented(comparisons: pd.DataFrame, platform: str, workload: str, a: str,
             b: str) -> dict[str, Any] | None:
    """The comparison row of a vs b, inverted when the table holds b vs a."""
    c = comparisons
    sel = c[(c["platform"] == platform) & (c["workload"] == workload)]
    row = sel[(sel["regime_a"] == a) & (sel["regime_b"] == b)]
    if len(row):
        return row.iloc[0].to_dict()
    row = sel[(sel["regime_a"] == b) & (sel["regime_b"] == a)]
    if not len(row):
        return None
    r = row.iloc[0].to_dict()
    inv = lambda x: 1 / x if not is_missing(x) and float(x) != 0 else math.nan  # noqa: E731
    return {**r, "regime_a": a, "regime_b": b, "reps_a": r["reps_b"], "reps_b": r["reps_a"],
            "n_a": r["n_b"], "n_b": r["n_a"],
            "median_a_ms": r["median_b_ms"], "median_b_ms": r["median_a_ms"],
            "median_ratio": inv(r["median_ratio"]),
            "median_ratio_low": inv(r["median_ratio_high"]),
            "median_ratio_high": inv(r["median_ratio_low"]),
            "latency_verdict": FLIP.get(r["latency_verdict"], r["latency_verdict"]),
            "cost_verdict": FLIP.get(r["cost_verdict"], r["cost_verdict"]),
            "cliffs_delta": -r["cliffs_delta"] if not is_missing(r["cliffs_delta"]) else math.nan,
            "p99_a_ms": r["p99_b_ms"], "p99_b_ms": r["p99_a_ms"],
            "total_gb_s_per_ok_a": r["total_gb_s_per_ok_b"],
            "total_gb_s_per_ok_b": r["total_gb_s_per_ok_a"], "cost_ratio": inv(r["cost_ratio"])}


def _warm_capacity(cmp: pd.DataFrame, pol: pd.DataFrame) -> str:
    mins = main_min(pol) if len(pol) else {}
    found = []
    for (pl, w), d in cmp.groupby(["platform", "workload"], sort=False):
        regs = list(dict.fromkeys(list(d["regime_a"]) + list(d["regime_b"])))
        warm = [r for r in regs if mins.get((pl, r), 0) >= 1]
        zero = [r for r in regs if (pl, r) in mins and mins[(pl, r)] == 0]
        if not warm or not zero:
            continue
        a = min(warm, key=lambda r: (mins[(pl, r)], regs.index(r)))
        row = oriented(cmp, pl, w, a, zero[0])
        if row is None:
            continue
        ratio = fmt_ci(row["median_ratio"], row["median_ratio_low"], row["median_ratio_high"],
                       fmt_ratio)
        evidence = (f"p50 {fmt(row['median_b_ms'])} → {fmt(row['median_a_ms'])} ms, ratio "
                    f"{ratio}; GB-s per ok request {fmt(row['total_gb_s_per_ok_b'])} → "
                    f"{fmt(row['total_gb_s_per_ok_a'])}; runs: {fmt_int(row['reps_a'])} of "
                    f"{a}, {fmt_int(row['reps_b'])} of {zero[0]}")
        lat, cost = row["latency_verdict"], row["cost_verdict"]
        what = f"keeping {fmt_int(mins[(pl, a)])} replica(s) per function warm ({a}) " \
               f"instead of scaling to zero ({zero[0]})"
        if lat == NO_DIFFERENCE and cost == NO_DIFFERENCE:
            found.append(f"On {w}, {what} made no difference the intervals can detect, in "
                         f"latency or in cost ({evidence}).")
        elif lat == "faster" and cost == "higher":
            found.append(f"On {w}, {what} bought latency with GB-s: faster and dearer, both "
                         f"decided ({evidence}); choose it when the latency is worth the bill.")
        elif lat == "faster" and cost != "higher":
            extra = "and cheaper" if cost == "lower" else "at no detectable extra cost"
            found.append(f"On {w}, {what} was faster {extra} ({evidence}): keep replicas warm "
                         "for this load.")
        elif lat == NO_DIFFERENCE:
            found.append(f"On {w}, {what} gave no detectable latency gain and was {cost} in "
                         f"cost ({evidence}).")
        else:
            found.append(f"On {w}, {what} was {lat} and {cost} in cost ({evidence}).")
    return (" ".join(found) if found else
            "Warm capacity versus scale-to-zero is not measured here: no workload ran under "
            "both a regime with min_replicas ≥ 1 and one that scales to zero.")


def _frontier(p: pd.DataFrame) -> str:
    if p.empty:
        return "No latency/cost point was measured, so there is no frontier."
    out = []
    for (_pl, w), d in p.groupby(["platform", "workload"], sort=False):
        front = list(d.loc[d["frontier_p99"].astype(bool), "regime"])
        decided = [(r["regime"], r["decided_by_p99"]) for _, r in d.iterrows()
                   if r["decided_by_p99"]]
        s = (f"On {w}, the p99-latency/cost frontier is {', '.join(front)} "
             f"({len(d)} points)")
        if decided:
            s += ("; the intervals decide that " + "; ".join(
                f"{name} is beaten on both by {by}" for name, by in decided)
                  + ", so avoid " + ", ".join(n for n, _ in decided) + " for this load.")
        else:
            s += ("; no point is beaten on both axes with separated intervals, so the data "
                  "does not rule out any regime for this load.")
        out.append(s)
    return " ".join(out)


def _sweep(sw: pd.DataFrame) -> str:
    if sw.empty:
        return "No one-factor sweep ran in this study: min replicas, max replicas and the " \
               "keep-alive are not varied on their own."
    out = []
    for (_pl, w, factor), d in sw.groupby(["platform", "workload", "factor"], sort=False):
        d = d.sort_values("value")
        if len(d) < 2:
            continue
        lo, hi = d.iloc[0], d.iloc[-1]
        name = FACTOR_NAMES.get(factor, factor)
        span = f"{name} {fmt_value(factor, lo['value'])} → {fmt_value(factor, hi['value'])}"
        found = []
        if not overlap((lo["cold_request_fraction_low"], lo["cold_request_fraction_high"]),
                       (hi["cold_request_fraction_low"], hi["cold_request_fraction_high"])):
            found.append(f"cold requests {fmt_pct(lo['cold_request_fraction'])} → "
                         f"{fmt_pct(hi['cold_request_fraction'])}")
        for m in ("p50", "p99"):
            if not overlap((lo[f"{m}_low_ms"], lo[f"{m}_high_ms"]),
                           (hi[f"{m}_low_ms"], hi[f"{m}_high_ms"])):
                found.append(f"{m} {fmt(lo[f'{m}_ms'])} → {fmt(hi[f'{m}_ms'])} ms")
        if not overlap((lo["total_gb_s_per_ok_low"], lo["total_gb_s_per_ok_high"]),
                       (hi["total_gb_s_per_ok_low"], hi["total_gb_s_per_ok_high"])):
            found.append(f"GB-s per ok request {fmt(lo['total_gb_s_per_ok'])} → "
                         f"{fmt(hi['total_gb_s_per_ok'])}")
        runs = f"{fmt_range(d['reps'].min(), d['reps'].max(), fmt_int)} runs per point"
        if found:
            out.append(f"On {w}, {span} changed, beyond the intervals: {'; '.join(found)} "
                       f"({runs}).")
        else:
            out.append(f"On {w}, {span} changed nothing the intervals can detect ({runs}).")
    return " ".join(out) if out else "Every sweep has a single point: no trend can be read."


def _prewarm(stages: list[list[str]], sw: pd.DataFrame) -> str:
    st = [r for r in stages if r[11] != NA]
    if not st:
        return ("Replica start-up times are missing (no replicas recorded), so no stage can "
                "be singled out for pre-warming.")
    top = max(st, key=lambda r: float(r[11].replace(",", "")))
    fact = (f"The slowest stage to start was {top[0]} ({top[11]} ms from spawn to ready on "
            f"average, {top[10]} ms of it in handler init).")
    mins = sw[sw["factor"] == "min_replicas"].sort_values("value") if len(sw) else sw
    for (_pl, w), d in (mins.groupby(["platform", "workload"], sort=False) if len(mins)
                        else []):
        if len(d) < 2:
            continue
        lo, hi = d.iloc[0], d.iloc[-1]
        if lo["p50_low_ms"] > hi["p50_high_ms"]:
            return (f"{fact} Keeping replicas warm (min replicas {fmt_int(lo['value'])} → "
                    f"{fmt_int(hi['value'])}) decidedly cut p50 latency on {w} "
                    f"({fmt(lo['p50_ms'])} → {fmt(hi['p50_ms'])} ms), so pre-warming pays "
                    f"there; {top[0]} is where a cold start costs most.")
        return (f"{fact} Whether pre-warming pays is not decided by this data: the "
                f"min-replicas sweep on {w} did not separate p50 latency "
                f"({fmt(lo['p50_ms'])} vs {fmt(hi['p50_ms'])} ms).")
    return f"{fact} No min-replicas sweep ran, so whether pre-warming it pays is not measured."


def guidelines(t: ReportData, stages: list[list[str]], multi: bool) -> list[str]:
    del multi  # sentences name the workload; platforms are in the tables
    return [_warm_capacity(t["comparisons"], t["policies"]), _frontier(t["pareto"]),
            _sweep(t["sweeps"]), _prewarm(stages, t["sweeps"])]
