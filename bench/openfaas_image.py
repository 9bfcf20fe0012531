"""Cold start of an OpenFaaS-style image vs a vsbench image, both on the container host.

The python3-http template function of the tests (tests/data/openfaas/python3-http: Flask +
waitress behind a watchdog, run as OpenFaaS runs any image: its own network, port 8080
published on loopback, ready on /_/health) against vsbench's noop image (the function runtime
on the host's network, ready when it announces so). Each rep deploys the function with zero
replicas, calls it once (a cold call) and removes it. Prints per image: the cold call as the
client saw it, the replica's start (create call -> ready) and the queue wait, as medians.

    python bench/openfaas_image.py [--reps 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def cold_calls(platform, name: str, image: str, body: bytes, reps: int) -> list[dict]:
    auth = platform.auth.as_tuple()
    rows = []
    for rep in range(reps):
        r = requests.post(f"{platform.gateway_url}/system/functions", auth=auth, json={
            "service": name, "image": image, "labels": {"com.openfaas.scale.min": "0"}})
        r.raise_for_status()
        t0 = time.perf_counter()
        resp = requests.post(f"{platform.gateway_url}/function/{name}", data=body, timeout=120)
        client_ms = (time.perf_counter() - t0) * 1000
        if resp.status_code != 200 or resp.headers.get("X-Vsb-Cold") != "1":
            raise SystemExit(f"{name} rep {rep}: HTTP {resp.status_code}, cold "
                             f"{resp.headers.get('X-Vsb-Cold')}: {resp.text[:200]}")
        rid = resp.headers["X-Vsb-Replica"]
        slot = next(s for s in platform.gateway.pools[name].slots
                    if s.replica.replica_id == rid)
        rep_ = slot.replica
        rows.append({"client_ms": client_ms, "queue_ms": float(resp.headers["X-Vsb-Queue-Ms"]),
                     "start_ms": (rep_.ready_ts - rep_.spawn_ts) * 1000})
        requests.delete(f"{platform.gateway_url}/system/functions", auth=auth,
                        json={"functionName": name}).raise_for_status()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    import openfaas_template

    from vsbench.platform.embedded import EmbeddedPlatform
    from vsbench.platform.providers import resolve_image

    template = openfaas_template.build()
    noop = resolve_image("noop")
    with tempfile.TemporaryDirectory(prefix="vsb-bench-") as tmp, \
            EmbeddedPlatform(Path(tmp), host="container") as platform:
        results = {
            f"python3-http template ({template})": cold_calls(platform, "echo", template,
                                                              b"hi", args.reps),
            f"vsbench noop ({noop})": cold_calls(
                platform, "noop", noop,
                b'{"request_id": "b", "stage": "noop", "config": {}}', args.reps),
        }
    print(f"cold call on the container host, median of {args.reps} (ms)")
    print(f"{'image':70} {'client':>8} {'start':>8} {'queue':>8}")
    for image, rows in results.items():
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        print(f"{image:70} {med['client_ms']:8.0f} {med['start_ms']:8.0f} "
              f"{med['queue_ms']:8.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
