"""VideoSearcher's warm end-to-end latency and GB-s against video length and clip count,
and the fan-out's effect.

Generates videos of the ``sample`` preset's five narrated scenes repeated until each target
length (``--lengths``, seconds; about 4.1 s per scene, so one clip per scene), starts the
embedded platform with the ``warm`` regime, sends one warm-up request on the shortest video,
then one request per length (``--reps`` each) with ``max_parallel_clips`` at ``--width``; then,
on the ``--fanout-length`` video, one request per fan-out width (``--fanout``). Prints per
request: video seconds, clips, e2e seconds (the client's), the orchestrator's e2e, calls,
active GB-s (each call's time at the gateway × its function's memory, as
:mod:`vsbench.analysis.cost` charges active time) and GB-s per video minute. A request that
fails is printed with its error and the replicas killed at their memory limit meanwhile,
and the bench goes on.

    python bench/video_length.py [--lengths 10 30 60 180 600] [--fanout 1 2 4]
        [--fanout-length 60] [--width 2] [--reps 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def video_of(seconds: float, out_dir: Path) -> Path:
    from vsbench.corpus import generate_video, preset_spec

    base = preset_spec("sample")
    per_scene = 4.08  # measured: 130 scenes make 530.4 s
    n = max(1, round(seconds / per_scene))
    scenes = tuple(base.scenes[i % len(base.scenes)] for i in range(n))
    spec = dataclasses.replace(base, name=f"len{int(seconds)}s", scenes=scenes)
    return generate_video(spec, out_dir, reuse=True)


def one(platform, video: Path, width: int, memory: dict[str, int]) -> dict:
    from vsbench.process import run_orchestrator

    log = platform.logs.invocations
    before = len(log.records)
    t0 = time.perf_counter()
    result = run_orchestrator(platform.gateway_url, platform.store, video, "cat",
                              {"max_parallel_clips": width})
    wall = time.perf_counter() - t0
    calls = log.records[before:]
    gb_s = sum(memory.get(c["function"], 0) / 1024 * c["duration_ms"] / 1000 for c in calls
               if c["function"] != "orchestrator")  # its time is the others' wait
    gb_s += memory["orchestrator"] / 1024 * wall
    return {"video_s": result["video"]["duration_s"], "clips": len(result["clips"]),
            "wall_s": wall, "e2e_s": result["timings"]["e2e_ms"] / 1000,
            "calls": len(calls), "gb_s": gb_s, "width": width}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lengths", type=float, nargs="+", default=[10, 30, 60, 180, 600])
    ap.add_argument("--fanout", type=int, nargs="*", default=[1, 2, 4])
    ap.add_argument("--fanout-length", type=float, default=60)
    ap.add_argument("--width", type=int, default=2)
    ap.add_argument("--reps", type=int, default=1)
    a = ap.parse_args()

    from vsbench.build import ensure_built
    from vsbench.corpus import cache_dir
    from vsbench.errors import VsbError
    from vsbench.platform.embedded import EmbeddedPlatform
    from vsbench.regimes import load_config, resolve_regime

    policies = resolve_regime(load_config(), "warm")
    memory = {fn: p.memory_mb for fn, p in policies.items()}
    ensure_built(list(policies))
    corpus = cache_dir() / "lengths"
    t0 = time.perf_counter()
    videos = {s: video_of(s, corpus) for s in sorted({*a.lengths, a.fanout_length})}
    print(f"videos ready in {time.perf_counter() - t0:.0f} s (cached in {corpus})")
    rows = []
    with tempfile.TemporaryDirectory(prefix="vsb-len-") as tmp, \
            EmbeddedPlatform(Path(tmp)) as platform:
        platform.deploy(policies)
        one(platform, videos[min(videos)], a.width, memory)  # warm-up, not reported
        print(f"{'video s':>8} {'clips':>6} {'width':>6} {'wall s':>8} {'e2e s':>8} "
              f"{'calls':>6} {'GB-s':>8} {'GB-s/min':>9}")

        def show(r: dict) -> None:
            print(f"{r['video_s']:>8.1f} {r['clips']:>6} {r['width']:>6} {r['wall_s']:>8.1f} "
                  f"{r['e2e_s']:>8.1f} {r['calls']:>6} {r['gb_s']:>8.1f} "
                  f"{r['gb_s'] / (r['video_s'] / 60):>9.1f}", flush=True)

        def attempt(s: float, width: int) -> dict | None:
            events = len(platform.logs.scale_events.records)
            try:
                return one(platform, videos[s], width, memory)
            except VsbError as exc:  # what breaks is a result here
                print(f"{s:>8.0f} s video, width {width}: failed: {exc}", flush=True)
                for e in platform.logs.scale_events.records[events:]:
                    if e.get("reason") == "oom_killed":
                        print(f"    {e.get('replica')} killed at its memory limit: RSS "
                              f"{e.get('rss_mb')} MB > {e.get('limit_mb')} MB", flush=True)
                return None

        for s in a.lengths:
            reps = [r for r in (attempt(s, a.width) for _ in range(a.reps)) if r]
            if not reps:
                continue
            med = {k: statistics.median(r[k] for r in reps)
                   if k not in ("clips", "width") else reps[0][k] for k in reps[0]}
            rows.append(med)
            show(med)
        if a.fanout:
            print(f"# fan-out on the {a.fanout_length:g} s video")
            for w in a.fanout:
                r = attempt(a.fanout_length, w)
                if r:
                    show(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
