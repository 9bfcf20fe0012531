"""The report's prose about cold starts, idle cost, start-up and threats to validity.

Sentences built from the tables: which stage was most often cold, who held the idle GB-s,
how much longer a replica took to start on one platform than another, and the study's
threats to validity (from what the provenance and runs tables say about the machine).
"""

from __future__ import annotations

import pandas as pd

from ..study import split_platform_label
from .report_data import ReportData
from .report_format import NA, fmt, fmt_int, fmt_pct, fmt_range, label

__all__ = ["cold_sentences", "idle_sentences", "startup_summary", "threats"]

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



def cold_sentences(lat: pd.DataFrame, cs: pd.DataFrame, multi: bool) -> list[str]:
    out = []
    for _, r in lat.iterrows():
        d = cs[(cs["platform"] == r["platform"]) & (cs["regime"] == r["regime"])
               & (cs["workload"] == r["workload"])]
        s = (f"Under {label(r, multi)} ({r['workload']}), {fmt_pct(r['cold_fraction'])} of "
             f"the ok requests had at least one cold invocation")
        d = d[pd.to_numeric(d["cold"], errors="coerce") > 0]
        if len(d):
            top = d.loc[pd.to_numeric(d["cold_fraction"]).idxmax()]
            s += (f"; the stage most often cold was {top['function']} "
                  f"({fmt_pct(top['cold_fraction'])} of its "
                  f"{fmt_int(top['invocations'])} invocations, a cold call waited "
                  f"{fmt(top['cold_queue_mean_ms'])} ms on average for its replica)")
        else:
            s += "; no invocation was cold"
        out.append(s + ".")
    return out


def startup_summary(st: pd.DataFrame) -> list[str]:
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


def idle_sentences(cost: pd.DataFrame, byf: pd.DataFrame, multi: bool) -> list[str]:
    out = []
    c = cost[pd.to_numeric(cost["idle_share"], errors="coerce").notna()]
    if len(c):
        lo = c.loc[pd.to_numeric(c["idle_share"]).idxmin()]
        hi = c.loc[pd.to_numeric(c["idle_share"]).idxmax()]
        if lo.name == hi.name:
            out.append(f"Idle warm capacity was {fmt_pct(hi['idle_share'])} of the GB-s under "
                       f"{label(hi, multi)} ({hi['workload']}).")
        else:
            out.append(f"Idle warm capacity made up between {fmt_pct(lo['idle_share'])} "
                       f"({label(lo, multi)}, {lo['workload']}) and "
                       f"{fmt_pct(hi['idle_share'])} ({label(hi, multi)}, {hi['workload']}) "
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


def threats(t: ReportData) -> list[str]:
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
        out.append(f"Samples are small: {fmt_range(reps.min(), reps.max())} repetition(s) per "
                   f"cell and {fmt_range(ok.min(), ok.max())} ok requests per run, hence the "
                   "wide confidence intervals; tail percentiles (p99) of small samples are "
                   "close to the maximum.")
    out.append("Cost is modelled (GB-s from execution time and alive time × memory limit), not "
               "billed; money prices idle GB-s like active ones to make keep-alive visible.")
    return out


