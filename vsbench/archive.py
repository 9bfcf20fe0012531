"""The telemetry archive of one run: ``results/raw/{platform}/{regime}/{workload}/rep{K}/``.

Files (schema: docs/archive.md):

- ``requests.parquet``: one row per scheduled request (client side), exactly one terminal
  status each;
- ``invocations.parquet``: one row per function call the gateway proxied (the gateway's view
  joined with the replica's own telemetry by call id);
- ``replicas.jsonl``: one line per replica: lifecycle, busy seconds in the run window, and
  alive seconds from the window's start until it really stopped or, when the run ended first,
  to the end of its keep-alive (``end_kind``, :func:`keepalive_ends`);
- ``correctness.parquet``: one row per ok request: its answer scored against the corpus truth
  and its output digest (:mod:`vsbench.run_correctness`);
- ``scale_events.jsonl``, ``system.parquet`` (machine load samples), ``provenance.json``,
  ``summary.json`` (counts and the completeness check).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .workload.sender import TERMINAL

REQUEST_COLUMNS = ["seq", "request_id", "warmup", "scheduled_offset_s", "scheduled_ts",
                   "sent_ts", "end_ts", "status", "reason", "http_status", "latency_ms",
                   "service_ms", "send_lag_ms", "cold", "replica_id", "e2e_ms", "attempts",
                   "fault"]
# One row per fault injected, or asked for and missed (vsbench.faults).
FAULT_COLUMNS = ["fault_id", "kind", "planned_ts", "ts", "end_ts", "outcome", "function",
                 "replica_id", "detail", "error"]
INVOCATION_COLUMNS = [
    "call_id", "request_id", "warmup", "function", "replica_id", "status", "error", "cold",
    "start", "ts", "queue_ms", "duration_ms", "lease_ts", "end_ts", "exec_ms", "cpu_ms",
    "process_cpu_ms", "child_cpu_ms", "storage_get_ms", "storage_put_ms", "bytes_in",
    "bytes_out", "replica_invocation", "replica_peak_rss_mb", "child_peak_rss_mb",
    "memory_mb"]
REPLICA_COLUMNS = [
    "function", "replica_id", "host", "memory_mb", "spawn_ts", "create_done_ts",
    "start_call_ts", "process_start_ts", "runtime_up_ts", "init_done_ts", "ready_ts", "stop_ts",
    "stop_reason", "import_ms", "init_ms", "served", "peak_rss_mb", "alive_s", "busy_s",
    "alive_total_s", "busy_total_s", "pod", "scheduled_ts", "probe_ready_ts",
    "kubelet_ready_ts", "last_active_ts", "end_ts", "end_kind", "tail_s", "role"]
# How a replica's alive time ends (see keepalive_ends)
END_KINDS = ("stopped", "keepalive", "window")
SHUTDOWN_REASON = "platform_down"  # the pool's stop reason when the platform goes down
TEMPLATE = "template"  # replica role of a fork server's template (billed, never serves)


# The run-folder layout below a results folder: the one definition (Snakemake's experiment
# rule uses it as its output pattern, whose wildcards have these names).
RUN_DIR = "raw/{platform}/{regime}/{workload}/rep{rep}"


def run_dir(platform: str, regime: str, workload: str, rep: int) -> str:
    return RUN_DIR.format(platform=platform, regime=regime, workload=workload, rep=rep)


def archive_dir(root: Path, platform: str, regime: str, workload: str, rep: int) -> Path:
    return Path(root) / run_dir(platform, regime, workload, rep)


def parse_run_dir(path: Path | str) -> dict[str, Any]:
    """platform, regime, workload and rep from a run folder's last four names (the ones
    :data:`RUN_DIR` gives); what cannot be read is left out."""
    parts = Path(path).resolve().parts
    names = RUN_DIR.split("/")[-4:]
    if len(parts) < 4:
        return {}
    out: dict[str, Any] = {}
    for name, part in zip(names, parts[-4:], strict=True):
        key, prefix = name.strip("}").split("{")[1], name.split("{")[0]
        if not part.startswith(prefix):
            return {}
        value = part[len(prefix):]
        if key == "rep":
            if not value.isdigit():
                continue
            out[key] = int(value)
        else:
            out[key] = value
    return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for col in columns:
        if col not in df.columns:
            df[col] = None
    return df[columns]


def build_invocations(gateway_log: list[dict], runtime_log: list[dict],
                      memory_mb: dict[str, int], warmup_ids: set[str]) -> pd.DataFrame:
    """The gateway's record of each call, joined with the replica's metrics by call id."""
    runtime = {r["call_id"]: r for r in runtime_log if r.get("call_id")}
    rows = []
    for g in gateway_log:
        r = runtime.get(g.get("call_id"), {})
        queue_s = (g.get("queue_ms") or 0.0) / 1000
        rows.append({
            **{k: r.get(k) for k in ("exec_ms", "cpu_ms", "process_cpu_ms", "child_cpu_ms",
                                     "storage_get_ms", "storage_put_ms", "bytes_in",
                                     "bytes_out", "replica_invocation", "replica_peak_rss_mb",
                                     "child_peak_rss_mb")},
            "call_id": g.get("call_id"), "request_id": g.get("request_id"),
            "warmup": g.get("request_id") in warmup_ids, "function": g["function"],
            "replica_id": g.get("replica_id"), "status": g["status"], "error": g.get("error"),
            "cold": bool(g.get("cold")), "start": g.get("start"), "ts": g["ts"],
            "queue_ms": g.get("queue_ms"),
            "duration_ms": g.get("duration_ms"), "lease_ts": g["ts"] + queue_s,
            "end_ts": g["ts"] + (g.get("duration_ms") or 0.0) / 1000,
            "memory_mb": memory_mb.get(g["function"]),
        })
    return _frame(rows, INVOCATION_COLUMNS)


def union_seconds(intervals: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Length of the union of intervals, clipped to [lo, hi]."""
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted((max(s, lo), min(e, hi)) for s, e in intervals):
        if e <= s:
            continue
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def keepalive_ends(pool_log: list[dict], hi: float) -> dict[str, tuple[float, str]]:
    """When each replica's alive time ends, and how that is known: ``replica_id -> (end_ts,
    end_kind)``.

    * ``stopped``: it stopped for a reason of its own (idle, died, …): charged to that stop,
      even when it came after the window closed.
    * ``keepalive``: the platform went down while it was idle within its keep-alive: charged
      analytically to the end of it, ``last active + idle_timeout_s`` (the keep-alive the
      pool had in force for the replica: the fixed timeout, or a keep-alive policy's window).
      As the pool does, the replica idle longest goes first, and never below
      ``min_replicas``.
    * ``window``: kept by ``min_replicas`` or a regime that never scales down, or already past
      its keep-alive when the window closed: charged to the window's end.
    """
    ends: dict[str, tuple[float, str]] = {}
    running: dict[str, list[dict]] = {}
    for p in pool_log:
        if p.get("stop_ts") is not None and p.get("stop_reason") != SHUTDOWN_REASON:
            ends[p["replica_id"]] = (float(p["stop_ts"]), "stopped")
        elif p.get("role") == TEMPLATE:  # lives with its deployment: to the window's end
            ends[p["replica_id"]] = (hi, "window")
        else:
            running.setdefault(p["function"], []).append(p)
    for reps in running.values():
        def idle_since(p: dict) -> float:
            return float(p.get("last_active_ts") or p.get("ready_ts") or p.get("spawn_ts") or hi)
        live = len(reps)
        for p in sorted(reps, key=idle_since):
            timeout, floor = p.get("idle_timeout_s"), int(p.get("min_replicas") or 0)
            end = idle_since(p) + float(timeout) if timeout is not None else None
            if end is not None and live > floor and end > hi:
                ends[p["replica_id"]] = (end, "keepalive")
            else:
                ends[p["replica_id"]] = (hi, "window")
            if end is not None and live > floor:
                live -= 1
    return ends


