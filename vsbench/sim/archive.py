"""A simulated run written as a run archive: the same schema as a measured one, so the same
tables, figures and cost model apply (``vsbench.analysis``), marked simulated.

From :func:`~.replay.simulate_run`'s result: every request of the schedule (warm-ups
included), every call the simulated orchestrator made (queue, lease, end, start class; a
call's ``exec_ms`` is its simulated service), every replica (spawn, ready, stop; ``alive_s``
and ``busy_s`` within the measured run's window, as the platform's archive counts them, so the
cost model's provisioned GB-s is the validation's). Times are on the measured run's clock:
a simulated request is due when the measured one was.

What a simulation has no figure for stays empty: CPU, storage and memory columns of calls,
the replicas' start-up phases (only spawn → ready), the machine's samples, correctness.
The marks: ``provenance["simulated"]`` (the measured archive, the seed, the simulator), the
replicas' ``host`` ``simulated``, and ``summary["simulated"]``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from vsbench.archive import (
    INVOCATION_COLUMNS,
    REPLICA_COLUMNS,
    REQUEST_COLUMNS,
    check_tables,
    load_archive,
    union_seconds,
    write_archive,
)

from .replay import simulate_run

HOST = "simulated"


def _abs(t0: float, t: float) -> float | None:
    return None if t is None or math.isnan(t) else t0 + t


def simulated_tables(s: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(requests, invocations, replicas) of a simulation, in the archive's columns."""
    t0, since = s["t0"], s["since"]
    requests, calls = [], []
    for row in s["schedule"].itertuples():
        tag = s["tags"][row.request_id]
        o = tag.get("orch")
        made = [o] if o is not None else []
        made += tag["calls"]
        refused = o is None or o.start_class == "refused"
        lat = None if refused else (o.end - o.arrival) * 1000
        requests.append({
            "seq": row.seq, "request_id": row.request_id, "warmup": bool(row.warmup),
            "scheduled_offset_s": row.scheduled_offset_s, "scheduled_ts": row.scheduled_ts,
            "sent_ts": row.due_ts, "end_ts": _abs(t0, o.end) if not refused else row.due_ts,
            "status": "http_error" if refused else "ok", "reason": "refused" if refused else None,
            "http_status": 429 if refused else 200, "latency_ms": lat,
            "service_ms": None if refused else (o.end - o.start) * 1000, "send_lag_ms": 0.0,
            "cold": None if refused else bool(o.cold),
            "replica_id": None if refused else o.replica_id, "e2e_ms": lat, "attempts": 1,
            "fault": None})
        for k, c in enumerate(made):
            no = c.start_class == "refused"
            calls.append({
                "call_id": f"{row.request_id}-{k}", "request_id": row.request_id,
                "warmup": bool(row.warmup), "function": c.function,
                "replica_id": c.replica_id or None, "status": 429 if no else 200,
                "error": "queue_full" if no else None, "cold": bool(c.cold),
                "start": None if no else c.start_class, "ts": t0 + c.arrival,
                "queue_ms": (c.start - c.arrival) * 1000,
                "duration_ms": ((c.start if no else c.end) - c.arrival) * 1000,
                "lease_ts": None if no else t0 + c.start,
                "end_ts": None if no else _abs(t0, c.end),
                "exec_ms": None if no else (c.end - c.start) * 1000,
                "memory_mb": s["pools"][c.function].policy.memory_mb})
    replicas = []
    for fn, pool in s["pools"].items():
        spans: dict[str, list[tuple[float, float]]] = {}
        for c in pool.calls:
            if c.start_class != "refused" and not math.isnan(c.end):
                spans.setdefault(c.replica_id, []).append((c.start, c.end))
        for r in pool.retired:
            busy = spans.get(r.replica_id, [])
            replicas.append({
                "function": fn, "replica_id": r.replica_id, "host": HOST,
                "memory_mb": pool.policy.memory_mb, "spawn_ts": t0 + r.spawn,
                "ready_ts": _abs(t0, r.ready), "stop_ts": t0 + r.stop, "stop_reason": r.reason,
                "served": r.served, "alive_s": max(0.0, r.stop - max(r.spawn, since)),
                "busy_s": union_seconds(busy, since, math.inf), "alive_total_s": r.stop - r.spawn,
                "busy_total_s": union_seconds(busy, -math.inf, math.inf),
                "last_active_ts": t0 + r.last_active, "end_ts": t0 + r.stop,
                "end_kind": "window" if r.reason == "end" else "stopped", "tail_s": 0.0,
                "role": "replica"})
    return (pd.DataFrame(requests, columns=REQUEST_COLUMNS),
            pd.DataFrame(calls, columns=INVOCATION_COLUMNS),
            pd.DataFrame(replicas, columns=REPLICA_COLUMNS))


def write_simulated(path: Path, out: Path, seed: int = 0, result: dict[str, Any] | None = None,
                    archive: dict[str, Any] | None = None) -> Path:
    """Simulate the run archived at ``path`` (or take ``result``, its simulation; ``archive``:
    its tables, if already loaded) and write the simulation as an archive at ``out``."""
    a = archive if archive is not None else load_archive(Path(path))
    s = result if result is not None else simulate_run(path, seed, archive=a)
    requests, invocations, replicas = simulated_tables(s)
    prov = dict(a["provenance"])
    prov["simulated"] = {"from": str(path), "seed": seed, "simulator": "vsbench.sim.replay"}
    scheduled = int((~requests["warmup"]).sum())
    check = check_tables(requests, invocations, scheduled)
    summary = {"check": check.to_dict(), "scheduled": scheduled,
               "invocations": len(invocations), "replicas": len(replicas),
               "window_s": a["summary"].get("window_s"), "simulated": True}
    return write_archive(Path(out), requests, invocations, replicas, [], [], prov, summary)
