"""The report's guidelines: conclusions chosen by the sign of measured differences.

Each guideline is a sentence built from the comparisons, latency, cost, keep-alive and
policies tables; its wording (cut / raised, better on both counts / a trade-off) follows the
data, and when the study lacks what a guideline needs, the sentence says what is missing.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .report_data import ReportData
from .report_format import (
    NA,
    fmt,
    fmt_ci,
    fmt_int,
    fmt_pct,
    fmt_ratio,
    fmt_timeout,
    is_missing,
    label,
)
from .tables import is_sweep

__all__ = ["guidelines", "oriented", "change", "main_min"]


def main_min(policies: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(platform, regime) → the orchestrator's (else first function's) min_replicas."""
    out = {}
    for (pl, reg), d in policies.groupby(["platform", "regime"], sort=False):
        row = d[d["function"] == "orchestrator"]
        row = row if len(row) else d.head(1)
        out[(pl, reg)] = float(row["min_replicas"].iloc[0])
    return out


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
    return {**r, "regime_a": a, "regime_b": b, "n_a": r["n_b"], "n_b": r["n_a"],
            "median_a_ms": r["median_b_ms"], "median_b_ms": r["median_a_ms"],
            "median_ratio": inv(r["median_ratio"]),
            "median_ratio_low": inv(r["median_ratio_high"]),
            "median_ratio_high": inv(r["median_ratio_low"]),
            "cliffs_delta": -r["cliffs_delta"] if not is_missing(r["cliffs_delta"]) else math.nan,
            "p99_a_ms": r["p99_b_ms"], "p99_b_ms": r["p99_a_ms"],
            "total_gb_s_per_ok_a": r["total_gb_s_per_ok_b"],
            "total_gb_s_per_ok_b": r["total_gb_s_per_ok_a"], "cost_ratio": inv(r["cost_ratio"])}


def change(ratio: float) -> tuple[str, str]:
    """(verb, percentage) for a ratio new/old: cut / raised / left unchanged."""
    if is_missing(ratio):
        return "changed", NA
    pct = fmt(abs(1 - float(ratio)) * 100)
    if float(ratio) < 1:
        return "cut", f"{pct}%"
    if float(ratio) > 1:
        return "raised", f"{pct}%"
    return "left unchanged", "0%"



