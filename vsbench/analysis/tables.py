"""Aggregate run archives into the study's tidy tables (``results/tables/{name}.csv|.parquet``).

Input: run archives (``results/raw/{platform}/{regime}/{workload}/rep{K}/``, schema in
docs/archive.md). Only *measured* requests count (``warmup`` false); latency statistics use
requests with status ``ok``; invocations of warm-up requests are left out everywhere.

Definitions
-----------
* A request is **cold** when any of its invocations was cold (it waited for a replica to
  start). ``cold_orchestrator_fraction`` counts only the orchestrator call (the client-visible
  ``X-Vsb-Cold`` header). Cold fractions of requests are over ok requests. Its **start class**
  (:mod:`.starts`) is ``scale_from_zero`` when any invocation was, else ``scale_out`` when any
  was, else ``warm``.
* Latency is the client's ``latency_ms`` (end − scheduled time: no coordinated omission).
* Pooling: per platform × regime × workload, samples of all repetitions are pooled; costs are
  summed over repetitions and divided by the summed ok requests.
* Confidence intervals, 95 %: two-stage (cluster) bootstrap, runs then requests within runs
  (``stats.cluster_percentile_ci``, ``stats.cluster_ratio_ci``, seeded), for percentiles and
  every GB-s per ok request; Wilson for fractions (``stats.fraction_ci``). Comparisons between
  regimes (``stats.cluster_compare``) say ``no detectable difference`` when the interval of
  the ratio holds 1.
* ``idle_timeout_s`` of a regime that never scales down is ``inf``.
* Sweeps (:mod:`.sweeps`): every regime named by :func:`vsbench.study.sweep_name`; its
  ``base_regime`` is the non-sweep regime whose policies equal the sweep regime's except for
  the swept factor.

Tables (one row per group; units in column names): ``runs``, ``latency``, ``cold_starts``,
``cost``, ``cost_by_function``, ``start_classes`` (:mod:`.starts`), ``sweeps`` and ``pareto``
(:mod:`.sweeps`), ``comparisons``, ``policies``, ``workloads``, ``provenance``, ``packages``,
``startup`` (cold-start components per platform and function, :mod:`.startup`),
``reliability`` and ``fault_events`` (faulted runs only, :mod:`.reliability`), ``starters``
(fork server and prewarm against spawn, :mod:`.starters`). Column lists
are the ``*_COLUMNS`` constants.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..archive import serving_replicas
from ..study import is_sweep
from ..workload.sender import TERMINAL as STATUSES
from .comparisons import COMPARISON_COLUMNS, comparisons_table, ok_latencies
from .correctness_table import CORRECTNESS_TABLE_COLUMNS, correctness_table
from .cost import request_costs, run_cost
from .describe import (
    PACKAGE_COLUMNS,
    POLICY_COLUMNS,
    PROVENANCE_COLUMNS,
    WORKLOAD_COLUMNS,
    policies_table,
    provenance_tables,
    workloads_table,
)
from .reliability import FAULT_EVENT_COLUMNS, RELIABILITY_COLUMNS, reliability_tables
from .runs import Run, as_dir, load_runs, read_tables, write_tables
from .starters import STARTER_COLUMNS, starters_table
from .starts import START_CLASS_COLUMNS, request_starts, start_classes_table
from .startup import STARTUP_COLUMNS, startup_table
from .stats import (
    cluster_percentile_ci,
    cluster_ratio_ci,
    fraction_ci,
)
from .sweeps import PARETO_COLUMNS, SWEEP_COLUMNS, pareto_table, sweeps_table
from .sweeps import main_policy as _main_policy
from .sweeps import timeout_value as _timeout

__all__ = ["Run", "load_runs", "build_tables", "write_tables", "read_tables", "aggregate",
           "as_dir", "regime_order", "is_sweep", "TABLE_COLUMNS", "STATUSES"]

GROUP = ["platform", "regime", "workload"]

RUNS_COLUMNS = [
    "platform", "regime", "workload", "rep", "scheduled", *STATUSES, "invocations", "replicas",
    "cold_requests", "cold_request_fraction", "cold_orchestrator_fraction", "window_s",
    "cpu_percent_mean", "load1_max", "mem_used_mb_max", "complete", "simulated"]
LATENCY_COLUMNS = [
    *GROUP, "reps", "n_measured", "n", "ok_fraction",
    "p50_ms", "p50_low_ms", "p50_high_ms", "p90_ms", "p90_low_ms", "p90_high_ms",
    "p99_ms", "p99_low_ms", "p99_high_ms", "mean_ms",
    "cold_requests", "cold_fraction", "cold_fraction_low", "cold_fraction_high",
    "p50_cold_ms", "p50_warm_ms"]
COLD_COLUMNS = [
    *GROUP, "function", "memory_mb", "invocations", "invocations_per_request", "cold",
    "cold_fraction", "cold_fraction_low", "cold_fraction_high", "cold_queue_mean_ms",
    "cold_queue_p50_ms", "warm_queue_mean_ms", "exec_mean_ms", "exec_p50_ms",
    "storage_mean_ms", "bytes_in_mean", "bytes_out_mean", "replicas",
    "replicas_started_in_window", "import_mean_ms", "init_mean_ms", "startup_mean_ms"]
COST_COLUMNS = [
    *GROUP, "reps", "ok_requests", "invocations", "active_gb_s", "idle_gb_s", "total_gb_s",
    "provisioned_gb_s", "fave_units", "usd_total", "active_gb_s_per_ok", "idle_gb_s_per_ok",
    "total_gb_s_per_ok", "fave_units_per_ok", "provisioned_gb_s_per_ok", "usd_per_1k_ok",
    "idle_share", "total_gb_s_per_ok_low", "total_gb_s_per_ok_high", "active_gb_s_per_ok_low",
    "active_gb_s_per_ok_high", "idle_gb_s_per_ok_low", "idle_gb_s_per_ok_high", "tail_gb_s",
    "tail_share", "replicas_charged_to_keepalive"]
COST_BY_FUNCTION_COLUMNS = [
    *GROUP, "function", "active_gb_s", "idle_gb_s", "provisioned_gb_s", "alive_s", "busy_s",
    "utilisation", "active_gb_s_per_ok", "idle_gb_s_per_ok"]

TABLE_COLUMNS: dict[str, list[str]] = {
    "runs": RUNS_COLUMNS, "latency": LATENCY_COLUMNS, "cold_starts": COLD_COLUMNS,
    "cost": COST_COLUMNS, "cost_by_function": COST_BY_FUNCTION_COLUMNS,
    "start_classes": START_CLASS_COLUMNS, "sweeps": SWEEP_COLUMNS, "pareto": PARETO_COLUMNS,
    "correctness": CORRECTNESS_TABLE_COLUMNS,
    "reliability": RELIABILITY_COLUMNS, "fault_events": FAULT_EVENT_COLUMNS,
    "starters": STARTER_COLUMNS,
    "comparisons": COMPARISON_COLUMNS,
    "policies": POLICY_COLUMNS, "workloads": WORKLOAD_COLUMNS,
    "provenance": PROVENANCE_COLUMNS, "packages": PACKAGE_COLUMNS,
    "startup": STARTUP_COLUMNS,
}


# --- helpers -----------------------------------------------------------------------------------

def regime_order(runs: list[Run]) -> list[str]:
    """Regimes from least to most warm capacity (min replicas, idle timeout, max replicas,
    name); the keep-alive sweep last, by idle timeout."""
    keys: dict[str, tuple] = {}
    for r in runs:
        if r.regime in keys:
            continue
        pol = _main_policy(r.policies)
        keys[r.regime] = (is_sweep(r.regime), float(pol.get("min_replicas") or 0),
                          _timeout(pol.get("idle_timeout_s")),
                          float(pol.get("max_replicas") or 0), r.regime)
    return sorted(keys, key=lambda k: keys[k])


def _flag(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), False).astype(bool)


def _measured(run: Run) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(measured requests with a ``cold_any`` column, measured invocations)."""
    req = run.archive["requests"].copy()
    inv = run.archive["invocations"].copy()
    req["warmup"] = _flag(req["warmup"])
    inv["warmup"] = _flag(inv["warmup"])
    warm_ids = set(req.loc[req["warmup"], "request_id"])
    inv = inv[~inv["warmup"].astype(bool) & ~inv["request_id"].isin(warm_ids)].copy()
    inv["cold"] = _flag(inv["cold"])
    req = req[~req["warmup"]].copy()
    cold_ids = set(inv.loc[inv["cold"].astype(bool), "request_id"])
    req["cold_orch"] = _flag(req["cold"])
    req["cold_any"] = req["request_id"].isin(cold_ids) | req["cold_orch"].astype(bool)
    req["start"] = request_starts(req, inv)
    return req, inv


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").astype(float)


