"""The study's report: one self-contained HTML file (figures inlined as SVG).

:func:`render_report` fills ``paper/template.html.j2`` from the tables written by
:func:`vsbench.analysis.tables.write_tables` and the figures of
:func:`vsbench.analysis.plots.make_figures`. Every number in the report is computed here from
those tables (or from the runs' provenance) and formatted with :func:`fmt` / :func:`fmt_pct` /
:func:`fmt_ratio`; the template holds no measured number. Sentences that draw a conclusion
(the guidelines) are chosen by the sign of the measured difference, never written in advance.
A missing table, figure or row makes its section say what is missing instead of failing.

:func:`render_pdf` converts the HTML to PDF when weasyprint, or pandoc with a LaTeX engine, is
installed; otherwise it raises :class:`RuntimeError` naming what is missing.
"""

from __future__ import annotations

import html
import json
import math
import re
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..study import split_platform_label
from .plots import FIGURES
from .tables import (
    TABLE_COLUMNS,
    Run,
    _policies_table,
    _provenance_tables,
    _workloads_table,
    as_dir,
    is_sweep,
    read_tables,
)

__all__ = ["render_report", "render_pdf", "report_context", "fmt", "fmt_pct", "fmt_ratio",
           "fmt_ci", "fmt_timeout", "TEMPLATE", "CAPTIONS"]

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "paper" / "template.html.j2"
CAPTIONS = REPO / "report"
CI_LEVEL = 95  # the confidence level the tables were built with (stats defaults)
NA = "n/a"

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
THREATS_PROCESS = (
    "Replicas are operating-system processes on one machine, not containers or pods: a cold "
    "start here is process start, imports and handler init, without image pull, sandbox or "
    "network set-up, so absolute cold-start times are lower bounds of a cloud platform's.")
THREATS_CONTAINER = (
    "Container replicas run from images already in the local store (nothing is pulled) on the "
    "host's network (no network namespace or port mapping), through the podman CLI with runc: "
    "their cold starts contain the engine's create and start and the container's set-up, but "
    "not an image pull, pod sandbox or CNI set-up as on Kubernetes.")

THREATS_KUBERNETES = (
    "Kubernetes replicas are pods of a local single-node cluster (Kubernetes built from its "
    "release's Go modules, containerd 1.6, runc, a CNI bridge) on the same two cores as the "
    "gateway, the object store and the control plane; images are imported, never pulled, and "
    "the gateway routes to a pod once its own probe of the runtime answers (not after the "
    "kubelet's 1 s readiness period), so cold starts contain scheduling, the pod sandbox and "
    "CNI set-up but no image pull, no kube-proxy or DNS hop, and no multi-node placement.")


# --- formatting --------------------------------------------------------------------------------

def _bad(x: Any) -> bool:
    if x is None or x is pd.NA:
        return True
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def fmt(x: Any, sig: int = 3) -> str:
    """A measured number: thousands separators from 1000, whole numbers from 100, otherwise
    ``sig`` significant digits; NaN/None → ``n/a``; inf → ``∞``."""
    if _bad(x):
        return NA
    x = float(x)
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if x == 0:
        return "0"
    return f"{x:.{sig}g}"


def fmt_pct(frac: Any) -> str:
    """A fraction as a percentage with one decimal (0.0625 → ``6.2%``)."""
    return NA if _bad(frac) else f"{100 * float(frac):.1f}%"


def fmt_ratio(x: Any) -> str:
    return NA if _bad(x) else f"{float(x):.2f}×"


def fmt_ci(est: Any, low: Any, high: Any, f=fmt) -> str:
    if _bad(est):
        return NA
    if _bad(low) or _bad(high):
        return f(est)
    return f"{f(est)} [{f(low)}, {f(high)}]"


def fmt_timeout(x: Any) -> str:
    if _bad(x):
        return NA
    return "never" if math.isinf(float(x)) else f"{fmt(x)} s"


def _int(x: Any) -> str:
    return NA if _bad(x) else f"{int(round(float(x))):,}"


def _p(x: Any) -> str:
    if _bad(x):
        return NA
    return "< 0.001" if float(x) < 0.001 else f"{float(x):.3f}"


# --- inputs ------------------------------------------------------------------------------------