def guidelines(t: ReportData, stages: list[list[str]],
                multi: bool) -> list[str]:
    lat, cost, cmp, ka, pol = (t["latency"], t["cost"], t["comparisons"], t["keepalive"],
                               t["policies"])
    out = []

    # 1. Warm capacity (min_replicas >= 1) versus scale to zero.
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
        verb, pct = change(row["median_ratio"])
        n_warm = fmt_int(mins[(pl, a)])
        cr = row["cost_ratio"]
        if not is_missing(row["median_ratio"]) and row["median_ratio"] < 1 and not is_missing(cr):
            lead = ("Warm capacity bought latency with GB-s" if cr > 1 else
                    "Warm capacity was better on both counts")
        elif not is_missing(row["median_ratio"]) and row["median_ratio"] >= 1:
            lead = "Warm capacity did not pay off in latency"
        else:
            lead = "Warm capacity versus scale-to-zero"
        found.append(
            f"{lead} on {w}: keeping {n_warm} replica(s) per function warm ({a}) instead of "
            f"scaling to zero ({zero[0]}) {verb} p50 latency by {pct} "
            f"({fmt(row['median_b_ms'])} → {fmt(row['median_a_ms'])} ms; ratio "
            f"{fmt_ci(row['median_ratio'], row['median_ratio_low'], row['median_ratio_high'], fmt_ratio)}"  # noqa: E501
            f", Cliff's δ {fmt(row['cliffs_delta'])}, {row['magnitude']}) at "
            f"{fmt_ratio(cr)} the GB-s per ok request.")
    out.append(" ".join(found) if found else
               "Warm capacity versus scale-to-zero is not measured here: no workload ran under "
               "both a regime with min_replicas ≥ 1 and one that scales to zero.")

    # 2. Per workload: fastest (p99) versus cheapest (GB-s per ok request).
    sentences = []
    if len(lat) and len(cost):
        m = lat.merge(cost, on=["platform", "regime", "workload"], how="inner")
        m = m[~m["regime"].map(is_sweep)]
        for (_pl, w), d in m.groupby(["platform", "workload"], sort=False):
            d = d[pd.to_numeric(d["p99_ms"], errors="coerce").notna()
                  & pd.to_numeric(d["total_gb_s_per_ok"], errors="coerce").notna()]
            if len(d) < 2:
                continue
            fast = d.loc[pd.to_numeric(d["p99_ms"]).idxmin()]
            cheap = d.loc[pd.to_numeric(d["total_gb_s_per_ok"]).idxmin()]
            if fast.name == cheap.name:
                sentences.append(
                    f"On {w}, {label(fast, multi)} had both the lowest p99 latency "
                    f"({fmt(fast['p99_ms'])} ms) and the lowest GB-s per ok request "
                    f"({fmt(fast['total_gb_s_per_ok'])}): no trade-off on this workload.")
            else:
                sentences.append(
                    f"On {w}, the lowest p99 latency was under {label(fast, multi)} "
                    f"({fmt(fast['p99_ms'])} ms at {fmt(fast['total_gb_s_per_ok'])} GB-s per "
                    f"ok request) and the lowest cost under {label(cheap, multi)} "
                    f"({fmt(cheap['total_gb_s_per_ok'])} GB-s, p99 {fmt(cheap['p99_ms'])} ms): "
                    f"the faster regime costs "
                    f"{fmt_ratio(fast['total_gb_s_per_ok'] / cheap['total_gb_s_per_ok'])} as "
                    f"much per ok request for a p99 "
                    f"{fmt(100 * (1 - fast['p99_ms'] / cheap['p99_ms']))}% lower.")
    out.append(" ".join(sentences) if sentences else
               "The latency/cost trade-off between regimes is not measured here: no workload "
               "ran under two or more regimes with ok requests.")

    # 3. Keep-alive sweep.
    sentences = []
    if len(ka):
        k = ka[pd.to_numeric(ka["idle_timeout_s"], errors="coerce").map(
            lambda v: not is_missing(v) and math.isfinite(v))]
        for (_pl, w), d in k.groupby(["platform", "workload"], sort=False):
            d = d.sort_values("idle_timeout_s")
            if len(d) < 2:
                continue
            a, b = d.iloc[0], d.iloc[-1]
            fewer = b["cold_request_fraction"] < a["cold_request_fraction"]
            dearer = b["idle_gb_s_per_ok"] > a["idle_gb_s_per_ok"]
            s = (f"On {w}, lengthening the keep-alive from {fmt_timeout(a['idle_timeout_s'])} "
                 f"to {fmt_timeout(b['idle_timeout_s'])} took the cold-request fraction from "
                 f"{fmt_pct(a['cold_request_fraction'])} to "
                 f"{fmt_pct(b['cold_request_fraction'])} and the idle GB-s per ok request from "
                 f"{fmt(a['idle_gb_s_per_ok'])} to {fmt(b['idle_gb_s_per_ok'])}")
            if fewer and dearer:
                s += ("; keep-alive trades idle GB-s for fewer cold starts, so pick the "
                      "shortest timeout that spans the workload's usual idle gaps.")
            elif fewer:
                s += "; the longer keep-alive was better on both counts for this workload."
            elif dearer:
                s += ("; the longer keep-alive paid more idle GB-s without fewer cold "
                      "requests, so the shorter one suffices for this workload.")
            else:
                s += "; neither cold starts nor idle cost fell, so the timeout hardly mattered."
            sentences.append(s)
    if sentences:
        out.append(" ".join(sentences))
    elif len(ka):
        out.append("The keep-alive sweep has fewer than two finite idle timeouts per workload, "
                   "so no trend can be read from it.")
    else:
        out.append("No keep-alive sweep ran in this study (no regime named ka-…): the "
                   "cold-start versus idle-cost curve is not measured.")

    # 4. The stage that is slowest to start.
    st = [r for r in stages if r[11] != NA]
    if st:
        top = max(st, key=lambda r: float(r[11].replace(",", "")))
        out.append(f"The slowest stage to start was {top[0]}: {top[11]} ms from spawn to ready "
                   f"on average, {top[10]} ms of it in handler init (e.g. model loading). "
                   "A request that meets a cold start of it waits longest, so it is the first "
                   "candidate for min_replicas ≥ 1 or a longer keep-alive.")
    else:
        out.append("Replica start-up times are missing (no replicas recorded), so no stage "
                   "can be singled out for pre-warming.")
    return out


