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
``startup`` (cold-start components per platform and function, :mod:`.startup`). Column lists
are the ``*_COLUMNS`` constants.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..archive import load_archive
from ..study import is_sweep
from ..workload.sender import TERMINAL as STATUSES
from .cost import request_costs, run_cost
from .starts import START_CLASS_COLUMNS, request_starts, start_classes_table
from .startup import STARTUP_COLUMNS, startup_table
from .stats import (
    cluster_compare,
    cluster_percentile_ci,
    cluster_ratio_ci,
    compare,
    fraction_ci,
    overlap,
    percentile_ci,
)
from .sweeps import PARETO_COLUMNS, SWEEP_COLUMNS, pareto_table, sweeps_table
from .sweeps import main_policy as _main_policy
from .sweeps import timeout_value as _timeout

__all__ = ["Run", "load_runs", "build_tables", "write_tables", "read_tables", "aggregate",
           "as_dir", "regime_order", "is_sweep", "TABLE_COLUMNS", "STATUSES"]

POLICY_FIELDS = ("min_replicas", "max_replicas", "target_inflight", "max_inflight",
                 "idle_timeout_s", "queue_timeout_s", "memory_mb")
GROUP = ["platform", "regime", "workload"]

RUNS_COLUMNS = [
    "platform", "regime", "workload", "rep", "scheduled", *STATUSES, "invocations", "replicas",
    "cold_requests", "cold_request_fraction", "cold_orchestrator_fraction", "window_s",
    "cpu_percent_mean", "load1_max", "mem_used_mb_max", "complete"]
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
COMPARISON_COLUMNS = [
    "platform", "workload", "regime_a", "regime_b", "reps_a", "reps_b", "n_a", "n_b",
    "median_a_ms", "median_b_ms", "median_ratio", "median_ratio_low", "median_ratio_high",
    "latency_verdict", "cliffs_delta", "magnitude", "p_value", "p99_a_ms", "p99_b_ms",
    "total_gb_s_per_ok_a", "total_gb_s_per_ok_b", "cost_ratio", "cost_verdict"]
POLICY_COLUMNS = ["platform", "regime", "function", *POLICY_FIELDS]
WORKLOAD_COLUMNS = ["workload", "pattern", "duration_s", "scheduled_requests", "params",
                    "description"]
PROVENANCE_COLUMNS = [
    "platform", "regime", "workload", "rep", "git_commit", "git_dirty", "hostname", "os",
    "cpu_model", "cpu_count", "memory_gb", "python", "s3", "s3_version", "video", "query",
    "warmup_requests", "started_ts", "ended_ts", "schedule_fingerprint"]
PACKAGE_COLUMNS = ["package", "version", "runs"]

TABLE_COLUMNS: dict[str, list[str]] = {
    "runs": RUNS_COLUMNS, "latency": LATENCY_COLUMNS, "cold_starts": COLD_COLUMNS,
    "cost": COST_COLUMNS, "cost_by_function": COST_BY_FUNCTION_COLUMNS,
    "start_classes": START_CLASS_COLUMNS, "sweeps": SWEEP_COLUMNS, "pareto": PARETO_COLUMNS,
    "comparisons": COMPARISON_COLUMNS,
    "policies": POLICY_COLUMNS, "workloads": WORKLOAD_COLUMNS,
    "provenance": PROVENANCE_COLUMNS, "packages": PACKAGE_COLUMNS,
    "startup": STARTUP_COLUMNS,
}


# --- runs --------------------------------------------------------------------------------------

@dataclass
class Run:
    """One run's identity and its loaded archive (:func:`vsbench.archive.load_archive`)."""

    platform: str
    regime: str
    workload: str
    rep: int
    path: Path
    archive: dict[str, Any] = field(repr=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.platform, self.regime, self.workload)

    @property
    def provenance(self) -> dict[str, Any]:
        return self.archive.get("provenance") or {}

    @property
    def policies(self) -> dict[str, dict[str, Any]]:
        return ((self.provenance.get("config") or {}).get("regime") or {})


def _from_path(path: Path) -> dict[str, Any]:
    """platform/regime/workload/rep from ``…/{platform}/{regime}/{workload}/rep{K}``."""
    parts = path.resolve().parts
    out: dict[str, Any] = {}
    if len(parts) >= 4 and parts[-1].startswith("rep"):
        out = {"platform": parts[-4], "regime": parts[-3], "workload": parts[-2]}
        try:
            out["rep"] = int(parts[-1][3:])
        except ValueError:
            pass
    return out


