"""Faults the platform injects into itself on request, so an experiment can measure what
a fault costs: ``POST /system/faults`` (basic auth, like the rest of ``/system/``).

Kinds (the body is ``{"kind": ..., ...}``):

- ``kill_replica``: SIGKILL (the host's equivalent: ``podman kill``, a pod deleted with no
  grace) of one replica chosen at random (``seed``) among the busy ones, or among all ready
  ones with ``"busy": false``, of ``function`` or of any function. 200 with the record, 409
  ``no_target`` when no replica qualifies (the caller may try again).
- ``storage_outage``: the object store stops now and starts again after ``duration_s``, on
  the same address with its data. 202 at once.
- ``gateway_restart``: the gateway stops (its replicas are stopped and recorded with reason
  ``gateway_restart``: none is orphaned), stays down ``down_s`` and comes back on the same
  address with the same deployments. 202 at once (the answer leaves before it goes down).

Every fault is recorded in ``events/faults.jsonl``: ``kind``, ``ts`` (injected), ``end_ts``
(over: the replica killed, the store or the gateway serving again), ``function``,
``replica_id`` and what else the kind knows; a fault that could not be completed has an
``error``. The platform, not the gateway, owns the store and the gateway itself, so those
two kinds are hooks the platform registers (:attr:`FaultRoutes.fault_hooks`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .deployment import DeploymentError, key_of

KINDS = ("kill_replica", "storage_outage", "gateway_restart")
MAX_DOWN_S = 600.0  # an outage longer than this is a typo, not an experiment


def _seconds(body: dict, name: str, default: float | None = None) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            0 <= value <= MAX_DOWN_S):
        raise DeploymentError(f"'{name}' must be a number of seconds from 0 to "
                              f"{MAX_DOWN_S:g}, got {value!r}")
    return float(value)


class FaultRoutes:
    """A mixin of the gateway: needs ``pools``, ``logs`` and ``fault_hooks``."""

    fault_hooks: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]

    def add_fault_routes(self, r: web.UrlDispatcher) -> None:
        r.add_post("/system/faults", self.inject_fault)

    async def inject_fault(self, request: web.Request) -> web.Response:
        from .gateway_system import bad, error, read_json

        try:
            body = await read_json(request)
            if not isinstance(body, dict) or body.get("kind") not in KINDS:
                raise DeploymentError(f"the body must be {{\"kind\": K, ...}} with K one of "
                                      f"{', '.join(KINDS)}")
            kind = body["kind"]
            if kind == "kill_replica":
                return await self._kill_replica(body)
            params = ({"duration_s": _seconds(body, "duration_s")} if kind == "storage_outage"
                      else {"down_s": _seconds(body, "down_s", 0.0)})
        except DeploymentError as exc:
            return bad(f"faults: {exc}")
        hook = self.fault_hooks.get(kind)
        if hook is None:
            return error(501, "unsupported", f"this platform cannot inject {kind}")
        try:
            record = await asyncio.to_thread(hook, params)
        except Exception as exc:  # noqa: BLE001 - the caller records why
            return error(409, "fault_failed", f"{kind}: {exc}")
        return web.json_response(record, status=202)

    async def _kill_replica(self, body: dict[str, Any]) -> web.Response:
        from .gateway_system import error

        function, busy, seed = body.get("function"), body.get("busy", True), body.get("seed")
        if function is not None and not isinstance(function, str):
            raise DeploymentError("'function' must be a function name")
        if not isinstance(busy, bool):
            raise DeploymentError("'busy' must be true or false")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise DeploymentError("'seed' must be an integer")
        wanted = key_of(function) if function else None
        candidates = [(key, slot) for key, pool in sorted(self.pools.items())
                      if wanted in (None, key) for slot in pool.ready()
                      if slot.inflight > 0 or not busy]
        if not candidates:
            what = "busy " if busy else ""
            return error(409, "no_target", f"no {what}replica of "
                         f"{function or 'any function'} to kill", retryable=True)
        key, slot = random.Random(seed).choice(candidates)
        t = time.time()
        inflight = slot.inflight
        await asyncio.to_thread(slot.replica.kill)
        pool = self.pools.get(key)
        if pool is not None:
            pool.reconcile()  # the death is noticed (and recorded) now, not on the next tick
        record = self.logs.faults.write({
            "kind": "kill_replica", "ts": t, "end_ts": time.time(), "function": key,
            "replica_id": slot.replica.replica_id, "inflight": inflight})
        return web.json_response(record)
