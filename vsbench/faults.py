"""Faults in experiments: ``experiment.faults`` in the config, injected while the workload
runs, recorded by the platform (``events/faults.jsonl``), archived as ``faults.parquet`` and
joined to the requests they hit.

``experiment.faults`` is a list (the faults of every run) or a mapping from workload name to
a list (the faults of that workload's runs). Each entry is one of::

    {kind: kill_replica, every_s: T, times: N, start_s: S, function: F, busy: true}
    {kind: storage_outage, at_s: t, duration_s: D}
    {kind: gateway_restart, at_s: t, down_s: D}

``kill_replica`` kills a random busy replica (of ``function``, or of any function) every
``every_s`` seconds from ``start_s`` (default: one period in), ``times`` times at most (with
no ``every_s``, the ``times`` kills are spread evenly over the workload). When no replica is
busy at a kill's time, the injector tries again every 0.1 s until one is, up to the next
kill's time; a kill that found no target is recorded as missed. Times are seconds after the
workload's first scheduled request. The platform does the injecting (:mod:`.platform.faults`);
this module plans the times and asks.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from .errors import VsbError

KINDS = ("kill_replica", "storage_outage", "gateway_restart")
FIELDS = {"kill_replica": {"every_s", "times", "start_s", "function", "busy"},
          "storage_outage": {"at_s", "duration_s"},
          "gateway_restart": {"at_s", "down_s"}}
RETRY_EVERY_S = 0.1  # a kill with no busy target is tried again this often


@dataclass(frozen=True)
class FaultSpec:
    kind: str
    every_s: float | None = None
    times: int | None = None
    start_s: float | None = None
    function: str | None = None
    busy: bool = True
    at_s: float | None = None
    duration_s: float | None = None
    down_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _number(entry: dict, name: str, where: str, minimum: float = 0.0,
            integer: bool = False) -> Any:
    value = entry[name]
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or value < minimum:
        kind = "an integer" if integer else "a number"
        raise VsbError(f"{where}: '{name}' must be {kind} ≥ {minimum:g}, got {value!r}")
    return value


def faults_for(raw: Any, workload: str) -> list[FaultSpec]:
    """The faults of a run of ``workload``: ``experiment.faults`` is a list (every run) or
    a mapping from workload name to a list (runs of the workloads it names; others none)."""
    if isinstance(raw, dict):
        return parse_faults(raw.get(workload), f"experiment.faults.{workload}")
    return parse_faults(raw)


def parse_faults(raw: Any, where: str = "experiment.faults") -> list[FaultSpec]:
    """A list of faults as specs; one clear VsbError for anything malformed. A mapping
    (workload name → list) is checked whole and gives no spec of its own."""
    if raw in (None, [], {}):
        return []
    if isinstance(raw, dict) and where == "experiment.faults":
        for workload, entries in raw.items():
            parse_faults(entries, f"experiment.faults.{workload}")
        return []
    if not isinstance(raw, list):
        raise VsbError(f"config {where}: expected a list of faults, e.g. "
                       "[{kind: kill_replica, every_s: 5}], or a mapping from workload "
                       "name to such a list")
    specs = []
    for i, entry in enumerate(raw):
        where_i = f"config {where}[{i}]"
        if not isinstance(entry, dict) or entry.get("kind") not in KINDS:
            raise VsbError(f"{where_i}: each fault needs 'kind', one of {', '.join(KINDS)}")
        kind = entry["kind"]
        unknown = sorted(set(entry) - FIELDS[kind] - {"kind"})
        if unknown:
            raise VsbError(f"{where_i}: unknown keys {unknown} for {kind}; known: "
                           f"{sorted(FIELDS[kind])}")
        args: dict[str, Any] = {"kind": kind}
        for name in ("every_s", "start_s", "at_s"):
            if name in entry:
                args[name] = float(_number(entry, name, where_i))
        if "times" in entry:
            args["times"] = _number(entry, "times", where_i, 1, integer=True)
        for name in ("duration_s", "down_s"):
            if name in entry:
                args[name] = float(_number(entry, name, where_i))
        if "function" in entry:
            if not isinstance(entry["function"], str) or not entry["function"]:
                raise VsbError(f"{where_i}: 'function' must be a function name")
            args["function"] = entry["function"]
        if "busy" in entry:
            if not isinstance(entry["busy"], bool):
                raise VsbError(f"{where_i}: 'busy' must be true or false")
            args["busy"] = entry["busy"]
        if kind == "kill_replica":
            if "every_s" not in args and "times" not in args:
                raise VsbError(f"{where_i}: kill_replica needs 'every_s' or 'times'")
            if args.get("every_s") == 0:
                raise VsbError(f"{where_i}: 'every_s' must be more than 0")
        else:
            if "at_s" not in args:
                raise VsbError(f"{where_i}: {kind} needs 'at_s' (seconds into the workload)")
            if kind == "storage_outage" and "duration_s" not in args:
                raise VsbError(f"{where_i}: storage_outage needs 'duration_s'")
        specs.append(FaultSpec(**args))
    return specs


@dataclass(frozen=True)
class PlannedFault:
    offset_s: float  # seconds after the first scheduled request
    until_s: float  # a kill may be tried until then (the next kill's time)
    spec: FaultSpec
    index: int  # which fault entry, and which of its times
    n: int


def plan_faults(specs: list[FaultSpec], duration_s: float) -> list[PlannedFault]:
    """When each fault fires during a workload of ``duration_s`` seconds, in time order."""
    out: list[PlannedFault] = []
    for i, spec in enumerate(specs):
        if spec.kind != "kill_replica":
            out.append(PlannedFault(spec.at_s or 0.0, spec.at_s or 0.0, spec, i, 0))
            continue
        every = spec.every_s or duration_s / ((spec.times or 1) + 1)
        t = spec.start_s if spec.start_s is not None else every
        n = 0
        while t <= duration_s + 1e-9 and (spec.times is None or n < spec.times):
            out.append(PlannedFault(t, t + every, spec, i, n))
            t += every
            n += 1
    return sorted(out, key=lambda p: (p.offset_s, p.index, p.n))


class FaultInjector:
    """Fires planned faults through the gateway while the workload runs (its own thread).
    ``attempts`` lists what happened to each: the platform's record, or why none."""

    def __init__(self, admin, planned: list[PlannedFault], seed: int = 0):
        self.admin = admin
        self.planned = planned
        self.seed = seed
        self.attempts: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, t0: float) -> FaultInjector:
        """``t0``: the epoch time of offset 0 (the first scheduled request)."""
        if self.planned:
            self._thread = threading.Thread(target=self._run, args=(t0,), name="faults",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> list[dict[str, Any]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        return self.attempts

    def _run(self, t0: float) -> None:
        for k, p in enumerate(self.planned):
            if self._stop.wait(max(0.0, t0 + p.offset_s - time.time())):
                return
            attempt = {"fault": p.index, "n": p.n, "kind": p.spec.kind,
                       "planned_ts": t0 + p.offset_s}
            body: dict[str, Any] = {"kind": p.spec.kind}
            if p.spec.kind == "kill_replica":
                body.update(busy=p.spec.busy, seed=self.seed * 100003 + k)
                if p.spec.function:
                    body["function"] = p.spec.function
            elif p.spec.kind == "storage_outage":
                body["duration_s"] = p.spec.duration_s
            else:
                body["down_s"] = p.spec.down_s
            attempt.update(self._fire(body, t0 + p.until_s))
            self.attempts.append(attempt)

    def _fire(self, body: dict[str, Any], until: float) -> dict[str, Any]:
        tries = 0
        while True:
            tries += 1
            try:
                resp = self.admin.post_fault(body)
            except VsbError as exc:
                return {"outcome": "error", "error": str(exc), "tries": tries}
            if resp.status_code in (200, 202):
                return {"outcome": "injected", "tries": tries, "record": resp.json()}
            retry = resp.status_code == 409 and body["kind"] == "kill_replica"
            if not retry or time.time() + RETRY_EVERY_S > until:
                return {"outcome": "missed" if retry else "error", "tries": tries,
                        "error": f"HTTP {resp.status_code}: {resp.text.strip()[:200]}"}
            if self._stop.wait(RETRY_EVERY_S):
                return {"outcome": "missed", "tries": tries, "error": "the run ended"}


def fault_tables(platform_records: list[dict[str, Any]], attempts: list[dict[str, Any]],
                 requests, invocations):
    """The run's faults table (``FAULT_COLUMNS``: one row per fault asked for, injected or
    missed) and, per request, the fault that hit it (None: none did): a killed replica's
    requests are those with a call on it at the kill; an outage's or a restart's are those
    in flight while it lasted."""
    import json

    import pandas as pd

    from .archive import FAULT_COLUMNS

    done = {(r.get("kind"), r.get("ts")): r for r in platform_records}
    rows = []
    for a in attempts:
        rec = dict(a.get("record") or {})
        rec.update(done.pop((rec.get("kind"), rec.get("ts")), {}))
        rows.append({"kind": a["kind"], "planned_ts": a.get("planned_ts"),
                     "outcome": a["outcome"], "error": a.get("error") or rec.get("error"),
                     **{k: rec.get(k) for k in ("ts", "end_ts", "function", "replica_id")},
                     "detail": json.dumps({k: v for k, v in rec.items() if k not in (
                         "kind", "ts", "end_ts", "function", "replica_id", "error")},
                         sort_keys=True)})
    for rec in done.values():  # injected by someone else (the API, by hand) during the run
        rows.append({"kind": rec.get("kind"), "planned_ts": None, "outcome": "injected",
                     **{k: rec.get(k) for k in ("ts", "end_ts", "function", "replica_id",
                                                "error")}, "detail": "{}"})
    rows.sort(key=lambda r: (r["ts"] or r["planned_ts"] or 0.0))
    for i, r in enumerate(rows):
        r["fault_id"] = f"{r['kind']}-{i}"
    faults = pd.DataFrame(rows, columns=FAULT_COLUMNS)
    return faults, attribute(faults, requests, invocations)


KILL_SLACK_S = 0.5  # a call ending this close to a kill was on the replica when it died


def attribute(faults, requests, invocations):
    """Per request, the id of the first fault that hit it (None: none did)."""
    import pandas as pd

    hit_by = pd.Series([None] * len(requests), index=requests.index, dtype=object)
    injected = faults[faults["outcome"] == "injected"].sort_values("ts")
    if not len(injected) or not len(requests):
        return hit_by
    calls_end = invocations["ts"] + invocations["duration_ms"].fillna(0) / 1000
    for f in injected.itertuples():
        if f.kind == "kill_replica":
            on = invocations[(invocations["replica_id"] == f.replica_id)
                             & (invocations["ts"] <= f.ts + KILL_SLACK_S)
                             & (calls_end >= f.ts - KILL_SLACK_S)]
            hit = requests["request_id"].isin(set(on["request_id"]))
        else:
            end = f.end_ts if pd.notna(f.end_ts) else f.ts
            sent = requests["sent_ts"].fillna(requests["scheduled_ts"])
            hit = (sent <= end) & (requests["end_ts"].fillna(end) >= f.ts)
        hit_by[hit & hit_by.isna()] = f.fault_id
    return hit_by