def _mean(s: pd.Series) -> float:
    s = _num(s).dropna()
    return float(s.mean()) if len(s) else math.nan


def _median(s: pd.Series) -> float:
    s = _num(s).dropna()
    return float(s.median()) if len(s) else math.nan


def _div(a: float, b: float) -> float:
    return a / b if b else math.nan


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def _groups(runs: list[Run]) -> dict[tuple[str, str, str], list[Run]]:
    order = {g: i for i, g in enumerate(regime_order(runs))}
    out: dict[tuple[str, str, str], list[Run]] = {}
    for r in sorted(runs, key=lambda r: (r.platform, r.workload, order[r.regime], r.rep)):
        out.setdefault(r.key, []).append(r)
    return out


def _function_order(runs: list[Run]) -> dict[str, int]:
    names: list[str] = []
    for r in runs:
        for f in r.provenance.get("functions") or list(r.policies):
            if f not in names:
                names.append(f)
    return {f: i for i, f in enumerate(names)}


# --- tables ------------------------------------------------------------------------------------

def _runs_table(runs: list[Run], measured: dict[int, tuple]) -> pd.DataFrame:
    rows = []
    for r in runs:
        req, inv = measured[id(r)]
        summary = r.archive.get("summary") or {}
        counts = req["status"].value_counts()
        ok = req[req["status"] == "ok"]
        system = r.archive.get("system")
        system = system if isinstance(system, pd.DataFrame) else pd.DataFrame()
        window = r.provenance.get("window")
        window_s = summary.get("window_s")
        if window_s is None and window:
            window_s = window[1] - window[0]
        rows.append({
            "platform": r.platform, "regime": r.regime, "workload": r.workload, "rep": r.rep,
            "scheduled": int(summary.get("scheduled", len(req))),
            **{s: int(counts.get(s, 0)) for s in STATUSES},
            "invocations": len(inv), "replicas": len(serving_replicas(r.archive["replicas"])),
            "cold_requests": int(ok["cold_any"].sum()),
            "cold_request_fraction": _div(float(ok["cold_any"].sum()), len(ok)),
            "cold_orchestrator_fraction": _div(float(ok["cold_orch"].sum()), len(ok)),
            "window_s": float(window_s) if window_s is not None else math.nan,
            "cpu_percent_mean": _mean(system["cpu_percent"]) if "cpu_percent" in system
            else math.nan,
            "load1_max": float(_num(system["load1"]).max()) if "load1" in system and len(system)
            else math.nan,
            "mem_used_mb_max": float(_num(system["mem_used_mb"]).max())
            if "mem_used_mb" in system and len(system) else math.nan,
            "complete": bool((summary.get("check") or {}).get("ok", False)),
            "simulated": bool(r.provenance.get("simulated")),  # vsbench.sim.archive
        })
    return _frame(rows, RUNS_COLUMNS)


