"""A function's replicas as the gateway sees them.

This is the fixed-size pool ``vsbench process`` uses before a platform is running: each
function gets its replicas up front and keeps them. The scaling pool (min/max replicas,
scale to zero) builds on the same acquire/release interface.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from .process_replica import ProcessReplica


@dataclass
class Lease:
    replica: ProcessReplica
    queue_ms: float = 0.0
    cold: bool = False  # waited for a replica started for it


@dataclass
class StaticPool:
    function: str
    replicas: list[ProcessReplica]
    inflight: dict[str, int] = field(default_factory=dict)
    invocations: int = 0
    _rr: itertools.count = field(default_factory=itertools.count)

    async def acquire(self) -> Lease:
        live = [r for r in self.replicas if r.alive()]
        if not live:
            raise LookupError(f"function {self.function} has no live replica")
        # Least in-flight first, round-robin among equals.
        start = next(self._rr)
        order = sorted(range(len(live)),
                       key=lambda i: (self.inflight.get(live[i].replica_id, 0),
                                      (i - start) % len(live)))
        rep = live[order[0]]
        self.inflight[rep.replica_id] = self.inflight.get(rep.replica_id, 0) + 1
        self.invocations += 1
        await asyncio.sleep(0)
        return Lease(rep)

    def release(self, lease: Lease) -> None:
        rid = lease.replica.replica_id
        self.inflight[rid] = max(0, self.inflight.get(rid, 1) - 1)

    def describe(self) -> dict:
        live = sum(r.alive() for r in self.replicas)
        return {"name": self.function, "replicas": len(self.replicas),
                "availableReplicas": live, "invocationCount": self.invocations}
