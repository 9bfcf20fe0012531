"""Per-stage exec times and e2e time of a warm request on a corpus video.

Starts the local platform (S3 + one ready replica per function + gateway), sends one
warm-up request, then ``--reps`` measured requests, and prints the medians.

    python bench/warm_request.py [--preset sample] [--reps 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="sample")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--query", default="cat")
    args = ap.parse_args()

    from vsbench.corpus import generate_preset
    from vsbench.platform.embedded import EmbeddedPlatform
    from vsbench.process import run_orchestrator
    from vsbench.regimes import load_config, resolve_regime

    with tempfile.TemporaryDirectory(prefix="vsb-bench-") as tmp:
        video = generate_preset(args.preset, Path(tmp) / "corpus")
        with EmbeddedPlatform(Path(tmp) / "platform") as platform:
            t0 = time.perf_counter()
            platform.deploy(resolve_regime(load_config(), "warm"))
            print(f"platform up in {platform.startup_s:.1f} s, one ready replica per "
                  f"function {time.perf_counter() - t0:.1f} s later")
            run_orchestrator(platform.gateway_url, platform.store, video, args.query)  # warm-up
            results = []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                results.append(run_orchestrator(platform.gateway_url, platform.store, video,
                                                 args.query))
                results[-1]["timings"]["bench_wall_ms"] = (time.perf_counter() - t0) * 1000

    n_clips = len(results[0]["clips"])
    print(f"\nwarm request on {args.preset}.mp4 ({results[0]['video']['duration_s']} s, "
          f"{n_clips} clips), median of {args.reps}:")
    print(f"{'stage':<16}{'calls':>6}{'exec_ms':>10}{'cpu_ms':>10}{'per_call_ms':>13}")
    for stage in results[0]["timings"]["stages"]:
        rows = [r["timings"]["stages"][stage] for r in results]
        calls = rows[0]["calls"]
        exec_ms = statistics.median(r["exec_ms"] for r in rows)
        cpu_ms = statistics.median(r["cpu_ms"] for r in rows)
        print(f"{stage:<16}{calls:>6}{exec_ms:>10.1f}{cpu_ms:>10.1f}{exec_ms / calls:>13.1f}")
    e2e = [r["timings"]["e2e_ms"] for r in results]
    client = [r["timings"]["client_ms"] for r in results]
    print(f"\ne2e (orchestrator) median {statistics.median(e2e):.0f} ms  "
          f"[{min(e2e):.0f}-{max(e2e):.0f}]")
    print(f"e2e (client: orchestrator call round trip, upload excluded) median "
          f"{statistics.median(client):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
