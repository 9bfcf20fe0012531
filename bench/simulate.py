"""Simulator throughput: simulated calls per second of wall time, on one core.

Simulates a synthetic trace (``--functions`` functions over ``--days`` days, the ATC'20
statistics, rates clipped at ``--max-rate-per-min``) under a fixed timeout, the histogram
policy and the oracle, with service and cold-start times from run archives (``--archive``:
a results folder or run folders; default ``results``, the default study's). Prints per
policy: calls, simulated events, wall seconds and calls per minute of wall time, against the
goal of 1 million per minute. The simulation is one Python process (one core).

    python bench/simulate.py [--archive results] [--functions 200] [--days 1]
        [--max-rate-per-min 10] [--timeout 600]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    from vsbench.errors import VsbError
    from vsbench.sim.cli import run_archives
    from vsbench.sim.fit import function_times
    from vsbench.sim.scale import PAPER_HISTOGRAM, PolicyCase, simulate_case
    from vsbench.sim.trace import synthetic_trace

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", nargs="+", default=[str(REPO / "results")])
    ap.add_argument("--functions", type=int, default=200)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--max-rate-per-min", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--goal-per-min", type=float, default=1e6)
    args = ap.parse_args()
    try:
        times = function_times(run_archives(args.archive))
    except VsbError as exc:
        print(f"bench/simulate.py: {exc} (run the study first: snakemake --cores all)",
              file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    trace = synthetic_trace(args.functions, args.days, seed=0,
                            max_rate_per_min=args.max_rate_per_min)
    print(f"trace: {len(trace)} functions with calls, {args.days} day(s), made in "
          f"{time.perf_counter() - t0:.1f} s; times of {len(times)} functions")
    cases = [PolicyCase(f"fixed-{args.timeout:g}s", {"policy": "fixed"}, args.timeout),
             PolicyCase("histogram", dict(PAPER_HISTOGRAM), PAPER_HISTOGRAM["range_s"]),
             PolicyCase(f"oracle-{args.timeout:g}s",
                        {"policy": "oracle", "break_even_s": args.timeout}, None)]
    print(f"{'policy':<14}{'calls':>10}{'events':>11}{'wall s':>9}{'calls/min':>13}  goal")
    worst = float("inf")
    for case in cases:
        r = simulate_case(trace, times, case)
        per_min = r["calls"] / r["wall_s"] * 60
        worst = min(worst, per_min)
        print(f"{case.name:<14}{r['calls']:>10,}{r['sim_events']:>11,}{r['wall_s']:>9.2f}"
              f"{per_min:>13,.0f}  {'met' if per_min >= args.goal_per_min else 'missed'}")
    print(f"slowest policy: {worst:,.0f} simulated calls per minute on one core "
          f"[goal >= {args.goal_per_min:,.0f}: "
          f"{'met' if worst >= args.goal_per_min else 'missed'}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