def _load_tables(tables_dir: str | Path | None) -> dict[str, pd.DataFrame]:
    if tables_dir is None or not as_dir(tables_dir).is_dir():
        return {}
    return read_tables(tables_dir)


def _tables_from_archives(root: Path) -> dict[str, pd.DataFrame]:
    """policies / workloads / provenance / packages from the runs' provenance.json files."""
    runs = []
    for prov_path in sorted(Path(root).rglob("provenance.json")):
        prov = json.loads(prov_path.read_text())
        summ = prov_path.parent / "summary.json"
        if not all(k in prov for k in ("platform", "regime", "workload", "rep")):
            continue
        runs.append(Run(str(prov["platform"]), str(prov["regime"]), str(prov["workload"]),
                        int(prov["rep"]), prov_path.parent,
                        {"provenance": prov,
                         "summary": json.loads(summ.read_text()) if summ.exists() else {}}))
    if not runs:
        return {}
    forder: dict[str, int] = {}
    for r in runs:
        for f in r.provenance.get("functions") or list(r.policies):
            forder.setdefault(f, len(forder))
    provenance, packages = _provenance_tables(runs)
    return {"policies": _policies_table(runs, forder), "workloads": _workloads_table(runs),
            "provenance": provenance, "packages": packages}


_SVG_HEAD = re.compile(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<metadata>.*?</metadata>", re.S)


def _inline_svg(path: Path, prefix: str) -> str | None:
    """The SVG's markup for inlining: no XML prolog or metadata, ids prefixed so several
    figures in one page cannot clash."""
    if not path.is_file():
        return None
    text = _SVG_HEAD.sub("", path.read_text()).strip()
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)
    text = re.sub(r"<svg\b", f'<svg role="img" aria-label="{prefix} figure"', text, count=1)
    return text


def _caption(name: str) -> str:
    """The figure's caption, from report/{name}.rst (RST markup stripped to plain text)."""
    p = CAPTIONS / f"{name}.rst"
    if not p.is_file():
        return ""
    text = " ".join(p.read_text().split())
    text = re.sub(r":\w+:`([^`]*)`", r"\1", text)
    return text.replace("``", "").replace("**", "").replace("*", "")


# --- helpers over tables -----------------------------------------------------------------------

def _wmean(values: pd.Series, weights: pd.Series) -> float:
    v = pd.to_numeric(values, errors="coerce")
    w = pd.to_numeric(weights, errors="coerce").fillna(0)
    m = v.notna() & (w > 0)
    return float((v[m] * w[m]).sum() / w[m].sum()) if m.any() else math.nan


def _label(row: Any, multi_platform: bool) -> str:
    return f"{row['platform']}/{row['regime']}" if multi_platform else str(row["regime"])


def _summarise(values: dict[str, Any], f) -> str:
    """One policy field over the functions: the common value, exceptions in parentheses."""
    if not values:
        return NA
    counts = Counter(f(v) for v in values.values())
    common = counts.most_common(1)[0][0]
    if len(counts) == 1:
        return common
    if f is _mem:
        nums = sorted(float(v) for v in values.values() if not _bad(v))
        return f"{fmt(nums[0])}–{fmt(nums[-1])} MB" if nums else NA
    others = [f"{fn}: {f(v)}" for fn, v in values.items() if f(v) != common]
    return f"{common} ({'; '.join(others)})"


def _mem(v: Any) -> str:
    return NA if _bad(v) else f"{fmt(v)} MB"