def load_runs(paths: Iterable[str | Path]) -> list[Run]:
    """Load run archives (a run's folder, or any file inside it such as ``summary.json``).

    Identity comes from ``provenance.json`` (falling back to the folder names). Sorted by
    platform, regime, workload, rep.
    """
    runs = []
    for p in paths:
        path = Path(p)
        if path.is_file():
            path = path.parent
        archive = load_archive(path)
        prov = archive.get("provenance") or {}
        guess = _from_path(path)
        ident = {k: prov.get(k, guess.get(k)) for k in ("platform", "regime", "workload", "rep")}
        missing = [k for k, v in ident.items() if v is None]
        if missing:
            raise ValueError(f"{path}: cannot tell the run's {', '.join(missing)} "
                             "(not in provenance.json nor in the folder names)")
        runs.append(Run(str(ident["platform"]), str(ident["regime"]), str(ident["workload"]),
                        int(ident["rep"]), path, archive))
    return sorted(runs, key=lambda r: (r.platform, r.regime, r.workload, r.rep))


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
            "invocations": len(inv), "replicas": len(r.archive["replicas"]),
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
        })
    return _frame(rows, RUNS_COLUMNS)


def _ok_latencies(runs: list[Run], measured) -> list[np.ndarray]:
    """One array per run: its ok requests' latencies (the clusters of the bootstrap)."""
    out = []
    for r in runs:
        req = measured[id(r)][0]
        out.append(_num(req.loc[req["status"] == "ok", "latency_ms"]).dropna().to_numpy())
    return out


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
            **_percentiles(_ok_latencies(runs, measured), seed),
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
        reps = pd.concat([r.archive["replicas"].assign(_lo=(r.provenance.get("window")
                                                             or [-math.inf])[0])
                          for r in runs], ignore_index=True)
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


def _comparisons_table(groups, measured, cost: pd.DataFrame, seed: int) -> pd.DataFrame:
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
            return "no detectable difference"
        a, b = (ca.total_gb_s_per_ok_low, ca.total_gb_s_per_ok_high), (
            cb.total_gb_s_per_ok_low, cb.total_gb_s_per_ok_high)
        if overlap(a, b):
            return "no detectable difference"
        return "higher" if a[0] > b[1] else "lower"

    rows = []
    for (platform, workload), regimes in by_pw.items():
        for ra, rb in itertools.combinations(regimes, 2):
            ka, kb = (platform, ra, workload), (platform, rb, workload)
            la, lb = _ok_latencies(groups[ka], measured), _ok_latencies(groups[kb], measured)
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
    return _frame(rows, COMPARISON_COLUMNS)


def _policies_table(runs: list[Run], forder: dict[str, int]) -> pd.DataFrame:
    order = {g: i for i, g in enumerate(regime_order(runs))}
    seen, rows = set(), []
    for r in sorted(runs, key=lambda r: (r.platform, order[r.regime], r.workload, r.rep)):
        if (r.platform, r.regime) in seen:
            continue
        seen.add((r.platform, r.regime))
        for f in sorted(r.policies, key=lambda f: (forder.get(f, len(forder)), f)):
            p = r.policies[f] or {}
            row = {"platform": r.platform, "regime": r.regime, "function": f}
            for k in POLICY_FIELDS:
                v = p.get(k)
                row[k] = _timeout(v) if k == "idle_timeout_s" else (
                    float(v) if v is not None else math.nan)
            rows.append(row)
    return _frame(rows, POLICY_COLUMNS)


def _relevant(pattern: Any, key: str, value: Any) -> bool:
    """Is a workload field worth showing for this pattern (not null, not another pattern's)?"""
    if value is None or value == "" or key in ("pattern", "duration_s", "description"):
        return False
    if key.startswith("trace_") or key in ("time_scale", "rate_scale"):
        return pattern == "trace"
    if key.startswith("burst_"):
        return pattern == "burst"
    return True


def _workloads_table(runs: list[Run]) -> pd.DataFrame:
    rows: dict[str, dict[str, Any]] = {}
    for r in runs:
        if r.workload in rows:
            continue
        cfg = r.provenance.get("config") or {}
        w = dict(cfg.get("workload") or {})
        params = {k: v for k, v in w.items() if _relevant(w.get("pattern"), k, v)}
        rows[r.workload] = {
            "workload": r.workload, "pattern": w.get("pattern"),
            "duration_s": float(w["duration_s"]) if w.get("duration_s") is not None
            else math.nan,
            "scheduled_requests": cfg.get("scheduled_requests",
                                          (r.archive.get("summary") or {}).get("scheduled")),
            "params": ", ".join(f"{k}={v}" for k, v in params.items()),
            "description": w.get("description") or "",
        }
    return _frame([rows[k] for k in sorted(rows)], WORKLOAD_COLUMNS)