def build_replicas(pool_log: list[dict], lifecycles: list[dict], invocations: pd.DataFrame,
                   window: tuple[float, float]) -> pd.DataFrame:
    """Replica lifecycles. ``busy_s`` counts the run window only (warm-up out); ``alive_s``
    runs from the window's start (or the spawn, if later) to the end :func:`keepalive_ends`
    gives, ``tail_s`` of it after the window closed."""
    lo, hi = window
    ends = keepalive_ends(pool_log, hi)
    life = {r["replica_id"]: r for r in lifecycles}
    busy: dict[str, list[tuple[float, float]]] = {}
    for row in invocations.itertuples():
        if row.replica_id:
            busy.setdefault(row.replica_id, []).append((row.lease_ts, row.end_ts))
    rows = []
    for p in pool_log:
        rid = p["replica_id"]
        lc = life.get(rid, {})
        end, kind = ends[rid]
        begin = max(p.get("spawn_ts") or lo, lo)
        rows.append({
            "function": p["function"], "replica_id": rid, "host": p.get("host", "process"),
            "memory_mb": p.get("memory_mb"), "spawn_ts": p.get("spawn_ts"),
            "create_done_ts": p.get("create_done_ts"), "start_call_ts": p.get("start_call_ts"),
            # the runtime's own record; pods' come through the provider (p) instead
            "process_start_ts": lc.get("process_start_ts", p.get("process_start_ts")),
            "runtime_up_ts": lc.get("runtime_up_ts", p.get("runtime_up_ts")),
            "init_done_ts": lc.get("init_done_ts", p.get("init_done_ts")),
            "ready_ts": p.get("ready_ts") or lc.get("ready_ts"), "stop_ts": p.get("stop_ts"),
            "stop_reason": p.get("stop_reason"),
            "import_ms": lc.get("import_ms", p.get("import_ms")),
            "init_ms": lc.get("init_ms", p.get("init_ms")), "served": p.get("served"),
            "peak_rss_mb": p.get("peak_rss_mb"),
            "alive_s": max(0.0, end - begin),
            "busy_s": union_seconds(busy.get(rid, []), lo, hi),
            "alive_total_s": p.get("alive_s"), "busy_total_s": p.get("busy_s"),
            # Kubernetes: the pod, and milestones as the gateway's pod watch saw them
            "pod": p.get("pod"), "scheduled_ts": p.get("scheduled_ts"),
            "probe_ready_ts": p.get("probe_ready_ts"),
            "kubelet_ready_ts": p.get("kubelet_ready_ts"),
            "last_active_ts": p.get("last_active_ts"), "end_ts": end, "end_kind": kind,
            "tail_s": max(0.0, end - max(hi, begin)),
            "role": p.get("role", "replica"),
        })
    return _frame(rows, REPLICA_COLUMNS)


