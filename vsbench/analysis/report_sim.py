"""The report's "Keep-alive policies at scale (simulated)": the simulator against the
measurement first (the ``sim_validation`` table, :mod:`vsbench.sim.replay`), then the
``keepalive_scale`` table (:mod:`vsbench.sim.scale`) as rows, and the histogram policy's
verdict against the fixed timeouts: fewer cold starts than the best fixed timeout that holds
no more idle memory?"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from .report_format import fmt

__all__ = ["scale_rows", "scale_sentences", "histogram_verdict", "scale_settings",
           "validation_rows", "validation_sentences"]


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


_GOAL_TEXT = {"p50_err": ("p50", 0.15), "p99_err": ("p99", 0.25), "gb_s_err": ("GB-s", 0.15)}


def validation_rows(df: pd.DataFrame, multi: bool = False) -> list[list[str]]:
    if df.empty or "within_goals" not in df:
        return []
    return [[(f"{r['platform']}/" if multi else "") + str(r["regime"]), str(r["workload"]),
             str(r["rep"]), f"{fmt(r['p50_ms'])} / {fmt(r['sim_p50_ms'])}",
             f"{fmt(r['p99_ms'])} / {fmt(r['sim_p99_ms'])}",
             f"{100 * r['cold_fraction']:.0f} / {100 * r['sim_cold_fraction']:.0f}",
             f"{fmt(r['gb_s'])} / {fmt(r['sim_gb_s'])}", "yes" if r["within_goals"] else "no"]
            for _, r in df.iterrows()]


def validation_sentences(df: pd.DataFrame) -> list[str]:
    """How many runs meet each goal, the median errors, and what misses where, with the
    simulator's known blind spots named."""
    if df.empty or "within_goals" not in df:
        return []
    n = len(df)
    parts = [f"{int((df[k] <= g).sum())} of {n} within {g:.0%} on {name}"
             for k, (name, g) in _GOAL_TEXT.items()]
    parts.append(f"{int((df['cold_err_pts'] <= 10).sum())} of {n} within 10 points on the "
                 f"cold share")
    out = [f"The simulator replayed every run of this study from its own schedule and regime: "
           f"{int(df['within_goals'].sum())} of {n} runs meet all four goals ("
           + "; ".join(parts) + "). Median errors: p50 "
           f"{df['p50_err'].median():.0%}, p99 {df['p99_err'].median():.0%}, cold share "
           f"{df['cold_err_pts'].median():.0f} points, GB-s {df['gb_s_err'].median():.0%}."]
    worst = df.sort_values("p50_err", ascending=False).head(3)
    misses = [f"{r['regime']}/{r['workload']} (p50 {fmt(r['p50_ms'])} measured, "
              f"{fmt(r['sim_p50_ms'])} simulated)" for _, r in worst.iterrows()
              if r["p50_err"] > 0.15]
    if misses:
        out.append("The largest p50 misses: " + "; ".join(misses) + ".")
    gb = df[df["gb_s_err"] > 0.15].sort_values("gb_s_err", ascending=False).head(3)
    if len(gb):
        out.append("GB-s misses: " + "; ".join(
            f"{r['regime']}/{r['workload']} ({fmt(r['gb_s'])} measured, "
            f"{fmt(r['sim_gb_s'])} simulated)" for _, r in gb.iterrows()) + ".")
    if not df["within_goals"].all():
        out.append("Why it misses: the simulator draws each call's and each start's time "
                   "among the run's samples taken at about the machine's load when it began "
                   "(the machine's contention, as far as the load at its start tells: a call "
                   "that began quiet and was overtaken by rising load is drawn as quiet, and "
                   "the simulation runs faster than the measurement); retries are not "
                   "modelled; runs of a few requests carry sampling noise (one request of "
                   "five is 20 points of cold share).")
    return out
