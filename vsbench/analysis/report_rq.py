"""Rows of the report's RQ2/RQ3 tables: sweeps, start classes, the Pareto frontier and
correctness (every number formatted by :mod:`.report_format`)."""

from __future__ import annotations

import pandas as pd

from ..study import SWEEP_FACTORS
from .report_format import fmt, fmt_ci, fmt_int, fmt_pct, fmt_timeout, label
from .sweeps import LATENCIES

__all__ = ["sweep_rows", "start_class_rows", "pareto_rows", "correctness_rows", "FACTOR_NAMES",
           "fmt_value", "reliability_rows", "fault_event_rows"]

FACTOR_NAMES = {"min_replicas": "min replicas", "max_replicas": "max replicas",
                "idle_timeout_s": "idle timeout"}


def fmt_value(factor: str, v) -> str:
    return fmt_timeout(v) if factor == "idle_timeout_s" else fmt_int(v)


def sweep_rows(sw: pd.DataFrame, multi: bool) -> list[list[str]]:
    order = {f: i for i, f in enumerate(SWEEP_FACTORS)}
    sw = sw.assign(_o=sw["factor"].map(order)).sort_values(
        ["platform", "workload", "_o", "value"], kind="stable")
    return [[FACTOR_NAMES.get(r["factor"], r["factor"]),
             fmt_value(r["factor"], r["value"]) + (" (base)" if r["is_base"] else ""),
             label(r, multi), r["workload"], fmt_int(r["reps"]), fmt_int(r["n"]),
             fmt_ci(r["cold_request_fraction"], r["cold_request_fraction_low"],
                    r["cold_request_fraction_high"], fmt_pct),
             fmt_pct(r["scale_from_zero_fraction"]), fmt_pct(r["scale_out_fraction"]),
             fmt_ci(r["p50_ms"], r["p50_low_ms"], r["p50_high_ms"]),
             fmt_ci(r["p99_ms"], r["p99_low_ms"], r["p99_high_ms"]),
             fmt_ci(r["total_gb_s_per_ok"], r["total_gb_s_per_ok_low"],
                    r["total_gb_s_per_ok_high"]),
             fmt_pct(r["tail_share"])]
            for _, r in sw.iterrows()]


def start_class_rows(sc: pd.DataFrame, multi: bool) -> list[list[str]]:
    """Per regime and workload: requests, then each function, by start class."""
    rows = []
    for _, r in sc.iterrows():
        rows.append([label(r, multi), r["workload"], r["level"], fmt_int(r["n"]),
                     *[fmt_ci(r[f"{c}_fraction"], r[f"{c}_low"], r[f"{c}_high"], fmt_pct)
                       for c in ("warm", "scale_from_zero", "scale_out")],
                     fmt_int(r["unclassified"]) if r["unclassified"] else ""])
    return rows


def pareto_rows(p: pd.DataFrame, multi: bool) -> list[list[str]]:
    """The frontier (p50 or p99) of every platform and workload, then what is dominated."""
    rows = []
    for _, r in p.iterrows():
        on = [m for m in LATENCIES if r[f"frontier_{m}"]]
        decided = "; ".join(f"{m}: {r[f'decided_by_{m}']}" for m in LATENCIES
                            if r[f"decided_by_{m}"])
        dominated = "; ".join(f"{m}: {r[f'dominated_by_{m}']}" for m in LATENCIES
                              if r[f"dominated_by_{m}"])
        rows.append([r["workload"], label(r, multi), ", ".join(on) or "—",
                     fmt_ci(r["p50_ms"], r["p50_low_ms"], r["p50_high_ms"]),
                     fmt_ci(r["p99_ms"], r["p99_low_ms"], r["p99_high_ms"]),
                     fmt_ci(r["total_gb_s_per_ok"], r["total_gb_s_per_ok_low"],
                            r["total_gb_s_per_ok_high"]),
                     dominated or "—", decided or "—"])
    rows.sort(key=lambda row: (row[0], row[2] == "—"))
    return rows


def correctness_rows(c: pd.DataFrame, multi: bool) -> list[list[str]]:
    return [[label(r, multi), r["workload"], f"{fmt_int(r['scored'])}/{fmt_int(r['ok_requests'])}",
             fmt_pct(r["clips_recall"]), fmt_pct(r["boundary_ok_fraction"]),
             fmt(r["start_err_mean_s"]), fmt(r["end_err_mean_s"]), fmt(r["end_err_min_s"]),
             fmt_pct(r["last_word_present_fraction"]), fmt(r["wer"]),
             fmt_pct(r["labels_recall"]), fmt_pct(r["query_hit_ok"]),
             (f"yes: {fmt_int(r['differing_requests'])} request(s)" if r["differs"] else "no")]
            for _, r in c.iterrows()]


def reliability_rows(rel: pd.DataFrame, multi: bool) -> list[list[str]]:
    """Per faulted run: faults, terminal statuses, hit requests, retries, added latency."""
    rows = []
    for _, r in rel.iterrows():
        faults = ", ".join(f"{fmt_int(r[c])} {n}" for c, n in (
            ("kills", "kills"), ("storage_outages", "outages"),
            ("gateway_restarts", "restarts"), ("faults_missed", "missed")) if r[c])
        rows.append([label(r, multi), r["workload"], fmt_int(r["rep"]), faults or "none",
                     fmt_int(r["requests"]), fmt_pct(r["ok_fraction"]),
                     " / ".join(fmt_int(r[s]) for s in ("app_error", "http_error", "timeout",
                                                        "dropped")),
                     f"{fmt_int(r['hit_ok'])}/{fmt_int(r['hit'])}",
                     f"{fmt_int(r['app_retries'])} + {fmt_int(r['sender_retries'])}",
                     fmt(r["p50_unhit_ms"]), fmt(r["p50_added_ms"]),
                     str(r["top_failure"] or "—")])
    return rows


def fault_event_rows(ev: pd.DataFrame, multi: bool) -> list[list[str]]:
    """Faults that lasted (outages, restarts) and missed kills; kills are summed per run."""
    if not len(ev):
        return []
    keep = ev[(ev["kind"] != "kill_replica") | (ev["outcome"] != "injected")]
    return [[label(r, multi), r["workload"], fmt_int(r["rep"]), r["kind"], r["outcome"],
             fmt(r["at_s"]), fmt(r["lasted_s"]), f"{fmt_int(r['hit_ok'])}/{fmt_int(r['hit'])}",
             fmt(r["p50_added_ms"]), str(r["error"] or "")]
            for _, r in keep.iterrows()]
