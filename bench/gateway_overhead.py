"""Latency the gateway adds to a warm call: noop called directly vs. through the gateway.

Starts the embedded platform, deploys ``noop`` with one replica kept warm
(min_replicas=1, max_inflight=1, idle_timeout_s=None) and calls it sequentially, over one
keep-alive connection per target, (a) directly at the replica (``POST {replica.url}/``) and
(b) through the gateway (``POST {gateway}/function/noop``), with the same envelope. After
``--warmup`` calls of each, ``--calls`` calls of each are made in alternating blocks of
``--block`` (a, b, b, a, ...) so drift (other load, CPU frequency) falls on both alike. A third,
interleaved series, ``GET {gateway}/healthz``, is the gateway's HTTP server floor: a route
that never reaches a replica.

Two clients: ``requests`` (one ``requests.Session``) and ``raw`` (``http.client``, one
``HTTPConnection`` per target), so requests' own per-call cost can be told apart from the
gateway's. Prints p50/p90/p99/mean per series and the added latency (gateway - direct) at
p50 and p99 (a difference of quantiles). The goal is <= 1 ms at p50 and <= 5 ms at p99.

By default the client runs on a thread of this process, beside the gateway's thread (as in
``vsbench process`` without a running platform); ``--client-process`` runs it in a
separate process (as against ``vsbench platform up``), so the two do not share a GIL.
``--profile N`` then makes N more gateway calls with cProfile enabled on the gateway's
thread and prints where the gateway's time goes.

``--replica-nodelay`` is a what-if, not the platform as it is: the replica is deployed with a
``sitecustomize`` on its PYTHONPATH that sets TCP_NODELAY on the runtime's server sockets
(``socketserver.StreamRequestHandler.disable_nagle_algorithm``). Without it the runtime sends
a response's headers and body in two writes, and on a keep-alive connection Nagle holds the
body until the client's delayed ACK (~40 ms on Linux): every warm call, direct or through the
gateway, then takes ~44 ms and the gateway's own share cannot be seen.

    python bench/gateway_overhead.py [--calls 1000] [--warmup 50] [--block 50]
        [--client both|requests|raw] [--client-process] [--profile 2000]
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ENVELOPE = json.dumps({"request_id": "b", "stage": "noop", "config": {}}).encode()
HEADERS = {"Content-Type": "application/json"}


# --- clients --------------------------------------------------------------------------------
class RequestsClient:
    name = "requests"

    def __init__(self) -> None:
        import requests

        self.session = requests.Session()

    def call(self, method: str, url: str, body: bytes | None) -> tuple[int, dict]:
        resp = self.session.request(method, url, data=body,
                                    headers=HEADERS if body is not None else None)
        resp.content  # noqa: B018 - read the whole body
        return resp.status_code, resp.headers


class RawClient:
    """http.client with one keep-alive connection per host:port."""

    name = "raw"

    def __init__(self) -> None:
        self.conns: dict[str, http.client.HTTPConnection] = {}

    def call(self, method: str, url: str, body: bytes | None) -> tuple[int, dict]:
        parts = urlsplit(url)
        conn = self.conns.get(parts.netloc)
        if conn is None:
            conn = self.conns[parts.netloc] = http.client.HTTPConnection(parts.netloc,
                                                                         timeout=30)
        conn.request(method, parts.path or "/", body=body,
                     headers=HEADERS if body is not None else {})
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.headers


CLIENTS = {"requests": RequestsClient, "raw": RawClient}


def run_client(client_name: str, direct_url: str, gateway_url: str, calls: int, warmup: int,
               block: int) -> dict[str, list[float]]:
    """Sequential calls, interleaved in blocks; latencies in ms per series."""
    client = CLIENTS[client_name]()
    targets = {
        "direct": ("POST", f"{direct_url}/", ENVELOPE),
        "gateway": ("POST", f"{gateway_url}/function/noop", ENVELOPE),
        "gw_healthz": ("GET", f"{gateway_url}/healthz", None),
    }
    for _ in range(warmup):
        for method, url, body in targets.values():
            status, _ = client.call(method, url, body)
            if status != 200:
                raise RuntimeError(f"{method} {url}: HTTP {status}")
    out: dict[str, list[float]] = {k: [] for k in targets}
    gw_inner: list[float] = []  # X-Duration-Seconds: the gateway's own time, replica incl.
    order = list(targets)
    done = 0
    clock = time.perf_counter_ns
    while done < calls:
        n = min(block, calls - done)
        for key in order:
            method, url, body = targets[key]
            samples = out[key]
            for _ in range(n):
                t0 = clock()
                status, headers = client.call(method, url, body)
                samples.append((clock() - t0) / 1e6)
                if status != 200:
                    raise RuntimeError(f"{method} {url}: HTTP {status}")
                if key == "gateway":
                    gw_inner.append(float(headers["X-Duration-Seconds"]) * 1000)
        order.reverse()  # a b c, c b a, ...: no series always goes first
        done += n
    out["gw_inner"] = gw_inner
    return out


def run_client_process(client_name: str, direct_url: str, gateway_url: str, args) -> dict:
    cmd = [sys.executable, __file__, "--client-worker", json.dumps(
        [client_name, direct_url, gateway_url, args.calls, args.warmup, args.block])]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"client process failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


# --- figures ---------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    """q-th percentile, linear interpolation (numpy's default)."""
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary_row(label: str, v: list[float]) -> str:
    return (f"{label:<22}{len(v):>6}{pct(v, 50):>9.3f}{pct(v, 90):>9.3f}{pct(v, 99):>9.3f}"
            f"{statistics.fmean(v):>9.3f}{max(v):>9.3f}")


def report(client_name: str, res: dict[str, list[float]], goal_p50: float,
           goal_p99: float) -> dict[str, float]:
    print(f"\nclient: {client_name}  (ms)")
    print(f"{'series':<22}{'n':>6}{'p50':>9}{'p90':>9}{'p99':>9}{'mean':>9}{'max':>9}")
    labels = {"direct": "direct (replica)", "gateway": "gateway /function",
              "gw_healthz": "gateway /healthz", "gw_inner": "gateway X-Duration"}
    for key, label in labels.items():
        print(summary_row(label, res[key]))
    d, g = res["direct"], res["gateway"]
    added = {q: pct(g, q) - pct(d, q) for q in (50, 90, 99)}
    added_mean = statistics.fmean(g) - statistics.fmean(d)
    ok50 = "met" if added[50] <= goal_p50 else "MISSED"
    ok99 = "met" if added[99] <= goal_p99 else "MISSED"
    print(f"added (gateway - direct): p50 {added[50]:.3f} ms [goal <= {goal_p50:g}: {ok50}]  "
          f"p90 {added[90]:.3f}  p99 {added[99]:.3f} ms [goal <= {goal_p99:g}: {ok99}]  "
          f"mean {added_mean:.3f} ms")
    # Where the added time sits: before the handler's clock starts / after it stops
    # (aiohttp server, routing, response), vs. inside it (lease + upstream hop + logging).
    outer = pct(g, 50) - pct(res["gw_inner"], 50)
    print(f"  p50 split: gateway HTTP server floor (healthz) {pct(res['gw_healthz'], 50):.3f} ms;"
          f" client->gateway->client outside the invoke clock {outer:.3f} ms; "
          f"invoke clock (lease + upstream + bookkeeping) {pct(res['gw_inner'], 50):.3f} ms "
          f"vs. direct {pct(d, 50):.3f} ms")
    return {"p50": added[50], "p99": added[99]}


# --- profiling the gateway thread ----------------------------------------------------------
def profile_gateway(platform, calls: int, top: int) -> None:
    """cProfile on the gateway's own thread (sys.setprofile is per thread)."""
    gw = platform.gateway
    prof = cProfile.Profile()
    ready = threading.Event()

    def enable() -> None:
        prof.enable()
        ready.set()

    gw._loop.call_soon_threadsafe(enable)
    ready.wait(5)
    client = RawClient()
    url = f"{gw.url}/function/noop"
    t0 = time.perf_counter()
    for _ in range(calls):
        client.call("POST", url, ENVELOPE)
    wall = time.perf_counter() - t0
    done = threading.Event()

    def disable() -> None:
        prof.disable()
        done.set()

    gw._loop.call_soon_threadsafe(disable)
    done.wait(5)
    stats = pstats.Stats(prof)
    idle = sum(tt for (_, _, fn), (_, _, tt, _, _) in stats.stats.items()
               if fn == "<method 'poll' of 'select.epoll' objects>")
    busy = stats.total_tt - idle
    print(f"\ncProfile of the gateway thread over {calls} calls: {wall * 1000 / calls:.3f} ms "
          f"per call under the profiler, of which the gateway thread was busy "
          f"{busy * 1000 / calls:.3f} ms and waiting in epoll {idle * 1000 / calls:.3f} ms")
    for key, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(top)
        lines = buf.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
        print(f"\ntop {top} by {title}:")
        print("\n".join(line.replace("/tmp/venv/lib/python3.11/site-packages/", "")
                        for line in lines[start:start + top + 1]))


def time_bookkeeping(platform, n: int = 2000) -> None:
    """Per-call cost of the synchronous bookkeeping invoke() does on the event loop."""
    gw = platform.gateway
    from vsbench.platform.events import EventLog

    log = EventLog(platform.state_dir / "events" / "_bench_probe.jsonl")
    rec = {"ts": time.time(), "function": "noop", "status": 200, "duration_ms": 1.234,
           "queue_ms": 0.0, "cold": False, "replica_id": "noop-0", "request_id": None,
           "error": None}
    t0 = time.perf_counter()
    for _ in range(n):
        log.write(dict(rec))
    log_ms = (time.perf_counter() - t0) * 1000 / n
    from vsbench.platform.metrics import GatewayMetrics

    m = GatewayMetrics()
    t0 = time.perf_counter()
    for _ in range(n):
        m.observe("noop", 200, 0.001, 0.0, False)
    metrics_ms = (time.perf_counter() - t0) * 1000 / n
    print(f"\nbookkeeping per call (measured here, outside the gateway): invocation log write "
          f"(open+append+close of {Path(gw.logs.invocations.path).name}) {log_ms * 1000:.1f} us;"
          f" metrics.observe {metrics_ms * 1000:.1f} us")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1000, help="measured calls per series")
    ap.add_argument("--warmup", type=int, default=50, help="warm-up calls per series")
    ap.add_argument("--block", type=int, default=50, help="calls per interleaved block")
    ap.add_argument("--client", choices=["both", "requests", "raw"], default="both")
    ap.add_argument("--client-process", action="store_true",
                    help="run the client in its own process (no GIL shared with the gateway)")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="then profile the gateway thread over N calls (0: only if the goal "
                         "is missed, with 2000 calls; -1: never)")
    ap.add_argument("--top", type=int, default=25, help="rows of the profile to print")
    ap.add_argument("--replica-nodelay", action="store_true",
                    help="what-if: TCP_NODELAY in the replica's runtime (see the docstring)")
    ap.add_argument("--goal-p50", type=float, default=1.0)
    ap.add_argument("--goal-p99", type=float, default=5.0)
    ap.add_argument("--client-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.client_worker:
        name, direct, gateway, calls, warmup, block = json.loads(args.client_worker)
        json.dump(run_client(name, direct, gateway, calls, warmup, block), sys.stdout)
        return 0

    from functions.registry import ALL_FUNCTIONS
    from vsbench.platform.embedded import EmbeddedPlatform
    from vsbench.platform.policy import ScalingPolicy

    policy = ScalingPolicy(min_replicas=1, max_replicas=1, max_inflight=1,
                           target_inflight=1, idle_timeout_s=None,
                           memory_mb=ALL_FUNCTIONS["noop"].memory_mb)
    clients = ["requests", "raw"] if args.client == "both" else [args.client]
    missed = False
    with tempfile.TemporaryDirectory(prefix="vsb-bench-") as tmp:
        with EmbeddedPlatform(Path(tmp) / "platform") as platform:
            if args.replica_nodelay:
                site = Path(tmp) / "nodelay"
                site.mkdir()
                (site / "sitecustomize.py").write_text(
                    "import socketserver\n"
                    "socketserver.StreamRequestHandler.disable_nagle_algorithm = True\n")
                path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
                admin = platform.admin()
                admin.deploy("noop", policy, platform.default_image("noop"),
                             env={"PYTHONPATH": path})
                admin.wait_available(["noop"])
            else:
                platform.deploy({"noop": policy})
            pool = platform.gateway.pools["noop"]
            replica = pool.ready()[0].replica
            print(f"noop replica {replica.replica_id} at {replica.url} (pid {replica.pid}); "
                  f"gateway {platform.gateway_url}; client in "
                  f"{'its own process' if args.client_process else 'this process (thread)'}; "
                  f"{args.calls} calls per series after {args.warmup} warm-up, blocks of "
                  f"{args.block}; replica TCP_NODELAY what-if: "
                  f"{'ON' if args.replica_nodelay else 'off (platform as is)'}")
            for name in clients:
                if args.client_process:
                    res = run_client_process(name, replica.url, platform.gateway_url, args)
                else:
                    res = run_client(name, replica.url, platform.gateway_url, args.calls,
                                     args.warmup, args.block)
                added = report(name, res, args.goal_p50, args.goal_p99)
                missed |= added["p50"] > args.goal_p50 or added["p99"] > args.goal_p99
            still = [s.replica.replica_id for s in pool.ready()]
            oom = platform.logs.scale_events.where(function="noop", reason="oom_killed")
            if still != [replica.replica_id] or oom:
                print(f"\nWARNING: the replica changed during the run (ready now: {still}; "
                      f"oom kills: {oom}); figures may include a cold start")
            time_bookkeeping(platform)
            n_prof = args.profile if args.profile > 0 else (2000 if missed and args.profile == 0
                                                             else 0)
            if n_prof:
                profile_gateway(platform, n_prof, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