def _provenance_tables(runs: list[Run]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, pkgs = [], {}
    for r in runs:
        p = r.provenance
        git, machine = p.get("git") or {}, p.get("machine") or {}
        exp = (p.get("config") or {}).get("experiment") or {}
        rows.append({
            "platform": r.platform, "regime": r.regime, "workload": r.workload, "rep": r.rep,
            "git_commit": git.get("commit"), "git_dirty": git.get("dirty"),
            "hostname": machine.get("hostname"), "os": machine.get("os"),
            "cpu_model": machine.get("cpu_model"), "cpu_count": machine.get("cpu_count"),
            "memory_gb": machine.get("memory_gb"), "python": machine.get("python"),
            "s3": p.get("s3"), "s3_version": p.get("s3_version"),
            "video": exp.get("video"), "query": exp.get("query"),
            "warmup_requests": exp.get("warmup_requests"), "started_ts": p.get("started_ts"),
            "ended_ts": p.get("ended_ts"),
            "schedule_fingerprint": (p.get("config") or {}).get("schedule_fingerprint"),
        })
        for name, ver in (p.get("packages") or {}).items():
            pkgs[(name, str(ver))] = pkgs.get((name, str(ver)), 0) + 1
    packages = [{"package": n, "version": v, "runs": c} for (n, v), c in sorted(pkgs.items())]
    return _frame(rows, PROVENANCE_COLUMNS), _frame(packages, PACKAGE_COLUMNS)


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
    provenance, packages = _provenance_tables(runs_sorted)
    return {
        "runs": _runs_table(runs_sorted, measured),
        "latency": latency,
        "cold_starts": cold,
        "cost": cost,
        "cost_by_function": cost_by_function,
        "start_classes": starts,
        "sweeps": sweeps_table(runs, latency, cost, starts),
        "pareto": pareto_table(latency, cost),
        "comparisons": _comparisons_table(groups, measured, cost, seed),
        "policies": _policies_table(runs, forder),
        "workloads": _workloads_table(runs),
        "provenance": provenance,
        "packages": packages,
        "startup": startup_table(runs, forder),
    }


# --- files -------------------------------------------------------------------------------------

FILE_SUFFIXES = {".csv", ".parquet", ".svg", ".json", ".html"}


def as_dir(x: str | Path | Iterable[str | Path]) -> Path:
    """A folder given as its path, or as files inside it (e.g. a Snakemake rule's list of
    table or figure files): their common parent."""
    if isinstance(x, str | Path):
        p = Path(x)
        return p.parent if p.suffix in FILE_SUFFIXES else p
    parents = {Path(p).parent for p in x}
    if len(parents) != 1:
        raise ValueError(f"expected files in one folder, got {len(parents)} folders: "
                         f"{sorted(map(str, parents))[:3]}")
    return parents.pop()


def write_tables(tables: dict[str, pd.DataFrame], out_dir: str | Path) -> list[Path]:
    """``{name}.csv`` (floats to 6 significant digits) and ``{name}.parquet`` (full precision)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in tables.items():
        csv, pq = out / f"{name}.csv", out / f"{name}.parquet"
        df.to_csv(csv, index=False, float_format="%.6g")
        df.to_parquet(pq, index=False)
        written += [csv, pq]
    (out / "tables.json").write_text(json.dumps(
        {name: list(df.columns) for name, df in tables.items()}, indent=1) + "\n")
    return written + [out / "tables.json"]


def read_tables(tables_dir: str | Path) -> dict[str, pd.DataFrame]:
    """The tables written by :func:`write_tables` (Parquet); absent ones are left out."""
    d = as_dir(tables_dir)
    return {p.stem: pd.read_parquet(p) for p in sorted(d.glob("*.parquet"))}


def aggregate(run_paths: Iterable[str | Path], out_dir: str | Path | Iterable[str | Path],
              seed: int = 0) -> list[Path]:
    """load_runs → build_tables → write_tables: the aggregate step of the pipeline.

    ``run_paths``: run folders or files in them (``summary.json``); ``out_dir``: the tables
    folder, or the list of table files the rule declares (their folder is used)."""
    return write_tables(build_tables(load_runs(run_paths), seed=seed), as_dir(out_dir))
