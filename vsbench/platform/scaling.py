"""A function's replicas under a :class:`ScalingPolicy`: scale from zero, up, and back down.

All state lives on the gateway's event loop (no locks). A request takes a free slot on a
ready replica (fewer than ``max_inflight`` in flight) or waits, FIFO, in a bounded queue. Demand
(in flight + waiting) over ``target_inflight`` per replica starts replicas, up to
``max_replicas``; an idle replica is stopped when the function's keep-alive policy says so
(:class:`.keepalive.KeepAliveState`: under ``fixed``, once idle for ``idle_timeout_s``), never
below ``min_replicas``, and a policy's pre-warm window starts one replica ahead of the
expected next call. A waiting request goes to the first slot that frees or the first replica
that becomes ready. It is **cold** when the replica that served it became ready after it
began waiting, i.e. it waited for a replica to start (one started for it, or one already
starting). A cold call is a **scale from zero** when the function had no ready replica when it
arrived, else a **scale out**; every other call is **warm** (``Lease.start``, :data:`STARTS`).

Every change in replica count is a scale event (time, function, from, to, reason).

Failed starts back off: after each consecutive failure of a function's replica to start, no
replica of it starts for 1 s, then 2, 4 … up to 30 s (a success resets it); meanwhile a
request that has no replica to wait for fails at once with a 503 naming the last failure,
rather than the pool starting, failing and starting again in a loop.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import keepalive as ka
from .events import PlatformLogs
from .policy import ScalingPolicy
from .prewarm import SparesMixin


class Replica(Protocol):
    """What a provider's replica offers (a process or a container)."""

    function: str
    replica_id: str
    spawn_ts: float
    ready_ts: float | None
    host: str  # process | container

    @property
    def url(self) -> str: ...
    @property
    def pid(self) -> int | None: ...
    def spawn(self) -> None: ...
    def wait_ready(self, timeout_s: float = 120.0) -> None: ...
    def alive(self) -> bool: ...
    def stop(self, grace_s: float = 5.0) -> None: ...
    def kill(self) -> None: ...
    def rss_mb(self) -> float: ...
    def lifecycle(self) -> dict[str, Any]: ...  # provider-side fields of the replica record
    def exit_info(self) -> dict[str, Any]: ...  # exit_code, exit_reason (oom_killed if known)


QUEUE_FULL_RETRY_S = 1  # Retry-After of a 429 when a function's queue is full

# how a call found its replica: see the module docstring
STARTS = ("warm", "scale_from_zero", "scale_out")

# (replica_id, the function's current policy) -> an unstarted replica
ReplicaFactory = Callable[[str, ScalingPolicy], Replica]


def wanted_replicas(demand: int, policy: ScalingPolicy) -> int:
    """Replicas for ``demand`` calls in flight or waiting: one per ``target_inflight``,
    within [min, max] (the pool's rule; the simulator's too)."""
    want = math.ceil(demand / policy.target_inflight) if demand else 0
    return max(policy.min_replicas, min(policy.max_replicas, want))


@dataclass
class StartBackoff:
    """Bounded exponential backoff after consecutive failed starts (pure: no clock inside)."""

    base_s: float = 1.0
    max_s: float = 30.0
    failures: int = 0  # consecutive
    until: float = 0.0  # monotonic time before which no replica starts
    last_error: str | None = None

    def failed(self, error: str, now: float) -> float:
        """Count a failed start; returns the delay before the next may begin."""
        self.failures += 1
        self.last_error = error
        delay = min(self.max_s, self.base_s * 2 ** (self.failures - 1))
        self.until = now + delay
        return delay

    def succeeded(self) -> None:
        self.failures, self.until, self.last_error = 0, 0.0, None

    def remaining(self, now: float) -> float:
        return max(0.0, self.until - now)


class PoolError(Exception):
    status = 503

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


