"""The ``reliability`` and ``faults`` tables: what injected faults (:mod:`vsbench.faults`)
cost, from each faulted run's ``faults.parquet`` and its requests' ``fault`` column.

``reliability``: one row per run with at least one fault asked for. Faults injected by kind
and missed (a kill that found no busy replica); measured requests by terminal status; the
requests a fault hit (``hit``) and how many of those ended ok; retries spent: the
application's (gateway calls answered 429/502/503/504, which the orchestrator retries) and the
sender's (POSTs beyond the first); latency: the median of ok requests no fault hit and the
median added to the ok requests a fault hit. The most frequent failure reason (with the stage
it names) closes the row.

``faults``: one row per fault asked for: its kind, when (seconds into the run's window), how
long it lasted, its target, the requests it hit, how many of those ended ok, and the median
latency it added (ok hit requests against the run's ok requests no fault hit).
"""

from __future__ import annotations

import math

import pandas as pd

from ..workload.sender import TERMINAL

__all__ = ["RELIABILITY_COLUMNS", "FAULT_EVENT_COLUMNS", "reliability_tables"]

RETRIED_STATUS = (429, 502, 503, 504)
RELIABILITY_COLUMNS = [
    "platform", "regime", "workload", "rep", "faults_injected", "kills", "storage_outages",
    "gateway_restarts", "faults_missed", "requests", *TERMINAL, "ok_fraction", "hit", "hit_ok",
    "app_retries", "sender_retries", "p50_unhit_ms", "p50_added_ms", "top_failure"]
FAULT_EVENT_COLUMNS = [
    "platform", "regime", "workload", "rep", "fault_id", "kind", "outcome", "at_s",
    "lasted_s", "function", "replica_id", "hit", "hit_ok", "p50_added_ms", "error"]


def _median(s: pd.Series) -> float:
    s = pd.to_numeric(s, errors="coerce").dropna()
    return float(s.median()) if len(s) else math.nan


def _requests(run) -> pd.DataFrame:
    req = run.archive["requests"]
    req = req[~req["warmup"].astype(object).where(req["warmup"].notna(), False).astype(bool)]
    req = req.copy()
    for col, default in (("fault", None), ("attempts", 1)):
        if col not in req:
            req[col] = default
    return req


def _top_failure(req: pd.DataFrame) -> str:
    failed = req[req["status"] != "ok"]["reason"].dropna().astype(str)
    if not len(failed):
        return ""
    # The reason up to its first detail (the stage and kind, not the replica's name).
    heads = failed.str.slice(0, 80)
    top = heads.value_counts()
    return f"{top.index[0]} (×{int(top.iloc[0])})"


def reliability_tables(runs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reliability, faults) over ``runs`` (:class:`.runs.Run`); runs without faults are
    left out of both."""
    rows, events = [], []
    for r in sorted(runs, key=lambda r: (r.platform, r.regime, r.workload, r.rep)):
        faults = r.archive.get("faults")
        if not isinstance(faults, pd.DataFrame) or not len(faults):
            continue
        ident = {"platform": r.platform, "regime": r.regime, "workload": r.workload,
                 "rep": r.rep}
        req = _requests(r)
        inv = r.archive["invocations"]
        inv = inv[inv["request_id"].isin(set(req["request_id"]))]
        ok = req[req["status"] == "ok"]
        unhit = _median(ok.loc[ok["fault"].isna(), "latency_ms"])
        hit = req[req["fault"].notna()]
        injected = faults[faults["outcome"] == "injected"]
        kinds = injected["kind"].value_counts()
        counts = req["status"].value_counts()
        attempts = pd.to_numeric(req["attempts"], errors="coerce").fillna(1)
        rows.append({
            **ident, "faults_injected": len(injected),
            "kills": int(kinds.get("kill_replica", 0)),
            "storage_outages": int(kinds.get("storage_outage", 0)),
            "gateway_restarts": int(kinds.get("gateway_restart", 0)),
            "faults_missed": int((faults["outcome"] == "missed").sum()),
            "requests": len(req), **{s: int(counts.get(s, 0)) for s in TERMINAL},
            "ok_fraction": len(ok) / len(req) if len(req) else math.nan,
            "hit": len(hit), "hit_ok": int((hit["status"] == "ok").sum()),
            "app_retries": int(pd.to_numeric(inv["status"], errors="coerce")
                               .isin(RETRIED_STATUS).sum()),
            "sender_retries": int((attempts - 1).clip(lower=0).sum()),
            "p50_unhit_ms": unhit,
            "p50_added_ms": _median(hit.loc[hit["status"] == "ok", "latency_ms"]) - unhit,
            "top_failure": _top_failure(req)})
        t0 = (r.provenance.get("window") or [math.nan])[0]
        for f in faults.itertuples():
            mine = req[req["fault"] == f.fault_id]
            mine_ok = mine[mine["status"] == "ok"]
            events.append({
                **ident, "fault_id": f.fault_id, "kind": f.kind, "outcome": f.outcome,
                "at_s": (f.ts if pd.notna(f.ts) else f.planned_ts) - t0,
                "lasted_s": f.end_ts - f.ts if pd.notna(f.end_ts) and pd.notna(f.ts)
                else math.nan,
                "function": f.function, "replica_id": f.replica_id, "hit": len(mine),
                "hit_ok": len(mine_ok),
                "p50_added_ms": _median(mine_ok["latency_ms"]) - unhit,
                "error": f.error})
    return (pd.DataFrame(rows, columns=RELIABILITY_COLUMNS),
            pd.DataFrame(events, columns=FAULT_EVENT_COLUMNS))
