"""A burst at a function with no replica: N concurrent requests at once, as Knative's
activator test does (100 at a service at zero, no non-200 expected).

Starts the platform as its daemon (``vsbench platform up`` in a temporary folder, so the
gateway's memory is the daemon's alone), deploys the function with ``min_replicas=0`` and
sends ``--concurrency`` requests at the same moment from one asyncio client. Prints the count
of non-2xx answers by status (the goal is 0 within the queue bound), p50/p99 latency, how the
answers were started (``X-Vsb-Start``), the replicas used and the daemon's peak RSS (sampled
every 20 ms). ``--function ffmpeg-0`` sends the application's first stage a real video (the
``short`` corpus preset, put in the store first).

``--queued N`` then measures beyond the bound: N more concurrent requests at a function
whose only replica takes ``--init-s`` to start (noop with an init delay), with a queue bound
of ``--max-queue``: how many got 429 (with ``Retry-After``), how many were served, and the
daemon's peak RSS while they waited.

    python bench/burst_from_zero.py --concurrency 100 [--function noop|ffmpeg-0]
        [--max-replicas 4] [--queued 10000 --max-queue 1000 --init-s 5]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vsbench.platform.admin import GatewayAdmin  # noqa: E402
from vsbench.platform.auth import BasicAuth  # noqa: E402
from vsbench.platform.daemon import platform_down, platform_up  # noqa: E402
from vsbench.platform.policy import ScalingPolicy  # noqa: E402


class PeakRss:
    """Samples a process's RSS every ``every_s`` in a thread; ``peak_mb`` is the highest."""

    def __init__(self, pid: int, every_s: float = 0.02):
        self.proc, self.every_s = psutil.Process(pid), every_s
        self.peak_mb = self.start_mb = self.proc.memory_info().rss / 2**20
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.peak_mb = max(self.peak_mb, self.proc.memory_info().rss / 2**20)
            except psutil.Error:
                return

    def stop(self) -> float:
        self._stop.set()
        self._t.join()
        return self.peak_mb


async def burst(url: str, n: int, body: dict, timeout_s: float) -> list[tuple]:
    """n POSTs at once; (status or exception name, seconds, X-Vsb-Start, replica,
    Retry-After) each."""
    async def one(session: aiohttp.ClientSession, i: int):
        t0 = time.perf_counter()
        try:
            async with session.post(url, json={**body, "request_id": f"b{i}"}) as r:
                await r.read()
                return (r.status, time.perf_counter() - t0, r.headers.get("X-Vsb-Start"),
                        r.headers.get("X-Vsb-Replica"), r.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return (type(exc).__name__, time.perf_counter() - t0, None, None, None)

    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn,
                                     timeout=aiohttp.ClientTimeout(total=timeout_s)) as s:
        return await asyncio.gather(*(one(s, i) for i in range(n)))


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def report(label: str, results: list[tuple], peak_mb: float, start_mb: float) -> int:
    status = collections.Counter(r[0] for r in results)
    non2xx = sum(c for s, c in status.items() if not (isinstance(s, int) and 200 <= s < 300))
    ok = [r[1] * 1000 for r in results if r[0] == 200]
    starts = collections.Counter(r[2] for r in results if r[0] == 200)
    retry_after = {r[4] for r in results if r[0] == 429}
    print(f"{label}: {len(results)} requests, non-2xx {non2xx} "
          f"({dict(status) if non2xx else 'none'})")
    if ok:
        print(f"  2xx latency ms: p50 {statistics.median(ok):.0f}, p99 {quantile(ok, .99):.0f},"
              f" max {max(ok):.0f}; starts {dict(starts)}; replicas used "
              f"{len({r[3] for r in results if r[0] == 200})}")
    if retry_after:
        print(f"  429 Retry-After: {sorted(retry_after)}")
    print(f"  gateway daemon RSS: {start_mb:.0f} MB before, peak {peak_mb:.0f} MB")
    return non2xx


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--function", default="noop", choices=["noop", "ffmpeg-0"])
    ap.add_argument("--max-replicas", type=int, default=4)
    ap.add_argument("--queued", type=int, default=0, help="then N requests beyond the bound")
    ap.add_argument("--max-queue", type=int, default=1000)
    ap.add_argument("--init-s", type=float, default=5.0)
    ap.add_argument("--timeout-s", type=float, default=600.0)
    a = ap.parse_args()

    from functions.registry import get_spec
    from vsbench.build import ensure_built

    # Every request holds a connection on both sides: the daemon inherits this limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = max(a.concurrency, a.queued) + 1024  # per process: the client and the daemon
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    if min(need, hard) < need:
        print(f"open-file limit {hard} < {need}: fewer connections than requests "
              "(raise `ulimit -Hn`)", file=sys.stderr)
    if a.function != "noop":
        ensure_built([a.function])
    state_dir = Path(tempfile.mkdtemp(prefix="vsb-burst-"))
    state = platform_up(state_dir, exit_with_parent=True)
    try:
        admin = GatewayAdmin(state["gateway_url"],
                             BasicAuth.from_file(Path(state["basic_auth_file"])).as_tuple())
        memory = get_spec(a.function).memory_mb if a.function != "noop" else 256
        policy = ScalingPolicy(min_replicas=0, max_replicas=a.max_replicas, max_inflight=1,
                               target_inflight=1, idle_timeout_s=None, memory_mb=memory,
                               queue_timeout_s=a.timeout_s, max_queue=a.max_queue).validate()
        admin.deploy(a.function, policy, f"vsbench/{a.function}:local")
        body: dict = {"stage": a.function, "config": {}}
        if a.function == "ffmpeg-0":
            from functions.runtime.claimcheck import ClaimCheckStore
            from vsbench.corpus import cache_dir, generate_preset
            from vsbench.platform.storage import settings_from_state

            video = generate_preset("short", cache_dir(), reuse=True)
            uri = ClaimCheckStore(settings_from_state(state)).put_file(video, "inputs/v.mp4")
            body["inputs"] = {"video": uri}
        url = f"{state['gateway_url']}/function/{a.function}"
        rss = PeakRss(state["pid"])
        results = asyncio.run(burst(url, a.concurrency, body, a.timeout_s))
        bad = report(f"{a.function} from zero, {a.concurrency} at once, max_replicas "
                     f"{a.max_replicas}", results, rss.stop(), rss.start_mb)
        if a.queued:
            admin.remove(a.function)
            slow = ScalingPolicy(min_replicas=0, max_replicas=1, max_inflight=1,
                                 idle_timeout_s=None, memory_mb=256, max_queue=a.max_queue,
                                 queue_timeout_s=a.timeout_s).validate()
            admin.deploy("noop", slow, "vsbench/noop:local",
                         env={"VSB_NOOP_INIT_MS": str(int(a.init_s * 1000))})
            rss = PeakRss(state["pid"])
            results = asyncio.run(burst(f"{state['gateway_url']}/function/noop", a.queued,
                                        {"stage": "noop", "config": {}}, a.timeout_s))
            report(f"noop from zero (start {a.init_s:g} s, one replica), {a.queued} at once, "
                   f"queue bound {a.max_queue}", results, rss.stop(), rss.start_mb)
        return 1 if bad else 0
    finally:
        platform_down(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
