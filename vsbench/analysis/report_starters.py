"""The report's "What removes a cold start": each starter against spawn, in words the run-level
intervals decide (the ``starters`` table, :mod:`.starters`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .report_format import fmt, fmt_ci, fmt_pct, fmt_ratio, is_missing, label
from .stats import NO_DIFFERENCE

__all__ = ["starter_rows", "starter_sentences"]

_LATENCY = {"faster": "shorter", "slower": "longer", NO_DIFFERENCE: "no detectable difference"}
_COST = {"higher": "costs more", "lower": "costs less",
         NO_DIFFERENCE: "costs no detectably different amount"}
_NAMES = {"fork-server": "a fork server", "prewarm": "pre-warmed spares"}


def starter_rows(st: pd.DataFrame, multi: bool) -> list[list[str]]:
    return [[label(r, multi), r["workload"], r["starter"], r["base_regime"] or "—",
             f"{fmt_pct(r['cold_fraction'])} / {fmt_pct(r['base_cold_fraction'])}",
             f"{fmt(r['p50_ms'])} / {fmt(r['base_p50_ms'])}",
             fmt_ci(r["p50_ratio"], r["p50_ratio_low"], r["p50_ratio_high"], fmt_ratio),
             fmt_ci(r["p99_ratio"], r["p99_ratio_low"], r["p99_ratio_high"], fmt_ratio),
             f"{fmt(r['total_gb_s_per_ok'])} / {fmt(r['base_total_gb_s_per_ok'])}",
             fmt(r["held_gb_s_per_ok"])]
            for _, r in st.iterrows()]


def _one(r: Any, multi: bool) -> str:
    name = _NAMES.get(r["starter"], r["starter"])
    if not r["base_regime"]:
        return (f"Under {r['workload']}, {label(r, multi)} starts replicas with {name}, but no "
                "regime of this study differs from it only by spawning them: nothing to set "
                "it against.")
    p50 = _LATENCY.get(r["p50_verdict"], r["p50_verdict"])
    p99 = _LATENCY.get(r["p99_verdict"], r["p99_verdict"])
    held = ("" if is_missing(r["held_gb_s_per_ok"]) else
            f", {fmt(r['held_gb_s_per_ok'])} GB-s of it the starter's own memory")
    return (f"Under {r['workload']}, {name} ({label(r, multi)} against {r['base_regime']}): "
            f"median latency {p50} (ratio "
            f"{fmt_ci(r['p50_ratio'], r['p50_ratio_low'], r['p50_ratio_high'], fmt_ratio)}), "
            f"p99 {p99} ({fmt_ci(r['p99_ratio'], r['p99_ratio_low'], r['p99_ratio_high'], fmt_ratio)}); "  # noqa: E501
            f"cold requests {fmt_pct(r['cold_fraction'])} against "
            f"{fmt_pct(r['base_cold_fraction'])}; it {_COST.get(r['cost_verdict'], '')} per "
            f"ok request ({fmt(r['total_gb_s_per_ok'])} against "
            f"{fmt(r['base_total_gb_s_per_ok'])} GB-s{held}).")


def starter_sentences(st: pd.DataFrame, multi: bool) -> list[str]:
    return [_one(r, multi) for _, r in st.iterrows()]
