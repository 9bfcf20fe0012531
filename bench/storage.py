"""Object store: moto's server vs SeaweedFS (the platform's default), side by side.

For each server: the start time (process spawned -> first successful put and get, the
platform's readiness test), ``--starts`` times, then put and get latency (p50, p99) of
64 KiB, 1 MiB and 16 MiB objects, ``--reps`` each, through the boto3 client the functions
use. Both servers run on loopback at once; sizes alternate between them.

    .venv/bin/python bench/storage.py --reps 30 --starts 5

moto comes with the ``test`` extra (``pip install -e '.[test]'``).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

SIZES = {"64 KiB": 64 * 1024, "1 MiB": 1024 * 1024, "16 MiB": 16 * 1024 * 1024}


@dataclass
class Server:
    """One running server under test: its client settings and how to stop it."""

    name: str
    version: str
    settings: object  # StorageSettings
    pid: int
    stop: object  # callable
    latencies: dict[str, dict[str, list[float]]] = field(default_factory=dict)


def start_moto(tmp: Path) -> tuple[Server, float]:
    from importlib import metadata

    from functions.runtime.claimcheck import StorageSettings
    from vsbench.platform.ports import free_port
    from vsbench.platform.s3server import wait_put_get

    port = free_port()
    settings = StorageSettings(endpoint_url=f"http://127.0.0.1:{port}", bucket="vsbench",
                               access_key="moto", secret_key="moto-secret")
    log = open(tmp / "moto.log", "ab")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                             "-p", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    headers, last = wait_put_get(settings, 60, alive=lambda: proc.poll() is None)
    if headers is None:
        raise SystemExit(f"moto's server did not start: {last}; see {tmp / 'moto.log'}")
    startup = time.perf_counter() - t0

    def stop() -> None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)

    return Server("moto", metadata.version("moto"), settings, proc.pid, stop), startup


def start_seaweedfs(tmp: Path) -> tuple[Server, float]:
    from vsbench.platform.s3server import S3Server

    server = S3Server(Path(tempfile.mkdtemp(dir=tmp, prefix="seaweedfs-"))).start()
    return (Server("seaweedfs", server.version, server.settings(), server.proc.pid,
                   server.stop), server.startup_s)


def measure(server: Server, label: str, size: int, reps: int) -> None:
    from functions.runtime.claimcheck import ClaimCheckStore

    client = ClaimCheckStore(server.settings).client  # the functions' client and its config
    body = os.urandom(size)
    out = server.latencies.setdefault(label, {"put": [], "get": []})
    for i in range(-2, reps):  # two unrecorded warm-ups per size
        key = f"bench/{label.replace(' ', '')}/{i}"
        t0 = time.perf_counter()
        client.put_object(Bucket=server.settings.bucket, Key=key, Body=body)
        t1 = time.perf_counter()
        got = client.get_object(Bucket=server.settings.bucket, Key=key)["Body"].read()
        t2 = time.perf_counter()
        if len(got) != size:
            raise SystemExit(f"{server.name}: {key} came back with {len(got)} bytes")
        if i >= 0:
            out["put"].append((t1 - t0) * 1000)
            out["get"].append((t2 - t1) * 1000)


def rss_mb(pid: int) -> float:
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=30, help="puts and gets per object size")
    ap.add_argument("--starts", type=int, default=5, help="cold starts timed per server")
    args = ap.parse_args()
    starters = {"moto": start_moto, "seaweedfs": start_seaweedfs}

    with tempfile.TemporaryDirectory(prefix="vsb-bench-storage-") as tmpdir:
        tmp = Path(tmpdir)
        starts: dict[str, list[float]] = {name: [] for name in starters}
        for _ in range(args.starts):
            for name, start in starters.items():  # alternate: same machine state for both
                server, seconds = start(tmp)
                server.stop()
                starts[name].append(seconds)
        servers = [start(tmp)[0] for start in starters.values()]
        rss_idle = {s.name: rss_mb(s.pid) for s in servers}
        try:
            for label, size in SIZES.items():
                for server in servers:
                    measure(server, label, size, args.reps)
            rss = {s.name: rss_mb(s.pid) for s in servers}
        finally:
            for server in servers:
                server.stop()

    print(f"start: process spawned -> first put+get succeeded, {args.starts} starts each")
    print(f"{'server':<10} {'version':<30} {'median s':>9} {'min s':>7} {'max s':>7} "
          f"{'RSS MB idle':>12} {'after run':>10}")
    for s in servers:
        t = starts[s.name]
        print(f"{s.name:<10} {s.version:<30} {np.median(t):>9.2f} {min(t):>7.2f} "
              f"{max(t):>7.2f} {rss_idle[s.name]:>12.0f} {rss[s.name]:>10.0f}")
    print(f"\nlatency (ms), {args.reps} puts and gets per size, boto3 on loopback")
    print(f"{'object':<8} {'server':<10} {'put p50':>8} {'put p99':>8} {'get p50':>8} "
          f"{'get p99':>8}")
    for label in SIZES:
        for s in servers:
            put, get = s.latencies[label]["put"], s.latencies[label]["get"]
            print(f"{label:<8} {s.name:<10} {np.percentile(put, 50):>8.1f} "
                  f"{np.percentile(put, 99):>8.1f} {np.percentile(get, 50):>8.1f} "
                  f"{np.percentile(get, 99):>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