def _main_min(policies: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(platform, regime) → the orchestrator's (else first function's) min_replicas."""
    out = {}
    for (pl, reg), d in policies.groupby(["platform", "regime"], sort=False):
        row = d[d["function"] == "orchestrator"]
        row = row if len(row) else d.head(1)
        out[(pl, reg)] = float(row["min_replicas"].iloc[0])
    return out


def _oriented(comparisons: pd.DataFrame, platform: str, workload: str, a: str,
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
    inv = lambda x: 1 / x if not _bad(x) and float(x) != 0 else math.nan  # noqa: E731
    return {**r, "regime_a": a, "regime_b": b, "n_a": r["n_b"], "n_b": r["n_a"],
            "median_a_ms": r["median_b_ms"], "median_b_ms": r["median_a_ms"],
            "median_ratio": inv(r["median_ratio"]),
            "median_ratio_low": inv(r["median_ratio_high"]),
            "median_ratio_high": inv(r["median_ratio_low"]),
            "cliffs_delta": -r["cliffs_delta"] if not _bad(r["cliffs_delta"]) else math.nan,
            "p99_a_ms": r["p99_b_ms"], "p99_b_ms": r["p99_a_ms"],
            "total_gb_s_per_ok_a": r["total_gb_s_per_ok_b"],
            "total_gb_s_per_ok_b": r["total_gb_s_per_ok_a"], "cost_ratio": inv(r["cost_ratio"])}


def _change(ratio: float) -> tuple[str, str]:
    """(verb, percentage) for a ratio new/old: cut / raised / left unchanged."""
    if _bad(ratio):
        return "changed", NA
    pct = fmt(abs(1 - float(ratio)) * 100)
    if float(ratio) < 1:
        return "cut", f"{pct}%"
    if float(ratio) > 1:
        return "raised", f"{pct}%"
    return "left unchanged", "0%"


# --- sections ----------------------------------------------------------------------------------

def _method(t: dict[str, pd.DataFrame]) -> dict[str, Any]:
    runs, pol, wl, prov = t["runs"], t["policies"], t["workloads"], t["provenance"]
    out: dict[str, Any] = {"platforms": sorted(set(runs["platform"]) | set(pol["platform"]))}
    regimes = []
    for (pl, reg), d in pol.groupby(["platform", "regime"], sort=False):
        fields = {k: dict(zip(d["function"], d[k], strict=True)) for k in
                  ("min_replicas", "max_replicas", "idle_timeout_s", "target_inflight",
                   "max_inflight", "memory_mb")}
        regimes.append([pl, reg + (" (keep-alive sweep)" if is_sweep(reg) else ""),
                        _summarise(fields["min_replicas"], _int),
                        _summarise(fields["max_replicas"], _int),
                        _summarise(fields["idle_timeout_s"], fmt_timeout),
                        _summarise(fields["target_inflight"], _int),
                        _summarise(fields["max_inflight"], _int),
                        _summarise(fields["memory_mb"], _mem)])
    out["regimes"] = regimes
    out["workloads"] = [[w.workload, w.pattern or NA, fmt_timeout(w.duration_s),
                         _int(w.scheduled_requests), w.params or "—"]
                        for w in wl.itertuples()]
    if len(runs):
        reps = runs.groupby(["platform", "regime", "workload"])["rep"].nunique()
        out["n_runs"] = _int(len(runs))
        out["n_cells"] = _int(len(reps))
        out["reps"] = (_int(reps.min()) if reps.min() == reps.max()
                       else f"{_int(reps.min())}–{_int(reps.max())}")
        out["complete"] = _int(runs["complete"].astype(bool).sum())
        out["scheduled"] = _int(runs["scheduled"].sum())
        out["ok"] = _int(runs["ok"].sum())
        failed = {s: _int(runs[s].sum()) for s in ("app_error", "http_error", "timeout",
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


def _stage_rows(t: dict[str, pd.DataFrame]) -> list[list[str]]:
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
        rows.append([f, STAGE_ROLES.get(f, ""), _mem(d["memory_mb"].median()),
                     fmt(d["invocations"].sum() / n_req if n_req else math.nan),
                     fmt(_wmean(d["exec_mean_ms"], d["invocations"])),
                     fmt(_wmean(d["storage_mean_ms"], d["invocations"])),
                     fmt(_wmean(d["bytes_in_mean"], d["invocations"]) / 1024),
                     fmt(_wmean(d["bytes_out_mean"], d["invocations"]) / 1024),
                     _int(d["replicas"].sum()),
                     fmt(_wmean(d["import_mean_ms"], d["replicas"])),
                     fmt(_wmean(d["init_mean_ms"], d["replicas"])),
                     fmt(_wmean(d["startup_mean_ms"], d["replicas"]))])
    return rows


def _latency_rows(lat: pd.DataFrame, multi: bool) -> list[list[str]]:
    return [[_label(r, multi), r["workload"], _int(r["reps"]), _int(r["n"]),
             fmt_ci(r["p50_ms"], r["p50_low_ms"], r["p50_high_ms"]),
             fmt_ci(r["p90_ms"], r["p90_low_ms"], r["p90_high_ms"]),
             fmt_ci(r["p99_ms"], r["p99_low_ms"], r["p99_high_ms"]),
             fmt(r["mean_ms"]),
             fmt_ci(r["cold_fraction"], r["cold_fraction_low"], r["cold_fraction_high"],
                    fmt_pct),
             fmt(r["p50_cold_ms"]), fmt(r["p50_warm_ms"])]
            for _, r in lat.iterrows()]


def _comparison_rows(cmp: pd.DataFrame, multi: bool) -> list[list[str]]:
    rows = []
    for _, r in cmp.iterrows():
        pre = f"{r['platform']}/" if multi else ""
        rows.append([r["workload"], f"{pre}{r['regime_a']}", f"{pre}{r['regime_b']}",
                     fmt(r["median_a_ms"]), fmt(r["median_b_ms"]),
                     fmt_ci(r["median_ratio"], r["median_ratio_low"], r["median_ratio_high"],
                            fmt_ratio),
                     f"{fmt(r['cliffs_delta'])} ({r['magnitude']})", _p(r["p_value"]),
                     fmt_ratio(r["cost_ratio"])])
    return rows


def _cold_pivot(cs: pd.DataFrame, multi: bool) -> tuple[list[str], list[list[str]]]:
    if cs.empty:
        return [], []
    cs = cs.copy()
    cs["col"] = [f"{_label(r, multi)} · {r['workload']}" for _, r in cs.iterrows()]
    cols = list(dict.fromkeys(cs["col"]))
    rows = []
    for f, d in cs.groupby("function", sort=False):
        d = d.set_index("col")
        rows.append([f] + [f"{fmt_pct(d.loc[c, 'cold_fraction'])} "
                           f"({_int(d.loc[c, 'cold'])}/{_int(d.loc[c, 'invocations'])})"
                           if c in d.index else "—" for c in cols])
    return cols, rows


def _cold_sentences(lat: pd.DataFrame, cs: pd.DataFrame, multi: bool) -> list[str]:
    out = []
    for _, r in lat.iterrows():
        d = cs[(cs["platform"] == r["platform"]) & (cs["regime"] == r["regime"])
               & (cs["workload"] == r["workload"])]
        s = (f"Under {_label(r, multi)} ({r['workload']}), {fmt_pct(r['cold_fraction'])} of "
             f"the ok requests had at least one cold invocation")
        d = d[pd.to_numeric(d["cold"], errors="coerce") > 0]
        if len(d):
            top = d.loc[pd.to_numeric(d["cold_fraction"]).idxmax()]
            s += (f"; the stage most often cold was {top['function']} "
                  f"({fmt_pct(top['cold_fraction'])} of its "
                  f"{_int(top['invocations'])} invocations, a cold call waited "
                  f"{fmt(top['cold_queue_mean_ms'])} ms on average for its replica)")
        else:
            s += "; no invocation was cold"
        out.append(s + ".")
    return out


def _startup_rows(st: pd.DataFrame) -> list[list[str]]:
    return [[r.function, r.platform, _int(r.replicas), fmt(r.provision_ms),
             fmt(r.engine_create_ms), fmt(r.engine_start_ms), fmt(r.runtime_up_ms),
             fmt(r.import_ms), fmt(r.init_ms), fmt(r.other_ms), fmt(r.ready_ms)]
            for r in st.itertuples()]


def _startup_summary(st: pd.DataFrame) -> list[str]:
    """Per platform against the embedded one: how much longer (or shorter) a replica's start
    was, median over the functions both started (words follow the sign of the data)."""
    if st is None or st.empty or st["platform"].nunique() < 2:
        return []
    platforms = list(dict.fromkeys(st["platform"]))
    base = "embedded" if "embedded" in platforms else platforms[0]
    out = []
    for pl in platforms:
        if pl == base:
            continue
        a = st[st["platform"] == base].set_index("function")
        b = st[st["platform"] == pl].set_index("function")
        common = a.index.intersection(b.index)
        if not len(common):
            continue
        parts = []
        for col, what in (("provision_ms", "to provision (spawn → its process started)"),
                          ("ready_ms", "from spawn to ready")):
            d = (pd.to_numeric(b.loc[common, col], errors="coerce")
                 - pd.to_numeric(a.loc[common, col], errors="coerce")).dropna()
            if len(d):
                m = float(d.median())
                parts.append(f"{fmt(abs(m))} ms {'longer' if m >= 0 else 'shorter'} {what}")
        if parts:
            out.append(f"Against {base}, a replica on {pl} took a median "
                       f"{' and '.join(parts)}, over the {len(common)} "
                       f"function{'s' if len(common) != 1 else ''} both started.")
    return out


def _keepalive_rows(ka: pd.DataFrame, multi: bool) -> list[list[str]]:
    return [[(f"{r['platform']}/" if multi else "") + str(r["regime"]),
             r["base_regime"] or "—", r["workload"], fmt_timeout(r["idle_timeout_s"]),
             _int(r["n"]),
             fmt_ci(r["cold_request_fraction"], r["cold_request_fraction_low"],
                    r["cold_request_fraction_high"], fmt_pct),
             fmt_pct(r["cold_invocation_fraction"]), fmt(r["p50_ms"]), fmt(r["p99_ms"]),
             fmt(r["idle_gb_s_per_ok"]), fmt(r["total_gb_s_per_ok"])]
            for _, r in ka.iterrows()]


def _cost_rows(cost: pd.DataFrame, multi: bool) -> list[list[str]]:
    return [[_label(r, multi), r["workload"], _int(r["ok_requests"]),
             fmt(r["active_gb_s_per_ok"]), fmt(r["idle_gb_s_per_ok"]),
             fmt(r["total_gb_s_per_ok"]), fmt(r["provisioned_gb_s_per_ok"]),
             fmt(r["fave_units_per_ok"]), fmt(r["usd_per_1k_ok"]), fmt_pct(r["idle_share"])]
            for _, r in cost.iterrows()]


def _idle_sentences(cost: pd.DataFrame, byf: pd.DataFrame, multi: bool) -> list[str]:
    out = []
    c = cost[pd.to_numeric(cost["idle_share"], errors="coerce").notna()]
    if len(c):
        lo = c.loc[pd.to_numeric(c["idle_share"]).idxmin()]
        hi = c.loc[pd.to_numeric(c["idle_share"]).idxmax()]
        if lo.name == hi.name:
            out.append(f"Idle warm capacity was {fmt_pct(hi['idle_share'])} of the GB-s under "
                       f"{_label(hi, multi)} ({hi['workload']}).")
        else:
            out.append(f"Idle warm capacity made up between {fmt_pct(lo['idle_share'])} "
                       f"({_label(lo, multi)}, {lo['workload']}) and "
                       f"{fmt_pct(hi['idle_share'])} ({_label(hi, multi)}, {hi['workload']}) "
                       "of the GB-s, which a per-execution bill (and the FAVE unit) omits.")
    for (pl, reg, w), d in byf.groupby(["platform", "regime", "workload"], sort=False):
        idle = pd.to_numeric(d["idle_gb_s"], errors="coerce")
        if idle.sum() > 0:
            top = d.loc[idle.idxmax()]
            lab = f"{pl}/{reg}" if multi else reg
            out.append(f"Under {lab} ({w}) the largest share of idle GB-s was held by "
                       f"{top['function']} ({fmt_pct(idle.max() / idle.sum())}, utilisation "
                       f"{fmt_pct(top['utilisation'])}).")
    return out


def _guidelines(t: dict[str, pd.DataFrame], stages: list[list[str]],
                multi: bool) -> list[str]:
    lat, cost, cmp, ka, pol = (t["latency"], t["cost"], t["comparisons"], t["keepalive"],
                               t["policies"])
    out = []

    # 1. Warm capacity (min_replicas >= 1) versus scale to zero.
    mins = _main_min(pol) if len(pol) else {}
    found = []
    for (pl, w), d in cmp.groupby(["platform", "workload"], sort=False):
        regs = list(dict.fromkeys(list(d["regime_a"]) + list(d["regime_b"])))
        warm = [r for r in regs if mins.get((pl, r), 0) >= 1]
        zero = [r for r in regs if (pl, r) in mins and mins[(pl, r)] == 0]
        if not warm or not zero:
            continue
        a = min(warm, key=lambda r: (mins[(pl, r)], regs.index(r)))
        row = _oriented(cmp, pl, w, a, zero[0])
        if row is None:
            continue
        verb, pct = _change(row["median_ratio"])
        n_warm = _int(mins[(pl, a)])
        cr = row["cost_ratio"]
        if not _bad(row["median_ratio"]) and row["median_ratio"] < 1 and not _bad(cr):
            lead = ("Warm capacity bought latency with GB-s" if cr > 1 else
                    "Warm capacity was better on both counts")
        elif not _bad(row["median_ratio"]) and row["median_ratio"] >= 1:
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
                    f"On {w}, {_label(fast, multi)} had both the lowest p99 latency "
                    f"({fmt(fast['p99_ms'])} ms) and the lowest GB-s per ok request "
                    f"({fmt(fast['total_gb_s_per_ok'])}): no trade-off on this workload.")
            else:
                sentences.append(
                    f"On {w}, the lowest p99 latency was under {_label(fast, multi)} "
                    f"({fmt(fast['p99_ms'])} ms at {fmt(fast['total_gb_s_per_ok'])} GB-s per "
                    f"ok request) and the lowest cost under {_label(cheap, multi)} "
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
            lambda v: not _bad(v) and math.isfinite(v))]
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


def _threats(t: dict[str, pd.DataFrame]) -> list[str]:
    runs, prov = t["runs"], t["provenance"]
    out = []
    cores = ", ".join(str(v) for v in dict.fromkeys(prov["cpu_count"].dropna())) or NA
    cpu = pd.to_numeric(runs["cpu_percent_mean"], errors="coerce").dropna()
    s = (f"One machine with {cores} CPU core(s) hosts the gateway, the S3 server, the load "
         "generator and every replica, so they compete for CPU: latency includes contention")
    if len(cpu):
        s += (f" (mean machine CPU during a run ranged from {fmt(cpu.min())}% to "
              f"{fmt(cpu.max())}%, see the load figure)")
    out.append(s + ". Experiments ran one at a time to keep runs from distorting each other.")
    videos = ", ".join(str(v) for v in dict.fromkeys(prov["video"].dropna())) or NA
    out.append(f"Requests process a synthetic corpus video (preset {videos}) with known ground "
               "truth rather than user videos; stage run times depend on the video's length "
               "and content.")
    hosts = {split_platform_label(str(p))[1] for p in runs["platform"].dropna()}
    if not hosts or "process" in hosts:
        out.append(THREATS_PROCESS)
    if "container" in hosts:
        out.append(THREATS_CONTAINER)
    if "kubernetes" in hosts:
        out.append(THREATS_KUBERNETES)
    if len(runs):
        reps = runs.groupby(["platform", "regime", "workload"])["rep"].nunique()
        ok = pd.to_numeric(runs["ok"], errors="coerce")
        out.append(f"Samples are small: {fmt(reps.min())}–{fmt(reps.max())} repetition(s) per "
                   f"cell and {fmt(ok.min())}–{fmt(ok.max())} ok requests per run, hence the "
                   "wide confidence intervals; tail percentiles (p99) of small samples are "
                   "close to the maximum.")
    out.append("Cost is modelled (GB-s from execution time and alive time × memory limit), not "
               "billed; money prices idle GB-s like active ones to make keep-alive visible.")
    return out


def _provenance(t: dict[str, pd.DataFrame]) -> dict[str, Any]:
    prov, pk = t["provenance"], t["packages"]
    out: dict[str, Any] = {}
    if len(prov):
        commits = prov.groupby("git_commit", dropna=False)["git_dirty"].agg(
            lambda s: ", ".join(sorted({str(v) for v in s})))
        out["commits"] = [[str(c) if not _bad_str(c) else NA, d, _int(
            (prov["git_commit"] == c).sum())] for c, d in commits.items()]
        ts = pd.to_numeric(prov["started_ts"], errors="coerce").dropna()
        te = pd.to_numeric(prov["ended_ts"], errors="coerce").dropna()
        if len(ts) and len(te):
            out["span"] = (f"{_utc(ts.min())} – {_utc(te.max())}")
    out["packages"] = [[r.package, str(r.version), _int(r.runs)] for r in pk.itertuples()]
    return out


def _bad_str(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M UTC")


def report_context(tables: dict[str, pd.DataFrame],
                   figures: dict[str, str | None]) -> dict[str, Any]:
    """Everything the template shows, as formatted strings (see the module docstring)."""
    t = {name: tables.get(name) if tables.get(name) is not None
         else pd.DataFrame(columns=cols) for name, cols in TABLE_COLUMNS.items()}
    missing = [n for n in TABLE_COLUMNS if tables.get(n) is None]
    multi = len(set(t["runs"]["platform"]) | set(t["latency"]["platform"])) > 1
    stages = _stage_rows(t)
    cold_cols, cold_rows = _cold_pivot(t["cold_starts"], multi)
    return {
        "title": "Serverless cold starts in VideoSearcher: latency, cold-start frequency and "
                 "cost under deployment regimes",
        "ci": CI_LEVEL,
        "missing": missing,
        "method": _method(t),
        "stages": stages,
        "functions": [[r[0], r[1], r[2]] for r in stages] or [
            [f, STAGE_ROLES.get(f, ""), _mem(d["memory_mb"].median())]
            for f, d in t["policies"].groupby("function", sort=False)],
        "latency_rows": _latency_rows(t["latency"], multi),
        "comparison_rows": _comparison_rows(t["comparisons"], multi),
        "cold_cols": cold_cols,
        "cold_rows": cold_rows,
        "cold_sentences": _cold_sentences(t["latency"], t["cold_starts"], multi),
        "keepalive_rows": _keepalive_rows(t["keepalive"], multi),
        "startup_rows": _startup_rows(t["startup"]),
        "startup_summary": _startup_summary(t["startup"]),
        "cost_rows": _cost_rows(t["cost"], multi),
        "idle_sentences": _idle_sentences(t["cost"], t["cost_by_function"], multi),
        "guidelines": _guidelines(t, stages, multi),
        "threats": _threats(t),
        "provenance": _provenance(t),
        "figures": figures,
        "captions": {name: _caption(name) for name in FIGURES},
        "workflow": _caption("workflow"),
    }


def render_report(tables_dir, figures_dir, out_html: str | Path,
                  archive_root: str | Path | None = None,
                  template: str | Path | None = None) -> Path:
    """Render the HTML report to ``out_html``.

    ``tables_dir`` / ``figures_dir``: folders, or lists of the files in them (a Snakemake
    rule's inputs), or None. ``archive_root`` (e.g. ``results/raw``) is read only to recover
    the provenance tables (policies, workloads, machine, packages) when the tables lack them.
    ``template`` defaults to ``paper/template.html.j2``."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    tables = _load_tables(tables_dir)
    if archive_root is not None and Path(archive_root).is_dir():
        for name, df in _tables_from_archives(Path(archive_root)).items():
            if tables.get(name) is None or tables[name].empty:
                tables[name] = df
    fdir = as_dir(figures_dir) if figures_dir is not None else None
    figures = {name: _inline_svg(fdir / f"{name}.svg", name) if fdir else None
               for name in FIGURES}
    tpl = Path(template) if template else TEMPLATE
    env = Environment(loader=FileSystemLoader(str(tpl.parent)), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    text = env.get_template(tpl.name).render(**report_context(tables, figures))
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out


def render_pdf(out_html: str | Path, out_pdf: str | Path) -> Path:
    """HTML → PDF with weasyprint, else pandoc + a LaTeX engine; RuntimeError when neither."""
    out_html, out_pdf = Path(out_html), Path(out_pdf)
    try:
        import weasyprint  # type: ignore[import-not-found]
    except ImportError:
        weasyprint = None
    if weasyprint is not None:
        weasyprint.HTML(filename=str(out_html)).write_pdf(str(out_pdf))
        return out_pdf
    engine = next((e for e in ("xelatex", "lualatex", "pdflatex") if shutil.which(e)), None)
    if shutil.which("pandoc") and engine:
        subprocess.run(["pandoc", str(out_html), "-o", str(out_pdf), f"--pdf-engine={engine}"],
                       check=True)
        return out_pdf
    have = []
    if shutil.which("pandoc"):
        have.append("pandoc (but no LaTeX engine)")
    if engine:
        have.append(f"{engine} (but no pandoc)")
    raise RuntimeError(
        "cannot render a PDF: need the weasyprint Python package, or pandoc together with a "
        "LaTeX engine (xelatex, lualatex or pdflatex); found "
        + (", ".join(have) if have else "none of them")
        + f". The HTML report is complete on its own: {html.escape(str(out_html))}")
