"""The ``prewarm`` starter: N replicas per function started ahead of demand, unassigned
(OpenWhisk's pre-warmed "stem cells", per function here), handed out when the pool would
start a replica and replaced in the background.

A spare is a replica like any other (same factory, same start), kept apart from the pool's
slots until it is handed out, so nothing else in the pool counts it: not ``min_replicas``,
not ``max_replicas`` (spares come on top, as stem cells sit outside a function's limits), not
the idle timeout (a spare waits however long it takes). When the pool needs a replica it
takes a ready spare if there is one (the call then finds it ready: a warm start), else a
spare still starting (the call waits for the rest of its start), else it starts one. Every
replica that began as a spare is recorded with ``role: prewarm``; one never handed out served
nothing, so its whole life is idle GB-s.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any


class SparesMixin:
    """Spare replicas for :class:`.scaling.ScalingPool` (its ``policy``, ``factory``,
    ``_ids``, ``_spawn_task``, ``_run_start``, ``_record_replica`` and ``_event``)."""

    spares: list[Any]

    def _wanted_spares(self) -> int:
        return self.policy.prewarm if self.policy.starter == "prewarm" else 0

    def _take_spare(self) -> Any | None:
        """A spare to hand out, ready ones first (None: start a replica as usual)."""
        for state in ("ready", "starting"):
            for slot in self.spares:
                if slot.state == state:
                    self.spares.remove(slot)
                    self._event(len(self.spares) + 1, len(self.spares), "prewarm_assigned",
                                replica=slot.replica.replica_id, spare_state=state)
                    return slot
        return None

    def _replenish(self) -> None:
        """Start spares until the policy's count is reached (not while closed or backing
        off after failed starts)."""
        from .scaling import Slot

        missing = self._wanted_spares() - len(self.spares)
        if missing <= 0 or self.closed or self.backoff.remaining(time.monotonic()):
            return
        self._event(len(self.spares), len(self.spares) + missing, "prewarm")
        for _ in range(missing):
            rid = f"{self.function}-{next(self._ids)}"
            slot = Slot(self.factory(rid, self.policy), started_mono=time.monotonic())
            slot.prewarmed = True
            self.spares.append(slot)
            self._spawn_task(self._run_start(slot))

    def _reconcile_spares(self, sample_memory: bool) -> None:
        """Dead spares recorded and dropped, memory sampled, the count restored; spares
        beyond it (the policy changed) stopped."""
        for slot in list(self.spares):
            if slot.state == "ready" and not slot.replica.alive():
                self.spares.remove(slot)
                self._record_replica(slot, "died", **slot.replica.exit_info())
            elif slot.state == "ready" and sample_memory:
                slot.peak_rss_mb = max(slot.peak_rss_mb, slot.replica.rss_mb())
        while len(self.spares) > self._wanted_spares():
            self._stop_spare(self.spares[-1], "prewarm_surplus")
        self._replenish()

    def _stop_spare(self, slot: Any, reason: str) -> None:
        slot.state = "stopping"
        self.spares.remove(slot)
        self._record_replica(slot, reason)
        self._spawn_task(asyncio.to_thread(slot.replica.stop))

    def _forget_spare(self, slot: Any) -> bool:
        """Drop a spare whose start failed; True when ``slot`` was one."""
        if slot in self.spares:
            self.spares.remove(slot)
            return True
        return False

