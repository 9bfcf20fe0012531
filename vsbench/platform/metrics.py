"""Prometheus text exposition for the gateway, with OpenFaaS's metric names.

OpenFaaS: ``gateway_function_invocation_started{function_name}``,
``gateway_function_invocation_total{function_name,code}``,
``gateway_functions_seconds{function_name,code}`` (histogram) and
``gateway_service_count{function_name}``, with OpenFaaS's ``name.namespace`` function names.
Ours: ``vsbench_cold_starts_total``,
``vsbench_queue_wait_seconds`` (histogram) and ``vsbench_replica_seconds_total{state}``.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Histogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, value)] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str, labels: str) -> list[str]:
        out, cumulative = [], 0
        for bound, count in zip(BUCKETS, self.counts, strict=False):
            cumulative += count
            out.append(f'{name}_bucket{{{labels},le="{bound:g}"}} {cumulative}')
        out.append(f'{name}_bucket{{{labels},le="+Inf"}} {self.n}')
        out.append(f"{name}_sum{{{labels}}} {self.total:.6f}")
        out.append(f"{name}_count{{{labels}}} {self.n}")
        return out


class GatewayMetrics:
    def __init__(self) -> None:
        self.invocations: dict[tuple[str, int], int] = defaultdict(int)
        self.seconds: dict[tuple[str, int], Histogram] = defaultdict(Histogram)
        self.queue_wait: dict[str, Histogram] = defaultdict(Histogram)
        self.cold: dict[str, int] = defaultdict(int)
        self.started_total: dict[str, int] = defaultdict(int)

    def started(self, function: str) -> None:
        self.started_total[function] += 1

    def observe(self, function: str, code: int, seconds: float, queue_s: float,
                cold: bool) -> None:
        self.invocations[(function, code)] += 1
        self.seconds[(function, code)].observe(seconds)
        self.queue_wait[function].observe(queue_s)
        if cold:
            self.cold[function] += 1

    def render(self, pools: dict) -> str:
        """``pools`` by their metric name (``name.namespace``)."""
        out = ["# HELP gateway_function_invocation_started The total number of function "
               "HTTP requests started", "# TYPE gateway_function_invocation_started counter"]
        for fn, n in sorted(self.started_total.items()):
            out.append(f'gateway_function_invocation_started{{function_name="{fn}"}} {n}')
        out += ["# HELP gateway_function_invocation_total Function invocations",
               "# TYPE gateway_function_invocation_total counter"]
        for (fn, code), n in sorted(self.invocations.items()):
            out.append(f'gateway_function_invocation_total{{function_name="{fn}",code="{code}"}}'
                       f" {n}")
        out += ["# HELP gateway_functions_seconds Function time taken",
                "# TYPE gateway_functions_seconds histogram"]
        for (fn, code), h in sorted(self.seconds.items()):
            out += h.lines("gateway_functions_seconds", f'function_name="{fn}",code="{code}"')
        out += ["# HELP gateway_service_count Current count of replicas for function",
                "# TYPE gateway_service_count gauge"]
        for name, pool in sorted(pools.items()):
            out.append(f'gateway_service_count{{function_name="{name}"}} {len(pool.live())}')
        out += ["# HELP vsbench_cold_starts_total Invocations that waited for a replica "
                "started for them", "# TYPE vsbench_cold_starts_total counter"]
        for fn, n in sorted(self.cold.items()):
            out.append(f'vsbench_cold_starts_total{{function_name="{fn}"}} {n}')
        out += ["# HELP vsbench_queue_wait_seconds Time requests waited for a free replica",
                "# TYPE vsbench_queue_wait_seconds histogram"]
        for fn, h in sorted(self.queue_wait.items()):
            out += h.lines("vsbench_queue_wait_seconds", f'function_name="{fn}"')
        out += ["# HELP vsbench_replica_seconds_total Replica lifetime seconds by state",
                "# TYPE vsbench_replica_seconds_total counter"]
        for name, pool in sorted(pools.items()):
            busy, alive = pool.replica_seconds()
            out.append(f'vsbench_replica_seconds_total{{function_name="{name}",state="busy"}} '
                       f"{busy:.3f}")
            out.append(f'vsbench_replica_seconds_total{{function_name="{name}",state="idle"}} '
                       f"{max(0.0, alive - busy):.3f}")
        return "\n".join(out) + "\n"
