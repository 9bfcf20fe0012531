"""A discrete-event simulation of the platform's scaling: functions' replicas start, serve,
idle and stop on simulated time, under the same rules as the embedded gateway.

What is shared with the platform, not copied: the :class:`~vsbench.platform.policy.
ScalingPolicy`, the replica count for a demand (:func:`~vsbench.platform.scaling.
wanted_replicas`) and the keep-alive decisions (:class:`~vsbench.platform.keepalive.
KeepAliveState`: when an idle replica stops, when a pre-warm window starts one). What this
module does is the pool's bookkeeping on simulated time (:class:`SimPool`, the counterpart
of :class:`~vsbench.platform.scaling.ScalingPool`):

* a call takes the least loaded ready replica with a free slot (``max_inflight``), else
  waits FIFO (``max_queue`` beyond which it is refused, as the gateway's 429); demand over
  ``target_inflight`` per replica starts replicas up to ``max_replicas``;
* a call is **cold** when the replica that served it became ready after the call began
  waiting: ``scale_from_zero`` if the function had no ready replica when it arrived, else
  ``scale_out`` (the pool's classes);
* an idle replica stops at the keep-alive state's time, never below ``min_replicas`` and not
  while calls wait; the pool checks every 0.1 s, the simulator at the exact time;
* a replica is billed from spawn to stop (its idle GB-s: alive less busy, at its memory);
  under the oracle, an idle period that ended in a stop is billed as none (hindsight:
  :class:`~vsbench.platform.keepalive.OracleKeepAlive`).

Pools that share one :class:`Machine` (a replay of one run: every replica on the same
host) keep its load: calls running (those with a service time, not a program) and replicas
starting. The caller's samplers may read it (the replay draws times taken at a similar load:
:meth:`~vsbench.sim.fit.Empirical.at_load`); the draw comes before the call or start is
counted, as the measured loads leave the sample itself out.

Not modelled: start failures and their backoff, queue and call timeouts, memory limits.
Service and cold-start times come from the caller (samplers: :mod:`.fit`).
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vsbench.platform import keepalive as ka
from vsbench.platform.policy import ScalingPolicy
from vsbench.platform.scaling import wanted_replicas

Sampler = Callable[[random.Random], float]  # seconds


class Simulator:
    """The clock and the event queue: ``at(t, fn, *args)`` runs ``fn(*args)`` at ``t``."""

    def __init__(self, seed: int = 0) -> None:
        self.now = 0.0
        self.rng = random.Random(seed)
        self._heap: list[tuple[float, int, Callable, tuple]] = []
        self._seq = itertools.count()
        self.events = 0

    def at(self, t: float, fn: Callable, *args: Any) -> None:
        heapq.heappush(self._heap, (t, next(self._seq), fn, args))

    def run(self, until: float = math.inf) -> None:
        heap, pop = self._heap, heapq.heappop
        while heap and heap[0][0] <= until:
            t, _, fn, args = pop(heap)
            self.now = t
            self.events += 1
            fn(*args)
        self.now = max(self.now, until) if until != math.inf else self.now


@dataclass
class Machine:
    """The host pools share: calls running on it and replicas starting, now."""

    load: int = 0


@dataclass(eq=False)
class SimReplica:
    replica_id: str
    spawn: float
    ready: float | None = None
    inflight: int = 0
    served: int = 0
    last_active: float = 0.0
    busy_since: float | None = None
    busy_s: float = 0.0
    keep_until: float | None = None  # started by a pre-warm window ending then
    version: int = 0  # bumped when its idle deadline changes: stale checks are skipped
    stop: float | None = None
    reason: str = ""


@dataclass
class Call:
    function: str
    arrival: float
    start: float = math.nan  # when a replica took it
    end: float = math.nan
    start_class: str = "warm"  # warm | scale_from_zero | scale_out | refused
    ready_at_arrival: int = 0
    replica_id: str = ""
    done: Callable[[Call], None] | None = None
    service_s: float | None = None  # drawn when it starts unless given
    # instead of a service time: run this once a replica takes the call; it calls ``finish``
    # when the call's work is done (an orchestrator waiting on the calls it makes)
    program: Callable[[Call, Callable[[], None]], None] | None = None
    tag: Any = None
    loaded: bool = False  # counted in the machine's load while it runs

    @property
    def cold(self) -> bool:
        return self.start_class in ("scale_from_zero", "scale_out")


@dataclass
class SimPool:
    """One function's replicas on simulated time (see the module docstring)."""

    sim: Simulator
    function: str
    policy: ScalingPolicy
    service: Sampler
    cold_start: Sampler
    record_calls: bool = True
    machine: Machine | None = None  # shared with the other pools on the same host
    replicas: list[SimReplica] = field(default_factory=list)  # live: starting or ready
    retired: list[SimReplica] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    waiters: deque = field(default_factory=deque)
    invocations: int = 0
    cold_starts: int = 0
    refused: int = 0
    _idle_epoch: int = 0
    _inflight: int = 0  # calls on replicas now (all replicas)
    _nready: int = 0  # ready replicas now

    def __post_init__(self) -> None:
        self.keep = ka.KeepAliveState(ka.build(self.policy.keepalive,
                                               self.policy.idle_timeout_s, simulated=True))
        self._hindsight = self.keep.policy.hindsight
        self._ids = itertools.count()
        for _ in range(self.policy.min_replicas):  # deployed and available before the load
            r = self._new_replica(self.sim.now)
            r.ready = r.last_active = self.sim.now
            self._nready += 1
            self._schedule_stop(r)

    # --- calls -------------------------------------------------------------------------
    def invoke(self, call: Call) -> None:
        """A call arrives now."""
        now = self.sim.now
        self.keep.arrival(now)
        self._idle_epoch += 1
        call.ready_at_arrival = self._nready
        if self.record_calls:
            self.calls.append(call)
        free = self._free()
        if free is not None and not self.waiters:
            self._lease(free, call, now)
            return
        if len(self.waiters) >= self.policy.max_queue:
            call.start_class, call.start = "refused", now
            self.refused += 1
            if call.done:
                call.done(call)
            return
        self.waiters.append(call)
        self._autoscale(now)

    def _free(self) -> SimReplica | None:
        best, cap = None, self.policy.max_inflight
        for r in self.replicas:
            if r.ready is not None and r.inflight < cap and (
                    best is None or r.inflight < best.inflight):
                best = r  # least loaded; among equals the oldest (list order)
        return best

    def _lease(self, r: SimReplica, call: Call, now: float) -> None:
        if r.inflight == 0:
            r.busy_since = now
        r.inflight += 1
        self._inflight += 1
        r.served += 1
        r.keep_until = None
        r.version += 1
        self.invocations += 1
        if r.ready > call.arrival:  # the replica became ready while the call waited
            call.start_class = "scale_from_zero" if call.ready_at_arrival == 0 else "scale_out"
            self.cold_starts += 1
        call.start, call.replica_id = now, r.replica_id
        if call.program is not None:
            call.program(call, lambda: self._complete(r, call))
            return
        s = call.service_s if call.service_s is not None else self.service(self.sim.rng)
        if self.machine is not None:
            self.machine.load += 1
            call.loaded = True
        self.sim.at(now + s, self._complete, r, call)

    def _complete(self, r: SimReplica, call: Call) -> None:
        now = call.end = self.sim.now
        if call.loaded:
            self.machine.load -= 1
            call.loaded = False
        r.inflight -= 1
        self._inflight -= 1
        r.last_active = now
        if r.inflight == 0:
            r.busy_s += now - r.busy_since
            r.busy_since = None
        self._dispatch(now)
        if r.inflight == 0:
            self._schedule_stop(r)
        if not self.waiters and not self._inflight:
            self.keep.idle(now)
            self._idle_epoch += 1
            for x in self.replicas:  # the windows may have changed: new idle deadlines
                if x.inflight == 0 and x is not r and x.ready is not None:
                    self._schedule_stop(x)
            if self.keep.prewarm_at != math.inf:
                self.sim.at(self.keep.prewarm_at, self._prewarm, self._idle_epoch)
        if call.done:
            call.done(call)

    def _dispatch(self, now: float) -> None:
        while self.waiters:
            r = self._free()
            if r is None:
                return
            self._lease(r, self.waiters.popleft(), now)

    # --- replicas ------------------------------------------------------------------------
    def _new_replica(self, now: float) -> SimReplica:
        r = SimReplica(f"{self.function}-{next(self._ids)}", spawn=now)
        self.replicas.append(r)
        return r

    def _start(self, now: float) -> SimReplica:
        r = self._new_replica(now)
        self.sim.at(now + self.cold_start(self.sim.rng), self._ready, r)
        if self.machine is not None:
            self.machine.load += 1  # until ready (or stopped before)
        return r

    def _ready(self, r: SimReplica) -> None:
        if r.stop is not None:
            return
        if self.machine is not None:
            self.machine.load -= 1
        r.ready = r.last_active = self.sim.now
        self._nready += 1
        self._dispatch(self.sim.now)
        if r.inflight == 0:
            self._schedule_stop(r)

    def _autoscale(self, now: float) -> None:
        demand = self._inflight + len(self.waiters)
        for _ in range(wanted_replicas(demand, self.policy) - len(self.replicas)):
            self._start(now)

    def _schedule_stop(self, r: SimReplica) -> None:
        r.version += 1
        t = self.keep.stop_at(r.last_active, r.keep_until)
        if t != math.inf:
            self.sim.at(max(t, self.sim.now), self._stop_check, r, r.version)

    def _stop_check(self, r: SimReplica, version: int) -> None:
        if (r.version != version or r.inflight or r.stop is not None or self.waiters
                or len(self.replicas) <= self.policy.min_replicas):
            return
        self._retire(r, "idle")

    def _retire(self, r: SimReplica, reason: str) -> None:
        now = self.sim.now
        if r.busy_since is not None:
            r.busy_s += now - r.busy_since
            r.busy_since = None
        if self._hindsight and r.inflight == 0 and reason in ("idle", "end"):
            now = max(r.last_active, r.spawn)  # the oracle knew: no call came, stop it then
        r.stop, r.reason = now, reason
        if r.ready is not None:
            self._nready -= 1
        elif self.machine is not None:
            self.machine.load -= 1  # stopped while starting
        self._inflight -= r.inflight
        self.replicas.remove(r)
        self.retired.append(r)

    def _prewarm(self, epoch: int) -> None:
        if epoch != self._idle_epoch or self.replicas or self.waiters:
            return  # a call came since, or a replica is there
        r = self._start(self.sim.now)
        r.keep_until = self.keep.prewarm_end
        r.last_active = self.sim.now
        if r.keep_until != math.inf:
            r.version += 1
            self.sim.at(r.keep_until, self._stop_check, r, r.version)

    def close(self) -> None:
        """The run is over: every replica stops now (billed until now)."""
        for r in list(self.replicas):
            self._retire(r, "end")

    def alive_gb_s(self, since: float = -math.inf) -> float:
        """GB-s of the retired replicas' alive time from ``since`` on (a run's window)."""
        gb = self.policy.memory_mb / 1024
        return sum(max(0.0, r.stop - max(r.spawn, since)) for r in self.retired) * gb

    # --- totals ---------------------------------------------------------------------------
    def gb_s(self) -> tuple[float, float]:
        """(alive, idle) GB-s of the replicas retired so far, at the policy's memory."""
        alive = self.alive_gb_s()
        return alive, alive - sum(r.busy_s for r in self.retired) * self.policy.memory_mb / 1024
