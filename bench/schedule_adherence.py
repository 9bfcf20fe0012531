"""Schedule adherence of the open-loop sender: |sent - scheduled| at a steady rate.

Starts the embedded platform as its own process (as ``vsbench experiment`` does, so the
sender does not share a GIL with the gateway), deploys the noop control function warm, and
sends a steady workload at it through the gateway. Prints p50/p99/max of the send lag and
the latency percentiles.

    python bench/schedule_adherence.py [--rate 50] [--duration 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--duration", type=float, default=60.0)
    args = ap.parse_args()

    from vsbench.platform.admin import GatewayAdmin
    from vsbench.platform.auth import BasicAuth
    from vsbench.platform.daemon import platform_down, platform_up
    from vsbench.platform.policy import ScalingPolicy
    from vsbench.workload.runner import summarise
    from vsbench.workload.schedule import WorkloadSpec, build_schedule
    from vsbench.workload.sender import RequestRecord, SenderConfig, run_open_loop

    schedule = build_schedule(WorkloadSpec(pattern="steady", rate=args.rate,
                                           duration_s=args.duration))
    with tempfile.TemporaryDirectory(prefix="vsb-adherence-") as tmp:
        state = platform_up(Path(tmp) / "platform")
        try:
            admin = GatewayAdmin(state["gateway_url"],
                                 BasicAuth.from_file(Path(state["basic_auth_file"])).as_tuple())
            admin.deploy("noop", ScalingPolicy(min_replicas=2, max_replicas=4, max_inflight=8,
                                               target_inflight=4, idle_timeout_s=None,
                                               memory_mb=128), "vsbench/noop:bench")
            admin.wait_available(["noop"])
            records = [RequestRecord(i, f"adh-{i:05d}", off, 0.0)
                       for i, off in enumerate(schedule.offsets)]
            cfg = SenderConfig(f"{state['gateway_url']}/function/noop", max_outstanding=256)
            run_open_loop(cfg, records, lambda r: {"request_id": r.request_id, "stage": "noop"})
        finally:
            platform_down(Path(tmp) / "platform")
    summary = summarise(records)
    print(f"steady {args.rate:g} rps for {args.duration:g} s against noop through the gateway "
          f"({len(records)} requests)")
    print(json.dumps(summary, indent=1))
    lag = summary["send_lag_ms"]
    print(f"send lag |sent - scheduled|: p50 {lag['p50']:.3f} ms, p99 {lag['p99']:.3f} ms, "
          f"max {lag['max']:.3f} ms (goal p99 <= 2 ms: "
          f"{'met' if lag['p99'] <= 2 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