def _percentiles(per_run: list[np.ndarray], seed: int) -> dict[str, float]:
    out = {}
    qs = [50, 90, 99]
    for q, (est, lo, hi) in zip(qs, cluster_percentile_ci(per_run, qs, seed=seed), strict=True):
        out.update({f"p{q}_ms": est, f"p{q}_low_ms": lo, f"p{q}_high_ms": hi})
    return out


def _latency_table(groups, measured, seed: int) -> pd.DataFrame:
    rows = []
    for (platform, regime, workload), runs in groups.items():
        req = pd.concat([measured[id(r)][0] for r in runs], ignore_index=True)
        ok = req[req["status"] == "ok"]
        lat = _num(ok["latency_ms"]).to_numpy()
        cold = ok["cold_any"].astype(bool).to_numpy()
        p, lo, hi = fraction_ci(int(cold.sum()), len(ok))
        rows.append({
            "platform": platform, "regime": regime, "workload": workload, "reps": len(runs),
            "n_measured": len(req), "n": len(ok), "ok_fraction": _div(len(ok), len(req)),
            **_percentiles(ok_latencies(runs, measured), seed),
            "mean_ms": float(np.nanmean(lat)) if len(lat) else math.nan,
            "cold_requests": int(cold.sum()), "cold_fraction": p, "cold_fraction_low": lo,
            "cold_fraction_high": hi,
            "p50_cold_ms": float(np.nanmedian(lat[cold])) if cold.any() else math.nan,
            "p50_warm_ms": float(np.nanmedian(lat[~cold])) if (~cold).any() else math.nan,
        })
    return _frame(rows, LATENCY_COLUMNS)