def serving_replicas(replicas: pd.DataFrame) -> pd.DataFrame:
    """The replicas that served (or could serve) calls: fork-server templates left out."""
    if "role" not in replicas:
        return replicas
    return replicas[replicas["role"].fillna("replica") != TEMPLATE]


@dataclass
class ArchiveCheck:
    ok: bool
    scheduled: int
    terminal: dict[str, int]
    invocations: int
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "scheduled": self.scheduled, "terminal": self.terminal,
                "invocations": self.invocations, "problems": self.problems}

    def sentence(self) -> str:
        if self.ok:
            return (f"archive complete: all {self.scheduled} scheduled requests have exactly one "
                    f"terminal record ({', '.join(f'{k} {v}' for k, v in self.terminal.items())})"
                    f"; all {self.invocations} invocations belong to a request")
        return "archive INCOMPLETE: " + "; ".join(self.problems)


def check_tables(requests: pd.DataFrame, invocations: pd.DataFrame,
                 scheduled: int) -> ArchiveCheck:
    """Every scheduled request has exactly one terminal record; every call has a request."""
    problems = []
    measured = requests[~requests["warmup"].astype(bool)]
    seqs = measured["seq"].tolist()
    if sorted(seqs) != list(range(scheduled)):
        missing = sorted(set(range(scheduled)) - set(seqs))
        dup = sorted({s for s in seqs if seqs.count(s) > 1})
        problems.append(f"scheduled {scheduled}, recorded {len(seqs)} (missing seq "
                        f"{missing[:10]}, duplicated {dup[:10]})")
    bad = requests[~requests["status"].isin(TERMINAL)]
    if len(bad):
        problems.append(f"{len(bad)} requests without a terminal status: "
                        f"{bad['request_id'].tolist()[:5]}")
    if requests["request_id"].duplicated().any():
        problems.append("duplicate request ids")
    orphans = invocations[~invocations["request_id"].isin(set(requests["request_id"]))]
    if len(orphans):
        problems.append(f"{len(orphans)} invocations belong to no request "
                        f"(e.g. {orphans['request_id'].head(3).tolist()})")
    counts = measured["status"].value_counts().to_dict()
    return ArchiveCheck(not problems, scheduled,
                        {k: int(counts.get(k, 0)) for k in TERMINAL}, len(invocations),
                        problems)


def write_archive(out: Path, requests: pd.DataFrame, invocations: pd.DataFrame,
                  replicas: pd.DataFrame, scale_events: list[dict], system: list[dict],
                  provenance: dict[str, Any], summary: dict[str, Any],
                  correctness: pd.DataFrame | None = None,
                  faults: pd.DataFrame | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    if correctness is not None:
        correctness.to_parquet(out / "correctness.parquet", index=False)
    if faults is not None and len(faults):  # runs with faults only (vsbench.faults)
        faults.to_parquet(out / "faults.parquet", index=False)
    requests.to_parquet(out / "requests.parquet", index=False)
    invocations.to_parquet(out / "invocations.parquet", index=False)
    replicas.to_json(out / "replicas.jsonl", orient="records", lines=True)
    with open(out / "scale_events.jsonl", "w") as fh:
        for ev in scale_events:
            fh.write(json.dumps(ev) + "\n")
    pd.DataFrame(system).to_parquet(out / "system.parquet", index=False)
    (out / "provenance.json").write_text(json.dumps(provenance, indent=1, default=str))
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return out


def load_archive(path: Path) -> dict[str, Any]:
    """All tables of one run archive."""
    path = Path(path)
    reps = path / "replicas.jsonl"
    return {
        "requests": pd.read_parquet(path / "requests.parquet"),
        "invocations": pd.read_parquet(path / "invocations.parquet"),
        "replicas": pd.read_json(reps, lines=True) if reps.stat().st_size else
        pd.DataFrame(columns=REPLICA_COLUMNS),
        "correctness": pd.read_parquet(path / "correctness.parquet")
        if (path / "correctness.parquet").exists() else pd.DataFrame(),
        "faults": pd.read_parquet(path / "faults.parquet")
        if (path / "faults.parquet").exists() else pd.DataFrame(columns=FAULT_COLUMNS),
        "scale_events": read_jsonl(path / "scale_events.jsonl"),
        "system": pd.read_parquet(path / "system.parquet"),
        "provenance": json.loads((path / "provenance.json").read_text()),
        "summary": json.loads((path / "summary.json").read_text()),
    }
