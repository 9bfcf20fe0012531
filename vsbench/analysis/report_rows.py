"""The report's tables: rows of formatted cells, one function per HTML table.

Each function takes the aggregate tables (a :class:`~.report_data.ReportData` or the one
frame it needs) and returns rows of strings in the order of the template's headers; an
empty list makes the template print its "missing" note instead.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ..study import is_sweep
from .report_data import ReportData
from .report_format import (
    NA,
    fmt,
    fmt_ci,
    fmt_int,
    fmt_mem,
    fmt_p,
    fmt_pct,
    fmt_ratio,
    fmt_timeout,
    label,
    summarise,
    wmean,
)
from .stats import NO_DIFFERENCE

STAGE_ROLES = {
    "orchestrator": "drives the stages, fans out per clip, retries, aggregates",
    "ffmpeg-0": "splits the video into a video-only stream and a mono wav",
    "librosa": "finds speech segments in the wav",
    "ffmpeg-1": "cuts one clip per speech segment",
    "ffmpeg-2": "compresses a clip and extracts its audio",
    "asr": "transcribes a clip, with word times",
    "ffmpeg-3": "samples frames from a clip",
    "object-detector": "detects objects on the frames (decode and NMS)",
    "search": "matches the query against transcripts and labels",
}


def method(t: ReportData) -> dict[str, Any]:
    """Platforms, regimes, workloads, run counts and the machine (the Method section)."""
    runs, pol, wl, prov = t["runs"], t["policies"], t["workloads"], t["provenance"]
    out: dict[str, Any] = {"platforms": sorted(set(runs["platform"]) | set(pol["platform"]))}
    regimes = []
    for (pl, reg), d in pol.groupby(["platform", "regime"], sort=False):
        fields = {k: dict(zip(d["function"], d[k], strict=True)) for k in
                  ("min_replicas", "max_replicas", "idle_timeout_s", "target_inflight",
                   "max_inflight", "memory_mb")}
        regimes.append([pl, reg + (" (sweep)" if is_sweep(reg) else ""),
                        summarise(fields["min_replicas"], fmt_int),
                        summarise(fields["max_replicas"], fmt_int),
                        summarise(fields["idle_timeout_s"], fmt_timeout),
                        summarise(fields["target_inflight"], fmt_int),
                        summarise(fields["max_inflight"], fmt_int),
                        summarise(fields["memory_mb"], fmt_mem)])
    out["regimes"] = regimes
    out["workloads"] = [[w.workload, w.pattern or NA, fmt_timeout(w.duration_s),
                         fmt_int(w.scheduled_requests), w.params or "—"]
                        for w in wl.itertuples()]
    if len(runs):
        reps = runs.groupby(["platform", "regime", "workload"])["rep"].nunique()
        out["n_runs"] = fmt_int(len(runs))
        out["n_cells"] = fmt_int(len(reps))
        out["reps"] = (fmt_int(reps.min()) if reps.min() == reps.max()
                       else f"{fmt_int(reps.min())}–{fmt_int(reps.max())}")
        out["complete"] = fmt_int(runs["complete"].astype(bool).sum())
        out["scheduled"] = fmt_int(runs["scheduled"].sum())
        out["ok"] = fmt_int(runs["ok"].sum())
        failed = {s: fmt_int(runs[s].sum()) for s in ("app_error", "http_error", "timeout",
                                                        "dropped") if runs[s].sum() > 0}
        out["failed"] = ", ".join(f"{v} {k}" for k, v in failed.items())
    if len(prov):
        def uniq(col):
            vals = [str(v) for v in dict.fromkeys(prov[col].dropna().tolist())]
            return ", ".join(vals) if vals else NA
        out["machine"] = {"cpu_model": uniq("cpu_model"), "cpu_count": uniq("cpu_count"),
                          "memory_gb": ", ".join(fmt(v) for v in
                                                 dict.fromkeys(prov["memory_gb"].dropna())),
                          "os": uniq("os"), "python": uniq("python"), "s3": uniq("s3"),
                          "s3_version": uniq("s3_version") if "s3_version" in prov else NA,
                          "video": uniq("video"), "query": uniq("query"),
                          "warmup": uniq("warmup_requests")}
    return out


def stage_rows(t: ReportData) -> list[list[str]]:
    """Per function: role, memory, calls per request, mean exec / storage / bytes, replicas
    and their start-up (columns 10 and 11: mean handler init and spawn → ready, ms)."""
    cs, lat = t["cold_starts"], t["latency"]
    if cs.empty:
        return []
    req = {(r.platform, r.regime, r.workload): r.n_measured for r in lat.itertuples()}
    cs = cs.copy()
    cs["requests"] = [req.get(k, math.nan) for k in
                      zip(cs["platform"], cs["regime"], cs["workload"], strict=True)]
    rows = []
    for f, d in cs.groupby("function", sort=False):
        n_req = d.drop_duplicates(["platform", "regime", "workload"])["requests"].sum()
        rows.append([f, STAGE_ROLES.get(f, ""), fmt_mem(d["memory_mb"].median()),
                     fmt(d["invocations"].sum() / n_req if n_req else math.nan),
                     fmt(wmean(d["exec_mean_ms"], d["invocations"])),
                     fmt(wmean(d["storage_mean_ms"], d["invocations"])),
                     fmt(wmean(d["bytes_in_mean"], d["invocations"]) / 1024),
                     fmt(wmean(d["bytes_out_mean"], d["invocations"]) / 1024),
                     fmt_int(d["replicas"].sum()),
                     fmt(wmean(d["import_mean_ms"], d["replicas"])),
                     fmt(wmean(d["init_mean_ms"], d["replicas"])),
                     fmt(wmean(d["startup_mean_ms"], d["replicas"]))])
    return rows


def function_rows(t: ReportData, stages: list[list[str]]) -> list[list[str]]:
    """function, role, memory: from the stage rows, else from the policies."""
    return [[r[0], r[1], r[2]] for r in stages] or [
        [f, STAGE_ROLES.get(f, ""), fmt_mem(d["memory_mb"].median())]
        for f, d in t["policies"].groupby("function", sort=False)]


def latency_rows(lat: pd.DataFrame, multi: bool) -> list[list[str]]:
    return [[label(r, multi), r["workload"], fmt_int(r["reps"]), fmt_int(r["n"]),
             fmt_ci(r["p50_ms"], r["p50_low_ms"], r["p50_high_ms"]),
             fmt_ci(r["p90_ms"], r["p90_low_ms"], r["p90_high_ms"]),
             fmt_ci(r["p99_ms"], r["p99_low_ms"], r["p99_high_ms"]),
             fmt(r["mean_ms"]),
             fmt_ci(r["cold_fraction"], r["cold_fraction_low"], r["cold_fraction_high"],
                    fmt_pct),
             fmt(r["p50_cold_ms"]), fmt(r["p50_warm_ms"])]
            for _, r in lat.iterrows()]


def comparison_rows(cmp: pd.DataFrame, multi: bool) -> list[list[str]]:
    rows = []
    for _, r in cmp.iterrows():
        pre = f"{r['platform']}/" if multi else ""
        rows.append([r["workload"], f"{pre}{r['regime_a']}", f"{pre}{r['regime_b']}",
                     f"{fmt_int(r['reps_a'])} / {fmt_int(r['reps_b'])}",
                     fmt(r["median_a_ms"]), fmt(r["median_b_ms"]),
                     fmt_ci(r["median_ratio"], r["median_ratio_low"], r["median_ratio_high"],
                            fmt_ratio), _verdict(r["latency_verdict"]),
                     f"{fmt(r['cliffs_delta'])} ({r['magnitude']})", fmt_p(r["p_value"]),
                     fmt_ratio(r["cost_ratio"]), _verdict(r["cost_verdict"])])
    return rows


def _verdict(v: Any) -> str:
    return str(v) if v == NO_DIFFERENCE or not isinstance(v, str) else f"A {v}"


def cold_pivot(cs: pd.DataFrame, multi: bool) -> tuple[list[str], list[list[str]]]:
    """(column headers, rows): function × regime·workload, cold fraction (cold/calls)."""
    if cs.empty:
        return [], []
    cs = cs.copy()
    cs["col"] = [f"{label(r, multi)} · {r['workload']}" for _, r in cs.iterrows()]
    cols = list(dict.fromkeys(cs["col"]))
    rows = []
    for f, d in cs.groupby("function", sort=False):
        d = d.set_index("col")
        rows.append([f] + [f"{fmt_pct(d.loc[c, 'cold_fraction'])} "
                           f"({fmt_int(d.loc[c, 'cold'])}/{fmt_int(d.loc[c, 'invocations'])})"
                           if c in d.index else "—" for c in cols])
    return cols, rows


def startup_rows(st: pd.DataFrame) -> list[list[str]]:
    return [[r.function, r.platform, fmt_int(r.replicas), fmt(r.provision_ms),
             fmt(r.engine_create_ms), fmt(r.engine_start_ms), fmt(r.runtime_up_ms),
             fmt(r.import_ms), fmt(r.init_ms), fmt(r.other_ms), fmt(r.ready_ms)]
            for r in st.itertuples()]


def cost_rows(cost: pd.DataFrame, multi: bool) -> list[list[str]]:
    return [[label(r, multi), r["workload"], fmt_int(r["reps"]), fmt_int(r["ok_requests"]),
             fmt_ci(r["active_gb_s_per_ok"], r["active_gb_s_per_ok_low"],
                    r["active_gb_s_per_ok_high"]),
             fmt_ci(r["idle_gb_s_per_ok"], r["idle_gb_s_per_ok_low"],
                    r["idle_gb_s_per_ok_high"]),
             fmt_ci(r["total_gb_s_per_ok"], r["total_gb_s_per_ok_low"],
                    r["total_gb_s_per_ok_high"]),
             fmt(r["provisioned_gb_s_per_ok"]), fmt(r["fave_units_per_ok"]),
             fmt(r["usd_per_1k_ok"]), fmt_pct(r["idle_share"]), fmt_pct(r["tail_share"])]
            for _, r in cost.iterrows()]


def provenance(t: ReportData) -> dict[str, Any]:
    """Code versions (commit, dirty, runs), the span of the runs and package versions."""
    prov, pk = t["provenance"], t["packages"]
    out: dict[str, Any] = {}
    if len(prov):
        commits = prov.groupby("git_commit", dropna=False)["git_dirty"].agg(
            lambda s: ", ".join(sorted({str(v) for v in s})))
        out["commits"] = [[str(c) if not _no_str(c) else NA, d, fmt_int(
            (prov["git_commit"] == c).sum())] for c, d in commits.items()]
        ts = pd.to_numeric(prov["started_ts"], errors="coerce").dropna()
        te = pd.to_numeric(prov["ended_ts"], errors="coerce").dropna()
        if len(ts) and len(te):
            out["span"] = f"{_utc(ts.min())} – {_utc(te.max())}"
    out["packages"] = [[r.package, str(r.version), fmt_int(r.runs)] for r in pk.itertuples()]
    return out


def _no_str(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M UTC")