def _cold_table(groups, measured, forder: dict[str, int]) -> pd.DataFrame:
    rows = []
    for (platform, regime, workload), runs in groups.items():
        inv = pd.concat([measured[id(r)][1] for r in runs], ignore_index=True)
        n_req = sum(len(measured[id(r)][0]) for r in runs)
        reps = pd.concat([serving_replicas(r.archive["replicas"]).assign(
            _lo=(r.provenance.get("window") or [-math.inf])[0]) for r in runs],
            ignore_index=True)
        pols = runs[0].policies
        funcs = set(inv["function"].dropna()) | set(reps["function"].dropna())
        for f in sorted(funcs, key=lambda f: (forder.get(f, len(forder)), f)):
            fi = inv[inv["function"] == f]
            fr = reps[reps["function"] == f]
            cold = fi["cold"].astype(bool)
            p, lo, hi = fraction_ci(int(cold.sum()), len(fi))
            mem = (pols.get(f) or {}).get("memory_mb")
            if mem is None and len(fr):
                mem = _median(fr["memory_mb"])
            storage = _num(fi["storage_get_ms"]).fillna(0) + _num(fi["storage_put_ms"]).fillna(0)
            storage = storage[_num(fi["exec_ms"]).notna()]
            started = _num(fr["spawn_ts"]) >= _num(fr["_lo"])
            rows.append({
                "platform": platform, "regime": regime, "workload": workload, "function": f,
                "memory_mb": float(mem) if mem is not None else math.nan,
                "invocations": len(fi), "invocations_per_request": _div(len(fi), n_req),
                "cold": int(cold.sum()), "cold_fraction": p, "cold_fraction_low": lo,
                "cold_fraction_high": hi,
                "cold_queue_mean_ms": _mean(fi.loc[cold, "queue_ms"]),
                "cold_queue_p50_ms": _median(fi.loc[cold, "queue_ms"]),
                "warm_queue_mean_ms": _mean(fi.loc[~cold, "queue_ms"]),
                "exec_mean_ms": _mean(fi["exec_ms"]), "exec_p50_ms": _median(fi["exec_ms"]),
                "storage_mean_ms": _mean(storage), "bytes_in_mean": _mean(fi["bytes_in"]),
                "bytes_out_mean": _mean(fi["bytes_out"]),
                "replicas": len(fr), "replicas_started_in_window": int(started.sum()),
                "import_mean_ms": _mean(fr["import_ms"]), "init_mean_ms": _mean(fr["init_ms"]),
                "startup_mean_ms": _mean((_num(fr["ready_ts"]) - _num(fr["spawn_ts"])) * 1000),
            })
    return _frame(rows, COLD_COLUMNS)


def _tail_gb_s(run: Run) -> tuple[float, int]:
    """GB-s charged after the window closed (keep-alive tails), and how many replicas."""
    reps = run.archive["replicas"]
    if "tail_s" not in reps or not len(reps):
        return 0.0, 0
    gb_s = float((_num(reps["tail_s"]).fillna(0) * _num(reps["memory_mb"]).fillna(0)).sum())
    return gb_s / 1024, int((reps["end_kind"] == "keepalive").sum())


def _per_ok_cis(runs: list[Run], req_costs, seed: int) -> dict[str, float]:
    """Two-stage bootstrap CIs of active, idle and total GB-s per ok request."""
    out = {}
    for k in ("total_gb_s", "active_gb_s", "idle_gb_s"):
        groups = [(rc[k].to_numpy(float), (rc["status"] == "ok").to_numpy(float))
                  for rc in (req_costs[id(r)] for r in runs)]
        _, lo, hi = cluster_ratio_ci(groups, seed=seed)
        out.update({f"{k}_per_ok_low": lo, f"{k}_per_ok_high": hi})
    return out