@dataclass
class Slot:
    replica: Replica
    started_mono: float
    state: str = "starting"  # starting | ready | stopping | dead
    inflight: int = 0
    served: int = 0
    last_active: float = 0.0
    busy_since: float | None = None
    busy_s: float = 0.0
    ready_mono: float | None = None
    draining: bool = False  # stop when idle (replaced by an update)
    peak_rss_mb: float = 0.0  # highest sampled RSS (replica + its tool processes)
    prewarmed: bool = False  # started as a spare (.prewarm)
    keep_until: float | None = None  # started by a keep-alive pre-warm window ending then

    def busy_begin(self, now: float) -> None:
        if self.inflight == 0:
            self.busy_since = now
        self.inflight += 1

    def busy_end(self, now: float) -> None:
        self.inflight = max(0, self.inflight - 1)
        self.last_active = now
        if self.inflight == 0 and self.busy_since is not None:
            self.busy_s += now - self.busy_since
            self.busy_since = None


@dataclass
class Lease:
    slot: Slot
    queue_ms: float = 0.0
    start: str = "warm"  # one of STARTS

    @property
    def cold(self) -> bool:
        return self.start != "warm"

    @property
    def replica(self) -> Replica:
        return self.slot.replica


@dataclass
class _Waiter:
    future: asyncio.Future
    ready_at_arrival: int  # ready replicas of the function when the call arrived
    since: float = field(default_factory=time.monotonic)


