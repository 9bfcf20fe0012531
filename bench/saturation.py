"""The gateway's sustained throughput on a warm no-op, against the replica called directly.

Starts the embedded platform in this process and deploys ``noop`` with one replica kept warm
(``max_inflight`` 1000, so the gateway never queues). Then an open-loop ramp: at each rate
(requests per second, doubling from ``--start-rps``) a client in a *separate process* (no
shared GIL) sends for ``--step-s`` seconds at evenly spaced times, first straight at the
replica, then through the gateway, and reports per target: achieved throughput (answers per
second), p50/p99 latency from the *scheduled* time (no coordinated omission), answers by
status (what was refused), how far the client fell behind (its send lag) and the RSS of this
process (gateway and platform) at the end of the step. The ramp goes on ``--beyond`` steps
after the gateway's p99 passes ``--p99-ms`` (10 ms), to show what breaks.

On 2 cores the client, the gateway and the replica share the machine: the figures are what
this machine reaches, all three included. The client's own ceiling shows as send lag.

    python bench/saturation.py [--start-rps 50] [--step-s 4] [--max-rps 6400] [--beyond 2]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BODY = {"request_id": "sat", "stage": "noop", "config": {}}


# --- the client (runs in its own process: --client URL RPS SECONDS) -----------------------------
async def _client(url: str, rps: float, seconds: float) -> dict:
    import aiohttp

    n = int(rps * seconds)
    lat, status, lags = [], collections.Counter(), []
    conn = aiohttp.TCPConnector(limit=512)
    data = json.dumps(BODY).encode()
    async with aiohttp.ClientSession(connector=conn,
                                     timeout=aiohttp.ClientTimeout(total=30)) as s:
        async def one(due: float) -> None:
            lags.append(time.perf_counter() - due)
            try:
                async with s.post(url, data=data,
                                  headers={"Content-Type": "application/json"}) as r:
                    await r.read()
                    status[r.status] += 1
                    if r.status == 200:
                        lat.append(time.perf_counter() - due)
            except Exception as exc:  # noqa: BLE001 - counted by kind
                status[type(exc).__name__] += 1

        t0 = time.perf_counter() + 0.1
        tasks = []
        for i in range(n):
            due = t0 + i / rps
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(due)))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
    lat.sort()
    lags.sort()

    def q(xs, p):
        return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000 if xs else float("nan")

    return {"offered_rps": rps, "sent": n, "ok": status.get(200, 0),
            "achieved_rps": status.get(200, 0) / wall if wall else 0.0,
            "p50_ms": q(lat, .5), "p99_ms": q(lat, .99),
            "lag_p99_ms": q(lags, .99), "status": {str(k): v for k, v in status.items()}}


def run_client(url: str, rps: float, seconds: float) -> dict:
    out = subprocess.run([sys.executable, __file__, "--client", url, str(rps), str(seconds)],
                         capture_output=True, text=True, timeout=seconds * 20 + 60)
    if out.returncode:
        raise SystemExit(f"client failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout)


# --- the ramp ------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--client", nargs=3, metavar=("URL", "RPS", "SECONDS"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--start-rps", type=float, default=50)
    ap.add_argument("--max-rps", type=float, default=6400)
    ap.add_argument("--step-s", type=float, default=4)
    ap.add_argument("--p99-ms", type=float, default=10.0)
    ap.add_argument("--beyond", type=int, default=2)
    a = ap.parse_args()
    if a.client:
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        url, rps, seconds = a.client[0], float(a.client[1]), float(a.client[2])
        print(json.dumps(asyncio.run(_client(url, rps, seconds))))
        return 0

    import psutil

    from vsbench.platform.embedded import EmbeddedPlatform
    from vsbench.platform.policy import ScalingPolicy

    me = psutil.Process()
    with tempfile.TemporaryDirectory(prefix="vsb-sat-") as tmp, \
            EmbeddedPlatform(Path(tmp)) as p:
        policy = ScalingPolicy(min_replicas=1, max_replicas=1, max_inflight=1000,
                               target_inflight=1000, idle_timeout_s=None,
                               memory_mb=256).validate()
        p.admin().deploy("noop", policy, "vsbench/noop:local")
        p.admin().wait_available(["noop"])
        replica = p.gateway.pools["noop"].ready()[0].replica.url
        targets = {"direct": f"{replica}/", "gateway": f"{p.gateway_url}/function/noop"}
        for url in targets.values():  # warm both paths
            run_client(url, 50, 1)
        print(f"{'rps':>6} {'target':>8} {'achieved':>9} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'lag p99':>8} {'RSS MB':>7}  answers")
        rps, past = a.start_rps, None
        while rps <= a.max_rps:
            for name, url in targets.items():
                r = run_client(url, rps, a.step_s)
                rss = me.memory_info().rss / 2**20
                print(f"{rps:>6.0f} {name:>8} {r['achieved_rps']:>9.0f} {r['p50_ms']:>8.2f} "
                      f"{r['p99_ms']:>8.2f} {r['lag_p99_ms']:>8.2f} {rss:>7.0f}  "
                      f"{r['status']}", flush=True)
                if name == "gateway" and past is None and not r["p99_ms"] <= a.p99_ms:
                    past = 0
                    print(f"# gateway p99 above {a.p99_ms:g} ms at {rps:.0f} rps offered")
            if past is not None:
                past += 1
                if past > a.beyond:
                    break
            rps *= 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