def _cost_tables(groups, costs, req_costs, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, frows = [], []
    for (platform, regime, workload), runs in groups.items():
        cs = [costs[id(r)] for r in runs]
        tails = [_tail_gb_s(r) for r in runs]
        ok = sum(c.ok_requests for c in cs)
        s = {k: float(sum(getattr(c, k) for c in cs))
             for k in ("active_gb_s", "idle_gb_s", "total_gb_s", "provisioned_gb_s",
                       "fave_units", "usd_total")}
        rows.append({
            "platform": platform, "regime": regime, "workload": workload, "reps": len(runs),
            "ok_requests": ok, "invocations": sum(c.invocations for c in cs), **s,
            **{f"{k}_per_ok": _div(s[k], ok) for k in ("active_gb_s", "idle_gb_s",
                                                       "total_gb_s", "fave_units",
                                                       "provisioned_gb_s")},
            "usd_per_1k_ok": _div(s["usd_total"] * 1000, ok),
            "idle_share": _div(s["idle_gb_s"], s["total_gb_s"]),
            **_per_ok_cis(runs, req_costs, seed),
            "tail_gb_s": sum(t[0] for t in tails),
            "tail_share": _div(sum(t[0] for t in tails), s["idle_gb_s"]),
            "replicas_charged_to_keepalive": sum(t[1] for t in tails),
        })
        byf = pd.concat([c.by_function for c in cs], ignore_index=True)
        if len(byf):
            agg = byf.groupby("function", sort=False)[
                ["active_gb_s", "idle_gb_s", "provisioned_gb_s", "alive_s", "busy_s"]].sum()
            for f, a in agg.iterrows():
                frows.append({"platform": platform, "regime": regime, "workload": workload,
                              "function": f, **{k: float(a[k]) for k in agg.columns},
                              "utilisation": _div(a["busy_s"], a["alive_s"]),
                              "active_gb_s_per_ok": _div(a["active_gb_s"], ok),
                              "idle_gb_s_per_ok": _div(a["idle_gb_s"], ok)})
    return _frame(rows, COST_COLUMNS), _frame(frows, COST_BY_FUNCTION_COLUMNS)


def build_tables(runs: list[Run], seed: int = 0) -> dict[str, pd.DataFrame]:
    """Every table of the study (see the module docstring); empty tables keep their columns."""
    runs = list(runs)
    measured = {id(r): _measured(r) for r in runs}
    costs = {id(r): run_cost(r.archive["requests"], r.archive["invocations"],
                             r.archive["replicas"]) for r in runs}
    req_costs = {id(r): request_costs(r.archive["requests"], r.archive["invocations"],
                                      r.archive["replicas"]) for r in runs}
    groups = _groups(runs)
    forder = _function_order(runs)
    order = {g: i for i, g in enumerate(regime_order(runs))}
    runs_sorted = sorted(runs, key=lambda r: (r.platform, r.workload, order[r.regime], r.rep))
    latency = _latency_table(groups, measured, seed)
    cold = _cold_table(groups, measured, forder)
    cost, cost_by_function = _cost_tables(groups, costs, req_costs, seed)
    starts = start_classes_table(groups, measured, forder)
    provenance, packages = provenance_tables(runs_sorted)
    reliability, fault_events = reliability_tables(runs)
    return {
        "runs": _runs_table(runs_sorted, measured),
        "latency": latency,
        "cold_starts": cold,
        "cost": cost,
        "cost_by_function": cost_by_function,
        "start_classes": starts,
        "sweeps": sweeps_table(runs, latency, cost, starts),
        "pareto": pareto_table(latency, cost),
        "correctness": correctness_table(groups),
        "reliability": reliability,
        "fault_events": fault_events,
        "starters": starters_table(groups, measured, latency, cost, seed),
        "comparisons": comparisons_table(groups, measured, cost, seed),
        "policies": policies_table(runs, forder, regime_order(runs)),
        "workloads": workloads_table(runs),
        "provenance": provenance,
        "packages": packages,
        "startup": startup_table(runs, forder),
    }


def aggregate(run_paths: Iterable[str | Path], out_dir: str | Path | Iterable[str | Path],
              seed: int = 0) -> list[Path]:
    """load_runs → build_tables → write_tables: the aggregate step of the pipeline.

    ``run_paths``: run folders or files in them (``summary.json``); ``out_dir``: the tables
    folder, or the list of table files the rule declares (their folder is used)."""
    return write_tables(build_tables(load_runs(run_paths), seed=seed), as_dir(out_dir))