class ScalingPool(SparesMixin):
    def __init__(self, function: str, policy: ScalingPolicy, factory: ReplicaFactory,
                 logs: PlatformLogs, image: str = "", labels: dict[str, str] | None = None,
                 start_timeout_s: float = 120.0, enforce_memory: bool = True):
        self.function = function
        self._policy = self.keep = None
        self.policy = policy  # and the keep-alive state (.keepalive)
        self.factory = factory
        self.logs = logs
        self.image = image
        self.labels = labels or {}
        self.start_timeout_s = start_timeout_s
        self.enforce_memory = enforce_memory
        self.slots: list[Slot] = []
        self.spares: list[Slot] = []  # the prewarm starter's, not yet handed out (.prewarm)
        self.waiters: deque[_Waiter] = deque()
        self.invocations = 0
        self.cold_starts = 0
        self._ids = itertools.count()
        self._retired_busy_s = 0.0  # replica-seconds of replicas already stopped
        self._retired_alive_s = 0.0
        self._tasks: set[asyncio.Task] = set()
        self.backoff = StartBackoff()
        self.closed = False

    @property
    def policy(self) -> ScalingPolicy:
        return self._policy

    @policy.setter
    def policy(self, policy: ScalingPolicy) -> None:
        """A new policy; the keep-alive state (a histogram learnt so far) stays unless the
        keep-alive policy or its timeout changed."""
        old, self._policy = self._policy, policy
        if old is None or (old.keepalive, old.idle_timeout_s) != (policy.keepalive,
                                                                  policy.idle_timeout_s):
            self.keep = ka.KeepAliveState(ka.build(policy.keepalive, policy.idle_timeout_s))

    # --- counting ------------------------------------------------------------------------
    def live(self) -> list[Slot]:
        return [s for s in self.slots if s.state in ("starting", "ready")]

    def ready(self) -> list[Slot]:
        return [s for s in self.slots if s.state == "ready"]

    def _free_slot(self) -> Slot | None:
        free = [s for s in self.ready() if s.inflight < self.policy.max_inflight
                and not s.draining]
        # Least loaded first; among equals the oldest, so newer replicas can idle out.
        return min(free, key=lambda s: (s.inflight, s.started_mono), default=None)

    def _event(self, before: int, after: int, reason: str, **extra: Any) -> None:
        self.logs.scale_events.write({"function": self.function, "from": before, "to": after,
                                      "reason": reason, **extra})

    # --- requests ------------------------------------------------------------------------
    async def acquire(self) -> Lease:
        if self.closed:
            raise PoolError(f"function {self.function} is being removed", 503)
        self.keep.arrival(time.monotonic())
        if not self.live() and self.backoff.remaining(time.monotonic()):
            raise PoolError(self._backoff_message(), 503)
        slot = self._free_slot()
        if slot is not None and not self.waiters:
            return self._lease(slot)
        if len(self.waiters) >= self.policy.max_queue:
            raise PoolError(f"function {self.function}: queue full ({self.policy.max_queue} "
                            f"waiting, max_queue); retry after {QUEUE_FULL_RETRY_S} s", 429)
        waiter = _Waiter(asyncio.get_running_loop().create_future(), len(self.ready()))
        self.waiters.append(waiter)
        self._autoscale()
        self._dispatch()
        done, _ = await asyncio.wait({waiter.future}, timeout=self.policy.queue_timeout_s)
        if not done:
            waiter.future.cancel()
            try:
                self.waiters.remove(waiter)
            except ValueError:
                pass
            raise PoolError(
                f"function {self.function}: no replica free after waiting "
                f"{self.policy.queue_timeout_s:g} s (queue_timeout_s; {len(self.ready())} ready, "
                f"{len(self.live())} live of max {self.policy.max_replicas})", 504)
        return waiter.future.result()

    def _lease(self, slot: Slot, waiter: _Waiter | None = None) -> Lease:
        now = time.monotonic()
        slot.busy_begin(now)
        slot.keep_until = None
        slot.served += 1
        self.invocations += 1
        start = "warm"
        if waiter is not None and (slot.ready_mono or 0.0) >= waiter.since:
            start = "scale_from_zero" if waiter.ready_at_arrival == 0 else "scale_out"
            self.cold_starts += 1
        queue_ms = (now - waiter.since) * 1000 if waiter is not None else 0.0
        return Lease(slot, queue_ms=queue_ms, start=start)

    def _dispatch(self) -> None:
        while self.waiters:
            slot = self._free_slot()
            if slot is None:
                return
            waiter = self.waiters.popleft()
            if waiter.future.done():
                continue
            waiter.future.set_result(self._lease(slot, waiter))

    def release(self, lease: Lease) -> None:
        slot = lease.slot
        now = time.monotonic()
        slot.busy_end(now)
        if slot.draining and slot.inflight == 0:
            self._stop_slot(slot, "replaced")
        self._dispatch()
        if not self.waiters and not any(s.inflight for s in self.slots):
            self.keep.idle(now)

    def _backoff_message(self) -> str:
        b = self.backoff
        return (f"function {self.function}: no replica, and none starts for "
                f"{b.remaining(time.monotonic()):.1f} s more after {b.failures} consecutive "
                f"failed start(s); last: {b.last_error}")

    def fail_waiters(self, message: str, status: int = 502) -> None:
        while self.waiters:
            w = self.waiters.popleft()
            if not w.future.done():
                w.future.set_exception(PoolError(message, status))

    # --- scaling -------------------------------------------------------------------------
    def desired(self) -> int:
        return wanted_replicas(sum(s.inflight for s in self.live()) + len(self.waiters),
                               self.policy)

    def _autoscale(self) -> None:
        current = len([s for s in self.live() if not s.draining])
        want = self.desired()
        if want > current and self.backoff.remaining(time.monotonic()):
            if not self.live():  # nothing to wait for: say why at once
                self.fail_waiters(self._backoff_message(), 503)
            return
        if want > current:
            reason = "scale_from_zero" if current == 0 else "scale_up"
            if not self.waiters and want == self.policy.min_replicas:
                reason = "min_replicas"
            self._event(current, want, reason)
            for _ in range(want - current):
                self._start_slot()

    def _start_slot(self) -> Slot:
        spare = self._take_spare()
        if spare is not None:  # prewarm: already started (or under way); replaced at once
            self.slots.append(spare)
            self._replenish()
            return spare
        rid = f"{self.function}-{next(self._ids)}"
        slot = Slot(self.factory(rid, self.policy), started_mono=time.monotonic())
        self.slots.append(slot)
        self._spawn_task(self._run_start(slot))
        return slot

    def _spawn_task(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_start(self, slot: Slot) -> None:
        try:
            await asyncio.to_thread(slot.replica.spawn)
            await asyncio.to_thread(slot.replica.wait_ready, self.start_timeout_s)
        except Exception as exc:
            if slot.state != "starting":  # stopped while starting (scaled down, removed)
                return
            before = len(self.live())
            slot.state = "dead"
            if not self._forget_spare(slot):
                self.slots.remove(slot)
            delay = self.backoff.failed(str(exc), time.monotonic())
            self._event(before, len(self.live()), "start_failed", error=str(exc),
                        replica=slot.replica.replica_id, failures=self.backoff.failures,
                        backoff_s=delay)
            self._record_replica(slot, "start_failed", error=str(exc))
            if not self.live():
                self.fail_waiters(f"function {self.function}: replica failed to start: {exc}")
            return
        if slot.state != "starting":  # removed while starting
            await asyncio.to_thread(slot.replica.stop)
            return
        self.backoff.succeeded()
        slot.state = "ready"
        slot.ready_mono = slot.last_active = time.monotonic()
        self._dispatch()

    def _stop_slot(self, slot: Slot, reason: str) -> None:
        before = len(self.live())
        slot.state = "stopping"
        self.slots.remove(slot)
        self._event(before, len(self.live()), reason, replica=slot.replica.replica_id)
        self._record_replica(slot, reason)
        self._spawn_task(asyncio.to_thread(slot.replica.stop))

    def _record_replica(self, slot: Slot, reason: str, **extra: Any) -> None:
        now = time.monotonic()
        busy = slot.busy_s + ((now - slot.busy_since) if slot.busy_since else 0.0)
        rep = slot.replica
        self._retired_busy_s += busy
        self._retired_alive_s += now - slot.started_mono
        self.logs.replicas.write({
            "function": self.function, "replica_id": rep.replica_id, "pid": rep.pid,
            "spawn_ts": rep.spawn_ts, "ready_ts": rep.ready_ts, "stop_ts": time.time(),
            "stop_reason": reason, "served": slot.served, "busy_s": round(busy, 6),
            "alive_s": round(now - slot.started_mono, 6), "memory_mb": self.policy.memory_mb,
            # what a projection of its keep-alive needs (experiment archives)
            "last_active_ts": time.time() - (now - slot.last_active) if slot.last_active
            else None, "idle_timeout_s": self._keepalive_of(slot),
            "min_replicas": self.policy.min_replicas,
            "peak_rss_mb": round(slot.peak_rss_mb, 1), **rep.lifecycle(),
            **({"role": "prewarm"} if slot.prewarmed else {}), **extra,
        })

    def _keepalive_of(self, slot: Slot) -> float | None:
        """The keep-alive in force for the replica now: seconds from its last call to its
        stop (the fixed timeout, or the keep-alive policy's window; None: never)."""
        if not slot.last_active:
            return self.policy.idle_timeout_s
        end = self.keep.stop_at(slot.last_active, slot.keep_until)
        return None if end == math.inf else round(max(0.0, end - slot.last_active), 6)

    async def scale_to(self, replicas: int, reason: str = "manual") -> int:
        """Set the replica count now (clamped to [min, max]); idle replicas go first."""
        n = max(self.policy.min_replicas, min(self.policy.max_replicas, replicas))
        current = len(self.live())
        if n > current:
            self._event(current, n, reason)
            for _ in range(n - current):
                self._start_slot()
        elif n < current:
            order = sorted(self.live(), key=lambda s: (s.inflight > 0, s.state == "ready",
                                                       -s.started_mono))
            for slot in order[: current - n]:
                if slot.inflight:
                    slot.draining = True
                else:
                    self._stop_slot(slot, reason)
        return n

    def reconcile(self, sample_memory: bool = False) -> None:
        """Periodic housekeeping: dead replicas, memory limit, idle timeout, min replicas."""
        now = time.monotonic()
        for slot in list(self.slots):
            if slot.state == "ready" and not slot.replica.alive():
                before = len(self.live())
                slot.state = "dead"
                self.slots.remove(slot)
                info = slot.replica.exit_info()
                self._event(before, len(self.live()), "replica_died",
                            replica=slot.replica.replica_id, **info)
                if info.get("oom_killed"):  # by the kernel, at the container's limit
                    self.logs.scale_events.write({
                        "function": self.function, "reason": "oom_killed", "by": "kernel",
                        "replica": slot.replica.replica_id, "limit_mb": self.policy.memory_mb})
                self._record_replica(slot, "oom_killed" if info.get("oom_killed") else "died",
                                     **info)
            elif slot.state == "ready" and sample_memory:
                rss = slot.replica.rss_mb()
                slot.peak_rss_mb = max(slot.peak_rss_mb, rss)
                if self.enforce_memory and rss > self.policy.memory_mb:
                    slot.replica.kill()  # noticed as dead on the next pass, like an OOM kill
                    self.logs.scale_events.write({
                        "function": self.function, "reason": "oom_killed",
                        "replica": slot.replica.replica_id, "rss_mb": round(rss, 1),
                        "limit_mb": self.policy.memory_mb})
        template = getattr(self.factory, "template", None)
        if sample_memory and template is not None:
            template.sample_rss()
        if not self.waiters:
            for slot in sorted(self.ready(), key=lambda s: s.last_active):
                if len(self.live()) <= self.policy.min_replicas:
                    break
                if slot.inflight == 0 and now >= self.keep.stop_at(slot.last_active,
                                                                   slot.keep_until):
                    self._stop_slot(slot, "idle")
            if (self.keep.prewarm_due(now) and not self.live() and not self.closed
                    and not self.backoff.remaining(now)):
                self._event(0, 1, "keepalive_prewarm", mode=self.keep.windows.mode)
                self._start_slot().keep_until = self.keep.prewarm_end
        for slot in self.ready():
            if slot.draining and slot.inflight == 0:
                self._stop_slot(slot, "replaced")
        self._reconcile_spares(sample_memory)
        self._autoscale()
        self._dispatch()

    async def close(self, reason: str = "removed") -> None:
        self.closed = True
        self.fail_waiters(f"function {self.function} was removed", 503)
        for slot in list(self.slots):
            if slot.state in ("starting", "ready"):
                self._stop_slot(slot, reason)
        for slot in list(self.spares):
            self._stop_spare(slot, reason)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.retire_factory(self.factory, reason)

    async def retire_factory(self, factory, reason: str) -> None:
        """Stop what ``factory`` keeps running (a fork server's template) and record what it
        says ran, as replicas that never served (billed as idle memory)."""
        records = getattr(factory, "records", None)
        await close_factory(factory, reason)
        for rec in records(reason) if records else ():
            self.logs.replicas.write({"function": self.function, "host": "process",
                                      "memory_mb": self.policy.memory_mb,
                                      "min_replicas": self.policy.min_replicas, **rec})

    def replace_all(self) -> None:
        """After an update: new replicas get the new config; old ones stop when idle."""
        for slot in self.live():
            slot.draining = True
        for slot in list(self.spares):  # spares of the old config: new ones replace them
            self._stop_spare(slot, "replaced")
        self.backoff.succeeded()  # the new image or env may well start
        self.reconcile()

    # --- reporting -----------------------------------------------------------------------
    def replica_seconds(self) -> tuple[float, float]:
        """(busy, alive) replica-seconds so far, stopped replicas included."""
        now = time.monotonic()
        busy, alive = self._retired_busy_s, self._retired_alive_s
        for s in self.slots:
            busy += s.busy_s + ((now - s.busy_since) if s.busy_since else 0.0)
            alive += now - s.started_mono
        return busy, alive

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.function,
            "image": self.image,
            "replicas": len(self.live()),
            "availableReplicas": len(self.ready()),
            "invocationCount": self.invocations,
            "labels": self.labels,
            "limits": {"memory": f"{self.policy.memory_mb}Mi"},
            "vsbench": {"policy": self.policy.to_dict(), "queued": len(self.waiters),
                        "inflight": sum(s.inflight for s in self.live()),
                        "cold_starts": self.cold_starts,
                        "start_failures": self.backoff.failures,
                        "backoff_s": round(self.backoff.remaining(time.monotonic()), 3),
                        "last_start_error": self.backoff.last_error},
        }


async def close_factory(factory, reason: str = "stopped") -> None:
    """Stop what a replica factory keeps running (a fork server's template), if anything."""
    close = getattr(factory, "close", None)
    if close is not None:
        await asyncio.to_thread(close, reason=reason)
