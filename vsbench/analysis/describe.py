"""The study's descriptive tables: each regime's policies, each workload, and every run's
provenance and package versions."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .runs import Run
from .sweeps import timeout_value

__all__ = ["policies_table", "workloads_table", "provenance_tables", "POLICY_COLUMNS",
           "WORKLOAD_COLUMNS", "PROVENANCE_COLUMNS", "PACKAGE_COLUMNS"]

POLICY_FIELDS = ("min_replicas", "max_replicas", "target_inflight", "max_inflight",
                 "idle_timeout_s", "queue_timeout_s", "memory_mb")
POLICY_COLUMNS = ["platform", "regime", "function", *POLICY_FIELDS]
WORKLOAD_COLUMNS = ["workload", "pattern", "duration_s", "scheduled_requests", "params",
                    "description"]
PROVENANCE_COLUMNS = [
    "platform", "regime", "workload", "rep", "git_commit", "git_dirty", "hostname", "os",
    "cpu_model", "cpu_count", "memory_gb", "python", "s3", "s3_version", "video", "query",
    "warmup_requests", "started_ts", "ended_ts", "schedule_fingerprint"]
PACKAGE_COLUMNS = ["package", "version", "runs"]


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def policies_table(runs: list[Run], forder: dict[str, int], regimes: list[str]) -> pd.DataFrame:
    """Every regime's policy per function (``regimes``: the regimes in table order)."""
    order = {g: i for i, g in enumerate(regimes)}
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
                row[k] = timeout_value(v) if k == "idle_timeout_s" else (
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


def workloads_table(runs: list[Run]) -> pd.DataFrame:
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


def provenance_tables(runs: list[Run]) -> tuple[pd.DataFrame, pd.DataFrame]:
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
