"""``vsbench workload`` without --dry-run: send a schedule at a gateway and summarise it.

Against the running embedded platform by default (the video is uploaded to its S3); against
any OpenFaaS gateway with ``--gateway URL`` (then the function must be able to read the
inputs you name: give ``--video`` only with the embedded platform).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import VsbError
from .schedule import Schedule
from .sender import TERMINAL, RequestRecord, SenderConfig, run_open_loop


def summarise(records: list[RequestRecord]) -> dict[str, Any]:
    """Counts per terminal status, latency and schedule-adherence percentiles."""
    counts = {k: sum(r.status == k for r in records) for k in TERMINAL}
    lat = np.array([r.latency_ms for r in records if r.status == "ok"], dtype=float)
    lag = np.array([abs(r.send_lag_ms) for r in records if r.send_lag_ms is not None])

    def pct(a: np.ndarray, q: float) -> float | None:
        return round(float(np.percentile(a, q)), 3) if len(a) else None

    return {"requests": len(records), "status": counts,
            "latency_ms": {"p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99)},
            "send_lag_ms": {"p50": pct(lag, 50), "p99": pct(lag, 99), "max": pct(lag, 100)}}


def run_workload(schedule: Schedule, video: Path | None = None, gateway: str | None = None,
                 function: str = "orchestrator", query: str = "cat", out: Path | None = None,
                 max_outstanding: int = 64, tag: str = "wl") -> dict[str, Any]:
    from ..platform.daemon import read_state

    state = read_state()
    if gateway is None:
        if not state:
            raise VsbError("no platform running and no --gateway given; start one with: "
                           "vsbench platform up")
        gateway = state["gateway_url"]
    inputs: dict[str, str] = {}
    if video is not None:
        if not state or gateway != state["gateway_url"]:
            raise VsbError("--video is uploaded to the embedded platform's S3; with another "
                           "gateway, put the video where its functions can read it")
        from functions.runtime.claimcheck import ClaimCheckStore

        from ..platform.storage import settings_from_state

        store = ClaimCheckStore(settings_from_state(state))
        inputs["video"] = store.put_file(video, f"inputs/{video.name}")
    elif function == "orchestrator":
        raise VsbError("the orchestrator needs --video (a video file to process)")

    def body_for(rec: RequestRecord) -> dict:
        return {"request_id": rec.request_id, "stage": function, "inputs": inputs,
                "config": {"query": query}}

    records = [RequestRecord(i, f"{tag}-{i:05d}", off, 0.0)
               for i, off in enumerate(schedule.offsets)]
    cfg = SenderConfig(f"{gateway.rstrip('/')}/function/{function}",
                       max_outstanding=max_outstanding)
    run_open_loop(cfg, records, body_for)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w") as fh:
            for r in records:
                fh.write(json.dumps(r.to_dict()) + "\n")
    return summarise(records)
