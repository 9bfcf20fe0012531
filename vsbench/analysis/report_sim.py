"""The report's "Keep-alive policies at scale (simulated)": the ``keepalive_scale`` table
(:mod:`vsbench.sim.scale`) as rows, and the histogram policy's verdict against the fixed
timeouts: fewer cold starts than the best fixed timeout that holds no more idle memory?"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from .report_format import fmt

__all__ = ["scale_rows", "scale_sentences", "histogram_verdict", "scale_settings"]


def scale_rows(df: pd.DataFrame) -> list[list[str]]:
    return [[r["policy"], fmt(r["cold_starts"]), f"{r['cold_pct']:.2f}",
             f"{r['p75_function_cold_pct']:.1f}", fmt(r["idle_gb_s"]),
             f"{r['idle_gb_s_per_call']:.3f}"] for _, r in df.iterrows()]


def histogram_verdict(df: pd.DataFrame) -> dict[str, Any] | None:
    """The histogram row against the fixed timeout with the fewest cold starts among those
    holding at most its idle GB-s (None: no histogram or no fixed row)."""
    if df.empty or "keepalive" not in df:  # no simulation in this study
        return None
    hist = df[df["keepalive"] == "histogram"]
    fixed = df[df["keepalive"] == "fixed"]
    if hist.empty or fixed.empty:
        return None
    h = hist.iloc[0]
    cheaper = fixed[fixed["idle_gb_s"] <= h["idle_gb_s"]]
    if cheaper.empty:  # every fixed timeout holds more: compare with the leanest
        best, within = fixed.sort_values("idle_gb_s").iloc[0], False
    else:
        best, within = cheaper.sort_values(["cold_starts", "idle_gb_s"]).iloc[0], True
    return {"histogram": h, "fixed": best, "within": within,
            "fewer_colds": bool(h["cold_starts"] < best["cold_starts"]),
            "less_idle": bool(h["idle_gb_s"] <= best["idle_gb_s"])}


def scale_sentences(df: pd.DataFrame) -> list[str]:
    v = histogram_verdict(df)
    if v is None:
        return []
    h, f = v["histogram"], v["fixed"]
    out = []
    if v["within"]:
        out.append(
            f"Of the fixed timeouts holding no more idle memory than the histogram policy "
            f"({fmt(h['idle_gb_s'])} GB-s), {f['policy']} has the fewest cold starts: "
            f"{fmt(f['cold_starts'])} ({f['cold_pct']:.2f} %) against the histogram's "
            f"{fmt(h['cold_starts'])} ({h['cold_pct']:.2f} %). "
            + ("The histogram policy meets the goal: fewer cold starts at equal or lower "
               "idle memory." if v["fewer_colds"] else
               "The histogram policy falls short of the goal here: that fixed timeout has "
               "as few cold starts or fewer for no more memory."))
    else:
        out.append(
            f"Every fixed timeout holds more idle memory than the histogram policy "
            f"({fmt(h['idle_gb_s'])} GB-s); the leanest, {f['policy']}, has "
            f"{fmt(f['cold_starts'])} cold starts against the histogram's "
            f"{fmt(h['cold_starts'])}.")
    o = df[(df["keepalive"] == "oracle") & (df["cold_starts"] <= h["cold_starts"])]
    if len(o):
        best = o.sort_values("idle_gb_s").iloc[0]
        out.append(
            f"The oracle reaches the histogram's cold starts or fewer "
            f"({fmt(best['cold_starts'])}) with "
            f"{fmt(best['idle_gb_s'])} idle GB-s ({best['policy']}): the keep-alive-only "
            f"bound for the histogram's cold starts.")
    else:
        out.append("No oracle point reaches the histogram's cold starts: its pre-warming "
                   "starts replicas before calls, which keep-alive alone (the oracle's class) "
                   "cannot.")
    return out


def scale_settings(df: pd.DataFrame) -> list[str]:
    """Every parameter of the simulation, stated: the trace, the times, each policy's."""
    if df.empty or "keepalive" not in df:
        return []
    t = df.iloc[0]
    out = [f"trace: {t['trace']}, {t['trace_days']:g} day(s), {int(t['functions'])} "
           f"functions, {fmt(t['calls'])} calls",
           f"service and cold-start times drawn from {t['times_from']}"]
    for kind in ("histogram", "fixed", "oracle"):
        g = df[df["keepalive"] == kind]
        if len(g):
            s = json.loads(g.iloc[0]["settings"])
            params = ", ".join(f"{k} {v}" for k, v in s.items() if k != "policy")
            swept = ", ".join(f"{p:g}" for p in g["parameter_s"].dropna())
            out.append(f"{kind}: {params}" + (f" (swept: {swept} s)" if swept else ""))
    return out
